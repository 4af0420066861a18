"""Train (or evaluate) a person-segmentation network: ``python scripts/train_segmentation.py --help``.

The program is segdepth/cli/train_segmentation.py; networks: DeepLabV3 (ResNet-50/101,
MobileNetV3), U-Net, EfficientNet-B3, DenseNet-121 + Sobel U-Net, VGG16 DeconvNet.
"""
import sys

from shallowdof.programs import run_program

if __name__ == "__main__":
    sys.exit(run_program("train_segmentation"))
