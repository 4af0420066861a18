"""Curate a Flickr scrape into trainA/trainB/testA/testB: ``--help`` says how. The program is
segdepth/cli/curate.py (datasets.curate with segdepth's person check); this file only runs it."""
import sys

from shallowdof.programs import run_program

if __name__ == "__main__":
    sys.exit(run_program("curate"))
