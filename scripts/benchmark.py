"""Run shallowdof's benchmarks and write bench/BENCHMARKS.md with the machine they ran on (``make bench``).

    python scripts/benchmark.py --only compositing --quick
    python scripts/benchmark.py --help

The program is bench/cli/benchmark.py; this file only runs it, with the repository on the path
(bench/ belongs to the checkout, not to the installed package).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shallowdof.programs import run_program  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_program("benchmark"))
