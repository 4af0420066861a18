"""The real-photo benchmark's look sheet: heads and backgrounds at 2×, beside a real shallow-DoF photo.

For each portrait one row: the head (hair against the background, where rims, staircase edges and
leftover sharp background show) and the most structured square of the far background (where the
defocus shows), each as input / the columns asked for / a real shallow-DoF photo of ``shallow/``
whose shown background is most alike (nearest by the mean and spread of its CIELAB colour;
a real photo's background is already defocused, so its detail is not compared). Every crop is a square of 3/8 of the photo's short side shown at
twice its size (nearest neighbour: the pixels as they are).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

CROP_SHARE = 0.375  # a crop's side, as a share of the photo's short side
ZOOM = 2  # crops are shown at this magnification
FAR_PX = 15.0  # the far background starts this far from the person (px at 256 px)


def _far(mask: np.ndarray) -> np.ndarray:
    from segdepth.distance import distance_to

    return distance_to(np.asarray(mask, np.float32) >= 0.5) >= FAR_PX * min(mask.shape) / 256.0


def _side(shape: tuple[int, ...]) -> int:
    return max(8, int(round(CROP_SHARE * min(shape[:2]))))


def head_square(mask: np.ndarray) -> tuple[slice, slice]:
    """The square (``CROP_SHARE`` of the short side) over the top of the largest person: centred
    on their columns in their top eighth, its top a tenth of the side above their top row."""
    h, w = mask.shape
    side = _side(mask.shape)
    subject = np.asarray(mask) >= 0.5
    n, labels, stats, _ = cv2.connectedComponentsWithStats(subject.astype(np.uint8), connectivity=8)
    if n > 2:
        subject = labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    rows = np.flatnonzero(subject.any(axis=1))
    if rows.size == 0:
        return slice(0, min(h, side)), slice(max(0, (w - side) // 2), max(0, (w - side) // 2) + min(w, side))
    top = rows[0]
    cols = np.flatnonzero(subject[top:top + max(1, (rows[-1] - top) // 8 + 1)].any(axis=0))
    cx = int(cols.mean())
    y0 = int(np.clip(top - side // 10, 0, max(0, h - side)))
    x0 = int(np.clip(cx - side // 2, 0, max(0, w - side)))
    return slice(y0, y0 + side), slice(x0, x0 + side)


def background_square(image: np.ndarray, mask: np.ndarray) -> tuple[slice, slice]:
    """The square (``CROP_SHARE`` of the short side) of the far background with the most detail
    (Laplacian energy of the luma) among the squares at least 95 % far background; the corner
    farthest from the person when none is."""
    h, w = mask.shape
    side = _side(mask.shape)
    far = _far(mask).astype(np.float32)
    grey = cv2.cvtColor(np.asarray(image, np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32)
    energy = cv2.Laplacian(grey, cv2.CV_32F) ** 2 * far
    step = max(1, side // 4)
    best, best_score = None, -1.0
    for y in range(0, max(1, h - side + 1), step):
        for x in range(0, max(1, w - side + 1), step):
            window = (slice(y, y + side), slice(x, x + side))
            if far[window].mean() >= 0.95 and float(energy[window].mean()) > best_score:
                best, best_score = window, float(energy[window].mean())
    if best is None:
        from segdepth.distance import distance_to

        d = distance_to(np.asarray(mask) >= 0.5)
        corners = [(0, 0), (0, w - side), (h - side, 0), (h - side, w - side)]
        y, x = max(corners, key=lambda c: float(d[max(0, c[0]):c[0] + side, max(0, c[1]):c[1] + side].mean()))
        best = (slice(max(0, y), max(0, y) + side), slice(max(0, x), max(0, x) + side))
    return best


def background_signature(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean and std of CIELAB over the background square the sheet shows
    (:func:`background_square`): what makes two shown backgrounds look alike at a glance."""
    rows, cols = background_square(image, mask)
    lab = cv2.cvtColor(np.ascontiguousarray(np.asarray(image, np.uint8)[rows, cols]), cv2.COLOR_RGB2LAB)
    lab = lab.reshape(-1, 3).astype(np.float32)
    return np.concatenate([lab.mean(axis=0), lab.std(axis=0)])


def most_alike(signature: np.ndarray, references: Sequence[np.ndarray]) -> int:
    """Index of the reference signature nearest to ``signature`` (Euclidean, each feature
    divided by its spread over the references)."""
    refs = np.asarray(references, np.float64)
    scale = refs.std(axis=0) + 1e-6
    return int(np.argmin(np.linalg.norm((refs - signature) / scale, axis=1)))


@dataclass
class SheetRow:
    """One portrait of the sheet: its name, its pictures (input first, then the columns) with the
    head and background squares, and the real shallow-DoF photo beside it with its squares."""

    name: str
    pictures: list[np.ndarray]
    head: tuple[slice, slice]
    background: tuple[slice, slice]
    reference: np.ndarray
    reference_head: tuple[slice, slice]
    reference_background: tuple[slice, slice]


def look_sheet(rows: Sequence[SheetRow], titles: Sequence[str]) -> np.ndarray:
    """The sheet: per row, the heads of the pictures and the reference, then their backgrounds,
    every crop at ``ZOOM``× (nearest neighbour); a title bar names the columns, each row its photo."""
    bar, label = 18, 14
    cell = ZOOM * max(_side(r.pictures[0].shape) for r in rows) if rows else ZOOM * 96
    n_cols = 2 * (len(titles) + 1)
    sheet = np.full((bar + len(rows) * (cell + label), n_cols * cell, 3), 255, np.uint8)
    names = [*titles, "real shallow DoF"]
    for j, title in enumerate([f"{t} · head" for t in names] + [f"{t} · background" for t in names]):
        cv2.putText(sheet, title[:26], (j * cell + 3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1, cv2.LINE_AA)
    for i, row in enumerate(rows):
        y = bar + i * (cell + label)
        cv2.putText(sheet, row.name, (3, y + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (90, 90, 90), 1, cv2.LINE_AA)
        crops = [p[row.head] for p in row.pictures] + [row.reference[row.reference_head]]
        crops += [p[row.background] for p in row.pictures] + [row.reference[row.reference_background]]
        for j, crop in enumerate(crops):
            sheet[y + label:y + label + cell, j * cell:(j + 1) * cell] = cv2.resize(
                crop, (cell, cell), interpolation=cv2.INTER_NEAREST)
    return sheet
