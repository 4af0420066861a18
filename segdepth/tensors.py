"""Network helpers shared by the segmenters and the depth models (one place, imported by both).

Images cross into torch here: uint8 RGB H×W×3 → float32 1×3×H×W in [0, 1]
(:func:`image_to_tensor`); the ImageNet statistics that torchvision's pretrained encoders expect
(:data:`IMAGENET_MEAN`, :data:`IMAGENET_STD`, :func:`imagenet_normalize`); and
:func:`fit_to_network`, which resizes to a network's input size and pads to the multiple of 32
that five stride-2 stages need.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MULTIPLE = 32


def imagenet_normalize(x: torch.Tensor) -> torch.Tensor:
    """N×3×H×W in [0, 1] → ImageNet-normalised (the statistics torchvision's weights expect)."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 RGB H×W×3 → float32 1×3×H×W in [0, 1]."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected uint8 RGB H×W×3, got {image.dtype} {image.shape}")
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div_(255.0)


def fit_to_network(x: torch.Tensor, long_side: int, multiple: int = MULTIPLE) -> tuple[torch.Tensor, tuple[int, int]]:
    """Resize N×C×H×W so its long side is ``long_side`` (aspect kept), then reflect-pad to a
    multiple of ``multiple``. Returns the padded tensor and the unpadded (h, w) to crop back to."""
    h, w = x.shape[-2:]
    scale = long_side / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=scale < 1)
    ph, pw = (-nh) % multiple, (-nw) % multiple
    if ph or pw:
        mode = "reflect" if ph < nh and pw < nw else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (nh, nw)
