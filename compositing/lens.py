"""Physically based lens blur (ours): circle of confusion, occlusion-aware layers, linear light.

The model is the layered one of Potmesil & Chakravarty (1981) and Kraus & Strengert (2007): the
scene is cut into depth layers, each layer's premultiplied colour and coverage are spread by the
aperture at its own circle-of-confusion radius, and the layers are composited back to front,
out = Ĉ_i + (1 − α̂_i)·out. A photograph has only one visible surface per pixel, so:

1. Circle of confusion: thin lens (``coc="thin_lens"``: focal length, f-number, focus distance,
   sensor width → radius in pixels, :func:`datasets.synthetic.coc_radius_px`) or, for relative
   depth, ``coc="relative"``: r = strength · width · |d − d_f|. Signed ρ = ±r (+ behind the
   focal plane) orders the layers, |ρ| sizes their blur.
2. Linear light: sRGB is decoded (IEC 61966-2-1); near-white pixels, which a sensor clips, are
   boosted (factor up to ``highlight_gain`` at 255) so that defocused lights become bright discs.
3. The in-focus subject is a separate layer: the background behind it is unknown, so it is
   filled by push-pull interpolation from background pixels only (Gortler et al. 1996) before
   any blur; subject colours never enter the background blur (no halo). At soft edges the
   subject's premultiplied colour is α·F = I − (1 − α)·B (decontaminated), and it is composited
   over the blurred background with its exact matte at full resolution; where α = 1 the input
   pixel is returned unchanged.
4. The background (and anything in front of the subject) is quantised into at most
   ``max_layers`` CoC levels with tent weights (no banding on continuous depth). Back-to-front
   "over" compositing gives occlusion: a near layer is not smeared by the far blur behind it;
   the accumulated colour is normalised by the accumulated coverage where nearer layers left
   gaps. Layers in front of the subject are composited over it, so they blur across its edge.
5. Speed: the layers are built at ≤ ``work_pixels`` and each layer of radius r is blurred at the
   scale where r is at most ``kernel_radius`` px (a blur of radius r at scale s needs r·s px of
   kernel), then upsampled; sharp background keeps its full-resolution detail in proportion to
   how little it is blurred. float32 and OpenCV throughout.
6. Optional grain: blurred regions get Gaussian noise of the photo's estimated noise level
   (Immerkær 1996), so they do not look smoother than the rest of the photo.

Conventions: image uint8 RGB H×W×3 (sRGB), mask float32 H×W in [0, 1], depth float32 H×W
(larger = farther; metres for the thin lens), ``focus_depth`` in the units of ``depth``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from datasets.synthetic import Lens, coc_radius_px

from .kernels import aperture_kernel
from .matte import pushpull_fill

log = logging.getLogger(__name__)

COC_MODES = ("thin_lens", "relative")


@dataclass
class LensParams:
    """Settings of :func:`lens_blur` (see the module docstring for the model)."""

    coc: str = "thin_lens"  # "thin_lens" (depth in metres) or "relative"
    focal_length_mm: float = 85.0
    f_number: float = 1.8
    sensor_width_mm: float = 36.0
    strength: float = 0.02  # relative mode: radius = strength · width · |d − d_f|
    max_radius_frac: float = 0.08  # CoC radius clipped to this fraction of the image width
    blades: int = 0  # 0: disk aperture; n ≥ 3: n-blade polygon
    rotation_deg: float = 0.0
    highlight_threshold: float = 0.97  # sRGB max-channel value where the boost starts (clipped lights)
    highlight_gain: float = 6.0  # linear-light factor reached at 255
    max_layers: int = 10
    work_pixels: int = 1_200_000
    kernel_radius: float = 6.0
    fill_margin_px: int = 2  # background pixels this close to the subject are not fill sources
    grain: bool = False
    seed: int = 0


# ---------------------------------------------------------------- colour


def _srgb_to_linear_lut() -> np.ndarray:
    v = np.arange(256, dtype=np.float64) / 255.0
    lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return lin.astype(np.float32).reshape(1, 256)


_SRGB_TO_LINEAR = _srgb_to_linear_lut()
_SQRT_LUT_SIZE = 8192


def _linear_to_srgb_lut() -> np.ndarray:
    # indexed by sqrt(linear): even precision over the whole range (see linear_to_srgb8)
    s = np.arange(_SQRT_LUT_SIZE, dtype=np.float64) / (_SQRT_LUT_SIZE - 1)
    x = s * s
    srgb = np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return np.clip(np.rint(srgb * 255.0), 0, 255).astype(np.uint8)


_LINEAR_TO_SRGB = _linear_to_srgb_lut()


def srgb8_to_linear(image: np.ndarray) -> np.ndarray:
    """uint8 sRGB → float32 linear light in [0, 1] (IEC 61966-2-1), via a 256-entry table."""
    return cv2.LUT(image, _SRGB_TO_LINEAR)


def linear_to_srgb8(linear: np.ndarray) -> np.ndarray:
    """float32 linear light → uint8 sRGB (clipped to [0, 1]); a table indexed by √x keeps the
    error below one code value everywhere and inverts :func:`srgb8_to_linear` exactly."""
    s = cv2.sqrt(np.clip(linear, 0.0, 1.0))
    idx = (s * np.float32(_SQRT_LUT_SIZE - 1) + np.float32(0.5)).astype(np.uint16)
    return _LINEAR_TO_SRGB[idx]


def highlight_factor(image: np.ndarray, threshold: float, gain: float) -> np.ndarray | None:
    """Per-pixel linear boost 1 + (gain − 1)·((v − t)/(1 − t))², v = max channel in [0, 1];
    None when no pixel reaches the threshold. float32 H×W."""
    t8 = int(np.ceil(threshold * 255.0))
    if gain <= 1.0 or t8 > 255:
        return None
    vmax = cv2.max(cv2.max(image[..., 0], image[..., 1]), image[..., 2])
    if int(vmax.max()) < t8:
        return None
    v = np.arange(256, dtype=np.float64) / 255.0
    ramp = np.clip((v - threshold) / max(1.0 - threshold, 1e-6), 0.0, 1.0)
    lut = (1.0 + (gain - 1.0) * ramp**2).astype(np.float32).reshape(1, 256)
    return cv2.LUT(vmax, lut)


# ---------------------------------------------------------------- circle of confusion


def coc_radius(depth: np.ndarray, focus_depth: float, params: LensParams, width_px: int) -> np.ndarray:
    """Signed circle-of-confusion radius ρ in pixels (+ behind the focal plane, − in front),
    |ρ| clipped to ``max_radius_frac · width_px``. float32, shape of ``depth``."""
    depth = np.asarray(depth, np.float32)
    if params.coc == "thin_lens":
        lens = Lens(params.focal_length_mm, params.f_number, params.sensor_width_mm)
        safe = np.maximum(depth, np.float32(1e-3))
        r = coc_radius_px(safe, focus_depth, lens, width_px)
    elif params.coc == "relative":
        r = np.float32(params.strength * width_px) * np.abs(depth - np.float32(focus_depth))
    else:
        raise ValueError(f"unknown coc mode {params.coc!r}; choose from {COC_MODES}")
    r = np.minimum(r, np.float32(params.max_radius_frac * width_px))
    return np.where(depth >= focus_depth, r, -r).astype(np.float32)


# ---------------------------------------------------------------- layers


def blur_layer(stack: np.ndarray, radius: float, params: LensParams) -> np.ndarray:
    """Spread a premultiplied H×W×C stack by the aperture of ``radius`` px: blurred at the scale
    where the radius is ``kernel_radius`` (if smaller than 1), then upsampled back."""
    if radius < 0.5:
        return stack
    h, w = stack.shape[:2]
    scale = min(1.0, params.kernel_radius / radius)
    small = stack
    if scale < 1.0:
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        small = cv2.resize(stack, (sw, sh), interpolation=cv2.INTER_AREA)
        radius = radius * sw / w
    kernel = aperture_kernel(radius, params.blades, params.rotation_deg)
    out = cv2.filter2D(small, -1, kernel, borderType=cv2.BORDER_REFLECT)
    if scale < 1.0:
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    return out.reshape(stack.shape)


def layer_levels(rho: np.ndarray, weight: np.ndarray, max_layers: int) -> np.ndarray:
    """CoC levels (ascending signed radii) for the pixels with weight > 0: the distinct values
    when there are at most ``max_layers`` (scenes of flat layers are then exact), else levels
    evenly spaced in sign(ρ)·√|ρ| (finer near the focal plane, where blur changes fastest)."""
    vals = rho[weight > 0]
    if vals.size == 0:
        return np.zeros(0, np.float32)
    if vals.size > 200_000:
        vals = vals[:: vals.size // 200_000]
    distinct = np.unique(np.round(vals * 20.0) / 20.0)
    if distinct.size <= max_layers:
        return distinct.astype(np.float32)
    lo, hi = float(vals.min()), float(vals.max())
    u = np.linspace(np.sign(lo) * np.sqrt(abs(lo)), np.sign(hi) * np.sqrt(abs(hi)), max_layers)
    return (np.sign(u) * u * u).astype(np.float32)


def composite_layers(color: np.ndarray, rho: np.ndarray, weight: np.ndarray, levels: np.ndarray,
                     params: LensParams) -> tuple[np.ndarray, np.ndarray]:
    """Tent-weight pixels onto ``levels``, spread each layer by its aperture and composite back
    to front. Returns premultiplied colour H×W×3 and coverage H×W (float32)."""
    h, w = rho.shape
    out = np.zeros((h, w, 4), np.float32)
    if levels.size == 0:
        return out[..., :3], out[..., 3]
    if levels.size == 1:
        j = np.zeros((h, w), np.int32)
        t = np.zeros((h, w), np.float32)
    else:
        r = np.clip(rho, levels[0], levels[-1])
        j = np.clip(np.searchsorted(levels, r, side="right") - 1, 0, levels.size - 2).astype(np.int32)
        t = ((r - levels[j]) / (levels[j + 1] - levels[j])).astype(np.float32)
    stack = np.empty((h, w, 4), np.float32)
    for i in range(levels.size - 1, -1, -1):  # largest ρ (farthest) first
        wi = np.where(j == i, 1.0 - t, 0.0) + np.where(j == i - 1, t, 0.0)
        wi = (wi * weight).astype(np.float32)
        if not wi.any():
            continue
        stack[..., :3] = color * wi[..., None]
        stack[..., 3] = wi
        layer = blur_layer(stack, abs(float(levels[i])), params)
        out *= 1.0 - np.clip(layer[..., 3:4], 0.0, 1.0)
        out += layer
    return out[..., :3], out[..., 3]


# ---------------------------------------------------------------- grain


def estimate_noise(image: np.ndarray, max_side: int = 1024) -> float:
    """Noise standard deviation in code values, Immerkær (1996): σ = √(π/2)/(6(W−2)(H−2)) Σ|I ∗ N|
    with N the difference of two Laplacians, on the grey image (a centre crop when large)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = grey.shape
    if max(h, w) > max_side:
        y0, x0 = max(0, (h - max_side) // 2), max(0, (w - max_side) // 2)
        grey = grey[y0:y0 + max_side, x0:x0 + max_side]
    if min(grey.shape) < 3:
        return 0.0
    n = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    resp = np.abs(cv2.filter2D(grey, -1, n)[1:-1, 1:-1])
    return float(np.sqrt(np.pi / 2.0) * resp.mean() / 6.0)


# ---------------------------------------------------------------- main


def lens_blur(image: np.ndarray, mask: np.ndarray, depth: np.ndarray, focus_depth: float,
              params: LensParams) -> np.ndarray:
    """Render shallow depth of field (see the module docstring). uint8 RGB H×W×3 out."""
    image = np.ascontiguousarray(image, np.uint8)
    h, w = image.shape[:2]
    mask = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
    depth = np.asarray(depth, np.float32)
    if image.ndim != 3 or image.shape[2] != 3 or mask.shape != (h, w) or depth.shape != (h, w):
        raise ValueError(f"need image H×W×3 with mask and depth H×W, got {image.shape}, {mask.shape}, {depth.shape}")
    if params.max_layers < 1 or params.kernel_radius < 1 or params.work_pixels < 1:
        raise ValueError("max_layers, kernel_radius and work_pixels must be positive")

    # working resolution
    s0 = min(1.0, float(np.sqrt(params.work_pixels / float(h * w))))
    ww, wh = (w, h) if s0 >= 1.0 else (max(1, round(w * s0)), max(1, round(h * s0)))
    full = (ww, wh) == (w, h)
    sx = ww / w

    def down(x: np.ndarray) -> np.ndarray:
        return x if full else cv2.resize(x, (ww, wh), interpolation=cv2.INTER_AREA)

    def up(x: np.ndarray) -> np.ndarray:
        return x if full else cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR)

    lin = srgb8_to_linear(image)
    low = down(lin)
    boost = highlight_factor(image, params.highlight_threshold, params.highlight_gain)
    low_boost = low if boost is None else down(lin * boost[..., None])
    alpha_low = down(mask)
    depth_low = down(depth)
    rho_full_px = coc_radius(depth_low, focus_depth, params, w)  # radius in full-res px
    rho = rho_full_px * np.float32(sx)  # radius in working px

    # the subject: a separate, exactly composited layer when it is in focus
    subject = mask > 0.5
    subject_in_focus = False
    if subject.any():
        d_subject = float(np.median(depth[subject]))
        rho_subject = float(coc_radius(np.float32(d_subject), focus_depth, params, w))
        subject_in_focus = abs(rho_subject) < 0.5
    # boosted highlights only where the blur makes them discs (radius ≥ 1 px at full size)
    grow = np.clip(np.abs(rho_full_px) - 1.0, 0.0, 1.0)[..., None]
    color = low + (low_boost - low) * grow

    if subject_in_focus:
        near = float(np.percentile(depth[subject], 5))
        front = (depth_low < near) & (alpha_low < 0.5)
        se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * params.fill_margin_px + 1,) * 2)
        touched = cv2.dilate((alpha_low > 0.02).astype(np.uint8), se) > 0
        source = (~touched & ~front).astype(np.float32)
        if source.any():
            color_bg = pushpull_fill(color, source)
            b_est = pushpull_fill(low, source)
            rho_bg = pushpull_fill(rho, source)
        else:  # the subject fills the frame: nothing behind it to blur
            color_bg, b_est, rho_bg = color, low, rho
        levels = layer_levels(rho_bg, np.ones_like(rho_bg), params.max_layers)
        prem, cov = composite_layers(color_bg, rho_bg, np.ones_like(rho_bg), levels, params)
        background = prem / np.maximum(cov, 1e-6)[..., None]
        front_w = front.astype(np.float32)
    else:
        levels = layer_levels(rho, np.ones_like(rho), params.max_layers)
        prem, cov = composite_layers(color, rho, np.ones_like(rho), levels, params)
        background = prem / np.maximum(cov, 1e-6)[..., None]
        front_w = np.zeros_like(rho)
        b_est = None

    # full resolution: blurred background + the detail of what stays sharp
    out = up(background)
    if not full:
        r_cut = 1.5 / sx  # above this radius the working-resolution blur is all there is
        keep = np.clip(1.0 - (np.abs(rho_full_px) - 0.5) / (r_cut - 0.5), 0.0, 1.0)
        if keep.max() > 0:
            out += up(keep)[..., None] * (lin - up(low))
    if subject_in_focus:
        a_full = mask
        edge = (a_full > 1.0 / 512) & (a_full < 1.0 - 1.0 / 512)
        if edge.any():
            a = a_full[edge][:, None]
            b_full = up(b_est)[edge]
            fg_premul = np.maximum(lin[edge] - (1.0 - a) * b_full, 0.0)
            out[edge] = fg_premul + (1.0 - a) * out[edge]
        inside = a_full >= 1.0 - 1.0 / 512
        out[inside] = lin[inside]
    if front_w.any():
        levels_f = layer_levels(rho, front_w, params.max_layers)
        prem_f, cov_f = composite_layers(color, rho, front_w, levels_f, params)
        cov_f = np.clip(cov_f, 0.0, 1.0)
        out = up(prem_f) + (1.0 - up(cov_f))[..., None] * out
    result = linear_to_srgb8(out)
    if subject_in_focus:
        untouched = (mask >= 1.0 - 1.0 / 512)
        if front_w.any():
            untouched &= up(cov_f) < 1.0 / 512
        cv2.copyTo(image, untouched.astype(np.uint8), result)
    if params.grain:
        result = _add_grain(result, image, mask if subject_in_focus else np.zeros_like(mask),
                            up(np.clip(np.abs(rho_full_px) - 0.5, 0.0, 1.0)), params.seed)
    return result


def _add_grain(result: np.ndarray, image: np.ndarray, mask: np.ndarray, blurred: np.ndarray,
               seed: int) -> np.ndarray:
    """Add luminance noise of the photo's estimated σ where the output was blurred."""
    sigma = estimate_noise(image)
    if sigma <= 0.0:
        return result
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(result.shape[:2], dtype=np.float32) * np.float32(sigma)
    noise *= blurred * (1.0 - mask)
    return np.clip(result.astype(np.float32) + noise[..., None] + 0.5, 0, 255).astype(np.uint8)
