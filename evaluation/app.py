"""The local app's work, without its web page: open a portrait, focus where it is tapped, render a
preview at screen size from cached planes, compare two settings, save at full resolution.

One :class:`Session` per browser tab holds the opened :class:`Photo` (the full-resolution image,
its preview copy of at most ``preview_side`` pixels a side, the segmenter's mask and the faces
found on that copy), the focus point and a few recent renders. The per-photo half of the pipeline
(:func:`compositing.pipeline.prepare`: mask refinement, depth prior) runs once per photo and
refinement, so a control change only runs the per-method half (:func:`render_prepared`) on the
preview. Saving at full resolution is evaluation/app_save.py.

Conventions: images uint8 RGB H×W×3, masks float32 H×W in [0, 1], depth float32 H×W (larger =
farther); a :class:`Focus` is in pixels of the full-resolution upright photo (what ``blur.py
--focus X,Y`` takes); the preview's pixels are that scaled by :attr:`Photo.scale`.
"""
from __future__ import annotations

import dataclasses
import io
import re
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import cv2
import numpy as np
from PIL import Image

from compositing.lens import LensParams
from compositing.methods import METHODS
from compositing.pipeline import (REFINEMENTS, Lazy, Prepared, choose_focus, face_detector_factory, prepare,
                                  render_prepared)
from datasets.io import DEFAULT_MAX_PIXELS, ImageError, read_focal_35mm, read_image, shrink_to
from plumbing.files import FileProblem, read_bytes
from segdepth.depth.metric import DEFAULT_FOCAL_35MM
from segdepth.segment import build_segmenter

#: longest side of the preview in pixels: a screen's worth, where a control change renders fast
PREVIEW_SIDE = 1024
#: how the lens method's aperture is set: the relative strength (blur.py's default) or an f-number
#: of a virtual full-frame lens (the depth prior made metric from faces)
APERTURES = ("strength", "f_number")
#: methods with one kernel size ``k`` (the uniform blurs of the baselines)
KERNEL_METHODS = tuple(m for m, spec in METHODS.items()
                       if "k" in {f.name for f in dataclasses.fields(spec.params_type)})
ASTRONAUT = "astronaut"
_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Settings:
    """What the app's controls set for one render. ``method``: a compositor method or a GAN's
    name; the lens's aperture is ``strength`` (relative mode) or ``f_number`` with
    ``focal_length_mm`` (None: the photo's own, from EXIF or the portrait lens's 85 mm); ``k``: the kernel
    of the uniform methods (None: the method's default)."""

    method: str = "lens"
    aperture: str = "strength"
    f_number: float = LensParams.f_number
    focal_length_mm: Optional[float] = None
    strength: float = LensParams.strength
    blades: int = 0
    rotation_deg: float = 0.0
    highlight_gain: float = LensParams.highlight_gain
    grain: bool = True
    k: Optional[int] = None
    refine: str = "snap"


def method_params(s: Settings) -> dict[str, Any]:
    """The ``--params`` of ``s.method`` for these settings (what blur.py's config records): the
    lens's aperture (strength, or f-number and focal length), blades, rotation, highlight boost
    and grain; the uniform methods' kernel; nothing for the others."""
    if s.method == "lens":
        aperture = {"strength": s.strength} if s.aperture == "strength" else \
            {"f_number": s.f_number, **({} if s.focal_length_mm is None else {"focal_length_mm": s.focal_length_mm})}
        return {**aperture, "blades": s.blades, "rotation_deg": s.rotation_deg,
                "highlight_gain": s.highlight_gain, "grain": s.grain}
    if s.method in KERNEL_METHODS and s.k is not None:
        return {"k": s.k}
    return {}


def describe(s: Settings) -> str:
    """A short caption of ``s``: method and what matters for it (e.g. ``lens · f/2.8 · 6 blades``)."""
    if s.method != "lens":
        return f"{s.method} · k {s.k}" if s.method in KERNEL_METHODS and s.k is not None else s.method
    aperture = f"strength {s.strength:g}" if s.aperture == "strength" else \
        f"f/{s.f_number:g}" + ("" if s.focal_length_mm is None else f" · {s.focal_length_mm:g} mm")
    blades = "disk" if s.blades == 0 else f"{s.blades} blades"
    return f"lens · {aperture} · {blades}" + ("" if s.grain else " · no grain")


