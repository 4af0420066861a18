"""Give portraits a shallow depth of field: segment the person, get depth, blur the background.

    python scripts/blur.py photo.jpg --method lens
    python scripts/blur.py --help

The program is compositing/blur.py (its config, parser and batch policy); this file only runs it.
"""
from __future__ import annotations

import sys

from compositing.blur import main
from plumbing.cli import run_main

if __name__ == "__main__":
    sys.exit(run_main(main, "blur"))
