"""Tests of the compositing package."""
