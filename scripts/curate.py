"""Curate a Flickr scrape into trainA/trainB/testA/testB: ``--help`` says how. The program is
datasets/curate_cli.py; this script gives it segdepth's person check (MediaPipe mask, face, pose)."""
from __future__ import annotations

import sys
from typing import Sequence

from plumbing.cli import run_main
from datasets.curate_cli import parse_args, run  # noqa: F401  (parse_args: the program's parser)
from segdepth.person import person_check_factory


def main(argv: Sequence[str] | None = None) -> int:
    return run(argv, lambda c: person_check_factory(c.segmenter, c.min_face_score, c.min_on_mask))


if __name__ == "__main__":
    sys.exit(run_main(main, "curate"))
