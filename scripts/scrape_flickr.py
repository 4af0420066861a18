"""Scrape the unpaired portrait dataset from Flickr (resumable; gentle by default): ``--help`` says
how. The program is datasets/scrape_cli.py; this script only runs it."""
import sys

from plumbing.cli import run_main
from datasets.scrape_cli import main, parse_args  # noqa: F401  (parse_args: the program's parser)

if __name__ == "__main__":
    sys.exit(run_main(main, "scrape_flickr"))
