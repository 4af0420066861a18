"""The one per-image pipeline of the compositor: (photo, mask, depth, focus) → shallow-DoF image.

Used by the blur program (compositing/cli/blur.py), evaluation/compare.py and
compositing/video.py: :func:`prepare` (mask post-processing, depth, focus; once per photo)
gives a :class:`Prepared`, :func:`render_prepared` renders it with one method of
:data:`compositing.methods.METHODS` (relative CoC for relative depth, the prior made metric from
faces for a physical lens) into a :class:`PhotoRender`; :class:`PhotoPipeline` holds the models
of a batch; :func:`render_photo` is both halves in one call.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import cv2
import numpy as np

from . import matte
from .methods import build_params, render
from .optics import PORTRAIT_LENS, Lens, coc_radius_px


def choose_focus(mask: np.ndarray, depth: np.ndarray, focus_xy: Optional[tuple[int, int]] = None,
                 min_fraction: float = 0.5) -> float:
    """Focus distance in the units of ``depth``.

    With ``focus_xy = (x, y)``: the depth at that pixel. Otherwise the median depth of the main
    person: among the connected components of ``mask > 0.5`` at least ``min_fraction`` of the
    largest one's area, the nearest by median depth. With no person in the mask: the median depth of the central third of the frame.
    """
    depth = np.asarray(depth, np.float32)
    h, w = depth.shape
    if focus_xy is not None:
        x, y = int(focus_xy[0]), int(focus_xy[1])
        if not (0 <= x < w and 0 <= y < h):
            raise ValueError(f"focus point ({x}, {y}) is outside the {w}×{h} image")
        return float(depth[y, x])
    mask = np.asarray(mask, np.float32)
    if mask.shape != depth.shape:
        raise ValueError(f"mask shape {mask.shape} does not match depth {depth.shape}")
    n, labels, stats, _ = cv2.connectedComponentsWithStats((mask > 0.5).astype(np.uint8), connectivity=8)
    if n <= 1:
        return float(np.median(depth[h // 3:h - h // 3 or h, w // 3:w - w // 3 or w]))
    areas = stats[1:, cv2.CC_STAT_AREA]
    large = [i + 1 for i in np.flatnonzero(areas >= min_fraction * areas.max())]
    medians = {i: float(np.median(depth[labels == i])) for i in large}
    return min(medians.values())


REFINEMENTS = ("snap", "nikam_awate", "none")


def postprocess_mask(mask: np.ndarray, image: np.ndarray, fill_holes: bool = True,
                     refine: str = "snap") -> np.ndarray:
    """Mask clean-up: fill holes not connected to the border (Nikam & Awate), then refine the
    edge: ``"snap"`` snaps it to the photo's edges by closed-form matting in a narrow band
    (:func:`compositing.matte.snap_matte`), ``"nikam_awate"`` re-estimates a wider band from
    colour (:func:`compositing.matte.refine_edges`), ``"none"`` keeps it. float32 H×W in [0, 1]."""
    if refine not in REFINEMENTS:
        raise ValueError(f"unknown mask refinement {refine!r}; choose from {REFINEMENTS}")
    mask = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
    if fill_holes:
        mask = matte.fill_holes(mask)
    if refine == "snap":
        mask = matte.snap_matte(mask, image)
    elif refine == "nikam_awate":
        mask = matte.refine_edges(mask, image)
    return mask


def params_for_depth(method: str, params: Optional[dict[str, Any]], relative: bool) -> Optional[dict[str, Any]]:
    """Method parameters adjusted to the depth's units.

    The ``lens`` method's default circle of confusion is a thin lens, which needs depth in
    metres; for relative depth (e.g. the portrait prior) it is switched to ``coc="relative"``
    (r = strength · width · |d − d_f|) unless the caller chose a ``coc`` explicitly.
    """
    if relative and method == "lens" and "coc" not in (params or {}):
        return {**(params or {}), "coc": "relative"}
    return params


@dataclass
class Prepared:
    """The planes of one photo that every method renders from, and how they were made.

    ``mask`` is the post-processed matte (:func:`postprocess_mask`), ``depth`` the given depth,
    the depth model's or the portrait prior's (``relative``: not metres), ``focus`` the focus
    distance in the units of ``depth`` (:func:`choose_focus` at ``focus_xy``, or of the main
    person). ``depth_source`` is ``given``, ``relative`` (a relative file or model), ``model`` or
    ``prior``; with the prior, :func:`render_prepared` may make the depth metric from ``faces``
    (segdepth.face.Face) for a lens that asks for it. uint8 RGB image, float32 planes."""

    image: np.ndarray
    mask: np.ndarray
    depth: np.ndarray
    focus: float
    relative: bool
    depth_source: str
    focus_xy: Optional[tuple[float, float]] = None
    faces: Sequence[Any] = ()
    focal_35mm: Optional[float] = None


def prepare(image: np.ndarray, mask: np.ndarray, depth: Optional[np.ndarray] = None, *,
            depth_relative: bool = False, depth_model: Optional[Callable[..., np.ndarray]] = None,
            focus_xy: Optional[tuple[float, float]] = None, refine: str = "snap", fill_holes: bool = True,
            faces: Optional[Sequence[Any]] = None, focal_35mm: Optional[float] = None) -> Prepared:
    """The per-photo half of the pipeline: segmenter mask → post-processing → depth → focus.

    ``mask``: the segmenter's (or a mask file's) float32 H×W, post-processed with ``fill_holes``
    and ``refine`` (:func:`postprocess_mask`). Depth: ``depth`` given (metres, or relative units
    with ``depth_relative``), else ``depth_model(image, mask)``, else the portrait prior
    (segdepth.depth.prior.DepthPrior). ``faces`` and ``focal_35mm`` (EXIF) are kept for the
    metric prior (:func:`render_prepared`)."""
    from segdepth.depth.prior import DepthPrior

    mask = postprocess_mask(mask, image, fill_holes=fill_holes, refine=refine)
    if depth is not None:
        relative, source = depth_relative, "relative" if depth_relative else "given"
    elif depth_model is not None:
        depth, relative = depth_model(image, mask), bool(getattr(depth_model, "relative", False))
        source = "relative" if relative else "model"
    else:
        depth, relative, source = DepthPrior()(image, mask), True, "prior"
    return Prepared(image, mask, depth, choose_focus(mask, depth, focus_xy), relative, source, focus_xy,
                    tuple(faces or ()), focal_35mm)


@dataclass
class PhotoRender:
    """What :func:`render_prepared` made and how: the output, the mask / depth / focus it used,
    the params it rendered with and which depth path applied (``depth_info["depth_source"]``:
    ``given``, ``model``, ``relative`` or ``metric_from_face`` with the per-person distances)."""

    output: np.ndarray
    mask: np.ndarray
    depth: np.ndarray
    focus: float
    params: dict[str, Any]
    depth_info: dict[str, Any]


# f-number of the metric prior's camera when the user asks for the thin lens without naming one:
# the project's portrait lens (compositing.optics.PORTRAIT_LENS), whose blur the relative default is
FACE_PRIOR_F_NUMBER = PORTRAIT_LENS.f_number
# lens parameters that ask for the physical (thin-lens) path: any of them, or coc=thin_lens, given
# with the depth prior makes the prior metric from faces
PHYSICAL_LENS_PARAMS = ("f_number", "focal_length_mm", "sensor_width_mm")


# settings the photo path (render_prepared: blur, compare, video) uses unless the user gives
# them: a photo was taken through a sensor, so the lens puts the photo's own grain back over the
# blurred background (compositing.grain); the bare `render` keeps the params' defaults (grain off)
PHOTO_DEFAULTS: dict[str, dict[str, Any]] = {"lens": {"grain": True}}


def asks_for_physical_lens(params: Optional[dict[str, Any]]) -> bool:
    """Whether ``params`` name a physical lens (``PHYSICAL_LENS_PARAMS`` or ``coc="thin_lens"``)."""
    params = params or {}
    return params.get("coc") == "thin_lens" or any(k in params for k in PHYSICAL_LENS_PARAMS)


def _metric_prior(method: str, image: np.ndarray, mask: np.ndarray, params: dict[str, Any], faces: Sequence[Any],
                  focal_35mm: Optional[float]) -> Optional[tuple[Any, dict[str, Any]]]:
    """The metric depth from faces (segdepth.depth.metric) and the thin-lens params that go with
    it, or None when the user asked for no physical lens parameter (``PHYSICAL_LENS_PARAMS`` or
    ``coc="thin_lens"``), chose the relative circle of confusion, or no face lies on the mask.
    Without EXIF the camera is the project's portrait lens (85 mm f/1.8 equivalent,
    compositing.optics.PORTRAIT_LENS), with it the photo's own focal length. The default stays
    relative: a face's size is a rough distance (children's smaller faces read as farther away)."""
    from segdepth.depth.metric import DEFAULT_FOCAL_35MM, metric_depth, sensor_width_mm

    if method != "lens" or not asks_for_physical_lens(params) or params.get("coc", "thin_lens") != "thin_lens":
        return None
    h, w = mask.shape
    # the photo's own field of view (EXIF), else the portrait lens, unless the user asks for another
    lens_params = {"coc": "thin_lens", "sensor_width_mm": sensor_width_mm(w, h),
                   "focal_length_mm": focal_35mm or DEFAULT_FOCAL_35MM, "f_number": FACE_PRIOR_F_NUMBER, **params}
    built = build_params("lens", lens_params)
    lens = Lens(built.focal_length_mm, built.f_number, built.sensor_width_mm)

    def coc(d: float, focus: float) -> float:
        return float(coc_radius_px(np.float32(d), max(focus, 1.01 * lens.focal_length_mm / 1000.0), lens, w))

    result = metric_depth(image, mask, faces, focal_35mm, coc)
    if result is None:
        return None
    return result, lens_params


def wants_faces(method: str, params: Optional[dict[str, Any]], prior: bool = True) -> bool:
    """Whether rendering ``method`` with ``params`` on the depth prior (``prior``) uses detected
    faces: the lens asking for a physical lens (:func:`asks_for_physical_lens`) makes the prior metric."""
    return prior and method == "lens" and asks_for_physical_lens(params)


def render_prepared(method: str, prepared: Prepared, params: Optional[dict[str, Any]] = None) -> PhotoRender:
    """The per-method half of the pipeline: ``prepared`` rendered with ``method`` and ``params``.

    With the portrait prior, the lens method, a physical lens parameter in ``params``
    (``PHYSICAL_LENS_PARAMS`` or ``coc="thin_lens"``) and faces on the mask, the prior is made
    metric from the faces' sizes (segdepth.depth.metric: per-person distances, focal length from
    EXIF or a default field of view) and rendered through the thin lens, so f-number and focal
    length act as on a camera; otherwise relative depth renders with ``coc="relative"``
    (:func:`params_for_depth`). ``PHOTO_DEFAULTS`` fill the settings not in ``params`` (the
    lens's grain: a photo was taken through a sensor). uint8 RGB out."""
    p = prepared
    params = {**PHOTO_DEFAULTS.get(method, {}), **(params or {})}
    metric = _metric_prior(method, p.image, p.mask, params, p.faces, p.focal_35mm) if p.depth_source == "prior" else None
    if metric is not None:
        result, used = metric
        mask, depth, info = result.mask, result.depth, result.summary()
        focus = result.focus_m if p.focus_xy is None else choose_focus(mask, depth, p.focus_xy)
    else:
        mask, depth, focus = p.mask, p.depth, p.focus
        used = params_for_depth(method, params, p.relative) or {}
        info = {"depth_source": "relative" if p.relative else p.depth_source}
    # the one composition point of every photo render (blur, compare, video); the grain is a
    # lens setting (PHOTO_DEFAULTS above), applied inside the lens where its blur map is known
    output = render(method, p.image, mask, depth, focus, used)
    return PhotoRender(output, mask, depth, focus, used, info)


def render_photo(method: str, image: np.ndarray, raw_mask: np.ndarray, params: Optional[dict[str, Any]] = None,
                 depth: Optional[np.ndarray] = None, depth_model: Optional[Callable[..., np.ndarray]] = None,
                 focus_xy: Optional[tuple[int, int]] = None, refine: str = "snap",
                 faces: Optional[Sequence[Any]] = None, focal_35mm: Optional[float] = None,
                 depth_relative: bool = False) -> PhotoRender:
    """The whole per-image pipeline for one method: :func:`prepare` then :func:`render_prepared`."""
    prepared = prepare(image, raw_mask, depth, depth_relative=depth_relative, depth_model=depth_model,
                       focus_xy=focus_xy, refine=refine, faces=faces, focal_35mm=focal_35mm)
    return render_prepared(method, prepared, params)


class Lazy:
    """A model built on first use (``factory()``), then called like it: a segmenter or depth model
    that only some inputs need (those without a mask file or a depth map)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self.model: Any = None

    def get(self) -> Any:
        """The model (built now if it was not yet)."""
        if self.model is None:
            self.model = self.factory()
        return self.model

    def __call__(self, *args: Any) -> Any:
        return self.get()(*args)

    @property
    def relative(self) -> bool:
        """The depth model's ``relative`` flag (builds it)."""
        return bool(getattr(self.get(), "relative", False))


class PhotoPipeline:
    """:func:`prepare` with its models built once, for a batch of photos.

    ``segmenter``: RGB uint8 → float32 mask, for photos given without a mask (segdepth.segment).
    ``depth_model``: ``(image, mask) -> depth`` for photos without a depth map; None for the
    portrait prior, which a lens asking for a physical lens makes metric from faces.
    ``face_detector``: RGB → faces (segdepth.face.FaceDetector), called only for photos that use
    the prior (and only when given: :func:`wants_faces` says which renders need it)."""

    def __init__(self, segmenter: Optional[Callable[[np.ndarray], np.ndarray]] = None,
                 depth_model: Optional[Callable[..., np.ndarray]] = None, refine: str = "snap",
                 face_detector: Optional[Callable[[np.ndarray], Sequence[Any]]] = None) -> None:
        if refine not in REFINEMENTS:
            raise ValueError(f"unknown mask refinement {refine!r}; choose from {REFINEMENTS}")
        self.segmenter = segmenter
        self.depth_model = depth_model
        self.refine = refine
        self.face_detector = face_detector

    def __call__(self, image: np.ndarray, mask: Optional[np.ndarray] = None, depth: Optional[np.ndarray] = None,
                 depth_relative: bool = False, focus_xy: Optional[tuple[float, float]] = None,
                 focal_35mm: Optional[float] = None) -> Prepared:
        """The prepared planes of one photo (``mask`` None: the segmenter's)."""
        if mask is None:
            if self.segmenter is None:
                raise ValueError("no mask given and no segmenter to make one")
            mask = self.segmenter(image)
        on_prior = depth is None and self.depth_model is None
        faces = self.face_detector(image) if on_prior and self.face_detector is not None else None
        return prepare(image, mask, depth, depth_relative=depth_relative, depth_model=self.depth_model,
                       focus_xy=focus_xy, refine=self.refine, faces=faces, focal_35mm=focal_35mm)


def face_detector_factory() -> Callable[[np.ndarray], Sequence[Any]]:
    """MediaPipe's face detector (segdepth.face), built on its first photo."""
    def build() -> Any:
        from segdepth.face import FaceDetector

        return FaceDetector()

    return Lazy(build)
