"""How much noise a photo has, and where: what the grain may give back (compositing.grain).

:func:`noise_profile` reads the photo's noise so that texture is not taken for noise: the
fine-scale energy (:func:`fine_std`, the 3×3 Laplacian) of its flattest blocks per brightness,
the quietest of them (texture only adds energy), with the confidence rules that gate the grain,
and the fine-scale std around every pixel, the local cap. Conventions: image uint8 RGB H×W×3,
levels in sRGB code values.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# variance of the rounding to 8-bit code values (a uniform error of one step: 1/12): every output
# has it anyway, so it is not noise to give back
QUANT_VAR = 1.0 / 12.0
PROFILE_BLOCK = 16  # px: the blocks whose fine-scale energy the noise profile is read from
LOCAL_SIGMA = 2.0  # px: the local cap is the fine-scale std each pixel's surroundings had, over this
PROFILE_BINS = 8  # brightness bins of the profile (32 code values of luma each)
PROFILE_MIN_BLOCKS = 12  # flat blocks a bin needs to be measured
PROFILE_SPREAD = 1.5  # 25th ÷ 5th percentile of a bin's block energies above this: not noise alone
PROFILE_MIN_LEVEL = 0.5  # fine-scale std (code values) below which the photo's noise is invisible


def fine_std(y: np.ndarray) -> np.ndarray:
    """Per-pixel fine-scale noise energy of luma ``y`` (uint8, or float32 for values between the
    code values): the 3×3 Laplacian's response squared ÷ 20, so that white noise of std σ reads σ²
    on average (Var ∇²n = 20σ²). float32."""
    y = np.asarray(y)
    depth = cv2.CV_16S if y.dtype == np.uint8 else cv2.CV_32F  # 8-bit input: exact in 16 bits, a quarter the traffic
    lap = cv2.Laplacian(y if depth == cv2.CV_16S else y.astype(np.float32, copy=False), depth, ksize=1,
                        borderType=cv2.BORDER_REFLECT)
    return cv2.multiply(lap, lap, scale=1.0 / 20.0, dtype=cv2.CV_32F)


@dataclass(frozen=True)
class NoiseProfile:
    """What the photo's noise allows: its fine-scale noise std (code values, :func:`fine_std`, less
    the 8-bit rounding's) in its flat regions per luma bin (centres ``centres``; nan where a bin
    was not measured with confidence or its noise is invisible), and the fine-scale std around
    each pixel (``local``, at half size: over ``LOCAL_SIGMA`` px, the least within ±2 px), the
    most any grain may bring a region back to."""

    centres: np.ndarray
    level: np.ndarray
    local: np.ndarray

    @property
    def confident(self) -> bool:
        """Whether some bin's noise was measured with confidence (and is visible)."""
        return bool(np.isfinite(self.level).any())

    def table(self) -> np.ndarray:
        """The level for each luma code value 0…255: linear between measured bins, falling to 0
        one bin beyond the outermost (nothing is added at a brightness the photo did not show
        to be noisy). float32 (256,)."""
        ok = np.isfinite(self.level)
        if not ok.any():
            return np.zeros(256, np.float32)
        step = 256.0 / PROFILE_BINS
        c, v = self.centres[ok], self.level[ok]
        xs = np.concatenate([[c[0] - step], c, [c[-1] + step]])
        ys = np.concatenate([[0.0], v, [0.0]])
        return np.interp(np.arange(256, dtype=np.float64), xs, ys, left=0.0, right=0.0).astype(np.float32)


def noise_profile(image: np.ndarray) -> NoiseProfile:
    """The photo's noise, measured so that texture is not read as noise. Per ``PROFILE_BLOCK``
    block: the fine-scale energy and, from the luma at half size smoothed by 1 px (2 px at full
    size, which noise barely moves), the gradient. The flattest quarter of the blocks, binned by
    brightness, give per bin the 10th percentile of their energy, the quietest flat blocks
    (texture only adds energy; a block-based noise estimate in the manner of Shin, Park & Kang
    2005). A bin counts only with ``PROFILE_MIN_BLOCKS`` flat blocks whose quietest quarter agrees
    (25th percentile ≤ ``PROFILE_SPREAD`` × the 5th: noise is stationary; where fewer than a
    quarter of the blocks are clean, sky and texture mix and the bin is left out), away from the clip points (a clipped sky had its noise clipped) and when the level,
    less the 8-bit rounding's 1/12, is visible (``PROFILE_MIN_LEVEL``). Sand or foliage that
    is random from pixel to pixel and fills a brightness on its own still reads as noise there:
    the ``local`` std keeps the grain from any region that was cleaner."""
    grey = cv2.cvtColor(np.ascontiguousarray(image, np.uint8), cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    centres = (np.arange(PROFILE_BINS) + 0.5) * 256.0 / PROFILE_BINS
    level = np.full(PROFILE_BINS, np.nan)
    # sizes that divide evenly: OpenCV's area resampling is fastest by whole factors
    h2, w2 = max(1, h // 2), max(1, w // 2)
    bh, bw = max(1, h // PROFILE_BLOCK), max(1, w // PROFILE_BLOCK)
    fine_half = cv2.resize(fine_std(grey)[:2 * h2, :2 * w2], (w2, h2), interpolation=cv2.INTER_AREA)
    # the local cap: the fine-scale energy around each pixel (half size, smoothed over 2 px of the
    # full size, the least within ±2 px), so that a clean region stays clean to within a few
    # pixels of its edge
    around = cv2.erode(cv2.GaussianBlur(fine_half, (0, 0), LOCAL_SIGMA / 2.0), np.ones((3, 3), np.uint8))
    local = np.sqrt(np.maximum(around - np.float32(QUANT_VAR), 0.0))
    half = cv2.resize(grey[:2 * h2, :2 * w2], (w2, h2), interpolation=cv2.INTER_AREA).astype(np.float32)
    smooth = cv2.GaussianBlur(half, (0, 0), 1.0)
    structure = cv2.magnitude(cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1))
    blocks = (slice(0, bh * PROFILE_BLOCK // 2), slice(0, bw * PROFILE_BLOCK // 2))  # in half-size pixels

    def per_block(x: np.ndarray) -> np.ndarray:
        return cv2.resize(np.ascontiguousarray(x[blocks]), (bw, bh), interpolation=cv2.INTER_AREA).ravel()

    energy, flatness, brightness = per_block(fine_half), per_block(structure), per_block(half)
    unclipped = (brightness >= 8) & (brightness <= 247)
    if bh < 2 or bw < 2 or not unclipped.any():
        return NoiseProfile(centres, level, local)
    flat = unclipped & (flatness <= np.quantile(flatness[unclipped], 0.25))
    which = np.minimum((brightness * PROFILE_BINS / 256.0).astype(int), PROFILE_BINS - 1)
    for b in range(PROFILE_BINS):
        e = energy[flat & (which == b)]
        if e.size < PROFILE_MIN_BLOCKS:
            continue
        q05, q10, q25 = np.quantile(e, [0.05, 0.1, 0.25])
        noise = float(np.sqrt(max(q10 - QUANT_VAR, 0.0)))  # the 8-bit rounding every output has anyway
        if q25 <= PROFILE_SPREAD * max(q05, 1e-6) and noise >= PROFILE_MIN_LEVEL:
            level[b] = noise
    return NoiseProfile(centres, level, local)
