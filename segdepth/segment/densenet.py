"""DenseNet-121 U-Net with a Sobel edge channel at the last decoder stage (Nikam & Awate).

Encoder: torchvision DenseNet-121 features; skips after the stem (64 ch, 1/2), dense blocks
1–3 (256, 512, 1024 ch at 1/4, 1/8, 1/16) and the final batchnorm (1024 ch, 1/32).
Decoder: bilinear ×2 upsampling, concatenation with the skip, (conv 3×3 → BN → ReLU) × 2.
The last stage, at full resolution, also sees the input as four channels: RGB and the Sobel
gradient magnitude of its luma (0.299 R + 0.587 G + 0.114 B), which sharpens the border.
Pair with :func:`segdepth.postprocess.sharpen_border_band`. Input RGB in [0, 1], multiples of 32.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision import models

from ..postprocess import sharpen_border_postprocess
from ..tensors import imagenet_normalize
from ..weights import torchvision_pretrained
from .torch_segmenter import SegArch
from .unet import DoubleConv

LUMA = (0.299, 0.587, 0.114)


class SobelEdges(nn.Module):
    """N×3×H×W RGB → N×1×H×W Sobel gradient magnitude of the luma (3×3 kernels, replicated border)."""

    def __init__(self) -> None:
        super().__init__()
        gx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
        self.register_buffer("kernels", torch.stack([gx, gx.t()])[:, None], persistent=False)
        self.register_buffer("luma", torch.tensor(LUMA).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gray = (x * self.luma).sum(dim=1, keepdim=True)
        grad = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), self.kernels)
        return torch.sqrt((grad**2).sum(dim=1, keepdim=True) + 1e-12)


class UpBlock(nn.Module):
    """Bilinear upsample to the skip's size, concatenate, double conv."""

    def __init__(self, c_in: int, c_skip: int, c_out: int) -> None:
        super().__init__()
        self.conv = DoubleConv(c_in + c_skip, c_out)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))


class DenseNetUNet(nn.Module):
    """DenseNet-121 encoder, U-Net decoder, RGB + Sobel input to the final full-resolution stage."""

    SKIP_CHANNELS = (64, 256, 512, 1024)

    def __init__(self, num_classes: int = 2, decoder_channels: Sequence[int] = (256, 128, 64, 32, 16), pretrained: bool = False) -> None:
        super().__init__()
        if len(decoder_channels) != 5:
            raise ValueError(f"give 5 decoder widths (1/16 … 1/1), got {list(decoder_channels)}")
        if pretrained:
            backbone = torchvision_pretrained(models.densenet121, models.DenseNet121_Weights.IMAGENET1K_V1)
        else:
            backbone = models.densenet121(weights=None)
        self.encoder = backbone.features
        self.sobel = SobelEdges()
        d = list(decoder_channels)
        skips = list(reversed(self.SKIP_CHANNELS))  # 1024 @1/16, 512 @1/8, 256 @1/4, 64 @1/2
        c_in = 1024
        self.ups = nn.ModuleList()
        for c_skip, c_out in zip(skips, d[:4]):
            self.ups.append(UpBlock(c_in, c_skip, c_out))
            c_in = c_out
        self.final = UpBlock(c_in, 4, d[4])  # skip = RGB + Sobel at full resolution
        self.head = nn.Conv2d(d[4], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        edges_input = torch.cat([x, self.sobel(x)], dim=1)
        f = self.encoder
        h = f.relu0(f.norm0(f.conv0(imagenet_normalize(x))))
        skips = [h]
        h = f.denseblock1(f.pool0(h))
        skips.append(h)
        h = f.denseblock2(f.transition1(h))
        skips.append(h)
        h = f.denseblock3(f.transition2(h))
        skips.append(h)
        h = F.relu(f.norm5(f.denseblock4(f.transition3(h))))
        for up, skip in zip(self.ups, reversed(skips)):
            h = up(h, skip)
        return self.head(self.final(h, edges_input))


def make_densenet(pretrained: bool = False, decoder_channels: Sequence[int] = (256, 128, 64, 32, 16)) -> DenseNetUNet:
    """Builder for the registry; ``pretrained`` = ImageNet DenseNet-121 encoder, random decoder."""
    return DenseNetUNet(decoder_channels=tuple(decoder_channels), pretrained=pretrained)


# this module's entries of segdepth.segment.SEG_ARCHS; the registry segmenter sharpens the border
# band by default (Nikam & Awate; pass postprocess=None for the raw network mask)
ARCHS = {"densenet": SegArch(make_densenet, pretrained_what="ImageNet DenseNet-121 encoder (torchvision)",
                             postprocess=sharpen_border_postprocess)}
