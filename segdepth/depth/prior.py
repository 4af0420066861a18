"""A depth PRIOR for portraits: an assumption about the scene, not an estimate from the pixels.

When the user gives neither a depth map nor a depth model, shallowdof still needs a depth for
the lens blur. :class:`DepthPrior` builds one from the person mask alone, encoding what is
usually true of a portrait: the subject stands at the focal plane, the background is behind it
and recedes with the distance from the subject, and lower image rows (the ground) are nearer
than upper ones. It never looks at the image content, so it is wrong wherever the scene is not
a portrait against a receding background; the name says "prior" to keep that in view.

Formula (relative units, the focal plane at ``focal_depth``, default 1)::

    subject   (mask ≥ threshold):  d = focal_depth
    background:                    d = focal_depth + gap + spread · [(1 − w) · f(r) + w · (1 − v)]
        r    = (Euclidean distance to the nearest subject pixel) / (image diagonal)
        f(r) = 1 − exp(−r / falloff)           smooth, 0 at the subject edge, → 1 far from it
        v    = row / (H − 1)                    0 at the top row, 1 at the bottom row
        w    = row_weight                       weight of the ground-plane cue

So the background starts ``gap`` behind the subject, grows smoothly away from it and is nearest
at the bottom of the frame; every value lies in ``[focal_depth, focal_depth + gap + spread]``.
With no subject in the mask, ``f = 1`` everywhere and only the row cue varies.

Ground contact (``ground_contact``): where the person's feet or knees are in the frame (the
subject's lowest row y_c lies above the bottom ``contact_margin`` of the frame), the ground
they stand, kneel or sit on is at their distance. A flat ground seen by a level camera lies at
distance ∝ 1 / (y − y_h) at row y below the horizon y_h, so with the horizon at the top of that
person (a camera at about their height) the ground is at

    d_ground(y) = focal_depth · (y_c − y_top) / (y − y_top)      (y > y_top)

focal_depth at the contact line, farther above it, nearer below it (the ground in front of
the feet); the background is min(d, d_ground): nothing at a row is farther than the ground
there. A subject cut by the bottom of the frame has no contact line in view. The distance
term is smooth, so for images above ``work_pixels`` it is computed at that size and upsampled
bilinearly (``r`` is then measured on the downscaled mask); the subject stays exact at full size.
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from segdepth.distance import distance_to


class DepthPrior:
    """Portrait depth prior from a person mask; float32 H×W, larger = farther, relative units.

    Call with ``(image, mask)``: ``image`` uint8 RGB H×W×3 (only its size is used), ``mask``
    float32 H×W in [0, 1] (required: the prior is built around the subject). See the module
    docstring for the formula. ``relative = True``: the values are not metres.
    """

    relative = True

    def __init__(
        self,
        focal_depth: float = 1.0,
        gap: float = 1.0,
        spread: float = 0.5,
        falloff: float = 0.15,
        row_weight: float = 0.5,
        threshold: float = 0.5,
        work_pixels: int = 1_000_000,
        ground_contact: bool = True,
        contact_margin: float = 0.05,
    ) -> None:
        if focal_depth <= 0 or gap < 0 or spread <= 0 or falloff <= 0:
            raise ValueError("need focal_depth > 0, gap >= 0, spread > 0, falloff > 0")
        if not 0.0 <= row_weight <= 1.0 or not 0.0 < threshold < 1.0 or not 0.0 <= contact_margin < 1.0:
            raise ValueError("need 0 <= row_weight <= 1, 0 < threshold < 1 and 0 <= contact_margin < 1")
        self.focal_depth = focal_depth
        self.gap = gap
        self.spread = spread
        self.falloff = falloff
        self.row_weight = row_weight
        self.threshold = threshold
        self.work_pixels = work_pixels
        self.ground_contact = ground_contact
        self.contact_margin = contact_margin

    def __call__(self, image: np.ndarray, mask: Optional[np.ndarray] = None) -> np.ndarray:
        if mask is None:
            raise ValueError("DepthPrior needs the person mask: it places the background relative to the subject")
        h, w = image.shape[:2]
        if mask.shape != (h, w):
            raise ValueError(f"mask shape {mask.shape} does not match image {(h, w)}")
        subject = mask >= self.threshold
        # the distance term is smooth: compute it on at most `work_pixels`, upsample bilinearly
        scale = min(1.0, float(np.sqrt(self.work_pixels / (h * w))))
        sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
        small = subject if scale == 1.0 else cv2.resize(subject.view(np.uint8), (sw, sh), interpolation=cv2.INTER_AREA) > 0
        if small.any():
            # distance from every background pixel to the nearest subject pixel (0 on the subject)
            dist = distance_to(small)
            # in float64: float32 exp may differ by an ulp with the buffer's alignment (SIMD tails)
            away = (1.0 - np.exp(-(dist.astype(np.float64) / float(np.hypot(sh, sw))) / self.falloff)).astype(np.float32)
            if scale != 1.0:
                away = cv2.resize(away, (w, h), interpolation=cv2.INTER_LINEAR)
        else:
            away = np.ones((h, w), np.float32)
        rows = np.linspace(0.0, 1.0, h, dtype=np.float32) if h > 1 else np.zeros(1, np.float32)
        ground = (1.0 - rows)[:, None]  # top row 1 (far), bottom row 0 (near)
        cue = (1.0 - self.row_weight) * away + self.row_weight * ground
        background = (self.focal_depth + self.gap + self.spread * cue).astype(np.float32)
        contact = self.contact_rows(subject) if self.ground_contact else None
        if contact is not None:
            y_top, y_c = contact
            y = np.arange(h, dtype=np.float64)[:, None]
            plane = np.where(y > y_top, self.focal_depth * (y_c - y_top) / np.maximum(y - y_top, 1e-9), np.inf)
            background = np.minimum(background, plane.astype(np.float32))
        return np.where(subject, np.float32(self.focal_depth), background).astype(np.float32)

    def contact_rows(self, subject: np.ndarray) -> Optional[tuple[int, int]]:
        """(top row, lowest row) of the subject component that reaches lowest, when that lowest
        row is above the bottom ``contact_margin`` of the frame (feet or knees in view); None
        when the subject is cut by the frame's bottom edge or absent."""
        h = subject.shape[0]
        rows = np.flatnonzero(subject.any(axis=1))
        if rows.size == 0 or rows[-1] >= h - 1 - self.contact_margin * h:
            return None
        n, labels = cv2.connectedComponents(subject.view(np.uint8), connectivity=8)
        lowest = labels[rows[-1]][subject[rows[-1]]][0]
        top = int(np.flatnonzero((labels == lowest).any(axis=1))[0])
        return (top, int(rows[-1])) if rows[-1] > top else None
