"""A METRIC portrait depth prior: each person's distance in metres from the size of their face.

The relative prior (:mod:`segdepth.depth.prior`) knows no scale, so a thin lens cannot use it and
f-number and focal length change nothing. Faces give the scale. For a pinhole camera a face of
real width W at distance D spans w = f_px · W / D pixels, so D = f_px · W / w, with

* W = :data:`FACE_BOX_WIDTH_M`: MediaPipe's BlazeFace box is about 2.4 × the eye distance wide on a
  frontal face (segdepth/face.py); the mean adult interpupillary distance is 63 mm (Dodgson 2004),
  so W ≈ 0.151 m. Children's smaller faces read as farther away; turned heads as well.
* f_px from the 35 mm-equivalent focal length f35 (EXIF ``FocalLengthIn35mmFilm``, else
  :data:`DEFAULT_FOCAL_35MM`, the project's portrait lens, 85 mm = a 28.5° diagonal field of
  view, the lens compositing.optics.PORTRAIT_LENS whose blur the relative default matches):
  f_px = f35 · diagonal_px / 43.27 mm (the 35 mm frame's diagonal). A photo taken wider (a
  phone's 28 mm) without EXIF reads its people as farther away by the ratio, 3×; at one
  f-number the blur in pixels then grows with the assumed focal length (same framing).

The camera is then that focal length on a sensor of the 35 mm frame's diagonal with the photo's
aspect ratio, so f-number means its full-frame equivalent. Per person: each face is assigned
the mask's pixels nearest to it (within its connected component); the main subject is the
largest face. People whose circle of confusion at their own distance is below
``sharp_radius_px`` stay in the subject mask (sharp, like the subject beside them); people
farther behind leave the mask and are blurred at their own distance. The background is the
relative prior scaled by the subject's distance: d = D_subject · d_rel.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import cv2
import numpy as np

from .prior import DepthPrior

FACE_BOX_WIDTH_M = 2.4 * 0.063
DEFAULT_FOCAL_35MM = 85.0
FULL_FRAME_DIAGONAL_MM = float(np.hypot(36.0, 24.0))


@dataclass
class PersonDistance:
    """One detected face: its box width in pixels, its distance in metres and whether that
    person stays in the sharp subject mask."""

    box: tuple[float, float, float, float]
    distance_m: float
    in_focus: bool


@dataclass
class MetricDepth:
    """Result of :func:`metric_depth`: depth in metres, the subject mask with people far behind
    the subject removed, the focus distance, the camera and the per-person figures."""

    depth: np.ndarray
    mask: np.ndarray
    focus_m: float
    focal_35mm: float
    focal_source: str  # "exif" or "default"
    sensor_width_mm: float
    people: list[PersonDistance] = field(default_factory=list)

    def summary(self) -> dict:
        """JSON-ready description for a run's saved config."""
        return {"depth_source": "metric_from_face", "focal_length_35mm": self.focal_35mm,
                "focal_length_source": self.focal_source, "sensor_width_mm": round(self.sensor_width_mm, 3),
                "focus_m": round(self.focus_m, 3),
                "people": [{"box": [round(v, 1) for v in p.box], "distance_m": round(p.distance_m, 3),
                            "in_focus": p.in_focus} for p in self.people]}


def sensor_width_mm(width_px: int, height_px: int) -> float:
    """Width of a sensor with the 35 mm frame's diagonal (43.27 mm) and the photo's aspect ratio."""
    return FULL_FRAME_DIAGONAL_MM * width_px / float(np.hypot(width_px, height_px))


def face_distance_m(face_width_px: float, width_px: int, height_px: int, focal_35mm: float) -> float:
    """Distance of a face from its box width: D = f_px · W / w (module docstring)."""
    if face_width_px <= 0:
        raise ValueError(f"face width must be positive, got {face_width_px}")
    f_px = focal_35mm * float(np.hypot(width_px, height_px)) / FULL_FRAME_DIAGONAL_MM
    return f_px * FACE_BOX_WIDTH_M / face_width_px


def _assign(mask: np.ndarray, centres: Sequence[tuple[float, float]]) -> np.ndarray:
    """Index of the face each subject pixel belongs to (−1 outside the subject): within each
    connected component of the mask the nearest face centre of that component (any face when the
    component has none), int32 H×W."""
    h, w = mask.shape
    n, labels = cv2.connectedComponents((mask >= 0.5).astype(np.uint8), connectivity=8)
    owner = np.full((h, w), -1, np.int32)
    yy, xx = np.mgrid[0:h, 0:w]
    on_label = [int(labels[min(h - 1, max(0, int(cy))), min(w - 1, max(0, int(cx)))]) for cx, cy in centres]
    for comp in range(1, n):
        sel = labels == comp
        faces = [i for i, lab in enumerate(on_label) if lab == comp]
        if not faces:  # a body without a detected face: the nearest face of all
            faces = list(range(len(centres)))
        d2 = np.stack([(xx[sel] - centres[i][0]) ** 2 + (yy[sel] - centres[i][1]) ** 2 for i in faces])
        owner[sel] = np.asarray(faces, np.int32)[np.argmin(d2, axis=0)]
    return owner


def metric_depth(image: np.ndarray, mask: np.ndarray, faces: Sequence, focal_35mm: Optional[float] = None,
                 coc_px: Optional[Callable[[float, float], float]] = None, sharp_radius_px: float = 1.0,
                 prior: Optional[DepthPrior] = None) -> Optional[MetricDepth]:
    """Metric depth from the person mask and detected faces (see the module docstring).

    ``faces``: objects with ``box`` (x0, y0, x1, y1) and ``width`` in pixels (segdepth.face.Face).
    Only faces whose centre lies on the mask count. ``coc_px(depth_m, focus_m)`` gives the
    circle-of-confusion radius in pixels of the lens that will render (people below
    ``sharp_radius_px`` stay sharp); None keeps every person in focus. Returns None without a
    usable face (the caller keeps the relative prior).
    """
    h, w = mask.shape
    on_mask = [f for f in faces if mask[min(h - 1, max(0, int((f.box[1] + f.box[3]) / 2))),
                                        min(w - 1, max(0, int((f.box[0] + f.box[2]) / 2)))] >= 0.5
               and f.width > 0]
    if not on_mask:
        return None
    source = "exif" if focal_35mm else "default"
    f35 = float(focal_35mm) if focal_35mm else DEFAULT_FOCAL_35MM
    distances = [face_distance_m(f.width, w, h, f35) for f in on_mask]
    main = int(np.argmax([f.width for f in on_mask]))
    focus = distances[main]
    in_focus = [coc_px is None or abs(coc_px(d, focus)) < sharp_radius_px for d in distances]
    owner = _assign(mask, [((f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2) for f in on_mask])
    subject = mask.copy()
    behind = np.zeros((h, w), bool)
    for i, keep in enumerate(in_focus):
        if not keep:
            region = owner == i
            behind |= cv2.dilate(region.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    subject[behind] = 0.0
    prior = prior or DepthPrior()
    depth = prior(image, subject) * np.float32(focus / prior.focal_depth)
    for i, keep in enumerate(in_focus):
        if not keep:
            region = behind & ((owner == i) | (owner == -1))
            depth[region] = np.maximum(depth[region], np.float32(distances[i]))
    people = [PersonDistance(tuple(float(v) for v in f.box), d, k) for f, d, k in zip(on_mask, distances, in_focus)]
    return MetricDepth(depth.astype(np.float32), subject.astype(np.float32), focus, f35, source,
                       sensor_width_mm(w, h), people)

