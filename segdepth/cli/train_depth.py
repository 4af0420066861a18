"""train_depth: Train (or evaluate) the MobileNetV2 dense-depth network; ``--evaluate CKPT --dataset nyu_mat …``
prints the Eigen et al. measures next to the seed's NYU numbers (AbsRel 0.072, RMSE 0.474, log10 0.031).

The options and the run are segdepth.train's (:mod:`segdepth.train.program`), shared with the
other training program; this module binds the task.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from segdepth.train import program
from segdepth.train.config import TrainConfig

TASK = "depth"


def build_parser() -> argparse.ArgumentParser:
    """The parser of train_depth."""
    return program.build_parser(TASK)


def parse_args(argv: Optional[Sequence[str]] = None) -> tuple[argparse.Namespace, TrainConfig]:
    """(args, config) of a command line: defaults, then ``--config``, then the flags given."""
    return program.parse_args(TASK, argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """train_depth's exit status (:func:`segdepth.train.program.main`)."""
    return program.main(TASK, argv)
