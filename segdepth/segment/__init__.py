"""Person segmenters behind one registry.

A segmenter is a callable ``seg(image) -> mask``: ``image`` is uint8 RGB H×W×3, ``mask`` is
float32 H×W in [0, 1] (1 = person). ``SEGMENTERS[name](**kwargs)`` builds one; the factories
import their heavy dependencies lazily so that listing names stays cheap.

Trainable networks come from one table, :data:`SEG_ARCHS` (name → the loader of the module
that defines it); ``SEGMENTERS`` is derived from it. Adding a network: write
``segment/NAME.py`` with its network, its builder and ``ARCHS = {"NAME": SegArch(...)}``
(see :class:`~segdepth.segment.torch_segmenter.SegArch`: builder, pretrained weights, default
post-processing), then add one loader and its table entry below.
"""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable, Protocol

import numpy as np

if TYPE_CHECKING:
    from .torch_segmenter import SegArch


class Segmenter(Protocol):
    """uint8 RGB H×W×3 → float32 H×W person probability in [0, 1]."""

    def __call__(self, image: np.ndarray) -> np.ndarray: ...


ArchTable = dict[str, "SegArch"]


def _deeplab() -> ArchTable:
    from .deeplab import ARCHS

    return ARCHS


def _unet() -> ArchTable:
    from .unet import ARCHS

    return ARCHS


def _effnet() -> ArchTable:
    from .effnet import ARCHS

    return ARCHS


def _densenet() -> ArchTable:
    from .densenet import ARCHS

    return ARCHS


def _deconvnet() -> ArchTable:
    from .deconvnet import ARCHS

    return ARCHS


# The one table of trainable segmentation networks: name → loader of its module's ARCHS
# (each loader imports torch and the module only when called).
SEG_ARCHS: dict[str, Callable[[], ArchTable]] = {
    "deeplabv3_resnet50": _deeplab,
    "deeplabv3_resnet101": _deeplab,
    "deeplabv3_mobilenet": _deeplab,
    "unet": _unet,
    "effnet": _effnet,
    "densenet": _densenet,
    "deconvnet": _deconvnet,
}


def get_arch(name: str) -> SegArch:
    """The trainable segmentation architecture registered as ``name``."""
    try:
        load = SEG_ARCHS[name]
    except KeyError:
        raise ValueError(f"unknown segmentation network {name!r}; choose from {sorted(SEG_ARCHS)}") from None
    return load()[name]


def _mediapipe(**kwargs) -> Segmenter:
    from .mediapipe import MediaPipeSegmenter

    return MediaPipeSegmenter(**kwargs)


def _torch_segmenter(name: str, **kwargs) -> Segmenter:
    """Registry factory ``(weights="default", device="cpu", input_size=512, postprocess=…, **arch_kwargs)``;
    ``postprocess`` defaults to the architecture's own (the DenseNet U-Net's border sharpening)."""
    from .torch_segmenter import build_torch_segmenter

    arch = get_arch(name)
    kwargs.setdefault("postprocess", arch.postprocess)
    return build_torch_segmenter(name, arch, **kwargs)


SEGMENTERS: dict[str, Callable[..., Segmenter]] = {
    "mediapipe": _mediapipe,
    **{name: partial(_torch_segmenter, name) for name in SEG_ARCHS},
}


def build_segmenter(name: str, **kwargs) -> Segmenter:
    """Build the segmenter registered under ``name``; unknown names list the known ones."""
    try:
        factory = SEGMENTERS[name]
    except KeyError:
        raise ValueError(f"unknown segmenter {name!r}; choose from {sorted(SEGMENTERS)}") from None
    return factory(**kwargs)
