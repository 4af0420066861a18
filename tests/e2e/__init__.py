"""End-to-end runs: the README's training block and `make demo`."""
