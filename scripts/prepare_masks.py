"""Write the person mask of every photo of a dataset into a mask folder beside it: ``--help`` says
how. The program is segdepth/cli/prepare_masks.py (the work is segdepth.masks); this file only runs it."""
import sys

from shallowdof.programs import run_program

if __name__ == "__main__":
    sys.exit(run_program("prepare_masks"))
