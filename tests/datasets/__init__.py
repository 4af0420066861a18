"""Tests of the datasets package."""
