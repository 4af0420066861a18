"""Procedural portrait scenes with exact ground truth: subject mask, depth and a shallow-DoF render.

Each scene is a stack of flat layers, every one at a single distance from the camera:
a far backdrop with small bright highlights (HDR, so they turn into bokeh discs), one to three
textured middle layers (2–4 background layers in all) and a head-and-shoulders subject at the
focal plane. Because every layer is known everywhere, including behind nearer layers, the
reference render is exact for this scene model: each layer's premultiplied colour and coverage
are spread by its own disk (thin-lens circle of confusion) and composited back to front in
linear light (Potmesil & Chakravarty 1981; the layered model of Kraus & Strengert 2007).
The render is deliberately slow and separate from ``compositing/``, which it is used to test:
its optics (:class:`Lens`, :func:`coc_radius_px`) and its disk kernel are this module's own
reference implementations, independent of the renderer's (compositing/optics.py,
compositing/kernels.py), so that a bug in either shows up in evaluation; only the sRGB curves,
a published standard, are shared (datasets/colour.py).

Conventions: ``image``/``dof`` uint8 RGB H×W×3 (sRGB), ``mask`` float32 H×W in [0, 1],
``depth`` float32 H×W in metres (larger = farther). Everything is a pure function of the seed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .colour import linear_to_srgb, to_uint8


@dataclass(frozen=True)
class Lens:
    """A thin lens on a full-frame sensor; defaults are a fast portrait lens (85 mm f/1.8)."""

    focal_length_mm: float = 85.0
    f_number: float = 1.8
    sensor_width_mm: float = 36.0


def coc_radius_px(depth: np.ndarray | float, focus_depth: float, lens: Lens, width_px: int) -> np.ndarray:
    """Circle-of-confusion radius in pixels for a thin lens focused at ``focus_depth`` (metres).

    Diameter on the sensor c = A · |d − d_f| / d · f / (d_f − f), with aperture A = f / N
    (Potmesil & Chakravarty 1981, eq. 4); radius in pixels = c / 2 · width_px / sensor_width.
    """
    f = lens.focal_length_mm
    d = np.asarray(depth, dtype=np.float64) * 1000.0
    d_f = float(focus_depth) * 1000.0
    if d_f <= f:
        raise ValueError(f"focus distance {focus_depth} m must be beyond the focal length {f} mm")
    aperture = f / lens.f_number
    c = aperture * np.abs(d - d_f) / d * f / (d_f - f)
    return (c / 2.0 * width_px / lens.sensor_width_mm).astype(np.float32)


def disk_kernel(radius: float, supersample: int = 8) -> np.ndarray:
    """Normalised disk of the given radius in pixels, each tap weighted by its exact-ish area
    (``supersample``² samples per pixel). Radius below 0.5 px is the identity."""
    if radius < 0.5:
        return np.ones((1, 1), np.float32)
    half = int(np.ceil(radius))
    n = 2 * half + 1
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    grid = np.arange(n) - half
    fine = (grid[:, None] + offsets[None, :]).reshape(-1)
    inside = (fine[:, None] ** 2 + fine[None, :] ** 2) <= radius**2
    k = inside.reshape(n, supersample, n, supersample).mean(axis=(1, 3)).astype(np.float32)
    return k / k.sum()


@dataclass
class Layer:
    """One flat layer: linear RGB colour defined everywhere, its coverage and its distance."""

    color: np.ndarray  # float32 H×W×3, linear light, may exceed 1 (highlights)
    alpha: np.ndarray  # float32 H×W in [0, 1]
    depth: float  # metres
    name: str


@dataclass
class Scene:
    """A synthetic portrait with exact ground truth (see module docstring for conventions)."""

    image: np.ndarray
    mask: np.ndarray
    depth: np.ndarray
    focus_depth: float
    lens: Lens
    dof: Optional[np.ndarray]
    seed: int
    layer_depths: list[float] = field(default_factory=list)


# ---------------------------------------------------------------- shapes and textures


def _coverage(sdf: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage from a signed distance in pixels (negative inside)."""
    return np.clip(0.5 - sdf, 0.0, 1.0).astype(np.float32)


