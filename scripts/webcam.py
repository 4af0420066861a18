"""Blur the background of a camera or a video, live or into a file.

    python scripts/webcam.py --input 0 --show
    python scripts/webcam.py --help

The program is compositing/webcam.py (its config and parser); this file only runs it.
"""
from __future__ import annotations

import sys

from compositing.webcam import main
from plumbing.cli import run_main

if __name__ == "__main__":
    sys.exit(run_main(main, "webcam"))
