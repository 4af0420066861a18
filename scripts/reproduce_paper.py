"""Reproduce Nasrullah 2018 end to end: scrape, curate, fit, masks, train the four presets, translate, compare.

    python scripts/reproduce_paper.py --out paper_out
    python scripts/reproduce_paper.py --out tiny_out --scale tiny --fake-flickr
    python scripts/reproduce_paper.py --help

The program is evaluation/cli/reproduce_paper.py (its parser; the run is evaluation/reproduce/);
this file only runs it.
"""
import sys

from shallowdof.programs import run_program

if __name__ == "__main__":
    sys.exit(run_program("reproduce_paper"))
