"""Portraits on the local fake Flickr: what the paper's two searches find there, offline.

:func:`portrait_photos` makes ``2 · per_domain`` JPEG photos of a real person (scikit-image's
astronaut on procedural backgrounds, :mod:`datasets.testing.people`, no two near-duplicates),
newest first: ``per_domain`` for the shallow query (no camera filter, so it takes the newest),
then ``per_domain`` from an iPhone 7, which the ordinary query's ``camera=apple/iphone_7`` filter
finds. Scraped with the paper's two domains (``datasets.flickr.PAPER_DOMAINS``), each domain gets
its ``per_domain`` photos and the person check of curation passes them. Used by the end-to-end
tests and by ``reproduce_paper --fake-flickr`` (a small offline run of the whole paper).
"""
from __future__ import annotations

import io

from PIL import Image

from datasets.testing.fake_flickr import FakeFlickr, FakePhoto, make_photos
from datasets.testing.people import person_photos

#: The throwaway key of a local fake server (not a Flickr key).
FAKE_KEY = "local-fake-flickr-key"


def portrait_photos(per_domain: int, size: int = 160, seed: int = 7) -> list[FakePhoto]:
    """``2 · per_domain`` fake photos (see the module docstring), ``size``×``size`` JPEGs at quality 92."""
    photos = make_photos(2 * per_domain, seed=seed)
    # seeds from 1000: their pHashes lie at least 18 bits apart, so curation keeps every one
    pictures = person_photos(2 * per_domain, size=(size, size), seed=1000)
    for i, (photo, picture) in enumerate(zip(photos, pictures)):
        buf = io.BytesIO()
        Image.fromarray(picture).save(buf, "JPEG", quality=92)
        photo.content, photo.size_px = buf.getvalue(), (size, size)
        photo.upload = 1_600_000_000 - i * 3600
        if i >= per_domain:
            photo.camera = "apple/iphone_7"
    return photos


def portrait_flickr(per_domain: int, api_key: str = FAKE_KEY, **kwargs) -> FakeFlickr:
    """A (not yet started) fake Flickr serving :func:`portrait_photos`; ``kwargs`` go to FakeFlickr."""
    return FakeFlickr(portrait_photos(per_domain), api_key=api_key, **kwargs)
