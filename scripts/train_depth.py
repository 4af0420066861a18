"""Train (or evaluate) the MobileNetV2 dense-depth network: ``python scripts/train_depth.py --help``.

Thin wrapper over :func:`segdepth.train.main`. ``--evaluate CKPT --dataset nyu_mat …`` prints the
Eigen et al. measures next to the seed's NYU numbers (AbsRel 0.072, RMSE 0.474, log10 0.031).
"""
import sys

from plumbing.cli import run_main
from segdepth.train import main

if __name__ == "__main__":
    sys.exit(run_main(lambda: main("depth"), "train_depth"))