def _ellipse_sdf(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    """Approximate signed distance (pixels) to an axis-aligned ellipse."""
    q = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
    return (q - 1.0) * min(ry, rx)


def _box_sdf(yy: np.ndarray, xx: np.ndarray, y0: float, x0: float, y1: float, x1: float) -> np.ndarray:
    """Signed distance (pixels) to an axis-aligned box [y0, y1] × [x0, x1]."""
    dy = np.maximum(y0 - yy, yy - y1)
    dx = np.maximum(x0 - xx, xx - x1)
    outside = np.hypot(np.maximum(dy, 0), np.maximum(dx, 0))
    return outside + np.minimum(np.maximum(dy, dx), 0)


def _texture(rng: np.random.Generator, shape: tuple[int, int], scale: float, base: np.ndarray,
             amount: float) -> np.ndarray:
    """Linear-light colour texture: a base colour modulated by a few oriented gratings (periods
    of 3–24 px at 256 px, scaled with the image) and fine per-pixel noise."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    mod = np.zeros((h, w), np.float32)
    for _ in range(3):
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(3.0, 24.0) * scale
        phase = rng.uniform(0, 2 * np.pi)
        mod += np.sin((xx * np.cos(theta) + yy * np.sin(theta)) * 2 * np.pi / period + phase).astype(np.float32)
    mod = mod / 3.0 + rng.normal(0.0, 0.35, (h, w)).astype(np.float32)
    tint = rng.uniform(0.7, 1.3, 3).astype(np.float32)
    color = base[None, None, :] * (1.0 + amount * mod[..., None] * tint[None, None, :])
    return np.clip(color, 0.0, None).astype(np.float32)


def _backdrop(rng: np.random.Generator, shape: tuple[int, int], scale: float, depth: float) -> Layer:
    """Far layer covering the frame: a vertical gradient, texture and HDR point highlights."""
    h, w = shape
    top = rng.uniform(0.05, 0.6, 3).astype(np.float32)
    bottom = rng.uniform(0.05, 0.6, 3).astype(np.float32)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    color = (1 - t) * top + t * bottom
    color = color * _texture(rng, shape, scale, np.ones(3, np.float32), 0.5)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(int(rng.integers(4, 9))):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(0.6, 1.5) * scale
        spot = _coverage(_ellipse_sdf(yy, xx, cy, cx, r, r))
        hue = rng.uniform(0.6, 1.0, 3).astype(np.float32)
        color = color * (1 - spot[..., None]) + spot[..., None] * hue * rng.uniform(15.0, 40.0)
    return Layer(color.astype(np.float32), np.ones(shape, np.float32), depth, "backdrop")


def _middle(rng: np.random.Generator, shape: tuple[int, int], scale: float, depth: float, index: int) -> Layer:
    """A middle layer: a few boxes ("buildings", "posts") and ellipses ("foliage"), textured."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    alpha = np.zeros(shape, np.float32)
    for _ in range(int(rng.integers(2, 5))):
        if rng.random() < 0.5:
            x0 = rng.uniform(-0.1, 0.9) * w
            bw = rng.uniform(0.08, 0.3) * w
            y0 = rng.uniform(0.1, 0.7) * h
            shape_sdf = _box_sdf(yy, xx, y0, x0, h * 1.2, x0 + bw)
        else:
            cy, cx = rng.uniform(0.1, 0.8) * h, rng.uniform(0, 1) * w
            shape_sdf = _ellipse_sdf(yy, xx, cy, cx, rng.uniform(0.08, 0.25) * h, rng.uniform(0.08, 0.25) * w)
        alpha = np.maximum(alpha, _coverage(shape_sdf))
    base = rng.uniform(0.04, 0.5, 3).astype(np.float32)
    color = _texture(rng, shape, scale, base, 0.8)
    return Layer(color, alpha, depth, f"middle{index}")


def _subject(rng: np.random.Generator, shape: tuple[int, int], scale: float, depth: float) -> Layer:
    """Head and shoulders: an ellipse head with hair, eyes and mouth, a neck and a striped shirt."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx = w * rng.uniform(0.4, 0.6)
    head_ry, head_rx = h * rng.uniform(0.14, 0.18), w * rng.uniform(0.10, 0.13)
    head_cy = h * rng.uniform(0.35, 0.45)
    head = _ellipse_sdf(yy, xx, head_cy, cx, head_ry, head_rx)
    neck = _box_sdf(yy, xx, head_cy, cx - 0.45 * head_rx, head_cy + 1.6 * head_ry, cx + 0.45 * head_rx)
    shoulders_cy = head_cy + 1.5 * head_ry + h * 0.25
    shoulders = _ellipse_sdf(yy, xx, shoulders_cy, cx, h * 0.3, w * rng.uniform(0.26, 0.34))
    alpha = _coverage(np.minimum(np.minimum(head, neck), shoulders))

    skin = _texture(rng, shape, scale, rng.uniform(0.35, 0.7) * np.array([0.9, 0.6, 0.45], np.float32), 0.15)
    shirt = _texture(rng, shape, scale, rng.uniform(0.03, 0.5, 3).astype(np.float32), 0.9)
    stripes = (np.sin(xx * 2 * np.pi / (rng.uniform(4, 9) * scale)) > 0).astype(np.float32)[..., None]
    shirt = shirt * (0.6 + 0.8 * stripes)
    hair = _texture(rng, shape, scale, rng.uniform(0.01, 0.15, 3).astype(np.float32), 0.6)

    body = _coverage(np.minimum(neck, shoulders))
    shirt_cov = _coverage(shoulders) * (yy > head_cy + 1.25 * head_ry)
    color = skin * (1 - shirt_cov[..., None]) + shirt * shirt_cov[..., None]
    hair_cov = _coverage(head) * _coverage(yy - (head_cy - 0.35 * head_ry)) * (1 - body)
    color = color * (1 - hair_cov[..., None]) + hair * hair_cov[..., None]
    for side in (-1, 1):
        eye = _coverage(_ellipse_sdf(yy, xx, head_cy, cx + side * 0.4 * head_rx, 0.08 * head_ry, 0.12 * head_rx))
        color = color * (1 - eye[..., None]) + 0.01 * eye[..., None]
    mouth = _coverage(_ellipse_sdf(yy, xx, head_cy + 0.5 * head_ry, cx, 0.05 * head_ry, 0.3 * head_rx))
    color = color * (1 - mouth[..., None]) + np.array([0.3, 0.03, 0.03], np.float32) * mouth[..., None]
    return Layer(color.astype(np.float32), alpha, depth, "subject")


# ---------------------------------------------------------------- composition and rendering


def _convolve_edge(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``k ∗ x`` at the size of ``x``, the layer's content extended by edge replication."""
    from scipy.signal import fftconvolve  # imported here: scripts that only need Lens/CoC start faster

    p = k.shape[0] // 2
    return fftconvolve(np.pad(x, p, mode="edge"), k, mode="valid")


def composite_layers(layers: list[Layer], radii: Optional[list[float]] = None) -> np.ndarray:
    """Composite layers back to front in linear light: out = Ĉ_i + (1 − α̂_i) · out, where
    Ĉ_i = k_i ∗ (α_i C_i) and α̂_i = k_i ∗ α_i with k_i the layer's disk (identity if no radii)."""
    order = sorted(range(len(layers)), key=lambda i: -layers[i].depth)
    out = np.zeros_like(layers[0].color)
    for i in order:
        layer = layers[i]
        premul = layer.color * layer.alpha[..., None]
        alpha = layer.alpha
        if radii is not None and radii[i] >= 0.5:
            k = disk_kernel(radii[i])
            premul = np.stack([_convolve_edge(premul[..., c], k) for c in range(3)], axis=-1)
            alpha = np.clip(_convolve_edge(alpha, k), 0.0, 1.0)
        out = premul + (1.0 - alpha[..., None]) * out
    return out.astype(np.float32)


def _depth_map(layers: list[Layer]) -> np.ndarray:
    """Depth of the front-most layer covering each pixel (coverage ≥ 0.5)."""
    order = sorted(layers, key=lambda layer: -layer.depth)
    depth = np.full(layers[0].alpha.shape, order[0].depth, np.float32)
    for layer in order[1:]:
        depth[layer.alpha >= 0.5] = layer.depth
    return depth


def make_layers(seed: int, size: tuple[int, int]) -> tuple[list[Layer], float]:
    """The scene's layers (backdrop, middles, subject) for ``seed`` and the subject distance."""
    rng = np.random.default_rng(seed)
    scale = min(size) / 256.0
    focus = float(rng.uniform(1.3, 2.2))
    n_middle = int(rng.integers(1, 4))
    middle_depths = np.sort(rng.uniform(3.0, 12.0, n_middle))[::-1]
    layers = [_backdrop(rng, size, scale, float(rng.uniform(20.0, 60.0)))]
    layers += [_middle(rng, size, scale, float(d), i) for i, d in enumerate(middle_depths)]
    layers.append(_subject(rng, size, scale, focus))
    return layers, focus


#: The largest side of a synthetic scene a data source makes (a typo's extra zeros are an error, not hours of work).
MAX_SCENE_SIDE = 8192


def check_scene_count(n: Any, shape: Any) -> None:
    """ValueError unless ``n`` (a number of scenes) is at least 1 and ``shape`` is (H, W), two
    integers from 1 to MAX_SCENE_SIDE: the options of the training programs' synthetic sources."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r}: the number of scenes must be an integer of at least 1")
    if (not isinstance(shape, (list, tuple)) or len(shape) != 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= MAX_SCENE_SIDE for s in shape)):
        raise ValueError(f"shape={list(shape) if isinstance(shape, (list, tuple)) else shape!r}: must be [H, W], "
                         f"two integers from 1 to {MAX_SCENE_SIDE}")


def make_scene(seed: int, size: tuple[int, int] = (256, 256), lens: Optional[Lens] = None,
               render_dof: bool = True) -> Scene:
    """A deterministic synthetic portrait of ``size`` = (H, W) with exact mask, depth and DoF.

    Layers are built on a canvas padded by the largest blur radius, so the reference render
    has true content beyond the frame, then cropped.
    """
    lens = lens or Lens()
    h, w = size
    probe_layers, focus = make_layers(seed, (8, 8))
    radii = [float(coc_radius_px(layer.depth, focus, lens, w)) for layer in probe_layers]
    pad = int(np.ceil(max(radii))) + 2
    layers, focus = make_layers(seed, (h + 2 * pad, w + 2 * pad))
    crop = (slice(pad, pad + h), slice(pad, pad + w))

    sharp = composite_layers(layers)[crop]
    subject = layers[-1]
    dof = None
    if render_dof:
        dof = to_uint8(linear_to_srgb(composite_layers(layers, radii)[crop]))
    return Scene(
        image=to_uint8(linear_to_srgb(sharp)),
        mask=np.ascontiguousarray(subject.alpha[crop]),
        depth=np.ascontiguousarray(_depth_map(layers)[crop]),
        focus_depth=focus,
        lens=lens,
        dof=dof,
        seed=seed,
        layer_depths=[layer.depth for layer in layers],
    )


def dead_leaves(seed: int, size: tuple[int, int] = (256, 256), radii: tuple[float, float] = (1.0, 64.0),
                supersample: int = 2) -> np.ndarray:
    """A dead-leaves texture (Matheron 1968; Lee, Mumford & Huang 2001): opaque disks of random
    colour, radius density ∝ r⁻³ between ``radii`` (px at ``size``), dropped one over another
    until 99.9 % of the frame is covered, drawn at ``supersample``× and area-averaged (anti-aliased edges).
    Scale-invariant like natural scenes: its power spectrum falls as |f|^−β with β ≈ 2 (unlike
    the gratings of :func:`make_scene`'s textures), so it tests what assumes natural-image
    statistics (evaluation/defocus.py). uint8 RGB H×W×3 (sRGB), a pure function of the seed."""
    rng = np.random.default_rng(seed)
    h, w = size[0] * supersample, size[1] * supersample
    r_lo, r_hi = radii[0] * supersample, radii[1] * supersample
    canvas = np.empty((h, w, 3), np.float32)
    canvas[:] = rng.uniform(0.05, 0.95, 3)
    covered = np.zeros((h, w), bool)
    # inverse-CDF draws of the r⁻³ density, painted front to back: each disk fills what is still
    # empty, until all but 0.1 % is (the last specks keep the base colour)
    while covered.mean() < 0.999:
        u = rng.uniform(0.0, 1.0, 512)
        r = 1.0 / np.sqrt(1.0 / r_lo**2 - u * (1.0 / r_lo**2 - 1.0 / r_hi**2))
        cy, cx = rng.uniform(-r_hi, h + r_hi, 512), rng.uniform(-r_hi, w + r_hi, 512)
        colours = rng.uniform(0.05, 0.95, (512, 3)).astype(np.float32)
        for y, x, rad, colour in zip(cy, cx, r, colours):
            y0, y1 = max(0, int(y - rad)), min(h, int(y + rad) + 2)
            x0, x1 = max(0, int(x - rad)), min(w, int(x + rad) + 2)
            if y0 >= y1 or x0 >= x1:
                continue
            yy, xx = np.ogrid[y0:y1, x0:x1]
            disk = ((yy + 0.5 - y) ** 2 + (xx + 0.5 - x) ** 2 <= rad * rad) & ~covered[y0:y1, x0:x1]
            canvas[y0:y1, x0:x1][disk] = colour
            covered[y0:y1, x0:x1] |= disk
    small = canvas.reshape(size[0], supersample, size[1], supersample, 3).mean(axis=(1, 3))
    return to_uint8(small)


def write_unaligned_dataset(root: str | Path, n_train: int, n_test: int, size: tuple[int, int] = (64, 64),
                            seed: int = 0, lens: Optional[Lens] = None) -> None:
    """Write a CycleGAN-layout dataset of synthetic scenes, unpaired by construction.

    ``root/{trainA,testA}``: all-in-focus scenes; ``root/{trainB,testB}``: reference shallow-DoF
    renders of *other* scenes, each an RGB PNG; its subject mask is ``root/{split}_masks/NAME.png``
    (the layout of ``datasets.io.mask_path``, as scripts/prepare_masks.py writes it);
    ``root/depth{A,B}/NAME.npy`` hold depth.
    """
    from . import io

    root = Path(root)
    for domain, offset in (("A", 1_000_000), ("B", 2_000_000)):
        for split, count in (("train", n_train), ("test", n_test)):
            for i in range(count):
                scene_seed = seed * 10_000_000 + offset + (0 if split == "train" else 500_000) + i
                scene = make_scene(scene_seed, size, lens, render_dof=(domain == "B"))
                name = f"{split}{domain}_{i:04d}"
                rgb = scene.image if domain == "A" else scene.dof
                folder = root / f"{split}{domain}"
                io.write_image(folder / f"{name}.png", rgb)
                io.write_mask(io.mask_path(folder / f"{name}.png", folder), scene.mask)
                io.write_depth(root / f"depth{domain}" / f"{name}.npy", scene.depth)
