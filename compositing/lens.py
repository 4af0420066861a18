"""Physically based lens blur (ours): circle of confusion, occlusion-aware layers, linear light.

The model is the layered one of Potmesil & Chakravarty (1981) and Kraus & Strengert (2007): the
scene is cut into depth layers, each layer's premultiplied colour and coverage are spread by the
aperture at its own circle-of-confusion radius, and the layers are composited back to front,
out = Ĉ_i + (1 − α̂_i)·out. A photograph has only one visible surface per pixel, so:

1. Circle of confusion: thin lens (``coc="thin_lens"``: focal length, f-number, focus distance,
   sensor width → radius in pixels, :func:`compositing.optics.coc_radius_px`) or, for relative
   depth, ``coc="relative"``: r = strength · width · |d − d_f|. Signed ρ = ±r (+ behind the
   focal plane) orders the layers, |ρ| sizes their blur.
2. Linear light: sRGB is decoded (IEC 61966-2-1, :mod:`datasets.colour`); near-white pixels, which a sensor clips, are
   boosted (factor up to ``highlight_gain`` at 255) so that defocused lights become bright discs;
   only isolated lights, much brighter than their surroundings (a window of 1 % of the image),
   get the full boost, so clipped skies, shirts and bright textures are not inflated.
3. The in-focus subject is a separate layer: the background behind it is unknown, so it is
   filled by push-pull interpolation from background pixels only (Gortler et al. 1996) before
   any blur; subject colours never enter the background blur (no halo). At soft edges the
   subject's colour F̂ is estimated by blur-fusion (Forte & Pitié 2021; ``foreground="subtract"``
   takes α·F = I − (1 − α)·B̃ instead, which keeps the background's texture seen through the
   edge, a sharp rim), and out = α·F̂ + (1 − α)·blur(B) with the exact matte at full
   resolution; where α = 1 the input pixel is returned unchanged.
4. The background (and anything in front of the subject) is quantised into at most
   ``max_layers`` CoC levels with tent weights (no banding on continuous depth). Back-to-front
   "over" compositing gives occlusion: a near layer is not smeared by the far blur behind it;
   the accumulated colour is normalised by the accumulated coverage where nearer layers left
   gaps. Layers in front of the subject are composited over it, so they blur across its edge.
5. Speed: the layers are built at ≤ ``work_pixels`` (coarser still, down to a quarter of that
   scale, when 95 % of the background has a radius of at least ``kernel_radius`` there) and
   each layer of radius r is blurred at the scale where r is at most ``kernel_radius`` px (a blur
   of radius r at scale s needs r·s px of kernel), then upsampled; sharp background keeps its
   full-resolution detail in proportion to how little it is blurred. float32 and OpenCV
   throughout.
6. Grain (``grain``; on in the photo path, compositing.pipeline.render_photo): where the blur
   removed the photo's sensor noise, a new realisation of that noise is added
   (:mod:`compositing.grain`), as a camera's sensor adds it after the optics. Off by default
   here: synthetic ground truth (datasets.synthetic) is an optical render without a sensor.

Conventions: image uint8 RGB H×W×3 (sRGB), mask float32 H×W in [0, 1], depth float32 H×W
(larger = farther; metres for the thin lens), ``focus_depth`` in the units of ``depth``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from datasets.colour import SRGB8_TO_LINEAR, linear_to_srgb8, srgb8_to_linear
from plumbing.fields import setting

from . import grain
from .kernels import aperture_kernel
from .matte import fuse_foreground, fusion_means, pushpull_fill
from .optics import PORTRAIT_LENS, Lens, coc_radius_px

log = logging.getLogger(__name__)

COC_MODES = ("thin_lens", "relative")
FOREGROUND_MODES = ("blur_fusion", "subtract")


@dataclass
class LensParams:
    """Settings of :func:`lens_blur` (see the module docstring for the model); each field declares
    its range or allowed values, which :func:`compositing.methods.build_params` checks."""

    coc: str = setting("thin_lens", "circle of confusion: thin lens (depth in metres) or relative", COC_MODES)
    focal_length_mm: float = setting(PORTRAIT_LENS.focal_length_mm, "focal length (thin lens; the project's one "
                                     "default lens, compositing.optics)", lo=1.0, hi=2000.0)
    f_number: float = setting(PORTRAIT_LENS.f_number, "f-number (thin lens)", lo=0.5, hi=64.0)
    sensor_width_mm: float = setting(PORTRAIT_LENS.sensor_width_mm, "sensor width (thin lens)", lo=1.0, hi=200.0)
    # 0.0085 puts the far background's blur of real portraits at the median of real shallow-DoF
    # photos' (evaluation/defocus.py; bench/BENCHMARKS.md, "Real portraits"): what an 85 mm f/1.8
    # focused at 3 m gives the prior's background (compositing.optics.relative_strength)
    strength: float = setting(0.0085, "relative mode: radius = strength · width · |d − d_f|", lo=0.0, hi=1.0)
    max_radius_frac: float = setting(0.08, "CoC radius clipped to this fraction of the image width", lo=0.0, hi=0.5)
    blades: int = setting(0, "0: disk aperture; n ≥ 3: n-blade polygon", (0, *range(3, 65)))
    rotation_deg: float = setting(0.0, "rotation of the polygon aperture", lo=-360.0, hi=360.0)
    highlight_threshold: float = setting(0.97, "sRGB max-channel value where the boost starts (clipped lights)",
                                         lo=0.0, hi=1.0)
    highlight_gain: float = setting(6.0, "linear-light factor reached at 255", lo=1.0, hi=100.0)
    max_layers: int = setting(10, "CoC levels of the background", lo=1, hi=64)
    work_pixels: int = setting(500_000, "pixels of the working resolution of the layers", lo=10_000, hi=100_000_000)
    kernel_radius: float = setting(8.0, "largest kernel radius in px: larger blurs run at a smaller scale", lo=1.0, hi=64.0)
    fill_margin_px: int = setting(2, "background pixels this close to the subject are not fill sources", lo=0, hi=100)
    foreground: str = setting("blur_fusion", "subject colour at soft edges", FOREGROUND_MODES)
    grain: bool = setting(False, "re-synthesise the photo's noise over the blurred background (compositing.grain)")
    seed: int = setting(0, "grain seed (combined with a checksum of the photo)", lo=0, hi=2**32 - 1)


# ---------------------------------------------------------------- colour


def highlight_factor(vmax: np.ndarray, threshold: float, gain: float) -> np.ndarray:
    """Linear-light boost 1 + (gain − 1)·((v − t)/(1 − t))² for max-channel values ``vmax``
    (uint8, v = vmax/255); 1 below the threshold t. float32, shape of ``vmax``."""
    v = np.arange(256, dtype=np.float64) / 255.0
    ramp = np.clip((v - threshold) / max(1.0 - threshold, 1e-6), 0.0, 1.0)
    lut = (1.0 + (max(gain, 1.0) - 1.0) * ramp**2).astype(np.float32)
    return lut[np.asarray(vmax, np.uint8)]


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


def _layer_scale(radius: float, params: LensParams) -> float:
    """Scale at which a blur of ``radius`` px needs at most ``kernel_radius`` px of kernel."""
    return 1.0 if radius <= params.kernel_radius else params.kernel_radius / radius


def blur_layer(stack: np.ndarray, radius: float, params: LensParams) -> np.ndarray:
    """Spread a premultiplied H×W×C stack by the aperture of ``radius`` px, returned at the
    smaller scale where the radius is at most ``kernel_radius`` px (resample it to use it)."""
    if radius < 0.5:
        return stack
    h, w = stack.shape[:2]
    scale = _layer_scale(radius, params)
    small = stack
    if scale < 1.0:
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        small = cv2.resize(stack, (sw, sh), interpolation=cv2.INTER_AREA)
        radius = radius * sw / w
    kernel = aperture_kernel(radius, params.blades, params.rotation_deg)
    out = cv2.filter2D(small, -1, kernel, borderType=cv2.BORDER_REFLECT)
    return out.reshape(small.shape)


def layer_levels(rho: np.ndarray, weight: np.ndarray, max_layers: int, step: float = 0.4) -> np.ndarray:
    """CoC levels (ascending signed radii) for the pixels with weight > 0: the distinct values
    when there are at most ``max_layers`` (scenes of flat layers are then exact), else levels
    evenly spaced in u = sign(ρ)·√|ρ| (finer near the focal plane, where blur changes fastest),
    ``step`` apart in u or closer, at most ``max_layers`` of them."""
    vals = rho[weight > 0]
    if vals.size == 0:
        return np.zeros(0, np.float32)
    if vals.size > 200_000:
        vals = vals[:: vals.size // 200_000]
    distinct = np.unique(np.round(vals * 20.0) / 20.0)
    if distinct.size <= max_layers:
        return distinct.astype(np.float32)
    lo, hi = float(vals.min()), float(vals.max())
    u_lo, u_hi = np.sign(lo) * np.sqrt(abs(lo)), np.sign(hi) * np.sqrt(abs(hi))
    n = int(np.clip(np.ceil((u_hi - u_lo) / step) + 1, 2, max(2, max_layers)))
    u = np.linspace(u_lo, u_hi, n)
    return (np.sign(u) * u * u).astype(np.float32)


def _resize(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if x.shape[:2] == shape:
        return x
    out = cv2.resize(x, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return out.reshape(shape + x.shape[2:])


def _span(lo_per_line: np.ndarray, hi_per_line: np.ndarray, i: int, margin: int) -> slice | None:
    """Lines whose layer indices [lo, hi] meet layer i or i − 1 (its tent), widened by margin."""
    hit = np.flatnonzero((lo_per_line <= i) & (hi_per_line >= i - 1))
    if hit.size == 0:
        return None
    return slice(max(0, int(hit[0]) - margin), min(lo_per_line.size, int(hit[-1]) + 1 + margin))


def composite_layers(color: np.ndarray, rho: np.ndarray, weight: np.ndarray, levels: np.ndarray,
                     params: LensParams) -> tuple[np.ndarray, np.ndarray]:
    """Tent-weight pixels onto ``levels``, spread each layer by its aperture and composite back
    to front: out = Ĉ_i + (1 − α̂_i)·out. Each layer is processed only on the rows and columns
    it touches (plus its blur radius). Returns premultiplied colour H×W×3 and coverage H×W,
    float32."""
    h, w = rho.shape
    acc_c = np.zeros((h, w, 3), np.float32)
    acc_a = np.zeros((h, w), np.float32)
    if levels.size == 0:
        return acc_c, acc_a
    if levels.size == 1:
        j = np.zeros((h, w), np.int32)
        t = np.zeros((h, w), np.float32)
    else:
        r = np.clip(rho, levels[0], levels[-1])
        j = np.clip(np.searchsorted(levels, r, side="right") - 1, 0, levels.size - 2).astype(np.int32)
        t = ((r - levels[j]) / (levels[j + 1] - levels[j])).astype(np.float32)
    near_w = (1.0 - t) * weight  # weight on level j
    far_w = t * weight  # weight on level j + 1
    jr = (j.min(axis=1), j.max(axis=1))
    jc = (j.min(axis=0), j.max(axis=0))
    for i in range(levels.size - 1, -1, -1):  # largest ρ (farthest) first
        radius = abs(float(levels[i]))
        margin = int(np.ceil(radius)) + 2
        rows, cols = _span(*jr, i, margin), _span(*jc, i, margin)
        if rows is None or cols is None:
            continue
        jj = j[rows, cols]
        wi = np.where(jj == i, near_w[rows, cols], 0.0).astype(np.float32)
        if i > 0:
            wi += np.where(jj == i - 1, far_w[rows, cols], 0.0)
        if not wi.any():
            continue
        premul = color[rows, cols] * wi[..., None]
        layer_c = _resize(blur_layer(premul, radius, params), wi.shape)
        layer_a = np.clip(_resize(blur_layer(wi, radius, params), wi.shape), 0.0, 1.0)
        cover = 1.0 - layer_a
        region_c, region_a = acc_c[rows, cols], acc_a[rows, cols]
        region_c *= cover[..., None]
        region_c += layer_c
        region_a *= cover
        region_a += layer_a
    return acc_c, acc_a


# ---------------------------------------------------------------- main


def _src_coords(n_dst: int, n_src: int, start: int, stop: int) -> np.ndarray:
    """Source coordinates of destination pixel centres ``start..stop`` for a resize n_src → n_dst
    (OpenCV's INTER_LINEAR convention)."""
    f = n_src / n_dst
    return ((np.arange(start, stop, dtype=np.float32) + 0.5) * f - 0.5).astype(np.float32)


def _upsample_region(x: np.ndarray, full: tuple[int, int], rows: slice, cols: slice) -> np.ndarray:
    """Rows/cols of ``cv2.resize(x, full, INTER_LINEAR)`` without computing the rest."""
    h, w = full
    ys = _src_coords(h, x.shape[0], rows.start, rows.stop)
    xs = _src_coords(w, x.shape[1], cols.start, cols.stop)
    map_x = np.broadcast_to(xs[None, :], (ys.size, xs.size)).astype(np.float32)
    map_y = np.broadcast_to(ys[:, None], (ys.size, xs.size)).astype(np.float32)
    out = cv2.remap(x, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape((ys.size, xs.size) + x.shape[2:])


def _sample(x: np.ndarray, full: tuple[int, int], yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """``cv2.resize(x, full, INTER_LINEAR)`` at full-resolution pixels (yy, xx) only."""
    h, w = full
    n = yy.size
    if n == 0:
        return np.zeros((0,) + x.shape[2:], np.float32)
    cols = 4096
    rows = -(-n // cols)
    pad = rows * cols - n
    map_y = np.pad((yy + 0.5) * (x.shape[0] / h) - 0.5, (0, pad)).astype(np.float32).reshape(rows, cols)
    map_x = np.pad((xx + 0.5) * (x.shape[1] / w) - 0.5, (0, pad)).astype(np.float32).reshape(rows, cols)
    out = cv2.remap(x, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape((rows * cols,) + x.shape[2:])[:n]


def _bbox(mask: np.ndarray, full: tuple[int, int], pad: int = 2) -> tuple[slice, slice] | None:
    """Full-resolution rows/cols covering the True pixels of a low-resolution boolean map."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    fy, fx = full[0] / mask.shape[0], full[1] / mask.shape[1]
    y0, y1 = max(0, int((ys.min() - pad) * fy)), min(full[0], int(np.ceil((ys.max() + 1 + pad) * fy)))
    x0, x1 = max(0, int((xs.min() - pad) * fx)), min(full[1], int(np.ceil((xs.max() + 1 + pad) * fx)))
    return slice(y0, y1), slice(x0, x1)


def _boosted_low(image: np.ndarray, lin_low: np.ndarray, params: LensParams) -> np.ndarray:
    """Area-downscaled linear image with near-white pixels boosted (:func:`highlight_factor`):
    the boost's excess is scattered onto the working grid, so only highlight pixels cost."""
    h, w = image.shape[:2]
    t8 = int(np.ceil(params.highlight_threshold * 255.0))
    if params.highlight_gain <= 1.0 or t8 > 255 or int(image.max()) < t8:
        return lin_low
    # pixel indices with any channel at or above the threshold (highlights are sparse)
    idx = np.unique(np.flatnonzero(image.reshape(-1) >= t8) // 3)
    vmax = image.reshape(-1, 3)[idx].max(axis=1)
    factor = highlight_factor(vmax, params.highlight_threshold, params.highlight_gain)
    # only isolated lights are boosted: a clipped pixel in a bright area (sky, white shirt,
    # bright texture) is not a point source. isolation = ((v − local mean) / v)², the local mean
    # being the grey level (linear light, in code values) over a window of 1 % of the image
    # size, at least 9 px, taken from the working-size image
    lh, lw = lin_low.shape[:2]
    k = max(9.0, 0.01 * max(h, w)) * lw / w
    grey = cv2.cvtColor(lin_low, cv2.COLOR_RGB2GRAY)
    kk = max(1, int(round(k)) | 1)
    grey = cv2.blur(grey, (kk, kk))
    yy, xx = np.divmod(idx, w)
    cell = (yy * lh // h) * lw + (xx * lw // w)
    local = linear_to_srgb8(grey.reshape(-1)[cell]).astype(np.float32)
    v = vmax.astype(np.float32)
    isolation = np.clip((v - local) / v, 0.0, 1.0) ** 2
    factor = 1.0 + (factor - 1.0) * isolation
    excess = SRGB8_TO_LINEAR[image.reshape(-1, 3)[idx]] * (factor.reshape(-1, 1) - 1.0)
    area = (lh * lw) / float(h * w)
    out = lin_low.copy()
    flat = out.reshape(-1, 3)
    for c in range(3):
        flat[:, c] += np.bincount(cell, weights=excess[:, c], minlength=lh * lw).astype(np.float32) * area
    return out


def lens_blur(image: np.ndarray, mask: np.ndarray, depth: np.ndarray, focus_depth: float,
              params: LensParams) -> np.ndarray:
    """Render shallow depth of field (see the module docstring). uint8 RGB H×W×3 out. ``params``
    within the ranges its fields declare (:func:`compositing.methods.build_params` and
    :func:`compositing.methods.render` check them)."""
    # longer than 80 lines: its stages (working resolution, the fill behind the subject, the
    # background layers, full-resolution detail, the subject's matte, front objects, grain) share a
    # dozen planes at two resolutions
    image = np.ascontiguousarray(image, np.uint8)
    h, w = image.shape[:2]
    mask = np.ascontiguousarray(mask, np.float32)  # values outside [0, 1] act as 0 or 1
    depth = np.ascontiguousarray(depth, np.float32)
    if image.ndim != 3 or image.shape[2] != 3 or mask.shape != (h, w) or depth.shape != (h, w):
        raise ValueError(f"need image H×W×3 with mask and depth H×W, got {image.shape}, {mask.shape}, {depth.shape}")
    full = (h, w)

    # working resolution: area-downscaled linear light, matte and depth
    s0 = min(1.0, float(np.sqrt(params.work_pixels / float(h * w))))
    work = (h, w) if s0 >= 1.0 else (max(1, round(h * s0)), max(1, round(w * s0)))

    def down(x: np.ndarray) -> np.ndarray:
        return x if work == full else cv2.resize(x, (work[1], work[0]), interpolation=cv2.INTER_AREA)

    low = down(srgb8_to_linear(image))
    low_boost = _boosted_low(image, low, params)
    alpha_low = np.clip(down(mask), 0.0, 1.0)
    depth_low = down(depth)
    rho_px = coc_radius(depth_low, focus_depth, params, w)  # signed radius in full-res px
    # when nearly all of the background is blurred a lot, a coarser grid resolves it as well
    # (its smallest common radius stays ≥ kernel_radius working px): much less work
    behind = np.abs(rho_px[alpha_low < 0.5])
    if behind.size and work != (1, 1):
        r_small = float(np.percentile(behind, 5)) * work[1] / w
        f = float(np.clip(params.kernel_radius / max(r_small, 1e-6), 0.25, 1.0))
        if f < 0.8:
            coarse = (max(1, round(work[0] * f)), max(1, round(work[1] * f)))

            def shrink(x: np.ndarray) -> np.ndarray:
                return cv2.resize(x, (coarse[1], coarse[0]), interpolation=cv2.INTER_AREA)

            low, low_boost = shrink(low), (shrink(low_boost) if low_boost is not low else None)
            low_boost = low if low_boost is None else low_boost
            alpha_low, depth_low, work = shrink(alpha_low), shrink(depth_low), coarse
            rho_px = coc_radius(depth_low, focus_depth, params, w)
    sx = work[1] / w
    rho = rho_px * np.float32(sx)  # in working px
    # boosted highlights only where the blur turns them into discs (radius ≥ 1 px at full size)
    grow = np.clip(np.abs(rho_px) - 1.0, 0.0, 1.0)[..., None]
    color = low + (low_boost - low) * grow if low_boost is not low else low

    # the subject is its own, exactly composited layer when it is in focus
    in_subject = alpha_low > 0.5
    subject_in_focus = False
    if in_subject.any():
        d_subject = float(np.median(depth_low[in_subject]))
        subject_in_focus = abs(float(coc_radius(np.float32(d_subject), focus_depth, params, w))) < 0.5
    if subject_in_focus:
        near = float(np.percentile(depth_low[in_subject], 5))
        front = (depth_low < near) & ~in_subject
        se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * params.fill_margin_px + 1,) * 2)
        touched = cv2.dilate((alpha_low > 0.02).astype(np.uint8), se) > 0
        source = (~touched & ~front).astype(np.float32)
        if source.any():  # fill behind the subject (and front objects) from background only
            filled = pushpull_fill(np.dstack([color, low, rho]), source)
            color_bg, b_est, rho_bg = filled[..., :3], filled[..., 3:6], np.ascontiguousarray(filled[..., 6])
        else:  # the subject fills the frame: nothing behind it
            color_bg, b_est, rho_bg = color, low, rho
        front_w = front.astype(np.float32)
    else:
        color_bg, b_est, rho_bg = color, None, rho
        front_w = np.zeros_like(rho)
    everywhere = np.ones_like(rho_bg)
    levels = layer_levels(rho_bg, everywhere, params.max_layers)
    log.debug("lens blur %dx%d at working size %dx%d, subject in focus: %s, CoC levels (working px): %s",
              w, h, work[1], work[0], subject_in_focus, np.round(levels, 2).tolist())
    prem, cover = composite_layers(color_bg, rho_bg, everywhere, levels, params)
    background = prem / np.maximum(cover, 1e-6)[..., None]

    # full resolution: the smooth background is upsampled in sRGB ...
    result = _resize(linear_to_srgb8(background), full)
    # ... what stays nearly sharp gets its full-resolution detail back ...
    r_cut = 1.5 / sx  # above this radius (full-res px) the working-resolution blur is all there is
    keep_low = np.clip(1.0 - (np.abs(rho_bg / np.float32(sx)) - 0.5) / max(r_cut - 0.5, 1e-6), 0.0, 1.0)
    region = _bbox(keep_low > 0, full) if work != full else None
    if region is not None:
        rows, cols = region
        lin = srgb8_to_linear(image[rows, cols])
        detail = lin - _upsample_region(low, full, rows, cols)
        base = _upsample_region(background, full, rows, cols)
        base += _upsample_region(keep_low, full, rows, cols)[..., None] * detail
        result[rows, cols] = linear_to_srgb8(base)
    # ... and the in-focus subject is composited over it with its exact matte
    if subject_in_focus:
        side = min(work)  # blur-fusion radii at the working size: 4.5 % and 1.2 % of the short side
        fg_means = fusion_means(low, alpha_low, (max(3, round(0.045 * side)), max(1, round(0.012 * side))))
        idx = soft = grain.soft_pixels(mask)
        if idx.size:
            yy, xx = np.divmod(idx, w)
            a = mask.reshape(-1)[idx][:, None]
            lin = SRGB8_TO_LINEAR[image.reshape(-1, 3)[idx]]
            base = _sample(background, full, yy, xx)
            if region is not None:
                keep = _sample(keep_low, full, yy, xx)[:, None]
                base += keep * (lin - _sample(low, full, yy, xx))
            if params.foreground == "subtract":
                fg_premul = np.maximum(lin - (1.0 - a) * _sample(b_est, full, yy, xx), 0.0)
            else:
                f_b, b_b = fg_means
                fg_premul = a * fuse_foreground(lin, a[:, 0], _sample(f_b, full, yy, xx), _sample(b_b, full, yy, xx))
            result.reshape(-1, 3)[idx] = linear_to_srgb8(fg_premul + (1.0 - a) * base)
        cv2.copyTo(image, cv2.inRange(mask, grain.SOFT[1], float(np.finfo(np.float32).max)), result)
    # objects in front of the subject blur over it
    if front_w.any():
        prem_f, cover_f = composite_layers(color, rho, front_w, layer_levels(rho, front_w, params.max_layers), params)
        region_f = _bbox(cover_f > 1.0 / 512, full)
        if region_f is not None:
            rows, cols = region_f
            under = srgb8_to_linear(result[rows, cols])
            over = _upsample_region(prem_f, full, rows, cols)
            cover = np.clip(_upsample_region(cover_f, full, rows, cols), 0.0, 1.0)[..., None]
            result[rows, cols] = linear_to_srgb8(over + (1.0 - cover) * under)
    if params.grain:  # the photo's own noise where the blur removed it (compositing.grain)
        kept = keep_low if region is not None else np.zeros_like(rho_bg)
        kept = kept * kept + (1.0 - kept) ** 2 * grain.noise_kept(np.abs(rho_bg / np.float32(sx)), params.blades, params.rotation_deg)
        alpha = mask if subject_in_focus else np.zeros(full, np.float32)
        weight = grain.photo_weight(alpha, kept, soft if subject_in_focus else np.zeros(0, np.int64))
        result = grain.add_grain(result, image, weight, params.seed)
    return result
