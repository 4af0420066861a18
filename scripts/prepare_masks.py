"""Write the person mask of every photo of a dataset into a mask folder beside it: ``--help`` says
how (segdepth.masks holds the program: its MaskConfig, parser and main)."""
import sys

from plumbing.cli import run_main
from segdepth.masks import main, parse_args  # noqa: F401  (parse_args: the program's parser)

if __name__ == "__main__":
    sys.exit(run_main(main, "prepare_masks"))
