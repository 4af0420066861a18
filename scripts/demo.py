"""The built-in demo: every approach on the built-in inputs, side by side, offline, on the CPU.

    python scripts/demo.py --out demo_out          # what `make demo` runs (a few minutes)
    python scripts/demo.py --no-gan                # classical methods only (seconds)
    python scripts/demo.py --help

The program is evaluation/cli/demo.py (the work is evaluation/demo.py); this file only runs it.
"""
import sys

from shallowdof.programs import run_program

if __name__ == "__main__":
    sys.exit(run_program("demo"))
