"""train_segmentation: Train (or evaluate) a person-segmentation network: DeepLabV3 (ResNet-50/101, MobileNetV3), U-Net,
EfficientNet-B3, DenseNet-121 + Sobel U-Net or VGG16 DeconvNet.

The parser and the run are :mod:`segdepth.train.program`'s, shared with train_depth; this
module binds the task.
"""
from functools import partial

from segdepth.train import program

build_parser = partial(program.build_parser, "segmentation")
parse_args = partial(program.parse_args, "segmentation")
main = partial(program.main, "segmentation")
