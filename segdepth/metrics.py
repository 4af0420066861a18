"""Evaluation metrics for person masks and depth maps (numpy).

Masks: float H×W in [0, 1] (thresholded at 0.5) or bool; an optional ``valid`` bool H×W
excludes pixels (e.g. VOC's 255 border). Depth: float H×W in metres, larger = farther; only
pixels with a finite, positive ground truth count.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from skimage.segmentation import find_boundaries

from segdepth.distance import distance_to


def _binary(mask: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    return mask if mask.dtype == bool else np.asarray(mask) >= threshold


def iou(pred: np.ndarray, target: np.ndarray, valid: Optional[np.ndarray] = None) -> float:
    """Intersection over union of the person class, |P ∩ T| / |P ∪ T|; 1.0 when both are empty."""
    p, t = _binary(pred), _binary(target)
    if valid is not None:
        p, t = p & valid, t & valid
    union = np.count_nonzero(p | t)
    return 1.0 if union == 0 else np.count_nonzero(p & t) / union


def pixel_accuracy(pred: np.ndarray, target: np.ndarray, valid: Optional[np.ndarray] = None) -> float:
    """Fraction of (valid) pixels whose binary label matches."""
    same = _binary(pred) == _binary(target)
    if valid is not None:
        same = same[valid]
    return float(same.mean()) if same.size else 1.0


def boundary_tolerance_px(shape: tuple[int, int], fraction: float = 0.008) -> int:
    """DAVIS boundary tolerance: ``ceil(fraction · image diagonal)`` pixels (Perazzi et al. 2016)."""
    return int(np.ceil(fraction * np.hypot(*shape[:2])))


def boundary_f_score(pred: np.ndarray, target: np.ndarray, tolerance: Optional[int] = None) -> float:
    """Boundary F-measure (Csurka et al. 2013; DAVIS's F, Perazzi et al. 2016).

    Boundaries are the mask pixels with a 4-neighbour outside (skimage ``find_boundaries``,
    mode "inner"). A predicted boundary pixel is correct when a true boundary pixel lies within
    ``tolerance`` pixels (Euclidean; default :func:`boundary_tolerance_px`), and vice versa for
    recall. F = 2PR / (P + R); 1.0 when neither mask has a boundary, 0.0 when only one has.
    """
    p, t = _binary(pred), _binary(target)
    if tolerance is None:
        tolerance = boundary_tolerance_px(p.shape)
    bp = find_boundaries(p, mode="inner", connectivity=1)
    bt = find_boundaries(t, mode="inner", connectivity=1)
    n_p, n_t = np.count_nonzero(bp), np.count_nonzero(bt)
    if n_p == 0 and n_t == 0:
        return 1.0
    if n_p == 0 or n_t == 0:
        return 0.0
    # Distance from every pixel to the nearest boundary pixel of the other mask.
    dist_to_t, dist_to_p = distance_to(bt), distance_to(bp)
    precision = np.count_nonzero(dist_to_t[bp] <= tolerance + 1e-6) / n_p
    recall = np.count_nonzero(dist_to_p[bt] <= tolerance + 1e-6) / n_t
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


@dataclass
class SegmentationMeter:
    """Per-image IoU, pixel accuracy and boundary F, averaged over the images seen."""

    tolerance: Optional[int] = None
    values: dict[str, list[float]] = field(default_factory=lambda: {"iou": [], "pixel_acc": [], "boundary_f": []})

    def update(self, pred: np.ndarray, target: np.ndarray, valid: Optional[np.ndarray] = None) -> None:
        self.values["iou"].append(iou(pred, target, valid))
        self.values["pixel_acc"].append(pixel_accuracy(pred, target, valid))
        self.values["boundary_f"].append(boundary_f_score(pred, target, self.tolerance))

    def result(self) -> dict[str, float]:
        return {k: float(np.mean(v)) if v else float("nan") for k, v in self.values.items()}


# --- depth (Eigen et al. 2014) -----------------------------------------------------------------

DEPTH_METRICS = ("abs_rel", "rmse", "log10", "delta1", "delta2", "delta3")


def _depth_valid(pred: np.ndarray, gt: np.ndarray, valid: Optional[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    ok = np.isfinite(gt) & (gt > 0)
    if valid is not None:
        ok &= valid
    return np.maximum(pred[ok].astype(np.float64), 1e-6), gt[ok].astype(np.float64)


@dataclass
class DepthMeter:
    """Eigen et al. 2014 error measures accumulated over all valid pixels of all images
    (as in Alhashim & Wonka's evaluation): AbsRel = mean |p − g| / g, RMSE = √mean (p − g)²,
    log10 = mean |log10 p − log10 g|, δk = fraction with max(p/g, g/p) < 1.25^k.
    Predictions are clipped to ≥ 1e-6 m."""

    sums: dict[str, float] = field(default_factory=lambda: {k: 0.0 for k in DEPTH_METRICS})
    count: int = 0

    def update(self, pred: np.ndarray, gt: np.ndarray, valid: Optional[np.ndarray] = None) -> None:
        p, g = _depth_valid(np.asarray(pred), np.asarray(gt), valid)
        ratio = np.maximum(p / g, g / p)
        self.sums["abs_rel"] += float(np.sum(np.abs(p - g) / g))
        self.sums["rmse"] += float(np.sum((p - g) ** 2))
        self.sums["log10"] += float(np.sum(np.abs(np.log10(p) - np.log10(g))))
        for k in (1, 2, 3):
            self.sums[f"delta{k}"] += float(np.count_nonzero(ratio < 1.25**k))
        self.count += p.size

    def result(self) -> dict[str, float]:
        if self.count == 0:
            return {k: float("nan") for k in DEPTH_METRICS}
        out = {k: v / self.count for k, v in self.sums.items()}
        out["rmse"] = float(np.sqrt(out["rmse"]))
        return out


def depth_metrics(pred: np.ndarray, gt: np.ndarray, valid: Optional[np.ndarray] = None) -> dict[str, float]:
    """The six Eigen et al. measures for one depth map (see :class:`DepthMeter`)."""
    meter = DepthMeter()
    meter.update(pred, gt, valid)
    return meter.result()
