"""Give portraits a shallow depth of field: segment the person, get depth, blur the background.

    python scripts/blur.py photo.jpg --method lens
    python scripts/blur.py --help

The program is compositing/cli/blur.py (its config, parser and batch policy); this file only runs it.
"""
import sys

from shallowdof.programs import run_program

if __name__ == "__main__":
    sys.exit(run_program("blur"))
