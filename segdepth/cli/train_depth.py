"""train_depth: Train (or evaluate) the MobileNetV2 dense-depth network; ``--evaluate CKPT --dataset nyu_mat …``
prints the Eigen et al. measures next to the seed's NYU numbers (AbsRel 0.072, RMSE 0.474, log10 0.031).

The parser and the run are :mod:`segdepth.train.program`'s, shared with train_segmentation; this
module binds the task.
"""
from functools import partial

from segdepth.train import program

build_parser = partial(program.build_parser, "depth")
parse_args = partial(program.parse_args, "depth")
main = partial(program.main, "depth")
