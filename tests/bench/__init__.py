"""Smoke tests of the benchmarks (bench/)."""