@dataclass(frozen=True)
class Focus:
    """The focus point ``xy`` in full-resolution pixels (a tapped face's centre, else the tapped
    point), the point ``tapped`` and the index of the tapped face (None: the depth at the point)."""

    xy: tuple[int, int]
    tapped: tuple[int, int]
    face: Optional[int] = None


class Models:
    """The networks every session shares, built on first use: the person segmenter and MediaPipe's
    face detector; calls go one at a time (MediaPipe's graphs are not shared between threads)."""

    def __init__(self, segmenter: str = "mediapipe") -> None:
        self.segmenter_name = segmenter
        self._lock = threading.RLock()
        self._segmenter = Lazy(lambda: build_segmenter(segmenter))
        self._faces = face_detector_factory()

    def segment(self, image: np.ndarray) -> np.ndarray:
        """The person mask of ``image`` (float32 H×W in [0, 1])."""
        with self._lock:
            return self._segmenter(image)

    def faces(self, image: np.ndarray) -> list:
        """The faces in ``image`` (segdepth.face.Face, pixels of ``image``)."""
        with self._lock:
            return list(self._faces(image))


@dataclass
class GanMethod:
    """A CycleGAN checkpoint as one more method: its generator A → B at the size it was trained at
    (gan.infer.Translator, ``resize`` mode: the change it makes is added at full resolution, so the
    preview and the saved photo agree), overlay as the checkpoint says. ``uploaded``: the file came
    through the page (a temporary file, copied beside the results when a render is saved)."""

    name: str
    checkpoint: Path
    translator: Any
    uploaded: bool = False


def check_method_name(name: str) -> str:
    """``name`` when it can name a GAN method (letters, digits, ``_-.``; not a compositor method's)."""
    if not name or _NAME_CHARS.search(name) or name.startswith("."):
        raise ValueError(f"GAN name {name!r}: use letters, digits, '_', '-' and '.'")
    if name in METHODS:
        raise ValueError(f"GAN name {name!r} is a compositing method's; choose another")
    return name


def load_gan(name: str, checkpoint: str | Path, uploaded: bool = False) -> GanMethod:
    """The GAN method ``name`` from a train_cyclegan checkpoint (a file or a run folder); a file of
    the wrong kind is one ``CheckpointError`` naming it (gan.checkpoint checks its format tag)."""
    from gan.checkpoint import resolve_checkpoint
    from gan.infer import Translator

    path = resolve_checkpoint(checkpoint)
    translator = Translator.from_checkpoint(path, direction="AtoB", overlay=None, size="checkpoint", mode="resize")
    return GanMethod(check_method_name(name), path, translator, uploaded)


def safe_name(filename: str) -> str:
    """A file stem safe to write under: ``filename``'s stem with every character outside
    ``A-Za-z0-9._-`` replaced by ``_``, no leading dot, at most 80 characters."""
    stem = _NAME_CHARS.sub("_", Path(filename).stem).lstrip(".")[:80]
    return stem or "photo"


@dataclass
class Photo:
    """An opened photo: the file's bytes (``data``, what a save copies), the upright image at full
    resolution, the EXIF focal length, and the preview copy with the segmenter's mask and the faces
    found on it (preview pixels)."""

    name: str
    suffix: str
    data: bytes
    image: np.ndarray
    focal_35mm: Optional[float]
    preview: np.ndarray
    raw_mask: np.ndarray
    faces: tuple = ()
    key: str = field(default_factory=lambda: uuid.uuid4().hex)  # tells photos apart (cached files)

    @property
    def scale(self) -> tuple[float, float]:
        """(x, y) factors from full-resolution pixels to preview pixels."""
        (h, w), (ph, pw) = self.image.shape[:2], self.preview.shape[:2]
        return pw / w, ph / h

    def to_preview(self, xy: tuple[float, float]) -> tuple[int, int]:
        """A full-resolution pixel's preview pixel."""
        (sx, sy), (ph, pw) = self.scale, self.preview.shape[:2]
        return min(pw - 1, int(xy[0] * sx)), min(ph - 1, int(xy[1] * sy))

    def to_full(self, xy: tuple[float, float]) -> tuple[int, int]:
        """The full-resolution pixel under the centre of preview pixel ``xy``."""
        (sx, sy), (h, w) = self.scale, self.image.shape[:2]
        return min(w - 1, max(0, int((xy[0] + 0.5) / sx))), min(h - 1, max(0, int((xy[1] + 0.5) / sy)))


