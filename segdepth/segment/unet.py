"""U-Net (Ronneberger et al. 2015) as used for portraits by Pyzh & Gogarev.

Conv–batchnorm–ReLU double blocks, 2×2 max-pool down, 2×2 transposed-convolution up, skip
connections by concatenation. Input N×3×H×W RGB in [0, 1] (H, W multiples of 2**depth);
output N×num_classes×H×W logits. No published weights: trained here from scratch.
"""
from __future__ import annotations

import torch
from torch import nn

from ..tensors import imagenet_normalize
from .torch_segmenter import SegArch


class DoubleConv(nn.Sequential):
    """(conv 3×3 → batchnorm → ReLU) × 2."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    """U-Net with ``depth`` poolings; channels ``base · 2**level``."""

    def __init__(self, in_channels: int = 3, num_classes: int = 2, base: int = 64, depth: int = 4) -> None:
        super().__init__()
        if depth < 1 or base < 1:
            raise ValueError(f"U-Net needs depth >= 1 and base >= 1, got depth={depth}, base={base}")
        widths = [base * 2**i for i in range(depth + 1)]
        self.inc = DoubleConv(in_channels, widths[0])
        self.downs = nn.ModuleList(DoubleConv(widths[i], widths[i + 1]) for i in range(depth))
        self.pool = nn.MaxPool2d(2)
        self.ups = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth)))
        self.up_convs = nn.ModuleList(DoubleConv(2 * widths[i], widths[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inc(imagenet_normalize(x))
        skips = []
        for down in self.downs:
            skips.append(x)
            x = down(self.pool(x))
        for up, conv, skip in zip(self.ups, self.up_convs, reversed(skips)):
            x = conv(torch.cat([skip, up(x)], dim=1))
        return self.head(x)


def make_unet(pretrained: bool = False, base: int = 64, depth: int = 4) -> UNet:
    """U-Net builder for the registry; there are no pretrained U-Net weights to ask for."""
    if pretrained:
        raise ValueError("the U-Net has no pretrained weights; train it (scripts/train_segmentation.py) or use weights='none'")
    return UNet(base=base, depth=depth)


# this module's entries of segdepth.segment.SEG_ARCHS
ARCHS = {"unet": SegArch(make_unet, pretrained_what=None)}
