"""Depth sources behind one registry.

A depth model is a callable ``model(image, mask=None) -> depth``: ``image`` uint8 RGB H×W×3,
``mask`` optional float32 H×W person mask, ``depth`` float32 H×W where larger = farther.
Models whose network predicts inverse depth convert before returning and set
``relative = True`` when the scale is arbitrary. ``DEPTH_MODELS[name](**kwargs)`` builds one.
"""
from __future__ import annotations

from typing import Callable, Optional, Protocol

import numpy as np


class DepthModel(Protocol):
    """uint8 RGB H×W×3 (+ optional mask) → float32 H×W depth, larger = farther."""

    relative: bool

    def __call__(self, image: np.ndarray, mask: Optional[np.ndarray] = None) -> np.ndarray: ...


def _prior(**kwargs) -> DepthModel:
    from .prior import DepthPrior

    return DepthPrior(**kwargs)


def _dense_depth(**kwargs) -> DepthModel:
    from .dense_depth import build_dense_depth

    return build_dense_depth(**kwargs)


def _midas(**kwargs) -> DepthModel:
    from .midas import build_midas

    return build_midas(**kwargs)


DEPTH_MODELS: dict[str, Callable[..., DepthModel]] = {
    "prior": _prior,
    "dense_depth": _dense_depth,
    "midas": _midas,
}


def build_depth_model(name: str, **kwargs) -> DepthModel:
    """Build the depth model registered under ``name``; unknown names list the known ones."""
    try:
        factory = DEPTH_MODELS[name]
    except KeyError:
        raise ValueError(f"unknown depth model {name!r}; choose from {sorted(DEPTH_MODELS)}") from None
    return factory(**kwargs)
