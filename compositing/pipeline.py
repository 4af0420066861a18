"""The compositor's method registry and glue: (image, mask, depth, focus) → shallow-DoF image.

Every method is ``fn(image, mask, depth, focus_depth, params) -> image`` with image uint8 RGB
H×W×3, mask float32 H×W in [0, 1] (1 = subject), depth float32 H×W (larger = farther),
``focus_depth`` in the units of depth and ``params`` the method's dataclass. ``METHODS`` maps the
names users type after ``--method`` to a :class:`MethodSpec`; :func:`render` builds the params
from a plain dict (as saved next to results with :func:`params_to_dict`).

The one per-image pipeline, used by scripts/blur.py (compositing/blur.py), evaluation/compare.py
and compositing/video.py: :func:`prepare` (mask post-processing, depth, focus; once per photo)
gives a :class:`Prepared`, :func:`render_prepared` renders it with one method (relative CoC for
relative depth, the prior made metric from faces for a physical lens) into a
:class:`PhotoRender`; :class:`PhotoPipeline` holds the models of a batch; :func:`render_photo`
is both halves in one call.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import cv2
import numpy as np

from . import matte
from datasets.cli import check_types

from .lens import COC_MODES, FOREGROUND_MODES, LensParams, lens_blur
from .optics import PORTRAIT_LENS, Lens, coc_radius_px
from .progressive import (BucketParams, Progressive13Params, ProgressiveParams, bucket_blur,
                          gaussian_blur, paste_subject, progressive_blur)


@dataclass
class BoxParams:
    """k×k box filter (Nasrullah 2018 baseline uses 5×5)."""

    k: int = 5


@dataclass
class GaussianParams:
    """k×k Gaussian with OpenCV's sigma rule σ = 0.3((k − 1)/2 − 1) + 0.8."""

    k: int = 21


@dataclass
class AlphaBlendParams:
    """Gaussian background blur of size k, blended with the soft matte."""

    k: int = 21


@dataclass
class FeatherParams:
    """Gaussian background blur of size k; the hard mask is feathered by a
    ``feather_k``×``feather_k`` Gaussian (45 in Pyzh & Gogarev) before blending."""

    k: int = 21
    feather_k: int = 45


def _hard(mask: np.ndarray) -> np.ndarray:
    return (mask > 0.5).astype(np.float32)


def box_blur(image: np.ndarray, mask: np.ndarray, depth: np.ndarray, focus_depth: float,
             params: BoxParams) -> np.ndarray:
    """Uniform box blur of the whole image pasted under the hard mask (Nasrullah 2018 baseline,
    "Segmented Image Blurring")."""
    if params.k < 1:
        raise ValueError(f"box kernel size must be positive, got {params.k}")
    return paste_subject(image, cv2.blur(image, (params.k, params.k)), _hard(mask))


def gaussian_uniform(image: np.ndarray, mask: np.ndarray, depth: np.ndarray, focus_depth: float,
                     params: GaussianParams) -> np.ndarray:
    """Uniform Gaussian blur (OpenCV sigma rule) pasted under the hard mask (Nasrullah 2018)."""
    return paste_subject(image, gaussian_blur(image, params.k), _hard(mask))


def alpha_blend(image: np.ndarray, mask: np.ndarray, depth: np.ndarray, focus_depth: float,
                params: AlphaBlendParams) -> np.ndarray:
    """I = α·F + (1 − α)·B with the soft matte α and a Gaussian-blurred B (Datar & Bernal)."""
    return paste_subject(image, gaussian_blur(image, params.k), mask)


def feather_blend(image: np.ndarray, mask: np.ndarray, depth: np.ndarray, focus_depth: float,
                  params: FeatherParams) -> np.ndarray:
    """Blur the mask (k = 45) and blend the sharp subject over the blurred image (Pyzh & Gogarev).
    The feathered matte is kept at 1 inside the eroded mask, so the subject stays sharp."""
    hard = _hard(mask)
    soft = matte.feather(hard, params.feather_k)
    inner = cv2.erode(hard, np.ones((params.feather_k, params.feather_k), np.uint8))
    return paste_subject(image, gaussian_blur(image, params.k), np.maximum(soft, inner))


