"""Train (or evaluate) the MobileNetV2 dense-depth network: ``python scripts/train_depth.py --help``.

The program is segdepth/cli/train_depth.py. ``--evaluate CKPT --dataset nyu_mat …`` prints the
Eigen et al. measures next to the seed's NYU numbers (AbsRel 0.072, RMSE 0.474, log10 0.031).
"""
import sys

from shallowdof.programs import run_program

if __name__ == "__main__":
    sys.exit(run_program("train_depth"))
