"""Blur the background of a camera or a video, live or into a file.

    python scripts/webcam.py --input 0 --show
    python scripts/webcam.py --help

The program is compositing/cli/webcam.py (its config and parser); this file only runs it.
"""
import sys

from shallowdof.programs import run_program

if __name__ == "__main__":
    sys.exit(run_program("webcam"))
