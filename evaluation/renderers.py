"""The renderers a comparison runs: anything that turns (image, mask, depth) into an output.

A compositor method (compositing.pipeline, rendered from the photo pipeline's prepared planes
exactly as the blur program renders it), a trained GAN checkpoint (gan.infer) or a folder of
published results. Conventions: image uint8 RGB H×W×3, mask float32 H×W in [0, 1], depth float32
H×W (larger = farther), output uint8 RGB H×W×3 of the input's size.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import cv2
import numpy as np

from compositing.methods import METHODS, build_params, ineffective_params, params_to_dict
from compositing.pipeline import Prepared, params_for_depth, render_prepared, wants_faces
from datasets.io import read_image

log = logging.getLogger(__name__)

RenderFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")



def index_files(folder: Optional[str], suffixes: Sequence[str]) -> dict[str, Path]:
    """Files of ``folder`` by relative path without suffix (POSIX)."""
    if folder is None:
        return {}
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in suffixes and not path.name.startswith("."):
            found.setdefault(path.relative_to(root).with_suffix("").as_posix(), path)
    return found


def _check_name(name: str) -> None:
    if not name or name in (".", "..") or any(c in name for c in "/\\\0") or name.strip() != name:
        raise ValueError(f"method name {name!r} cannot be a folder name (no slashes, not empty, no edge spaces)")


@dataclass(frozen=True)
class Renderer:
    """A named way to render: ``fn(image, mask, depth) -> output`` plus its settings for captions.

    ``prepared_fn``, when given, renders from the photo pipeline's prepared planes instead
    (:class:`compositing.pipeline.Prepared`: the post-processed matte, the depth, the focus), as
    scripts/blur.py does: the compositor methods. ``uses_faces``: it may make the depth prior
    metric from detected faces (the lens asking for a physical lens).
    """

    name: str
    kind: str
    settings: Mapping[str, Any]
    fn: RenderFn = field(repr=False, compare=False)
    prepared_fn: Optional[Callable[[Prepared], np.ndarray]] = field(default=None, repr=False, compare=False)
    uses_faces: bool = False
    # kind "published": output name → file of a result folder; outputs are read, not rendered
    published: Optional[Mapping[str, Path]] = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name)

    def __call__(self, image: np.ndarray, mask: np.ndarray, prepared: Prepared) -> np.ndarray:
        if self.prepared_fn is not None:
            return self.prepared_fn(prepared)
        return self.fn(image, mask, prepared.depth)

    def output_for(self, name: str, image: np.ndarray, mask: np.ndarray, prepared: Prepared) -> np.ndarray:
        """The output for input ``name`` (``mask``: the input's mask, ``prepared``: the pipeline's
        planes): rendered, or read from the published folder (a result of another size is resized
        to the input's, area-averaged)."""
        if self.published is None:
            return self(image, mask, prepared)
        found = self.published.get(name)
        if found is None:
            raise FileNotFoundError(f"no published result {name}.* in {self.settings['folder']}")
        result = read_image(found)
        if result.shape != image.shape:
            result = cv2.resize(result, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_AREA)
        return result


def published_renderer(spec: str) -> Renderer:
    """``NAME=DIR``: a folder of published outputs (e.g. a paper's results), files named like the
    inputs (any image format), shown and measured as one more method."""
    name, sep, folder = spec.partition("=")
    if not sep or not name or not folder:
        raise ValueError(f"--results {spec!r}: expected NAME=DIR")
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (for --results {name})")

    def unavailable(image: np.ndarray, mask: np.ndarray, depth: np.ndarray) -> np.ndarray:
        raise TypeError("published results are read with output_for(name, ...), not rendered")

    return Renderer(name, "published", {"folder": str(folder)}, unavailable,
                    published=index_files(folder, IMAGE_SUFFIXES))


def compositor_renderer(method: str, params: Optional[Mapping[str, Any]] = None) -> Renderer:
    """A compositor method from ``compositing.methods.METHODS``, rendered from the photo
    pipeline's prepared planes with :func:`compositing.pipeline.render_prepared`: what
    scripts/blur.py renders (for relative depth ``coc="relative"``, the prior made metric from
    faces for a lens that names a physical lens)."""
    if method not in METHODS:
        raise ValueError(f"unknown compositor method {method!r}; choose from {sorted(METHODS)}")
    metric_params = dict(params or {})
    relative_params = params_for_depth(method, metric_params, True) or {}
    settings = params_to_dict(build_params(method, metric_params))  # validates the keys too
    if relative_params != metric_params:
        changed = {k: v for k, v in relative_params.items() if metric_params.get(k) != v}
        settings["for relative depth"] = ", ".join(f"{k}={v}" for k, v in changed.items())
    mode, ignored = ineffective_params(method, metric_params, build_params(method, relative_params))
    uses_faces = wants_faces(method, metric_params)
    if uses_faces:
        settings["with the depth prior"] = "made metric from the faces (thin lens)"
    elif ignored:  # said in the caption: with the relative depth prior these change nothing
        settings[f"no effect with relative depth ({mode})"] = ", ".join(ignored)

    def unused(image: np.ndarray, mask: np.ndarray, depth: np.ndarray) -> np.ndarray:
        raise TypeError("a compositor method renders from the prepared planes (prepared_fn)")

    def from_prepared(prepared: Prepared) -> np.ndarray:
        return render_prepared(method, prepared, metric_params).output

    return Renderer(method, "compositor", {**settings, "focus": "auto"}, unused, from_prepared, uses_faces)


@dataclass(frozen=True)
class GanSpec:
    """``NAME=CKPT:preset[:overlay|:no-overlay]`` from the command line (default: no overlay)."""

    name: str
    checkpoint: Path
    preset: str
    overlay: bool

    @classmethod
    def parse(cls, spec: str) -> "GanSpec":
        name, sep, rest = spec.partition("=")
        overlay = False
        for suffix, value in ((":overlay", True), (":no-overlay", False)):
            if rest.endswith(suffix):
                rest, overlay = rest[: -len(suffix)], value
                break
        checkpoint, sep2, preset = rest.rpartition(":")
        if not sep or not sep2 or not name or not checkpoint or not preset:
            raise ValueError(f"--gan {spec!r}: expected NAME=CHECKPOINT:PRESET[:overlay|:no-overlay]")
        _check_name(name)
        return cls(name, Path(checkpoint), preset, overlay)


def gan_renderer(spec: GanSpec, device: str = "cpu") -> Renderer:
    """A trained CycleGAN generator (A → B) at full resolution via ``gan.infer.Translator``, from any
    checkpoint kind, translated as test_cyclegan does by default (residual upsampling from the
    size the checkpoint was trained at)."""
    from gan.checkpoint import resolve_checkpoint
    from gan.infer import Translator

    checkpoint = resolve_checkpoint(spec.checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint}: no such checkpoint (for --gan {spec.name})")
    translator = Translator.from_checkpoint(checkpoint, direction="AtoB", overlay=spec.overlay, device=device,
                                            size="checkpoint")

    def fn(image: np.ndarray, mask: np.ndarray, depth: np.ndarray) -> np.ndarray:
        return translator(image, mask, depth)

    settings = {"preset": spec.preset, "overlay": spec.overlay, "checkpoint": checkpoint.name}
    return Renderer(spec.name, "gan", settings, fn)


def run_dir_of_checkpoint(checkpoint: Path) -> Optional[Path]:
    """The run folder (with log.jsonl) a checkpoint belongs to: its folder or that folder's parent
    (or the folder given, when --gan names a run directory)."""
    for folder in (checkpoint, checkpoint.parent, checkpoint.parent.parent):
        if (folder / "log.jsonl").is_file():
            return folder
    return None


