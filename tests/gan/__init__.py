"""Tests of the gan package."""