#: The largest Gaussian/box kernel a method accepts: far above any portrait's need (k = 21 is the
#: default), low enough that a typo (k=100001) is refused instead of running for hours.
MAX_KERNEL = 1001
_KERNEL = (1, MAX_KERNEL)


@dataclass(frozen=True)
class MethodSpec:
    """One compositing method: its function, its params dataclass and the paper it follows.

    ``limits``: the allowed range (lo, hi) of a numeric parameter (of each element of a tuple one),
    or a set / tuple of strings of its allowed values; ``build_params`` checks them and the annotated types.
    ``mode_field`` names the parameter that selects the method's mode and ``ineffective`` lists,
    per mode, the parameters that mode ignores (:func:`ineffective_params`).
    """

    fn: Callable[..., np.ndarray]
    params_type: type
    source: str
    limits: dict[str, Any] = dataclasses.field(default_factory=dict)
    mode_field: Optional[str] = None
    ineffective: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


_PROGRESSIVE_LIMITS = {"kernels": _KERNEL, "edges": (0.0, 1.0)}

#: lens parameters and the modes (``coc``) that ignore them: the relative CoC is
#: strength · width · |d − d_f|, the thin lens uses focal length, f-number and sensor width.
LENS_INEFFECTIVE = {"relative": ("focal_length_mm", "f_number", "sensor_width_mm"), "thin_lens": ("strength",)}

