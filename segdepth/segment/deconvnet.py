"""VGG16 deconvolution network with unpooling (Noh et al. 2015), the "Segmented Image Blurring" seed.

Encoder: the 13 convolutions of torchvision VGG16 (ImageNet weights available), its five
max-pools keeping their switch indices. Middle: the fully connected fc6/fc7 as convolutions
(3×3 then 1×1, ``fc_channels`` wide, instead of the paper's 7×7 × 4096 so any input size
works on a CPU). Decoder: the mirror image, max-unpooling with the stored switches followed
by 3×3 deconvolution → BN → ReLU layers, and a 1×1 classifier. Input RGB in [0, 1], multiples of 32.
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision import models

from ..tensors import imagenet_normalize
from ..weights import torchvision_pretrained
from .torch_segmenter import SegArch

# Output widths of the deconvolution layers after each unpooling, deepest stage first.
DECODER = ((512, 512, 512), (512, 512, 256), (256, 256, 128), (128, 64), (64, 64))


def _deconv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class DeconvNet(nn.Module):
    """VGG16 encoder with pooling switches → fc6/fc7 convolutions → unpooling/deconvolution decoder."""

    def __init__(self, num_classes: int = 2, fc_channels: int = 1024, pretrained: bool = False) -> None:
        super().__init__()
        if pretrained:
            vgg = torchvision_pretrained(models.vgg16, models.VGG16_Weights.IMAGENET1K_V1)
        else:
            vgg = models.vgg16(weights=None)
        stages: list[nn.Sequential] = []
        current: list[nn.Module] = []
        for layer in vgg.features:
            if isinstance(layer, nn.MaxPool2d):
                stages.append(nn.Sequential(*current))
                current = []
            else:
                current.append(layer)
        self.encoder = nn.ModuleList(stages)
        self.pool = nn.MaxPool2d(2, stride=2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2, stride=2)
        self.fc = nn.Sequential(
            nn.Conv2d(512, fc_channels, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(fc_channels, fc_channels, 1), nn.ReLU(inplace=True),
            *_deconv_bn_relu(fc_channels, 512),
        )
        decoder = []
        c_in = 512
        for widths in DECODER:
            layers: list[nn.Module] = []
            for c_out in widths:
                layers += _deconv_bn_relu(c_in, c_out)
                c_in = c_out
            decoder.append(nn.Sequential(*layers))
        self.decoder = nn.ModuleList(decoder)
        self.head = nn.Conv2d(c_in, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = imagenet_normalize(x)
        switches = []
        for stage in self.encoder:
            h = stage(h)
            size = h.shape[-2:]
            h, idx = self.pool(h)
            switches.append((idx, size))
        h = self.fc(h)
        for stage, (idx, size) in zip(self.decoder, reversed(switches)):
            h = stage(self.unpool(h, idx, output_size=size))
        return self.head(h)


def make_deconvnet(pretrained: bool = False, fc_channels: int = 1024) -> DeconvNet:
    """Builder for the registry; ``pretrained`` = ImageNet VGG16 encoder, random rest."""
    return DeconvNet(fc_channels=fc_channels, pretrained=pretrained)


# this module's entries of segdepth.segment.SEG_ARCHS
ARCHS = {"deconvnet": SegArch(make_deconvnet, pretrained_what="ImageNet VGG16 encoder (torchvision)")}
