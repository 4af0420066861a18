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


def _torch_segmenter(name: str, **kwargs) -> Segmenter:
    from .torch_segmenter import segmenter_factory

    return segmenter_factory(name)(**kwargs)


SEGMENTERS: dict[str, Callable[..., Segmenter]] = {
    "mediapipe": _mediapipe,
    "deeplabv3_resnet50": lambda **kw: _torch_segmenter("deeplabv3_resnet50", **kw),
    "deeplabv3_resnet101": lambda **kw: _torch_segmenter("deeplabv3_resnet101", **kw),
    "deeplabv3_mobilenet": lambda **kw: _torch_segmenter("deeplabv3_mobilenet", **kw),
    "unet": lambda **kw: _torch_segmenter("unet", **kw),
    "effnet": lambda **kw: _torch_segmenter("effnet", **kw),
    "densenet": lambda **kw: _torch_segmenter("densenet", **kw),
    "deconvnet": lambda **kw: _torch_segmenter("deconvnet", **kw),
}


def build_segmenter(name: str, **kwargs) -> Segmenter:
    """Build the segmenter registered under ``name``; unknown names list the known ones."""
    try:
        factory = SEGMENTERS[name]
    except KeyError:
        raise ValueError(f"unknown segmenter {name!r}; choose from {sorted(SEGMENTERS)}") from None
    return factory(**kwargs)
