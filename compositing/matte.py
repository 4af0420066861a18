"""Matte operations: feathering, premultiplied alpha, hole fill, edge refinement, decontamination.

Conventions: images are uint8 RGB H×W×3 or float32 H×W×C; masks/alpha are float32 H×W in [0, 1]
(1 = subject). Functions never modify their inputs.
"""
from __future__ import annotations

import cv2
import numpy as np

from .kernels import gaussian_sigma


def _as_mask(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask, dtype=np.float32)
    if mask.ndim != 2:
        raise ValueError(f"mask must be H×W, got shape {mask.shape}")
    return mask


def feather(mask: np.ndarray, k: int = 45) -> np.ndarray:
    """Soften a mask with a k×k Gaussian (OpenCV sigma rule); Pyzh & Gogarev blur the mask with
    k = 45 before blending. Returns float32 H×W in [0, 1]."""
    mask = _as_mask(mask)
    if k <= 1:
        return mask.copy()
    return np.clip(cv2.GaussianBlur(mask, (k, k), gaussian_sigma(k)), 0.0, 1.0)


def premultiply(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Premultiplied colour α·C, float32 H×W×C (Porter & Duff 1984)."""
    return (np.asarray(color, np.float32) * _as_mask(alpha)[..., None]).astype(np.float32)


def unpremultiply(premul: np.ndarray, alpha: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Straight colour C = (α·C)/α, with 0 where α ≤ eps. float32 H×W×C."""
    alpha = _as_mask(alpha)[..., None]
    out = np.divide(premul, np.maximum(alpha, eps), dtype=np.float32)
    return np.where(alpha > eps, out, 0.0).astype(np.float32)


def alpha_blend(foreground: np.ndarray, background: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """I = α·F + (1 − α)·B (Datar & Bernal). uint8 inputs give uint8 output (rounded),
    float inputs give float32."""
    a = _as_mask(alpha)[..., None]
    out = a * np.asarray(foreground, np.float32) + (1.0 - a) * np.asarray(background, np.float32)
    if np.asarray(foreground).dtype == np.uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.astype(np.float32)


def fill_holes(mask: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Set to 1 every background region of ``mask > threshold`` that does not touch the image
    border (the breadth-first hole fill of Nikam & Awate, done by ``cv2.floodFill`` of the
    background from the border, 4-connected). Soft values elsewhere are kept. float32 H×W."""
    mask = _as_mask(mask)
    h, w = mask.shape
    outside = np.ones((h + 2, w + 2), np.uint8)  # background plus a 1-px frame of background
    outside[1:-1, 1:-1] = mask <= threshold
    flood = np.zeros((h + 4, w + 4), np.uint8)
    cv2.floodFill(outside, flood, (0, 0), 2, flags=4)
    holes = outside[1:-1, 1:-1] == 1  # background the flood from the border did not reach
    out = mask.copy()
    out[holes] = 1.0
    return out


def _distances(mask: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hard mask, and Euclidean distances to it from outside and to the background from inside
    (``cv2.distanceTransform`` with the 5×5 mask: within 0.2 px of exact up to 10 px), float32."""
    hard = (_as_mask(mask) > threshold).astype(np.uint8)
    d_out = cv2.distanceTransform(1 - hard, cv2.DIST_L2, cv2.DIST_MASK_5) if hard.any() \
        else np.full(hard.shape, np.inf, np.float32)
    d_in = cv2.distanceTransform(hard, cv2.DIST_L2, cv2.DIST_MASK_5) if not hard.all() \
        else np.full(hard.shape, np.inf, np.float32)
    return hard, d_out, d_in


def edge_band(mask: np.ndarray, width: int = 8, threshold: float = 0.5, inner: bool = True) -> np.ndarray:
    """Boolean band around the mask edge. Nikam & Awate take max_filter(mask) − mask, the ring of
    ``width`` px just outside the subject (a disk-shaped max filter, here via the distance
    transform); ``inner=True`` adds the ring just inside (mask − min_filter(mask)) so a
    refinement can move the edge both ways."""
    hard, d_out, d_in = _distances(mask, threshold)
    band = (hard == 0) & (d_out <= width)
    if inner:
        band |= (hard == 1) & (d_in <= width)
    return band


def _sample_at(values: np.ndarray, shape: tuple[int, int], yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``values`` (a downscaled H×W×C map of an image of ``shape``) at the
    full-resolution pixel centres (yy, xx), as ``cv2.resize(values, shape)[yy, xx]`` would give."""
    sy, sx = values.shape[0] / shape[0], values.shape[1] / shape[1]
    y = np.clip((yy + 0.5) * sy - 0.5, 0, values.shape[0] - 1)
    x = np.clip((xx + 0.5) * sx - 0.5, 0, values.shape[1] - 1)
    y0, x0 = np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)
    y1, x1 = np.minimum(y0 + 1, values.shape[0] - 1), np.minimum(x0 + 1, values.shape[1] - 1)
    fy, fx = (y - y0)[:, None], (x - x0)[:, None]
    top = values[y0, x0] * (1 - fx) + values[y0, x1] * fx
    bottom = values[y1, x0] * (1 - fx) + values[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def refine_edges(mask: np.ndarray, image: np.ndarray, width: int = 8, min_contrast: float = 0.08,
                 work_pixels: int = 1_000_000) -> np.ndarray:
    """Re-estimate the matte inside :func:`edge_band` from colour (the edge refinement step of
    Nikam & Awate, done as a closed-form two-colour matting).

    Subject colour F and background colour B are pushed into the band from the confidently
    inside (more than ``width`` px in) and outside pixels with :func:`pushpull_fill` (at most
    ``work_pixels``; both are smooth estimates); each band pixel then takes
    α = ((I − B)·(F − B)) / |F − B|², the projection of its colour on the line from B to F.
    Where F and B are too alike (|F − B| below ``min_contrast`` on the [0, 1] scale) the input
    mask is kept, with a smooth hand-over; a 3×3 Gaussian removes per-pixel noise in the band.
    Outside the band the mask is unchanged. Returns float32 H×W in [0, 1].
    """
    mask = _as_mask(mask)
    hard, d_out, d_in = _distances(mask, 0.5)
    band = ((hard == 0) & (d_out <= width)) | ((hard == 1) & (d_in <= width))
    inside = ((hard == 1) & (d_in > width)).view(np.uint8)
    outside = ((hard == 0) & (d_out > width)).view(np.uint8)
    if not band.any() or not inside.any() or not outside.any():
        return mask.copy()
    h, w = mask.shape
    scale = min(1.0, float(np.sqrt(work_pixels / float(h * w))))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))

    def shrink(x: np.ndarray) -> np.ndarray:
        return cv2.resize(x, size, interpolation=cv2.INTER_AREA) if scale < 1 else x

    image = np.asarray(image)
    small = shrink(image).astype(np.float32) / 255.0
    fg = pushpull_fill(small, shrink(inside * np.uint8(255)).astype(np.float32) / 255.0)
    bg = pushpull_fill(small, shrink(outside * np.uint8(255)).astype(np.float32) / 255.0)
    ys, xs = np.nonzero(band)
    f, b = _sample_at(fg, (h, w), ys, xs), _sample_at(bg, (h, w), ys, xs)
    c = image[ys, xs].astype(np.float32) / 255.0
    d = f - b
    norm2 = np.sum(d * d, axis=-1)
    proj = np.clip(np.sum((c - b) * d, axis=-1) / np.maximum(norm2, 1e-8), 0.0, 1.0)
    trust = np.clip(np.sqrt(norm2) / min_contrast - 0.5, 0.0, 1.0)
    y0, y1, x0, x1 = max(ys.min() - 1, 0), ys.max() + 2, max(xs.min() - 1, 0), xs.max() + 2
    est = mask[y0:y1, x0:x1].copy()
    est[ys - y0, xs - x0] = trust * proj + (1.0 - trust) * mask[ys, xs]
    smooth = cv2.GaussianBlur(est, (3, 3), 0)
    out = mask.copy()
    out[ys, xs] = np.clip(smooth[ys - y0, xs - x0], 0.0, 1.0)
    return out


def _trimap(mask: np.ndarray, k: float) -> np.ndarray:
    """Trimap of a soft mask: 1 more than ``k`` px inside its 0.5 contour, 0 more than ``k`` px
    outside, 0.5 (unknown) in the band between. float64 H×W (pymatting's convention)."""
    hard, d_out, d_in = _distances(mask, 0.5)
    tri = np.full(hard.shape, 0.5)
    tri[(hard == 1) & (d_in > k)] = 1.0
    tri[(hard == 0) & (d_out > k)] = 0.0
    return tri


def snap_matte(mask: np.ndarray, image: np.ndarray, band_frac: float = 0.008, min_band_px: float = 1.5,
               solve_pixels: int = 100_000, low: float = 0.2, high: float = 0.6, epsilon: float = 1e-6,
               fringe_px: float = 0.5) -> np.ndarray:
    """Snap a segmenter's soft mask to the photo's edges in a narrow band around its 0.5 contour.

    A trimap of ±k px around the contour (k = max(``min_band_px``, ``band_frac`` · short side)) is
    solved by closed-form matting (Levin et al. 2008, pymatting's ``estimate_alpha_cf``) at most
    ``solve_pixels`` large, on the band's bounding box; for larger photos the result is upsampled
    edge-aware in the band by a guided filter of the full-size photo's grey levels (He et al.
    2013; coefficients at the solving size, as in He & Sun 2015's fast guided filter). Values
    are then snapped, α ← clip((α − low)/(high − low), 0, 1), so the segmenter's wide soft tail goes
    (α < ``low`` → 0, α > ``high`` → 1) while hair the matting finds in the band stays soft; the
    defaults (0.2, 0.6) keep the subject's edge pixels whole (measured on real portraits against
    (0.1, 0.9): the 3 px inside the person keep 0.96 instead of 0.80 of their detail).
    Outside the band the mask becomes 0 or 1. Last, a soft outer fringe (:func:`outer_fringe`,
    ``fringe_px``): snapped to 0 or 1 the edge is a sharper step than the photo's own, which shows
    as staircase steps along hair and diagonal edges against a smooth blurred background.
    ``mask`` float32 H×W in [0, 1], ``image`` uint8 RGB H×W×3; returns float32 H×W in [0, 1].
    """
    from pymatting import estimate_alpha_cf

    mask = _as_mask(mask)
    h, w = mask.shape
    hard = (mask >= 0.5).astype(np.float32)
    if not hard.any() or hard.all():
        return hard
    k_full = max(min_band_px, band_frac * min(h, w))
    scale = min(1.0, float(np.sqrt(solve_pixels / float(h * w))))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small_img = np.asarray(image) if scale == 1.0 else cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_mask = mask if scale == 1.0 else cv2.resize(mask, size, interpolation=cv2.INTER_AREA)
    k = max(min_band_px, k_full * scale)
    tri = _trimap(small_mask, k)
    ys, xs = np.nonzero(tri == 0.5)
    pad = int(np.ceil(k)) + 2
    y0, y1 = max(0, ys.min() - pad), min(tri.shape[0], ys.max() + 1 + pad)
    x0, x1 = max(0, xs.min() - pad), min(tri.shape[1], xs.max() + 1 + pad)
    alpha = tri.astype(np.float32)
    crop_tri = tri[y0:y1, x0:x1]
    if (crop_tri != 0.5).any():  # closed-form matting needs known pixels to start from
        crop_img = small_img[y0:y1, x0:x1].astype(np.float64) / 255.0
        solved = estimate_alpha_cf(crop_img, crop_tri, laplacian_kwargs={"epsilon": epsilon},
                                   cg_kwargs={"maxiter": 500})
        alpha[y0:y1, x0:x1] = np.clip(solved, 0.0, 1.0)
    if scale == 1.0:
        return outer_fringe(np.clip((alpha - low) / (high - low), 0.0, 1.0).astype(np.float32), fringe_px)
    # edge-aware upsampling, written to the band's full-size pixels only: the guided filter's
    # linear coefficients are found at the solving size and applied to the full-size photo
    # (the fast guided filter, He & Sun 2015) within the band's bounding box, with whole-plane
    # OpenCV operations (per-pixel gathers of the band cost twice as much at 12 MP)
    grey_small = cv2.cvtColor(small_img, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    coef = _guided_coefficients(grey_small, alpha, radius=2, eps=1e-3)
    band_small = cv2.dilate((tri == 0.5).view(np.uint8), np.ones((3, 3), np.uint8))
    band = cv2.resize(band_small, (w, h), interpolation=cv2.INTER_NEAREST)
    bx, by, bw, bh = cv2.boundingRect(band)
    box = (slice(by, by + bh), slice(bx, bx + bw))
    a, b = (cv2.resize(c, (w, h), interpolation=cv2.INTER_LINEAR)[box] for c in cv2.split(coef))
    snapped = _guided_apply(a, b, np.asarray(image)[box])
    snapped -= low
    snapped *= 1.0 / (high - low)
    np.clip(snapped, 0.0, 1.0, out=snapped)
    cv2.copyTo(snapped, band[box], hard[box])
    return outer_fringe(hard, fringe_px)


def outer_fringe(alpha: np.ndarray, sigma: float) -> np.ndarray:
    """max(α, G_σ ∗ α): the matte's edge spread outwards by a Gaussian of ``sigma`` px (half a
    pixel: a sharp lens's own edge spread; 3×3 taps, the rest of it is below what 8 bits show), so
    a step from 1 to 0 gets a fringe of about 0.1 in the pixel outside it and no staircase; every
    pixel keeps at least its value, so the subject's edge pixels stay whole. float32 H×W in,
    changed in place and returned."""
    if sigma <= 0:
        return alpha
    spread = cv2.GaussianBlur(alpha, (3, 3), sigma, borderType=cv2.BORDER_REPLICATE)
    cv2.threshold(spread, 1.0 / 255, 0.0, cv2.THRESH_TOZERO, dst=spread)  # the Gaussian's far tail
    return cv2.max(alpha, spread, dst=alpha)


def _guided_apply(a: np.ndarray, b: np.ndarray, image: np.ndarray) -> np.ndarray:
    """q = a·I + b, the guided filter's output (He et al. 2013, eq. 8) for coefficient planes
    ``a``, ``b`` (float32 H×W) on the grey levels I ∈ [0, 1] of ``image`` (uint8 RGB H×W×3, the
    BT.601 weights of cv2's RGB2GRAY, unrounded). float32 H×W."""
    grey = cv2.cvtColor(image.astype(np.float32), cv2.COLOR_RGB2GRAY)
    return cv2.scaleAdd(cv2.multiply(a, grey, scale=1.0 / 255.0), 1.0, b)


def _guided_coefficients(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Box-averaged linear coefficients (ā, b̄) of the grey-guide guided filter (He et al. 2013,
    eq. 5–8): q = ā·I + b̄. float32 H×W×2."""
    k = (2 * radius + 1,) * 2
    mean_i, mean_p = cv2.blur(guide, k), cv2.blur(src, k)
    var_i = cv2.blur(guide * guide, k) - mean_i * mean_i
    a = (cv2.blur(guide * src, k) - mean_i * mean_p) / (var_i + eps)
    b = mean_p - a * mean_i
    return np.dstack([cv2.blur(a, k), cv2.blur(b, k)]).astype(np.float32)


def pushpull_fill(values: np.ndarray, weight: np.ndarray, min_size: int = 2) -> np.ndarray:
    """Fill ``values`` where ``weight`` is low from the surrounding weighted values (push-pull
    interpolation, Gortler et al. 1996; the disocclusion step of Kraus & Strengert 2007).

    Push: Gaussian pyramid of premultiplied values w·v and weights w. Pull: from the coarsest
    level up, est = p + (1 − w)·upsample(est_coarser), so pixels with weight 1 keep their value
    and empty pixels take the smoothly interpolated one. ``values`` float32 H×W or H×W×C,
    ``weight`` float32 H×W in [0, 1]. Returns float32 of the shape of ``values``.
    """
    v = np.asarray(values, np.float32)
    w = np.clip(_as_mask(weight), 0.0, 1.0)
    if w.shape != v.shape[:2]:
        raise ValueError(f"weight shape {w.shape} does not match values {v.shape}")
    if not (w > 0).any():
        raise ValueError("pushpull_fill needs at least one pixel with positive weight")
    squeeze = v.ndim == 2
    if squeeze:
        v = v[..., None]
    p_levels = [v * w[..., None]]
    w_levels = [w]
    while min(w_levels[-1].shape) > min_size:
        p = cv2.pyrDown(p_levels[-1])
        p_levels.append(p.reshape(p.shape[0], p.shape[1], -1))
        w_levels.append(cv2.pyrDown(w_levels[-1]))
    est = p_levels[-1] / np.maximum(w_levels[-1], 1e-12)[..., None]
    coarse_mean = p_levels[-1].sum(axis=(0, 1)) / max(float(w_levels[-1].sum()), 1e-12)
    est = np.where(w_levels[-1][..., None] > 1e-6, est, coarse_mean).astype(np.float32)
    for p, wl in zip(reversed(p_levels[:-1]), reversed(w_levels[:-1])):
        up = cv2.pyrUp(est, dstsize=(p.shape[1], p.shape[0])).reshape(p.shape)
        est = p + (1.0 - wl)[..., None] * up
    return est[..., 0] if squeeze else est


def fusion_means(image: np.ndarray, alpha: np.ndarray, radii: tuple[int, ...] = (12, 3)) -> tuple[np.ndarray, np.ndarray]:
    """The local subject and background means F_b, B_b of blur-fusion (Forte & Pitié 2021).

    Per radius r, with box means of side 2r + 1: F_b = box(α·F)/box(α), B_b = box((1 − α)·I)/box(1 − α)
    and F = F_b + α·(I − α·F_b − (1 − α)·B_b) (eq. 6–8); each pass takes the previous pass's F
    (the first takes I; the paper runs r = 90, then r = 6 on full-size photos). Returns the
    last pass's (F_b, B_b), float32 H×W×3, for :func:`fuse_foreground`.
    """
    img = np.asarray(image, np.float32)
    a = np.clip(_as_mask(alpha), 0.0, 1.0)
    a3 = a[..., None]
    fg, f_b, b_b = img, img, img
    for r in radii:
        k = (2 * int(r) + 1,) * 2
        f_b = cv2.blur(fg * a3, k) / np.maximum(cv2.blur(a, k), 1e-5)[..., None]
        b_b = cv2.blur(img * (1.0 - a3), k) / np.maximum(cv2.blur(1.0 - a, k), 1e-5)[..., None]
        fg = fuse_foreground(img, a, f_b, b_b)
    return f_b.astype(np.float32), b_b.astype(np.float32)


def fuse_foreground(image: np.ndarray, alpha: np.ndarray, f_b: np.ndarray, b_b: np.ndarray) -> np.ndarray:
    """F̂ = F_b + α·(I − α·F_b − (1 − α)·B_b), clipped at 0 (Forte & Pitié 2021, eq. 8); the
    arrays may be H×W×3 images or N×3 / N pixel lists (alpha without the channel axis)."""
    a = np.asarray(alpha, np.float32)[..., None]
    return np.maximum(f_b + a * (image - a * f_b - (1.0 - a) * b_b), 0.0).astype(np.float32)


def estimate_foreground(image: np.ndarray, alpha: np.ndarray, radii: tuple[int, ...] = (12, 3)) -> np.ndarray:
    """Subject colour F̂ at soft matte pixels by blur-fusion (:func:`fusion_means`). Unlike
    I − (1 − α)·B̃, F̂ carries the background's texture only with weight α, so the composite
    α·F̂ + (1 − α)·blur(B) blurs the background seen through a soft edge. ``image`` float32
    H×W×3, ``alpha`` float32 H×W in [0, 1]; returns float32 H×W×3, F̂ = I where α = 1."""
    img = np.asarray(image, np.float32)
    a = np.clip(_as_mask(alpha), 0.0, 1.0)
    f_b, b_b = fusion_means(img, a, radii)
    return np.where(a[..., None] >= 1.0, img, fuse_foreground(img, a, f_b, b_b)).astype(np.float32)


def decontaminate(image: np.ndarray, mask: np.ndarray, low: float = 0.05, high: float = 0.95) -> np.ndarray:
    """Estimate the subject's own colour F at soft edges from I = α·F + (1 − α)·B.

    B is the background pushed in from pixels with α ≤ ``low`` (:func:`pushpull_fill`), then
    F = (I − (1 − α)·B) / α, clipped; where α < 0.1 the division is unstable, so F is blended
    towards the subject colour pushed out from α ≥ ``high``. Pixels with α ≥ ``high`` or α ≤
    ``low`` keep I. uint8 RGB H×W×3 in and out.
    """
    mask = _as_mask(mask)
    img = np.asarray(image, np.float32)
    edge = (mask > low) & (mask < high)
    if not edge.any() or not (mask <= low).any() or not (mask >= high).any():
        return np.asarray(image, np.uint8).copy()
    bg = pushpull_fill(img, (mask <= low).astype(np.float32))
    fg = pushpull_fill(img, (mask >= high).astype(np.float32))
    a = mask[..., None]
    solved = np.clip((img - (1.0 - a) * bg) / np.maximum(a, 1e-3), 0.0, 255.0)
    trust = np.clip((a - low) / 0.1, 0.0, 1.0)
    est = trust * solved + (1.0 - trust) * fg
    out = np.where(edge[..., None], est, img)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
