"""Training losses for the segmentation and depth networks.

Segmentation: logits N×2×H×W (channel 1 = person), target N×H×W integer {0, 1} with
``IGNORE_INDEX`` (255) for pixels that do not count. Depth: tensors N×1×H×W of the normalised
target ``y = max_depth / depth`` (Alhashim & Wonka 2018) with an optional boolean valid mask.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F

IGNORE_INDEX = 255


def _valid_and_binary(target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    valid = target != IGNORE_INDEX
    return valid.float(), (target == 1).float()


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pixel-wise cross-entropy over the valid pixels (``IGNORE_INDEX`` skipped)."""
    if not (target != IGNORE_INDEX).any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits, target.long(), ignore_index=IGNORE_INDEX)


def soft_iou_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 − soft IoU per image, averaged over the batch (Rahman & Wang 2016, eq. 3–4).

    IoU ≈ Σ p·t / Σ (p + t − p·t) with p the softmax person probability and t the binary target,
    over valid pixels. ``eps`` is added to numerator and denominator so an empty target with an
    empty prediction counts as a perfect match (loss 0).
    """
    valid, t = _valid_and_binary(target)
    p = torch.softmax(logits, dim=1)[:, 1] * valid
    t = t * valid
    inter = (p * t).flatten(1).sum(1)
    union = (p + t - p * t).flatten(1).sum(1)
    return (1.0 - (inter + eps) / (union + eps)).mean()


def l1_mask_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean |p − t| between the person probability and the binary target over valid pixels."""
    valid, t = _valid_and_binary(target)
    p = torch.softmax(logits, dim=1)[:, 1]
    return ((p - t).abs() * valid).sum() / valid.sum().clamp_min(1.0)


@dataclass(frozen=True)
class SegmentationLoss:
    """Weighted sum ``ce · CE + iou · (1 − softIoU) + l1 · L1``; returns (total, parts)."""

    ce: float = 1.0
    iou: float = 0.0
    l1: float = 0.0

    def __call__(self, logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        parts: dict[str, torch.Tensor] = {}
        if self.ce:
            parts["ce"] = cross_entropy(logits, target)
        if self.iou:
            parts["iou"] = soft_iou_loss(logits, target)
        if self.l1:
            parts["l1"] = l1_mask_loss(logits, target)
        if not parts:
            raise ValueError("all segmentation loss weights are zero")
        weights = {"ce": self.ce, "iou": self.iou, "l1": self.l1}
        total = sum(weights[k] * v for k, v in parts.items())
        return total, {k: float(v.detach()) for k, v in parts.items()}


# --- depth -----------------------------------------------------------------------------------

def depth_to_target(depth: torch.Tensor, max_depth: float = 10.0, min_depth: float = 0.1) -> torch.Tensor:
    """Alhashim & Wonka's normalisation ``y = max_depth / clip(depth, min_depth, max_depth)``,
    in [1, max_depth / min_depth]; near things get large values."""
    return max_depth / depth.clamp(min_depth, max_depth)


def target_to_depth(y: torch.Tensor, max_depth: float = 10.0, min_depth: float = 0.1) -> torch.Tensor:
    """Inverse of :func:`depth_to_target`: ``depth = max_depth / clip(y, 1, max_depth / min_depth)``."""
    return max_depth / y.clamp(1.0, max_depth / min_depth)


def _gaussian_window(size: int, sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    r = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM of N×1×H×W images (Wang et al. 2004) with an 11×11 Gaussian window (σ 1.5),
    K1 = 0.01, K2 = 0.03, population covariances, valid positions only — the same numbers as
    ``skimage.metrics.structural_similarity(gaussian_weights=True, use_sample_covariance=False)``."""
    w = _gaussian_window(window, sigma, x.device, x.dtype)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = F.conv2d(x, w), F.conv2d(y, w)
    sxx = F.conv2d(x * x, w) - mu_x**2
    syy = F.conv2d(y * y, w) - mu_y**2
    sxy = F.conv2d(x * y, w) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return s.mean()


def image_gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences along x and y of N×C×H×W (shapes N×C×H×(W−1) and N×C×(H−1)×W)."""
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


@dataclass(frozen=True)
class DepthLoss:
    """Alhashim & Wonka 2018, eq. 1–4: ``l1 · L_depth + grad · L_grad + ssim · (1 − SSIM) / 2``.

    All terms on the normalised target y = max_depth / depth (``data_range`` = the range of y,
    max_depth / min_depth). Defaults are their weights (λ = 0.1 on the point-wise L1).
    Invalid pixels (``valid`` False, e.g. missing depth) are replaced by the target in the
    prediction so they add nothing to any term.
    """

    l1: float = 0.1
    grad: float = 1.0
    ssim: float = 1.0
    data_range: float = 100.0

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, valid: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, dict[str, float]]:
        if valid is not None:
            pred = torch.where(valid, pred, target.detach())
        l_depth = (pred - target).abs().mean()
        pdx, pdy = image_gradients(pred)
        tdx, tdy = image_gradients(target)
        l_grad = (pdx - tdx).abs().mean() + (pdy - tdy).abs().mean()
        l_ssim = ((1.0 - ssim(pred, target, self.data_range)) / 2).clamp(0.0, 1.0)
        total = self.l1 * l_depth + self.grad * l_grad + self.ssim * l_ssim
        parts = {"l1": float(l_depth.detach()), "grad": float(l_grad.detach()), "ssim": float(l_ssim.detach())}
        return total, parts
