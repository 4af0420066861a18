"""Compare shallow depth-of-field methods: render, measure, write a gallery.

    python scripts/compare.py --input test_portraits/ --methods gaussian,lens --out compare_out
    python scripts/compare.py --help

The program is evaluation/cli/compare.py (its parser; the run is evaluation/compare.py); this
file only runs it.
"""
import sys

from shallowdof.programs import run_program

if __name__ == "__main__":
    sys.exit(run_program("compare"))