def _photo(name: str, suffix: str, data: bytes, image: np.ndarray, focal: Optional[float], models: Models,
           preview_side: int) -> Photo:
    preview = shrink_to(image, preview_side)
    return Photo(name, suffix, data, image, focal, preview, models.segment(preview), tuple(models.faces(preview)))


def open_photo(path: str | Path, models: Models, *, display_name: Optional[str] = None,
               max_pixels: int = DEFAULT_MAX_PIXELS, preview_side: int = PREVIEW_SIDE) -> Photo:
    """Read ``path`` (datasets.io.read_image: EXIF orientation, every mode, the pixel limit; HEIC
    with pillow-heif), segment its preview copy and find the faces. A bad file is one ImageError
    naming ``display_name`` (the name the user knows, e.g. an upload's) instead of ``path``."""
    path = Path(path)
    shown = display_name or path.name
    try:
        image = read_image(path, max_pixels=max_pixels)
        data = read_bytes(path)  # the regular file the reader took
    except FileProblem as exc:  # an ImageError too
        raise ImageError(shown, exc.problem) from None
    except OSError as exc:
        raise ImageError(shown, f"cannot read the file ({exc.strerror or exc})") from None
    return _photo(safe_name(shown), path.suffix.lower() or ".png", data, image, read_focal_35mm(path), models,
                  preview_side)


def open_astronaut(models: Models, preview_side: int = PREVIEW_SIDE) -> Photo:
    """scikit-image's bundled astronaut portrait (512 × 512), saved as PNG when a render is saved."""
    from skimage import data as skdata

    image = np.ascontiguousarray(skdata.astronaut())
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return _photo(ASTRONAUT, ".png", buf.getvalue(), image, None, models, preview_side)


def warm_up(models: Models) -> None:
    """Pay the one-time costs before the first photo: load the networks, and run the pipeline once
    on a small copy of the astronaut (the matting's compiled kernels, the grain's tables), so the
    first render of a photo costs only its own work."""
    session = Session(open_astronaut(models, preview_side=128))
    session.render(Settings())


@dataclass
class Preview:
    """One render of the preview: the output, the mask and depth it used, the focus depth and a
    line on how the method blurred (the virtual lens, the relative strength, the GAN)."""

    image: np.ndarray
    mask: np.ndarray
    depth: np.ndarray
    focus_depth: float
    note: str


def lens_note(settings: Settings, info: dict[str, Any]) -> str:
    """What the lens did, for the page: the virtual lens (focal length, f-number, how the field of
    view and the distances were found) or the relative strength, and why f-number had no effect."""
    if info.get("depth_source") == "metric_from_face":
        focal = settings.focal_length_mm or info["focal_length_35mm"]
        fov = "the photo's EXIF focal length" if info["focal_length_source"] == "exif" else \
            f"the portrait lens assumed ({DEFAULT_FOCAL_35MM:g} mm, no EXIF focal length)"
        people = info["people"]
        return (f"Virtual lens: {focal:g} mm f/{settings.f_number:g}, full-frame equivalent; framing from {fov}; "
                f"focus at {info['focus_m']:.2f} m; {len(people)} {'person' if len(people) == 1 else 'people'}, "
                f"distances from face widths.")
    relative = f"radius = {settings.strength:g} × width × |depth − focus depth| (portrait depth prior)"
    if settings.aperture == "f_number":
        return ("No face on the person mask, so no distances for the f-number to act on: relative blur instead, "
                f"{relative}.")
    return f"Relative blur: {relative}."


