"""Train (or evaluate) a person-segmentation network: ``python scripts/train_segmentation.py --help``.

Thin wrapper over :func:`segdepth.train.main`; networks: DeepLabV3 (ResNet-50/101, MobileNetV3),
U-Net, EfficientNet-B3, DenseNet-121 + Sobel U-Net, VGG16 DeconvNet.
"""
import sys

from plumbing.cli import run_main
from segdepth.train import main

if __name__ == "__main__":
    sys.exit(run_main(lambda: main("segmentation"), "train_segmentation"))
