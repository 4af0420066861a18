"""Compare shallow depth-of-field methods: render, measure, write a gallery.

    python scripts/compare.py --input test_portraits/ --methods gaussian,lens --out compare_out
    python scripts/compare.py --help

The program is evaluation/compare_cli.py (its parser; the run is evaluation/compare.py); this
file only runs it.
"""
from __future__ import annotations

import sys

from plumbing.cli import run_main
from evaluation.compare_cli import main

if __name__ == "__main__":
    sys.exit(run_main(main, "compare"))
