"""shallowdof: synthetic shallow depth of field for portraits, three ways side by side.

The public Python API, a small facade over the packages (each function imports its package when
called, so ``import shallowdof`` and ``shallowdof --help`` stay fast)::

    import shallowdof

    photo = shallowdof.read_image("portrait.jpg")
    shallowdof.write_image("portrait_lens.png", shallowdof.render(photo, method="lens"))
    shallowdof.write_image("portrait_gan.png", shallowdof.translate(photo, "runs/dof"))

Arrays: images are numpy uint8 RGB H×W×3, masks float32 H×W in [0, 1] (1 = person), depth maps
float32 H×W (larger = farther). :func:`render` is what ``shallowdof blur`` does to one photo
(compositing.pipeline); :func:`translate` is what ``shallowdof test_cyclegan`` does to one image
(gan.infer). The programs are listed in :data:`shallowdof.programs.PROGRAMS`.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import numpy as np

__version__ = "0.1.0"
__all__ = ["methods", "read_image", "render", "translate", "write_image"]


def methods() -> dict[str, str]:
    """The compositor methods :func:`render` takes: name → the paper or seed it implements."""
    from compositing.methods import METHODS

    return {name: spec.source for name, spec in METHODS.items()}


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A photo as uint8 RGB H×W×3, EXIF-rotated (:func:`datasets.io.read_image`); an unusable file
    is one ``ImageError("PATH: problem")``."""
    from datasets.io import read_image as read

    return read(path)


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a uint8 RGB (or RGBA, or grey) image atomically, in the format of the file's
    extension (:func:`datasets.io.write_image`)."""
    from datasets.io import write_image as write

    write(path, image)


def render(image: np.ndarray, method: str = "lens", *, mask: Optional[np.ndarray] = None,
           depth: Optional[np.ndarray] = None, depth_relative: bool = False,
           params: Optional[dict[str, Any]] = None, focus: Optional[tuple[float, float]] = None,
           refine: str = "snap", segmenter: str = "mediapipe", focal_35mm: Optional[float] = None) -> np.ndarray:
    """``image`` with a shallow depth of field by compositor ``method`` (:func:`methods`).

    The one per-image pipeline of ``shallowdof blur`` (compositing.pipeline): the person ``mask``
    (None: ``segmenter``'s, then refined by ``refine``), the ``depth`` in metres (or relative
    with ``depth_relative``; None: the portrait prior, made metric from the faces when ``params``
    ask for a physical lens such as ``{"f_number": 2}``), the focus (the subject, or the pixel
    ``focus`` = (x, y)) and the method with ``params`` (its settings by name; unknown names and
    values out of range are one ValueError). ``focal_35mm``: the photo's 35 mm-equivalent focal
    length, for a physical lens. Returns uint8 RGB H×W×3."""
    from compositing.pipeline import Lazy, PhotoPipeline, face_detector_factory, render_prepared, wants_faces
    from segdepth.segment import build_segmenter

    pipeline = PhotoPipeline(None if mask is not None else Lazy(lambda: build_segmenter(segmenter)), None, refine,
                             face_detector_factory() if wants_faces(method, params, depth is None) else None)
    prepared = pipeline(image, mask=mask, depth=depth, depth_relative=depth_relative, focus_xy=focus,
                        focal_35mm=focal_35mm)
    return render_prepared(method, prepared, params).output


def translate(image: np.ndarray, checkpoint: str | os.PathLike, *, direction: str = "AtoB",
              mask: Optional[np.ndarray] = None, depth: Optional[np.ndarray] = None,
              overlay: Optional[bool] = None, size: int | str | None = "checkpoint", mode: str = "resize",
              device: str = "cpu") -> np.ndarray:
    """``image`` translated by a trained CycleGAN generator, as ``shallowdof test_cyclegan`` does
    with its defaults (gan.infer.Translator).

    ``checkpoint``: a train_cyclegan checkpoint file or run folder (its latest); ``direction``
    AtoB (ordinary → shallow depth of field) or BtoA. ``overlay`` pastes the subject back with
    ``mask`` (float32 H×W, 1 = person; Nasrullah 2018 eq. 13); None: the checkpoint's preset
    decides, and then a mask is needed where it overlays. ``depth``: for a generator trained with
    depth. ``size`` / ``mode``: the full-resolution strategy: ``resize`` to shorter side ``size``
    and add the change back, or ``tiles`` of side ``size``; "checkpoint": the size it was trained
    at; None: the whole image at once. A checkpoint that does not fit is one CheckpointError
    naming the file. For many images build one ``gan.infer.Translator`` and call it instead.
    Returns uint8 RGB H×W×3."""
    from gan.checkpoint import resolve_checkpoint
    from gan.infer import Translator

    translator = Translator.from_checkpoint(resolve_checkpoint(checkpoint), direction=direction, overlay=overlay,
                                            device=device, size=size, mode=mode)
    return translator(image, mask, depth)