class Session:
    """One browser tab's state: the photo, the focus, GANs added in the page, the settings pinned
    for the side-by-side comparison, the prepared planes per refinement and the last renders."""

    def __init__(self, photo: Photo, gans: Optional[dict[str, GanMethod]] = None, keep: int = 6) -> None:
        self.photo = photo
        self.focus: Optional[Focus] = None
        self.gans: dict[str, GanMethod] = dict(gans or {})
        self.pinned: Optional[Settings] = None
        self._prepared: dict[str, Prepared] = {}
        self._renders: OrderedDict[tuple, Preview] = OrderedDict()
        self._keep = keep

    def prepared(self, refine: str) -> Prepared:
        """The preview's planes with ``refine`` (mask post-processing, depth prior), made once."""
        if refine not in REFINEMENTS:
            raise ValueError(f"mask refinement {refine!r}: choose one of {', '.join(REFINEMENTS)}")
        if refine not in self._prepared:
            p = self.photo
            self._prepared[refine] = prepare(p.preview, p.raw_mask, refine=refine, faces=p.faces,
                                             focal_35mm=p.focal_35mm)
        return self._prepared[refine]

    def tap(self, x: float, y: float) -> Focus:
        """Focus where preview pixel (x, y) was tapped: on a face's centre when it lies in a detected
        face's box, else on the depth at that point."""
        p = self.photo
        px, py = min(p.preview.shape[1] - 1, max(0, int(x))), min(p.preview.shape[0] - 1, max(0, int(y)))
        face = next((i for i, f in enumerate(p.faces)
                     if f.box[0] <= px <= f.box[2] and f.box[1] <= py <= f.box[3]), None)
        point = p.faces[face].center if face is not None else (px, py)
        self.focus = Focus(p.to_full(point), p.to_full((px, py)), face)
        return self.focus

    def render(self, settings: Settings) -> Preview:
        """The preview rendered with ``settings`` at the current focus (kept among the last few)."""
        key = (settings, self.focus)
        if key in self._renders:
            self._renders.move_to_end(key)
            return self._renders[key]
        prepared = self.prepared(settings.refine)
        if self.focus is not None:
            xy = self.photo.to_preview(self.focus.xy)
            prepared = dataclasses.replace(prepared, focus=choose_focus(prepared.mask, prepared.depth, xy),
                                           focus_xy=xy)
        if settings.method in self.gans:
            out = self._translate(self.gans[settings.method], prepared)
            preview = Preview(out, prepared.mask, prepared.depth, prepared.focus,
                              f"GAN {settings.method}: {self.gans[settings.method].checkpoint.name}")
        elif settings.method in METHODS:
            done = render_prepared(settings.method, prepared, method_params(settings))
            note = lens_note(settings, done.depth_info) if settings.method == "lens" else METHODS[settings.method].source
            preview = Preview(done.output, done.mask, done.depth, done.focus, note)
        else:
            raise ValueError(f"unknown method {settings.method!r}")
        self._renders[key] = preview
        while len(self._renders) > self._keep:
            self._renders.popitem(last=False)
        return preview

    def _translate(self, gan: GanMethod, prepared: Prepared) -> np.ndarray:
        """The GAN's translation of the preview, with the segmenter's mask for its overlay and the
        prepared depth for a generator that takes depth (as a save gives them)."""
        t = gan.translator
        return t(self.photo.preview, self.photo.raw_mask if t.overlay else None,
                 prepared.depth if t.cfg.use_depth else None)


# ----------------------------------------------------------------------------------------- views

def mask_view(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The person mask over the photo: the subject as it is, the background dimmed and tinted blue."""
    m = np.clip(mask, 0, 1)[..., None]
    tint = image.astype(np.float32) * 0.35 + np.float32([20, 40, 110])
    return np.clip(m * image + (1 - m) * tint, 0, 255).astype(np.uint8)


def depth_view(depth: np.ndarray, focus_depth: float) -> np.ndarray:
    """Depth as colour (near bright, far dark; viridis) with the focal plane's depth marked white."""
    d = np.asarray(depth, np.float32)
    lo, hi = float(d.min()), float(d.max())
    scaled = np.uint8(255) - np.clip((d - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)
    view = cv2.cvtColor(cv2.applyColorMap(scaled, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)
    view[np.abs(d - focus_depth) <= 0.01 * max(hi - lo, 1e-6)] = 255
    return view


def marked(image: np.ndarray, photo: Photo, focus: Optional[Focus]) -> np.ndarray:
    """``image`` (preview size) with the tapped point drawn as a ring, and the tapped face's box."""
    if focus is None:
        return image
    out = image.copy()
    radius = max(5, round(max(out.shape[:2]) / 90))
    if focus.face is not None:
        x0, y0, x1, y1 = (round(v) for v in photo.faces[focus.face].box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 255, 255), 1, cv2.LINE_AA)
    centre = photo.to_preview(focus.tapped)
    cv2.circle(out, centre, radius, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.circle(out, centre, radius, (255, 210, 0), 1, cv2.LINE_AA)
    return out
