"""What curation measures of each photo, from the one reduced copy a run decodes of it:
EXIF, colour statistics (the grayscale rule), pHash, and the feature cache a rerun reads back."""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Optional

import cv2
import imagehash
import numpy as np
from PIL import Image

from datasets.io import ImageError, read_exif, read_image_reduced, shrink_to
from plumbing.files import FileProblem, read_bytes, read_json, write_json

from .records import FEATURES_VERSION, CurateConfig, Item

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- features


def _exif(path: Path) -> dict:
    """Make, Model, FNumber, FocalLength from the file's EXIF (absent keys omitted; datasets.io.read_exif)."""
    found: dict = {}
    exif = read_exif(path)
    if exif is None:
        return found
    try:
        for tag, key in ((0x010F, "Make"), (0x0110, "Model")):
            if exif.get(tag):
                found[key] = str(exif[tag]).strip("\x00 ").strip()
        sub = exif.get_ifd(0x8769)
        for tag, key in ((0x829D, "FNumber"), (0x920A, "FocalLength")):
            if sub.get(tag) is not None:
                found[key] = round(float(sub[tag]), 2)
    except (ValueError, TypeError, ZeroDivisionError):  # a value of the wrong kind: the rest is kept
        pass
    return found


COLOUR_SIDE = 64
LIGHTNESS_BINS = 50


def colour_stats(image: np.ndarray) -> tuple[float, float]:
    """(mean chroma, colour spread) of a uint8 RGB image, in OpenCV's float CIE Lab (L in [0, 100],
    a and b in about [-127, 127]), on a thumbnail of at most 64 px (area-averaged, which also
    averages away JPEG's chroma subsampling at edges).

    Mean chroma = mean sqrt(a² + b²). Colour spread = RMS distance of each pixel's (a, b) from the
    mean (a, b) of the pixels of the same lightness (50 bins of L): the colour that lightness does
    not explain. It is about 0 for grey and small for toned monochrome (sepia, cyanotype, split
    toning: the colour is a function of lightness; what remains is JPEG and 8-bit noise and tones
    mixed at edges), and it shrinks only in proportion to the chroma when a colour photo is
    desaturated, so spread / chroma separates the two (measurements: scripts/curate.py --help).
    """
    image = shrink_to(image, COLOUR_SIDE)
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab).reshape(-1, 3).astype(np.float64)
    bins = np.minimum((lab[:, 0] * (LIGHTNESS_BINS / 100.0)).astype(int), LIGHTNESS_BINS - 1)
    count = np.maximum(np.bincount(bins, minlength=LIGHTNESS_BINS), 1)
    mean_a = np.bincount(bins, lab[:, 1], LIGHTNESS_BINS) / count
    mean_b = np.bincount(bins, lab[:, 2], LIGHTNESS_BINS) / count
    spread = np.sqrt(((lab[:, 1] - mean_a[bins]) ** 2 + (lab[:, 2] - mean_b[bins]) ** 2).mean())
    return float(np.hypot(lab[:, 1], lab[:, 2]).mean()), float(spread)


def grayscale_reason(chroma: float, spread: float, config: CurateConfig) -> str:
    """Why an image with these ``colour_stats`` is monochrome under ``config``, or "" when it is colour."""
    if chroma < config.grey_chroma:
        return f"mean chroma {chroma:.2f} < {config.grey_chroma} (neutral grey)"
    if spread < config.tone_ratio * chroma:
        return (f"colour spread {spread:.2f} < {config.tone_ratio} x mean chroma {chroma:.2f} "
                "(one hue at each lightness: toned monochrome)")
    if spread < config.colour_spread:
        return f"colour spread {spread:.2f} < {config.colour_spread} (no colour beyond noise; mean chroma {chroma:.2f})"
    return ""


#: Longer side of the one copy of each photo that a run decodes (datasets.io.read_image_reduced, then
#: area-averaged to exactly this side when larger): the person check's working size
#: (segdepth.person.WORK_SIDE, which the check would shrink a larger copy to). The pHash (32 px),
#: colour statistics (64 px) and the review thumbnail (160 px) are all computed from this copy.
DECODE_SIDE = 256


def read_photo(path: Path) -> tuple[np.ndarray, tuple[int, int]]:
    """The copy of the photo that every use of a curation run shares (see DECODE_SIDE), and the
    (width, height) of the full photo."""
    image, size = read_image_reduced(path, DECODE_SIDE)
    return shrink_to(image, DECODE_SIDE), size


def image_features(path: Path) -> tuple[dict, Optional[np.ndarray]]:
    """(features, decoded photo): sha256, bytes, width and height (of the full image), pHash (hex),
    chroma, colour spread, EXIF, or {"error": msg} with ``None`` for an unreadable file; the photo is
    read_photo's copy, for the person check and the thumbnail to reuse."""
    try:
        data = read_bytes(path)  # a regular file only: a FIFO or a link to /dev/zero is a problem, not a hang
    except FileProblem as exc:
        return {"error": str(exc)}, None
    feats: dict = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    try:
        image, (width, height) = read_photo(path)
    except ImageError as exc:
        feats["error"] = str(exc)
        return feats, None
    feats["height"], feats["width"] = height, width
    feats["phash"] = str(imagehash.phash(Image.fromarray(image)))
    feats["chroma"], feats["colour_spread"] = colour_stats(image)
    feats["exif"] = _exif(path)
    return feats, image


class FeatureCache:
    """Features by (domain/name, size, mtime_ns) in ``OUT/.curate_cache.json`` (moves keep mtime)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict = {}
        if path.exists():
            try:
                raw = read_json(path)
                if raw.get("version") == FEATURES_VERSION:
                    self.data = raw["items"]
            except (ValueError, KeyError, AttributeError):
                log.warning("%s: unreadable feature cache, recomputing", path)

    @staticmethod
    def _stamp(path: Path) -> Optional[list]:
        """[size, mtime_ns] of the file ``path`` leads to; None when it leads nowhere (a link loop)."""
        try:
            st = path.stat()
        except OSError:
            return None
        return [st.st_size, st.st_mtime_ns]

    def get(self, item: Item) -> Optional[dict]:
        entry = self.data.get(item.key)
        stamp = self._stamp(item.path)
        if entry and stamp is not None and entry["stamp"] == stamp:
            return entry["features"]
        return None

    def put(self, item: Item) -> None:
        stamp = self._stamp(item.path)
        if stamp is not None:
            self.data[item.key] = {"stamp": stamp, "features": item.features}

    def save(self) -> None:
        write_json(self.path, {"version": FEATURES_VERSION, "items": self.data})
