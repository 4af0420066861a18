"""Person segmenters behind one registry.

A segmenter is a callable ``seg(image) -> mask``: ``image`` is uint8 RGB H×W×3, ``mask`` is
float32 H×W in [0, 1] (1 = person). ``SEGMENTERS[name](**kwargs)`` builds one; the factories
import their heavy dependencies lazily so that listing names stays cheap.
"""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np


class Segmenter(Protocol):
    """uint8 RGB H×W×3 → float32 H×W person probability in [0, 1]."""

    def __call__(self, image: np.ndarray) -> np.ndarray: ...


def _mediapipe(**kwargs) -> Segmenter:
    from .mediapipe import MediaPipeSegmenter

    return MediaPipeSegmenter(**kwargs)


SEGMENTERS: dict[str, Callable[..., Segmenter]] = {
    "mediapipe": _mediapipe,
}


def build_segmenter(name: str, **kwargs) -> Segmenter:
    """Build the segmenter registered under ``name``; unknown names list the known ones."""
    try:
        factory = SEGMENTERS[name]
    except KeyError:
        raise ValueError(f"unknown segmenter {name!r}; choose from {sorted(SEGMENTERS)}") from None
    return factory(**kwargs)
