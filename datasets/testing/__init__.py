"""Offline stand-ins shared by the tests and the benchmarks (as ``numpy.testing`` is numpy's).

``fake_flickr``: a local Flickr (REST API + image host) on 127.0.0.1 whose answers copy real ones;
``people``: photos of a real person, and scikit-image's photos and procedural scenes without one.
They live in the library, not in tests/, so that bench/ can use them without importing tests/
(nothing outside tests/ imports from it).
"""
