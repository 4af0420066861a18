"""Validation of the background defocus estimator (evaluation/defocus.py) on known blur.

Sharp photos are blurred by known disk radii (in linear light, with datasets/synthetic.py's own
disk kernel, independent of the estimator's optics and of compositing/), optionally with sensor-
like noise and JPEG afterwards, and the estimator must give the radius back: the median ratio of
estimate to truth within ±25 % and the medians increasing with the radius. Below about twice a
photo's own softness (its reading before any blur) the estimate reads the photo, not the blur;
the table says where that floor lies. tests/evaluation/test_defocus.py runs the same protocol on
procedural dead-leaves scenes and scikit-image photos; :func:`validation_section` runs it on the
real portraits of the real-photo benchmark (bench/bench_realphotos.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from plumbing import markdown

FRACTIONS = (0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04)  # disk radii tried, fractions of the width
# the degradations after the blur: name → (noise std in code values, JPEG quality or None)
CONDITIONS = {"clean": (0.0, None), "noise": (2.0, None), "JPEG": (0.0, 75), "noise + JPEG": (2.0, 75)}
NOISE_WIDTH = 0.6  # px: the noise is correlated like a camera's grain after demosaicing
SHARP = 0.003  # a photo whose own reading is at most this fraction of its width counts as sharp
TOLERANCE = 0.25  # the median estimate must be within ±25 % of the truth


def blur_disk(image: np.ndarray, radius_px: float) -> np.ndarray:
    """``image`` (uint8 RGB) convolved with a disk of ``radius_px`` in linear light (sRGB decoded
    and encoded again, IEC 61966-2-1), edges reflected; unchanged below 0.5 px."""
    from datasets.colour import linear_to_srgb8, srgb8_to_linear
    from datasets.synthetic import disk_kernel

    if radius_px < 0.5:
        return np.asarray(image, np.uint8).copy()
    linear = cv2.filter2D(srgb8_to_linear(image), -1, disk_kernel(radius_px), borderType=cv2.BORDER_REFLECT)
    return linear_to_srgb8(linear)


def degrade(image: np.ndarray, noise_std: float, jpeg_quality: Optional[int], seed: int) -> np.ndarray:
    """``image`` with Gaussian noise of std ``noise_std`` code values per channel, correlated over
    ``NOISE_WIDTH`` px, then JPEG-compressed at ``jpeg_quality`` (None: not compressed)."""
    out = np.asarray(image, np.uint8)
    if noise_std > 0:
        noise = np.random.default_rng(seed).standard_normal(out.shape).astype(np.float32)
        noise = cv2.GaussianBlur(noise, (0, 0), NOISE_WIDTH)
        noise *= np.float32(noise_std / max(float(noise.std()), 1e-6))
        out = np.clip(np.rint(out.astype(np.float32) + noise), 0, 255).astype(np.uint8)
    if jpeg_quality is not None:
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(out[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        out = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    return out


@dataclass(frozen=True)
class Case:
    """One sharp scene of the validation: its ``name``, uint8 RGB ``image`` and person ``mask``
    (None: all background)."""

    name: str
    image: np.ndarray
    mask: Optional[np.ndarray] = None


def estimates(cases: Sequence[Case], fractions: Sequence[float], noise_std: float,
              jpeg_quality: Optional[int]) -> tuple[np.ndarray, np.ndarray]:
    """(the estimator's reading of each case before any blur, cases × radii of estimate ÷ truth),
    both as fractions of the width; nan where the estimator could not measure."""
    from evaluation.defocus import defocus_radius

    own = np.array([defocus_radius(c.image, c.mask).radius_frac for c in cases])
    ratios = np.full((len(cases), len(fractions)), np.nan)
    for i, c in enumerate(cases):
        w = c.image.shape[1]
        for j, f in enumerate(fractions):
            seen = degrade(blur_disk(c.image, f * w), noise_std, jpeg_quality, seed=1000 * i + j)
            ratios[i, j] = defocus_radius(seen, c.mask).radius_frac / f
    return own, ratios


def medians(ratios: np.ndarray) -> np.ndarray:
    """Median over the cases of each radius's ratio, ignoring the unmeasured."""
    out = np.full(ratios.shape[1], np.nan)
    for j in range(ratios.shape[1]):
        finite = ratios[np.isfinite(ratios[:, j]), j]
        if finite.size:
            out[j] = float(np.median(finite))
    return out


def holds(median_ratios: np.ndarray, fractions: Sequence[float]) -> tuple[bool, bool]:
    """(every median within ±``TOLERANCE``, the median estimates strictly increasing with the radius)."""
    within = bool(np.all(np.abs(median_ratios - 1.0) <= TOLERANCE))
    estimates_ = median_ratios * np.asarray(fractions)
    return within, bool(np.all(np.diff(estimates_) > 0))


def load_cases(folder: Path, limit: Optional[int] = None) -> list[Case]:
    """The ``ordinary/`` portraits of a real-photo folder with their ``ordinary_masks/``."""
    from datasets.io import list_images, read_image

    cases = []
    for path in list_images(folder / "ordinary")[:limit]:
        image = read_image(path)
        mask = read_image(folder / "ordinary_masks" / f"{path.stem}.png")[..., 0].astype(np.float32) / 255.0
        if mask.shape == image.shape[:2]:
            cases.append(Case(path.stem, image, mask))
    return cases


def validation_table(cases: Sequence[Case], fractions: Sequence[float] = FRACTIONS) -> tuple[str, dict]:
    """The validation as Markdown (one row per condition: median ratio and IQR per radius, on the
    sharp photos; the floor) and its numbers."""
    own = None
    rows, results = [], {}
    for name, (noise_std, quality) in CONDITIONS.items():
        own_c, ratios = estimates(cases, fractions, noise_std, quality)
        own = own_c if own is None else own
        sharp = np.isfinite(own) & (own <= SHARP)
        med_sharp, med_all = medians(ratios[sharp]), medians(ratios[np.isfinite(own)])
        within, monotonic = holds(med_sharp, fractions)
        results[name] = {"sharp": med_sharp, "all": med_all, "within": within, "monotonic": monotonic,
                         "unmeasured": int(np.isnan(ratios[sharp]).sum())}
        cells = []
        for j in range(len(fractions)):
            col = ratios[sharp, j]
            col = col[np.isfinite(col)]
            q1, q3 = (np.percentile(col, [25, 75]) if col.size else (math.nan, math.nan))
            cells.append(f"{med_sharp[j]:.2f} ({q1:.2f}–{q3:.2f}) / {med_all[j]:.2f}")
        rows.append([name, *cells, f"{'yes' if within else 'NO'} / {'yes' if monotonic else 'NO'}"])
    own_f = own[np.isfinite(own)]
    sharp = np.isfinite(own) & (own <= SHARP)
    floor = 2.0 * float(np.median(own[sharp])) if sharp.any() else math.nan
    header = ["condition", *(f"{100 * f:g} %" for f in fractions), "±25 % / monotonic"]
    note = (f"{len(cases)} portraits; {int(sharp.sum())} have a sharp background (own reading ≤ {100 * SHARP:g} % of "
            f"the width) and make the first figure of each cell, median estimate ÷ truth (IQR); the second is the "
            f"median over all {own_f.size} whose background the estimator could read. Unblurred, the portraits "
            f"read a median {100 * float(np.median(own_f)):.2f} % (sharp ones {100 * float(np.median(own[sharp])):.2f} %): "
            f"the floor, twice the photo's own softness, is about {100 * floor:.2f} % of the width for the sharp ones "
            f"and {200 * float(np.median(own_f)):.2f} % for all; below it the estimate reads the photo. Noise: "
            f"Gaussian, std {CONDITIONS['noise'][0]:g} code values, correlated over {NOISE_WIDTH} px; JPEG quality "
            f"{CONDITIONS['JPEG'][1]}.")
    return f"{note}\n\n{markdown.table(header, rows)}\n", {"conditions": results, "floor": floor,
                                                           "own_median": float(np.median(own_f))}


def validation_section(folder: Path, limit: Optional[int] = None) -> str:
    """Markdown: the estimator's validation on the real portraits of ``folder``."""
    text, _ = validation_table(load_cases(folder, limit))
    return ("#### Background defocus estimator (evaluation/defocus.py): validation on known blur\n\n"
            "The folder's portraits blurred by known disk radii (datasets/synthetic.py's disk, linear light), "
            "with noise and JPEG after the blur, read back on the far background of the folder's masks.\n\n" + text)
