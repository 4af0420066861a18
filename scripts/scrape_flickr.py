"""Scrape the unpaired portrait dataset from Flickr (resumable; gentle by default): ``--help`` says
how. The program is datasets/cli/scrape_flickr.py; this file only runs it."""
import sys

from shallowdof.programs import run_program

if __name__ == "__main__":
    sys.exit(run_program("scrape_flickr"))
