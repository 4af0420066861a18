"""Tests of the segdepth package."""