METHODS: dict[str, MethodSpec] = {
    "box": MethodSpec(box_blur, BoxParams,
                      "Nasrullah 2018 baseline (Segmented Image Blurring): 5×5 box blur under the mask",
                      {"k": _KERNEL}),
    "gaussian": MethodSpec(gaussian_uniform, GaussianParams,
                           "Nasrullah 2018 baseline: Gaussian blur, OpenCV sigma rule, under the mask",
                           {"k": _KERNEL}),
    "alpha_blend": MethodSpec(alpha_blend, AlphaBlendParams,
                              "Datar & Bernal: alpha blending I = αF + (1 − α)B with a soft matte",
                              {"k": _KERNEL}),
    "progressive3": MethodSpec(progressive_blur, ProgressiveParams,
                               "Pyzh & Gogarev: progressive blur with kernels 15, 9, 3 by depth",
                               _PROGRESSIVE_LIMITS),
    "progressive13": MethodSpec(progressive_blur, Progressive13Params,
                                "Pyzh & Gogarev / Nikam & Awate: progressive blur with 13 kernels 13…1",
                                _PROGRESSIVE_LIMITS),
    "buckets": MethodSpec(bucket_blur, BucketParams,
                          "Nikam & Awate: fixed 0.2-wide depth buckets, kernel grows with distance",
                          {"bucket_width": (0.001, 1.0), "kernel_step": (0, (MAX_KERNEL - 1) // 2)}),
    "feather": MethodSpec(feather_blend, FeatherParams,
                          "Pyzh & Gogarev: mask feathered with a 45×45 Gaussian, then blended",
                          {"k": _KERNEL, "feather_k": _KERNEL}),
    "lens": MethodSpec(lens_blur, LensParams,
                       "ours: thin-lens CoC, occlusion-aware layers in linear light (Potmesil & "
                       "Chakravarty 1981; Kraus & Strengert 2007), highlights, no halo, blur-fusion "
                       "foreground at soft edges (Forte & Pitié 2021)",
                       {"coc": COC_MODES, "foreground": FOREGROUND_MODES, "focal_length_mm": (1.0, 2000.0), "f_number": (0.5, 64.0),
                        "sensor_width_mm": (1.0, 200.0), "strength": (0.0, 1.0), "max_radius_frac": (0.0, 0.5),
                        "blades": frozenset({0, *range(3, 65)}), "rotation_deg": (-360.0, 360.0),
                        "highlight_threshold": (0.0, 1.0),
                        "highlight_gain": (1.0, 100.0), "max_layers": (1, 64), "work_pixels": (10_000, 100_000_000),
                        "kernel_radius": (1.0, 64.0), "fill_margin_px": (0, 100), "seed": (0, 2**32 - 1)},
                       mode_field="coc", ineffective=LENS_INEFFECTIVE),
}


def build_params(method: str, params: Optional[dict[str, Any]] = None) -> Any:
    """The params dataclass of ``method`` from a plain dict (lists become tuples where the field
    holds a tuple). ValueError, naming the parameter and the method, for an unknown method or
    key, a value of the wrong type (``blades=6.5``, ``f_number=wide``) or outside the method's
    ``limits`` (``k=-3``, ``k=100001``)."""
    spec = _spec(method)
    params = dict(params or {})
    fields = {f.name: f for f in dataclasses.fields(spec.params_type)}
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for method {method!r}; valid: {sorted(fields)}")
    defaults = spec.params_type()
    for key, value in params.items():
        if isinstance(value, list) and (isinstance(getattr(defaults, key), tuple) or key == "edges"):
            params[key] = tuple(value)
    built = spec.params_type(**params)
    try:
        check_types(built)
    except ValueError as exc:
        raise ValueError(f"method {method!r} parameter {exc}") from None
    for key, limit in spec.limits.items():
        _check_limit(method, key, getattr(built, key), limit)
    return built


def _check_limit(method: str, key: str, value: Any, limit: Any) -> None:
    """ValueError when ``value`` (each element of a tuple) is outside ``limit``: (lo, hi) or allowed strings."""
    if value is None:
        return
    if isinstance(limit, (frozenset, set)) or isinstance(limit[0], str):
        if value not in limit or isinstance(value, bool):
            allowed = sorted(limit)
            shown = allowed if len(allowed) < 6 else f"{allowed[0]}, {allowed[1]} … {allowed[-1]}"
            raise ValueError(f"method {method!r} parameter {key}={value!r}: choose one of {shown}")
        return
    lo, hi = limit
    for v in value if isinstance(value, tuple) else (value,):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not (lo <= v <= hi):
            raise ValueError(f"method {method!r} parameter {key}={v!r} is outside [{lo:g}, {hi:g}]")


def ineffective_params(method: str, given: Any, built: Any) -> tuple[Optional[str], list[str]]:
    """(mode, the keys of ``given`` that this mode of ``method`` ignores) for the final params
    ``built`` (e.g. ``f_number`` under ``coc="relative"``: the output does not change with it)."""
    spec = _spec(method)
    if spec.mode_field is None:
        return None, []
    mode = getattr(built, spec.mode_field)
    return mode, [k for k in spec.ineffective.get(mode, ()) if k in given]


def params_to_dict(params: Any) -> dict[str, Any]:
    """A JSON-ready dict of a params dataclass (for saving next to results)."""
    return dataclasses.asdict(params)


def _spec(method: str) -> MethodSpec:
    try:
        return METHODS[method]
    except KeyError:
        raise ValueError(f"unknown method {method!r}; choose from {sorted(METHODS)}") from None


def _check_inputs(image: np.ndarray, mask: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 H×W×3, got {image.dtype} {image.shape}")
    mask = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
    depth = np.asarray(depth, np.float32)
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image {image.shape[:2]}")
    if depth.shape != image.shape[:2]:
        raise ValueError(f"depth shape {depth.shape} does not match image {image.shape[:2]}")
    return np.ascontiguousarray(image), mask, depth


def render(method: str, image: np.ndarray, mask: np.ndarray, depth: np.ndarray, focus_depth: float,
           params: Optional[dict[str, Any]] = None) -> np.ndarray:
    """Render ``image`` with the registered ``method``. See the module docstring for conventions."""
    spec = _spec(method)
    built = build_params(method, params)
    image, mask, depth = _check_inputs(image, mask, depth)
    return spec.fn(image, mask, depth, float(focus_depth), built)


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
    from datasets.synthetic import Lens, coc_radius_px
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
