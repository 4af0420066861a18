"""train_segmentation: Train (or evaluate) a person-segmentation network: DeepLabV3 (ResNet-50/101, MobileNetV3), U-Net,
EfficientNet-B3, DenseNet-121 + Sobel U-Net or VGG16 DeconvNet.

The options and the run are segdepth.train's (:mod:`segdepth.train.program`), shared with the
other training program; this module binds the task.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from segdepth.train import program
from segdepth.train.config import TrainConfig

TASK = "segmentation"


def build_parser() -> argparse.ArgumentParser:
    """The parser of train_segmentation."""
    return program.build_parser(TASK)


def parse_args(argv: Optional[Sequence[str]] = None) -> tuple[argparse.Namespace, TrainConfig]:
    """(args, config) of a command line: defaults, then ``--config``, then the flags given."""
    return program.parse_args(TASK, argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """train_segmentation's exit status (:func:`segdepth.train.program.main`)."""
    return program.main(TASK, argv)
