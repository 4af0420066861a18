"""EfficientNet-B3 encoder with a transposed-convolution decoder (Pyzh & Gogarev, their best model).

Encoder: torchvision EfficientNet-B3 features (1536 channels at 1/32). Decoder: five 4×4
stride-2 transposed convolutions back to full resolution, separated by conv 3×3 → batchnorm →
Mish blocks, no skip connections; the last transposed convolution gives the two-class logits.
Input N×3×H×W RGB in [0, 1], H and W multiples of 32.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torchvision import models

from ..tensors import imagenet_normalize
from ..weights import torchvision_pretrained
from .torch_segmenter import SegArch

ENCODER_CHANNELS = 1536


class ConvBNMish(nn.Sequential):
    """conv 3×3 → batchnorm → Mish."""

    def __init__(self, channels: int) -> None:
        super().__init__(nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.Mish(inplace=True))


class EffNetSeg(nn.Module):
    """EfficientNet-B3 → [T-conv ×2, conv-BN-Mish] × 4 → T-conv ×2 to ``num_classes`` logits."""

    def __init__(self, num_classes: int = 2, decoder_channels: Sequence[int] = (512, 256, 128, 64), pretrained: bool = False) -> None:
        super().__init__()
        if len(decoder_channels) != 4:
            raise ValueError(f"the decoder has five transposed convolutions: give 4 inner widths, got {list(decoder_channels)}")
        if pretrained:
            backbone = torchvision_pretrained(models.efficientnet_b3, models.EfficientNet_B3_Weights.IMAGENET1K_V1)
        else:
            backbone = models.efficientnet_b3(weights=None)
        self.encoder = backbone.features
        layers: list[nn.Module] = []
        c_in = ENCODER_CHANNELS
        for c_out in decoder_channels:
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), ConvBNMish(c_out)]
            c_in = c_out
        layers.append(nn.ConvTranspose2d(c_in, num_classes, 4, stride=2, padding=1))
        self.decoder = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(imagenet_normalize(x)))


def make_effnet(pretrained: bool = False, decoder_channels: Sequence[int] = (512, 256, 128, 64)) -> EffNetSeg:
    """Builder for the registry; ``pretrained`` = ImageNet encoder, random decoder."""
    return EffNetSeg(decoder_channels=tuple(decoder_channels), pretrained=pretrained)


# this module's entries of segdepth.segment.SEG_ARCHS
ARCHS = {"effnet": SegArch(make_effnet, pretrained_what="ImageNet EfficientNet-B3 encoder (torchvision)")}
