"""The reference set of a comparison: real shallow-DoF photos, and what the set metrics need of
them (blur samples, background sharpness, background defocus, Inception features), with the
mask of a photo found by the layout (:func:`photo_mask`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
from tqdm import tqdm

from datasets.io import ImageError, list_photos, mask_path, photo_root, read_image, read_mask
from evaluation import feature_metrics as FM
from evaluation import metrics as M
from evaluation.defocus import background_defocus

log = logging.getLogger(__name__)


def photo_mask(path: Path, root: Path, masks: Optional[str]) -> Optional[Path]:
    """The mask file of the photo ``path`` under ``root``: ``MASKS/NAME.png`` with ``--masks``, else
    the layout's ``ROOT_masks/NAME.png`` (``datasets.io.mask_path``); ``None`` when there is none."""
    found = Path(masks) / path.relative_to(root).with_suffix(".png") if masks is not None else mask_path(path, root)
    return found if found.is_file() else None



@dataclass
class ReferenceStats:
    """What the comparison needs of the real shallow-DoF photos: blur samples, per-photo background
    sharpness and defocus radius (% of the width, :mod:`evaluation.defocus`), Inception features,
    and one error line per unusable photo."""

    samples: np.ndarray
    sharpness: np.ndarray
    feats: np.ndarray
    defocus: np.ndarray
    errors: list[str]


def defocus_summary(values: Sequence[float], reference: np.ndarray) -> dict[str, float]:
    """A method's median background defocus over its outputs and its ratio to the reference's median."""
    finite = np.asarray(values, np.float64)
    finite = finite[np.isfinite(finite)]
    median = float(np.median(finite)) if finite.size else np.nan
    ref_median = float(np.median(reference)) if reference.size else np.nan
    return {"defocus_median": median, "defocus_ratio": median / ref_median if ref_median > 0 else np.nan}


def reference_stats(reference: str, segment: Callable[[np.ndarray], np.ndarray],
                    extractor: Optional[FM.InceptionFeatures], quiet: bool = False) -> ReferenceStats:
    """The :class:`ReferenceStats` of the real shallow-DoF photos in folder ``reference`` (mask: the
    layout's mask file ``REFERENCE_masks/NAME.png``, else the segmenter); ``quiet``: no progress bar."""
    root = photo_root(reference)
    paths, errors = list_photos(reference)
    for clash in errors:
        log.error("%s", clash)
    samples, sharpness, feats, defocus = [], [], [], []
    for path in tqdm(paths, desc="reference", unit="image", disable=quiet):
        try:
            image = read_image(path)
            mask_file = photo_mask(path, root, None)
            mask = read_mask(mask_file, image.shape) if mask_file else np.asarray(segment(image), dtype=np.float32)
        except ImageError as exc:
            errors.append(str(exc))
            log.error("%s", exc)
            continue
        samples.append(M.blur_samples(image, mask))
        sharpness.append(M.background_sharpness(image, mask))
        defocus.append(background_defocus(image, image, mask))
        if extractor is not None:
            feats.append(extractor([image])[0])
    return ReferenceStats(np.concatenate(samples) if samples else np.zeros(0), np.array(sharpness, np.float64),
                          np.array(feats) if feats else np.zeros((0, 2048)), np.array(defocus, np.float64), errors)
