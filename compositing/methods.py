"""The compositor's methods: name → function, params dataclass and source (:data:`METHODS`).

Every method is ``fn(image, mask, depth, focus_depth, params) -> image`` with image uint8 RGB
H×W×3, mask float32 H×W in [0, 1] (1 = subject), depth float32 H×W (larger = farther),
``focus_depth`` in the units of depth and ``params`` the method's dataclass. ``METHODS`` maps the
names users type after ``--method`` to a :class:`MethodSpec`; :func:`build_params` builds and
checks the params from a plain dict (as saved next to results with :func:`params_to_dict`) against
their fields' declarations (:func:`plumbing.fields.setting`: a parameter's range is declared once,
on its field) and
:func:`render` renders one method on given planes. The per-photo pipeline that prepares those
planes is :mod:`compositing.pipeline`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Optional

import cv2
import numpy as np

from plumbing import fields
from plumbing.fields import setting

from . import matte
from .lens import LensParams, lens_blur
from .progressive import (MAX_KERNEL, BucketParams, Progressive13Params, ProgressiveParams, bucket_blur,
                          gaussian_blur, paste_subject, progressive_blur)


@dataclass
class BoxParams:
    """k×k box filter (Nasrullah 2018 baseline uses 5×5)."""

    k: int = setting(5, "kernel size", lo=1, hi=MAX_KERNEL)


@dataclass
class GaussianParams:
    """k×k Gaussian with OpenCV's sigma rule σ = 0.3((k − 1)/2 − 1) + 0.8."""

    k: int = setting(21, "kernel size", lo=1, hi=MAX_KERNEL)


@dataclass
class AlphaBlendParams:
    """Gaussian background blur of size k, blended with the soft matte."""

    k: int = setting(21, "kernel size", lo=1, hi=MAX_KERNEL)


@dataclass
class FeatherParams:
    """Gaussian background blur of size k; the hard mask is feathered by a
    ``feather_k``×``feather_k`` Gaussian (45 in Pyzh & Gogarev) before blending."""

    k: int = setting(21, "kernel size of the background blur", lo=1, hi=MAX_KERNEL)
    feather_k: int = setting(45, "kernel size of the mask's feathering", lo=1, hi=MAX_KERNEL)


def _hard(mask: np.ndarray) -> np.ndarray:
    return (mask > 0.5).astype(np.float32)


def box_blur(image: np.ndarray, mask: np.ndarray, depth: np.ndarray, focus_depth: float,
             params: BoxParams) -> np.ndarray:
    """Uniform box blur of the whole image pasted under the hard mask (Nasrullah 2018 baseline,
    "Segmented Image Blurring")."""
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


@dataclass(frozen=True)
class MethodSpec:
    """One compositing method: its function, its params dataclass (whose fields declare their ranges
    and allowed values) and the paper it follows.
    ``mode_field`` names the parameter that selects the method's mode and ``ineffective`` lists,
    per mode, the parameters that mode ignores (:func:`ineffective_params`).
    """

    fn: Callable[..., np.ndarray]
    params_type: type
    source: str
    mode_field: Optional[str] = None
    ineffective: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


#: lens parameters and the modes (``coc``) that ignore them: the relative CoC is
#: strength · width · |d − d_f|, the thin lens uses focal length, f-number and sensor width.
LENS_INEFFECTIVE = {"relative": ("focal_length_mm", "f_number", "sensor_width_mm"), "thin_lens": ("strength",)}

METHODS: dict[str, MethodSpec] = {
    "box": MethodSpec(box_blur, BoxParams,
                      "Nasrullah 2018 baseline (Segmented Image Blurring): 5×5 box blur under the mask"),
    "gaussian": MethodSpec(gaussian_uniform, GaussianParams,
                           "Nasrullah 2018 baseline: Gaussian blur, OpenCV sigma rule, under the mask"),
    "alpha_blend": MethodSpec(alpha_blend, AlphaBlendParams,
                              "Datar & Bernal: alpha blending I = αF + (1 − α)B with a soft matte"),
    "progressive3": MethodSpec(progressive_blur, ProgressiveParams,
                               "Pyzh & Gogarev: progressive blur with kernels 15, 9, 3 by depth"),
    "progressive13": MethodSpec(progressive_blur, Progressive13Params,
                                "Pyzh & Gogarev / Nikam & Awate: progressive blur with 13 kernels 13…1"),
    "buckets": MethodSpec(bucket_blur, BucketParams,
                          "Nikam & Awate: fixed 0.2-wide depth buckets, kernel grows with distance"),
    "feather": MethodSpec(feather_blend, FeatherParams,
                          "Pyzh & Gogarev: mask feathered with a 45×45 Gaussian, then blended"),
    "lens": MethodSpec(lens_blur, LensParams,
                       "ours: thin-lens CoC, occlusion-aware layers in linear light (Potmesil & "
                       "Chakravarty 1981; Kraus & Strengert 2007), highlights, no halo, blur-fusion "
                       "foreground at soft edges (Forte & Pitié 2021)",
                       mode_field="coc", ineffective=LENS_INEFFECTIVE),
}


def build_params(method: str, params: Optional[dict[str, Any]] = None) -> Any:
    """The params dataclass of ``method`` from a plain dict (lists become tuples where the field
    holds a tuple). ValueError, naming the parameter and the method, for an unknown method or
    key, a value of the wrong type (``blades=6.5``, ``f_number=wide``) or outside what its field
    declares (``k=-3``, ``k=100001``, ``blades=2``)."""
    spec = _spec(method)
    params = dict(params or {})
    names = {f.name for f in dataclasses.fields(spec.params_type)}
    unknown = sorted(set(params) - names)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for method {method!r}; valid: {sorted(names)}")
    defaults = spec.params_type()
    for key, value in params.items():
        if isinstance(value, list) and (isinstance(getattr(defaults, key), tuple) or key == "edges"):
            params[key] = tuple(value)
    built = spec.params_type(**params)
    try:
        fields.check(built)
    except ValueError as exc:
        raise ValueError(f"method {method!r} parameter {exc}") from None
    return built


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


