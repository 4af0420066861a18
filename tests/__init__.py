"""The test suite; its folders mirror the packages (tests/datasets/, tests/segdepth/, ...), tests/scripts/
holds tests of a program as a whole, tests/e2e/ the end-to-end runs, tests/bench/ the benchmarks' smoke tests."""
