"""Depth-binned progressive blur: pixels farther from the focal plane get bigger Gaussian kernels.

Seeds: Pyzh & Gogarev (three kernels 15, 9, 3 by distance from the subject; here also the
13-kernel variant) and Nikam & Awate (fixed-width depth buckets). The whole image is blurred
once per kernel and each pixel takes the blur of its bin, then the subject is pasted with its
soft mask: I = α·I_sharp + (1 − α)·I_binned.

Conventions: image uint8 RGB H×W×3, mask float32 H×W in [0, 1], depth float32 H×W (larger =
farther, any units), ``focus_depth`` in the units of ``depth``. Output uint8 RGB H×W×3.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np

from plumbing.fields import setting

from .kernels import gaussian_sigma

PROGRESSIVE3_KERNELS: tuple[int, ...] = (15, 9, 3)
PROGRESSIVE13_KERNELS: tuple[int, ...] = tuple(range(13, 0, -1))

#: The largest Gaussian/box kernel a method accepts: far above any portrait's need (k = 21 is the
#: default), low enough that a typo (k=100001) is refused instead of running for hours.
MAX_KERNEL = 1001


@dataclass
class ProgressiveParams:
    """Kernel sizes from the farthest bin to the nearest, and optional bin edges on the
    normalised defocus t = |d − d_f| / max|d − d_f| ∈ [0, 1] (len(kernels) − 1 increasing
    values; default equal-width bins)."""

    kernels: tuple[int, ...] = setting(PROGRESSIVE3_KERNELS, "kernel sizes, farthest bin first", lo=1, hi=MAX_KERNEL)
    edges: Optional[tuple[float, ...]] = setting(None, "bin edges on the normalised defocus (default: equal bins)",
                                                 lo=0.0, hi=1.0)


@dataclass
class Progressive13Params(ProgressiveParams):
    """The 13-kernel variant: sizes 13, 12, …, 1."""

    kernels: tuple[int, ...] = setting(PROGRESSIVE13_KERNELS, "kernel sizes, farthest bin first", lo=1, hi=MAX_KERNEL)


@dataclass
class BucketParams:
    """Nikam & Awate buckets: depth normalised to [0, 1] (min..max) cut into fixed buckets of
    ``bucket_width``; a bucket b buckets away from the focus bucket gets kernel 2·step·b + 1."""

    bucket_width: float = setting(0.2, "width of a bucket of normalised depth", lo=0.001, hi=1.0)
    kernel_step: int = setting(4, "kernel growth per bucket from the focus", lo=0, hi=(MAX_KERNEL - 1) // 2)


def gaussian_blur(image: np.ndarray, k: int) -> np.ndarray:
    """Gaussian blur of "size" k with OpenCV's sigma rule σ = 0.3((k − 1)/2 − 1) + 0.8.

    Odd k is exactly ``cv2.GaussianBlur(image, (k, k), σ)``; an even k (the 13…1 series) keeps
    its σ from the same formula on the next odd support, so the blur stays centred. k ≤ 1 is
    the identity (a copy)."""
    k = int(k)
    if k <= 1:
        return image.copy()
    sigma = 0.3 * ((k - 1) / 2.0 - 1.0) + 0.8 if k % 2 == 0 else gaussian_sigma(k)
    support = k | 1
    return cv2.GaussianBlur(image, (support, support), sigma)


def paste_subject(image: np.ndarray, blurred: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """I = α·sharp + (1 − α)·blurred for uint8 RGB images and a float32 mask (Datar & Bernal).
    Pixels with α = 1 are copied exactly."""
    alpha = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
    out = cv2.blendLinear(image, blurred, alpha, 1.0 - alpha)
    cv2.copyTo(image, (alpha >= 1.0).astype(np.uint8), out)
    return out


def blur_by_bins(image: np.ndarray, bins: np.ndarray, kernels: Sequence[int]) -> np.ndarray:
    """Each pixel takes the Gaussian blur (:func:`gaussian_blur`) with ``kernels[bins[y, x]]``.
    ``bins`` int H×W with values in [0, len(kernels)). Only bins that occur are blurred."""
    out = np.empty_like(image)
    for i, k in enumerate(kernels):
        sel = (bins == i).astype(np.uint8)
        if not sel.any():
            continue
        cv2.copyTo(gaussian_blur(image, k), sel, out)
    return out


def defocus_bins(depth: np.ndarray, focus_depth: float, n: int,
                 edges: Optional[Sequence[float]] = None) -> np.ndarray:
    """Bin index per pixel: 0 for the farthest from focus … n − 1 for the nearest.

    t = |d − d_f| / max|d − d_f| ∈ [0, 1] is cut at ``edges`` (n − 1 increasing values in (0, 1);
    default equal widths). Returns int32 H×W."""
    dist = np.abs(np.asarray(depth, np.float32) - np.float32(focus_depth))
    top = float(dist.max())
    t = dist / top if top > 0 else np.zeros_like(dist)
    if edges is None:
        edges = np.linspace(0.0, 1.0, n + 1)[1:-1]
    edges = np.asarray(edges, np.float32)
    if edges.shape != (n - 1,) or np.any(np.diff(edges) <= 0):
        raise ValueError(f"need {n - 1} increasing bin edges for {n} kernels, got {edges.tolist()}")
    # np.digitize gives 0 for the nearest (smallest t); flip so 0 is the farthest
    return (n - 1 - np.digitize(t, edges)).astype(np.int32)


def progressive_blur(image: np.ndarray, mask: np.ndarray, depth: np.ndarray, focus_depth: float,
                     params: ProgressiveParams) -> np.ndarray:
    """Progressive blur (Pyzh & Gogarev): defocus bins → kernels ``params.kernels`` (farthest
    first), subject pasted with its soft mask."""
    kernels = tuple(int(k) for k in params.kernels)
    if not kernels or min(kernels) < 1:
        raise ValueError(f"kernels must be positive sizes, got {kernels}")
    bins = defocus_bins(depth, focus_depth, len(kernels), params.edges)
    return paste_subject(image, blur_by_bins(image, bins, kernels), mask)


def bucket_blur(image: np.ndarray, mask: np.ndarray, depth: np.ndarray, focus_depth: float,
                params: BucketParams) -> np.ndarray:
    """Fixed depth buckets (Nikam & Awate): depth normalised to [0, 1] over the image, buckets
    of width ``bucket_width``; kernel 2·step·|b − b_focus| + 1 per bucket, subject pasted."""
    if not 0.0 < params.bucket_width <= 1.0:
        raise ValueError(f"bucket_width must be in (0, 1], got {params.bucket_width}")
    depth = np.asarray(depth, np.float32)
    lo, hi = float(depth.min()), float(depth.max())
    span = hi - lo if hi > lo else 1.0
    n = int(np.ceil(1.0 / params.bucket_width - 1e-9))
    norm = (depth - lo) / span
    buckets = np.minimum((norm / params.bucket_width).astype(np.int32), n - 1)
    focus_bucket = min(int(max((focus_depth - lo) / span, 0.0) / params.bucket_width), n - 1)
    kernels = [2 * params.kernel_step * abs(b - focus_bucket) + 1 for b in range(n)]
    return paste_subject(image, blur_by_bins(image, buckets, kernels), mask)
