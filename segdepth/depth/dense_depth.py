"""Dense depth network with a MobileNetV2 encoder (Alhashim & Wonka 2018, as used by Pyzh & Gogarev).

Encoder: torchvision MobileNetV2 features (ImageNet weights available). Decoder: six blocks,
each = bilinear upsample to the skip's size, concatenate the encoder skip, conv 3×3,
LeakyReLU 0.2, conv 3×3, LeakyReLU 0.2. Skips, deepest first: the 320-channel last inverted
residual (1/32, fused with the 1280-channel bottleneck), then 96 ch at 1/16, 32 at 1/8, 24 at
1/4, 16 at 1/2 and the input image itself at full resolution; a final conv 3×3 gives one channel.

The network predicts the normalised target ``y = max_depth / depth`` (Alhashim & Wonka,
max_depth = 10 m); :class:`DenseDepthModel` inverts it and averages with the prediction for the
horizontally flipped image (their test-time augmentation). Input N×3×H×W RGB in [0, 1]
(ImageNet normalisation inside), H and W multiples of 32.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision import models

from ..losses import target_to_depth
from ..tensors import fit_to_network, image_to_tensor, imagenet_normalize
from ..weights import build_with_weights, torchvision_pretrained

ARCH_NAME = "dense_depth"
# (feature index, channels) of the MobileNetV2 taps used as skips, deepest first.
SKIPS = ((17, 320), (13, 96), (6, 32), (3, 24), (1, 16))
BOTTLENECK_CHANNELS = 1280
DEFAULT_DECODER = (256, 128, 64, 32, 24, 16)


class UpBlock(nn.Module):
    """Bilinear upsample to the skip's size → concat → (conv 3×3 → LeakyReLU 0.2) × 2."""

    def __init__(self, c_in: int, c_skip: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(c_in + c_skip, c_out, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(c_out, c_out, 3, padding=1), nn.LeakyReLU(0.2),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))


class DenseDepthNet(nn.Module):
    """MobileNetV2 encoder + six-block decoder → N×1×H×W normalised inverse depth ``max_depth / depth``."""

    def __init__(self, decoder_channels: Sequence[int] = DEFAULT_DECODER, pretrained: bool = False,
                 max_depth: float = 10.0, min_depth: float = 0.1) -> None:
        super().__init__()
        if not 0 < min_depth < max_depth:
            raise ValueError(f"need 0 < min_depth < max_depth, got {min_depth}, {max_depth}")
        self.max_depth = float(max_depth)  # the depth range the target y = max_depth / depth covers
        self.min_depth = float(min_depth)
        if len(decoder_channels) != 6:
            raise ValueError(f"the decoder has six blocks: give 6 widths, got {list(decoder_channels)}")
        if pretrained:
            backbone = torchvision_pretrained(models.mobilenet_v2, models.MobileNet_V2_Weights.IMAGENET1K_V1)
        else:
            backbone = models.mobilenet_v2(weights=None)
        self.encoder = backbone.features
        skip_channels = [c for _, c in SKIPS] + [3]
        blocks = []
        c_in = BOTTLENECK_CHANNELS
        for c_skip, c_out in zip(skip_channels, decoder_channels):
            blocks.append(UpBlock(c_in, c_skip, c_out))
            c_in = c_out
        self.decoder = nn.ModuleList(blocks)
        self.head = nn.Conv2d(c_in, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        taps = {i for i, _ in SKIPS}
        feats: dict[int, torch.Tensor] = {}
        h = imagenet_normalize(x)
        for i, layer in enumerate(self.encoder):
            h = layer(h)
            if i in taps:
                feats[i] = h
        skips = [feats[i] for i, _ in SKIPS] + [x]
        for block, skip in zip(self.decoder, skips):
            h = block(h, skip)
        return self.head(h)


def make_dense_depth(pretrained: bool = False, decoder_channels: Sequence[int] = DEFAULT_DECODER,
                     max_depth: float = 10.0, min_depth: float = 0.1) -> DenseDepthNet:
    """Builder; ``pretrained`` = ImageNet MobileNetV2 encoder (torchvision), random decoder.
    ``max_depth``/``min_depth`` (metres) travel with checkpoints as constructor kwargs."""
    return DenseDepthNet(decoder_channels=tuple(decoder_channels), pretrained=pretrained,
                         max_depth=max_depth, min_depth=min_depth)


@torch.no_grad()
def predict_flip_averaged(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Mean of the network output for ``x`` and (flipped back) for its horizontal mirror."""
    return 0.5 * (net(x) + net(x.flip(-1)).flip(-1))


class DenseDepthModel:
    """Registry depth model: uint8 RGB H×W×3 (mask ignored) → float32 H×W depth in metres.

    ``relative = False``: trained on metric depth (NYU: metres, valid up to ``net.max_depth``).
    The image is resized so its long side is ``input_size`` (aspect kept, padded to 32).
    """

    relative = False

    def __init__(self, net: DenseDepthNet, *, input_size: int = 640, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self.input_size = int(input_size)

    @torch.inference_mode()
    def __call__(self, image: np.ndarray, mask: Optional[np.ndarray] = None) -> np.ndarray:
        x = image_to_tensor(image).to(self.device)
        x, (h, w) = fit_to_network(x, self.input_size)
        y = predict_flip_averaged(self.net, x)[0, 0, :h, :w].float()
        depth = target_to_depth(y, self.net.max_depth, self.net.min_depth).cpu().numpy()
        depth = cv2.resize(depth, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
        return depth.astype(np.float32)


def build_dense_depth(weights: str | os.PathLike = "default", device: str = "cpu", input_size: int = 640,
                      **arch_kwargs: Any) -> DenseDepthModel:
    """Registry factory. ``weights``: "default" = our trained checkpoint (see segdepth.weights),
    "none" = random initialisation, or a checkpoint path (its depth range comes with it)."""
    net, _ = build_with_weights(ARCH_NAME, weights, make_dense_depth, arch_kwargs)
    return DenseDepthModel(net, input_size=input_size, device=device)
