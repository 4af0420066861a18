"""Sensor grain over the blurred background: the photo's own noise, re-synthesised after the blur.

In a camera, noise enters at the sensor, after the optics: a real shallow-DoF photo keeps its
grain in the defocused background. A blur applied to a finished photo wipes the grain out with
the detail, so on a noisy photo the background looks smoother than the in-focus subject beside
it. Photoshop's Lens Blur has a Noise setting for the same reason. This module

1. decides whether the photo has noise to give back and how much may go where
   (:func:`compositing.noise.noise_profile`): the fine-scale noise std of its flat regions per brightness, read
   from the quietest flat blocks so that texture is not taken for noise, and the fine-scale std
   around every pixel. The gate: nothing is added unless some brightness has confidently
   measured, visible noise (a photo downscaled from a phone has had its noise averaged away; a
   JPEG's flat parts are smooth). The cap: the grain's fine-scale std at a pixel is at most the
   profile's level at the output's brightness there and at most what the photo itself had
   around that pixel, so no region ends up noisier at the finest scale than the input's flat
   regions of its brightness, and a clean sky or wall stays clean;
2. estimates the noise's shape (:func:`estimate_grain`) per channel of YCrCb (JPEG's colour
   space: chroma noise is subsampled and smoother than luma noise) as white noise of unit
   variance filtered by a normalised Gaussian of width ``width`` and scaled by ``sigma``, from
   the covariance S of the 7×7 patches centred on the flattest quarter of the photo (each
   patch's mean removed). Noise alone gives S = σ²·C_w (C_w the model's patch correlation), so
   every generalised eigenvalue of (S, C_w) is σ²; texture adds a positive semi-definite part
   of low rank (gratings, edges, shading) and raises only some of them. The width is the one
   whose lower half of eigenvalues is the most nearly equal, σ² the mean of the smallest six:
   the patch-PCA noise estimate of Pyatykh, Hesser & Zheng 2013 and Liu, Tanaka & Okutomi 2013
   (σ² = the smallest eigenvalues of the patch covariance), whitened for correlated noise. Where
   the flat parts are noise alone, picking the flattest pixels picks weaker noise; a second
   correlation per width, measured on the model's noise through the same selection, fits those
   photos (σ within 10 % instead of 20 % low). Texture that is random from pixel to pixel
   (gravel, wood chips in a small photo) has the statistics of noise and raises σ; the level
   the grain is drawn at comes from step 1, σ and width only give its shape;
3. adds a new realisation of that noise (:func:`synthesize`: uniform random bytes filtered by the
   Gaussian, chroma at half size as JPEG stores it; seeded per image, so the same photo and seed
   give the same output) with a per-pixel amplitude that restores the variance the blur removed
   (:func:`restore_weight`, :func:`photo_weight`): the composite α·F + (1 − α)·blur(B) keeps α²σ² of the
   subject's noise and (1 − α)²·kept·σ² of the background's, where kept is the share of white-
   noise variance the blur lets through (for an aperture kernel h_r, ‖h_r‖², :func:`noise_kept`);
   the grain adds the rest, σ²·(1 − α² − (1 − α)²·kept), times the cap of step 1.

The levels are in sRGB code values, as the noise is measured; the profile follows the noise's
change with brightness (real noise grows in the shadows) bin by bin.
"""
from __future__ import annotations

import functools
import logging
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from .kernels import aperture_kernel
from .noise import QUANT_VAR, noise_profile

log = logging.getLogger(__name__)

_WIDTHS = np.round(np.arange(0.0, 1.51, 0.1), 2)  # Gaussian widths (px) tried by the fit; 0 = white
# (wider correlation matrices of 7×7 patches are too ill-conditioned: condition number > 10¹⁰)
_FLAT_SHARE = 0.25  # share of the photo (its flattest pixels) the noise is measured on
_PATCH = 7  # side of the patches whose covariance is analysed
_FIT_DIMS = 24  # smallest generalised eigenvalues that fit the width (the lower half of the 48)
_MAX_PATCHES = 16384  # patches analysed per channel (they overlap: more add little)
_NOISE_DIMS = 6  # smallest generalised eigenvalues that give σ² (texture rarely reaches them)
# the 8-bit rounding's variance (QUANT_VAR, white) is taken out of the luma's patch covariance, or
# it would pass for noise and pull the width towards 0. Not out of the chroma's: chroma noise is
# correlated over a pixel or more, its model has almost no power at the finest frequencies, and
# there any error in this small variance would decide the fit (chroma σ 2 of width 1 px was found
# as 0.1 with 0.035 taken out, as 1.95 without)
# YCrCb (OpenCV's, 8-bit) → RGB for zero-mean noise: R = Y + 1.403 Cr, G = Y − 0.714 Cr − 0.344 Cb, B = Y + 1.773 Cb
_YCRCB_TO_RGB = np.array([[1.0, 1.403, 0.0], [1.0, -0.714, -0.344], [1.0, 0.0, 1.773]], np.float32)


@dataclass(frozen=True)
class GrainModel:
    """Noise of a photo per YCrCb channel: standard deviation ``sigma`` (code values) of white
    noise filtered by a unit-energy Gaussian of width ``width`` (px; 0 = white)."""

    sigma: tuple[float, float, float]
    width: tuple[float, float, float]


def _gaussian(width: float) -> np.ndarray:
    """2-D Gaussian of ``width`` px normalised to unit energy (Σ g² = 1); the 1×1 delta for 0."""
    if width <= 0:
        return np.ones((1, 1), np.float32)
    g1 = cv2.getGaussianKernel(2 * int(np.ceil(3 * width)) + 1, width, cv2.CV_64F)
    g = g1 @ g1.T
    return (g / np.sqrt((g * g).sum())).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _ac_basis() -> np.ndarray:
    """Orthonormal basis (P²×(P² − 1)) of the patch vectors with zero mean: projecting on it
    drops each patch's mean (its DC), which carries the image's shading, not its noise."""
    n = _PATCH * _PATCH
    q, _ = np.linalg.qr(np.hstack([np.ones((n, 1)), np.eye(n)[:, : n - 1]]))
    return q[:, 1:]


def _patch_correlation(width: float) -> np.ndarray:
    """Covariance of :func:`_ac_basis`-projected P×P patches of the model's noise at σ = 1:
    the autocorrelation of :func:`_gaussian` (``width``) at every pair of patch offsets."""
    g = _gaussian(width).astype(np.float64)
    p = _PATCH
    ac = cv2.filter2D(np.pad(g, p), -1, g, borderType=cv2.BORDER_CONSTANT)  # g ⋆ g, centred
    c = ac.shape[0] // 2
    offsets = np.array([(i, j) for i in range(p) for j in range(p)])
    d = offsets[:, None, :] - offsets[None, :, :]
    q = _ac_basis()
    return q.T @ ac[c + d[..., 0], c + d[..., 1]] @ q


def _patch_indices(centres: np.ndarray, max_patches: int = _MAX_PATCHES) -> np.ndarray:
    """Flat indices (n×P²) of the pixels of the P×P patches centred on ``centres`` (boolean
    map; at least P // 2 px from the border), at most ``max_patches`` of them, evenly spaced."""
    w, r = centres.shape[1], _PATCH // 2
    offsets = (np.arange(-r, r + 1)[:, None] * w + np.arange(-r, r + 1)[None, :]).reshape(-1)
    c = np.flatnonzero(centres)
    c = c[:: max(1, -(-len(c) // max_patches))]
    return c[:, None] + offsets[None, :]


def _patch_covariance(channel: np.ndarray, patches: np.ndarray) -> np.ndarray:
    """Second moment of the :func:`_ac_basis`-projected patches of ``channel`` (float32) at the
    flat indices ``patches`` (:func:`_patch_indices`)."""
    x = channel.reshape(-1)[patches]
    x -= x.mean(axis=1, keepdims=True)  # the projection drops the mean anyway; float32 keeps the rest exact
    # OpenCV's products, not numpy's: BLAS's own threads, on these small matrices, stall for tenths
    # of a second after OpenCV's thread pool has run on a busy 2-core machine
    z = cv2.gemm(x, _ac_basis().astype(np.float32), 1.0, None, 0.0)
    return cv2.mulTransposed(z, True, dtype=cv2.CV_64F) / max(1, len(z))


def _flat_pixels(y: np.ndarray) -> np.ndarray:
    """Boolean map of the flattest ``_FLAT_SHARE`` of the pixels: lowest gradient magnitude of
    the luma smoothed at 2 px (noise barely moves it), averaged over 5×5."""
    smooth = cv2.GaussianBlur(y, (0, 0), 2.0)
    gx, gy = cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1)
    structure = cv2.blur(cv2.magnitude(gx, gy), (5, 5))
    inner = np.zeros(y.shape, bool)
    inner[4:-4, 4:-4] = True  # whole patches, away from the border
    if not inner.any():
        return inner
    return inner & (structure <= np.quantile(structure[inner], _FLAT_SHARE))


def _selected_correlation(width: float, size: int = 256) -> np.ndarray | None:
    """:func:`_patch_correlation` measured on a realisation of the model's noise (σ = 1, fixed
    seed) at the patches :func:`_flat_pixels` picks in it: where noise alone decides which
    pixels look flattest, it picks those where the noise is locally weaker (σ 20 % low with the
    plain correlation). None where it is not positive definite (wide correlations)."""
    field = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    field = cv2.filter2D(field, cv2.CV_32F, _gaussian(width), borderType=cv2.BORDER_REFLECT) + np.float32(128.0)
    corr = _patch_covariance(field, _patch_indices(_flat_pixels(field)))
    try:
        np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        return None
    return corr


@functools.lru_cache(maxsize=1)
def _whiteners() -> tuple[np.ndarray, np.ndarray]:
    """The candidate models: their widths and the inverse Cholesky factors L⁻¹ of their patch
    correlations C = L·Lᵀ (:func:`_patch_correlation` and, where it exists,
    :func:`_selected_correlation` for each width), so that the generalised eigenvalues of
    (S, C) are the eigenvalues of L⁻¹·S·L⁻ᵀ, for all models in one batched call."""
    widths, inverse = [], []
    for width in _WIDTHS:
        for corr in (_patch_correlation(float(width)), _selected_correlation(float(width))):
            if corr is not None:
                widths.append(float(width))
                inverse.append(np.linalg.inv(np.linalg.cholesky(corr)))
    return np.array(widths), np.stack(inverse)


def _fit_channel(channel: np.ndarray, patches: np.ndarray, quant_var: float = 0.0) -> tuple[float, float]:
    """(sigma, width) of one channel (see the module docstring): for each width and each of its
    two patch correlations (:func:`_patch_correlation`, and :func:`_selected_correlation` for
    photos whose flat parts are noise alone), the generalised eigenvalues λ of (patch
    covariance, correlation); the model is the one whose ``_FIT_DIMS`` smallest λ are the most
    nearly equal (all equal σ² for noise alone), σ² the mean of its ``_NOISE_DIMS`` smallest;
    white noise of ``quant_var`` (the rounding, ``QUANT_VAR``) is taken out first."""
    cov = _patch_covariance(channel, patches) - quant_var * np.eye(_PATCH * _PATCH - 1)
    if np.trace(cov) <= 0:
        return 0.0, 0.0
    widths, inverse = _whiteners()
    lam = np.clip(np.linalg.eigvalsh(inverse @ cov @ inverse.transpose(0, 2, 1)), 1e-6, None)
    best = int(np.argmin(np.std(np.log(lam[:, :_FIT_DIMS]), axis=1)))
    return float(np.sqrt(lam[best, :_NOISE_DIMS].mean())), float(widths[best])


def estimate_grain(image: np.ndarray, max_side: int = 512, max_patches: int = _MAX_PATCHES) -> GrainModel:
    """The photo's noise model (uint8 RGB H×W×3; measured on a centre crop of at most
    ``max_side`` px, at full resolution so that the native grain is measured, from at most
    ``max_patches`` patches per channel)."""
    h, w = image.shape[:2]
    y0, x0 = max(0, (h - max_side) // 2), max(0, (w - max_side) // 2)
    crop = np.ascontiguousarray(image[y0:y0 + max_side, x0:x0 + max_side])
    ycc = cv2.cvtColor(crop.astype(np.float32), cv2.COLOR_RGB2YCrCb)  # float: no rounding to integers
    flat = _flat_pixels(ycc[..., 0])
    if flat.sum() < 64:
        return GrainModel((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
    patches = _patch_indices(flat, max_patches)
    fits = [_fit_channel(np.ascontiguousarray(ycc[..., c]), patches, QUANT_VAR if c == 0 else 0.0) for c in range(3)]
    model = GrainModel(tuple(f[0] for f in fits), tuple(f[1] for f in fits))  # type: ignore[arg-type]
    log.debug("grain (Y, Cr, Cb): sigma %s, width %s", np.round(model.sigma, 2).tolist(), model.width)
    return model


def image_seed(image: np.ndarray, seed: int) -> list[int]:
    """Seed sequence for one photo: ``seed`` and a checksum of the photo (the same photo and seed
    give the same grain; two photos get different grain)."""
    return [int(seed), zlib.crc32(np.ascontiguousarray(image[::7, ::7]).tobytes())]


# chroma noise below this std (code values; under a code value of R or B) is not synthesised
CHROMA_MIN = 0.75
# uniform 8-bit white noise (random bytes: the cheapest numbers to draw): mean and std
_U8_MEAN, _U8_STD = 127.5, float(np.sqrt((256.0**2 - 1.0) / 12.0))


def _white(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Uniform 8-bit white noise of ``shape`` (random bytes: the cheapest numbers to draw)."""
    return np.frombuffer(rng.bytes(shape[0] * shape[1]), np.uint8).reshape(shape)


def _field_of(white: np.ndarray, width: float, sigma: float) -> np.ndarray:
    """``white`` (uint8, :func:`_white`) correlated by a Gaussian of ``width`` px, centred and
    scaled to std ``sigma`` in one pass (the filtered noise's std is the uniform's times the
    kernel's L2 norm), float32, edges reflected."""
    if width <= 0:
        k = sigma / _U8_STD
        return cv2.addWeighted(white.astype(np.float32), k, white.astype(np.float32), 0.0, -_U8_MEAN * k)
    g1 = cv2.getGaussianKernel(2 * int(np.ceil(3 * width)) + 1, width, cv2.CV_64F)
    k = sigma / (_U8_STD * float(np.sum(g1 * g1)))  # the 2-D kernel's L2 norm is Σ g1²
    return cv2.sepFilter2D(white, cv2.CV_32F, (g1 * k).astype(np.float32), g1.astype(np.float32),
                           delta=-_U8_MEAN * k, borderType=cv2.BORDER_REFLECT)


def _field(rng: np.random.Generator, shape: tuple[int, int], width: float, sigma: float) -> np.ndarray:
    """Noise of std ``sigma`` and ``shape`` correlated by a Gaussian of ``width`` px, float32:
    uniform white noise (after the Gaussian it is close to normal by the central limit theorem)
    filtered, centred and scaled (:func:`_field_of`)."""
    return _field_of(_white(rng, shape), width, sigma)


def _upsampling_gain(field: np.ndarray) -> float:
    """Factor that keeps ``field``'s variance through a 2× bilinear upsampling: each output pixel
    mixes two neighbours per axis with weights ¾ and ¼, which scales the variance by
    (⅝ + ⅜ ρ) per axis, ρ the field's correlation at lag 1 (separable Gaussian correlation)."""
    if field.shape[1] < 2:
        return 1.0
    rho = float(np.mean(field[:, 1:] * field[:, :-1]) / max(float(np.mean(field * field)), 1e-12))
    return 1.0 / (0.625 + 0.375 * rho)


def _luma(rng: np.random.Generator, model: GrainModel, shape: tuple[int, int],
          weight: np.ndarray | None) -> np.ndarray:
    """The luma part of a realisation (drawn first from ``rng``), times ``weight``. float32 H×W."""
    y = _field(rng, shape, model.width[0], model.sigma[0]) if model.sigma[0] > 0 else np.zeros(shape, np.float32)
    return y if weight is None else cv2.multiply(y, weight, dst=y)


def synthesize(model: GrainModel, shape: tuple[int, int], seed: list[int],
               weight: np.ndarray | None = None) -> np.ndarray:
    """A realisation of ``model`` times the amplitude ``weight`` (H×W, default 1), float32
    H×W×3 RGB noise in code values. Chroma is drawn at half the size and upsampled (as JPEG
    subsamples it), its width halved accordingly, its weight taken at that size; chroma noise
    weaker than ``CHROMA_MIN`` is left out (invisible, and 40 % of the time at 12 MP)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    y = _luma(rng, model, shape, weight)
    noise = cv2.merge([y, y, y])
    (_, s_cr, s_cb), (_, w_cr, w_cb) = model.sigma, model.width
    if max(s_cr, s_cb) < CHROMA_MIN:
        return noise
    half = (max(1, (h + 1) // 2), max(1, (w + 1) // 2))
    cr, cb = _field(rng, half, w_cr / 2.0, s_cr), _field(rng, half, w_cb / 2.0, s_cb)
    cr *= np.float32(_upsampling_gain(cr))
    cb *= np.float32(_upsampling_gain(cb))
    if weight is not None:
        w_half = cv2.resize(weight, (half[1], half[0]), interpolation=cv2.INTER_AREA)
        cr, cb = cr * w_half, cb * w_half
    m = _YCRCB_TO_RGB
    chroma = cv2.merge([m[0, 1] * cr, m[1, 1] * cr + m[1, 2] * cb, m[2, 2] * cb])
    return cv2.add(noise, cv2.resize(chroma, (w, h), interpolation=cv2.INTER_LINEAR))


def noise_kept(radius: np.ndarray, blades: int = 0, rotation_deg: float = 0.0) -> np.ndarray:
    """Share of white-noise variance that a blur by the aperture of ``radius`` px lets through,
    ‖h_r‖² (1 for r < 0.5, no blur; ≈ 1/(πr²) for large r), interpolated from kernels at
    radii 0.5 … 8, beyond ∝ 1/r². float32, shape of ``radius``."""
    radius = np.asarray(radius, np.float32)
    grid = np.concatenate([np.arange(0.5, 4.0, 0.25), np.arange(4.0, 8.5, 1.0)])
    kept = np.array([float(np.sum(aperture_kernel(float(r), blades, rotation_deg).astype(np.float64) ** 2))
                     for r in grid], np.float32)
    out = np.interp(radius, grid, kept) * (grid[-1] / np.maximum(radius, grid[-1])) ** 2  # beyond: ∝ 1/r²
    return np.where(radius < 0.5, np.float32(1.0), out).astype(np.float32)


def restore_weight(alpha: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Grain amplitude per pixel that restores the noise variance the composite
    α·F + (1 − α)·blur(B) removed: √max(0, 1 − α² − (1 − α)²·kept) (``kept``: the share of
    the background's noise variance left after the blur). float32."""
    a = np.clip(np.asarray(alpha, np.float32), 0.0, 1.0)
    return np.sqrt(np.clip(1.0 - a * a - (1.0 - a) ** 2 * np.asarray(kept, np.float32), 0.0, 1.0))


SOFT = (1.0 / 512, 1.0 - 1.0 / 512)  # matte values between these are soft; above, subject


def soft_pixels(alpha: np.ndarray) -> np.ndarray:
    """Flat indices of the matte's soft pixels (``SOFT``: neither background nor subject)."""
    return np.flatnonzero(cv2.inRange(alpha, *SOFT).reshape(-1))


def photo_weight(alpha: np.ndarray, kept: np.ndarray, soft: np.ndarray | None = None) -> np.ndarray:
    """:func:`restore_weight` for a whole photo: ``alpha`` the full-size matte of the sharp
    subject, ``kept`` (smooth) at any smaller size. The background's weight √(1 − kept) is
    upsampled; the subject (α ≈ 1) gets 0 and only the matte's soft pixels (``soft``, their
    :func:`soft_pixels` when the caller has them) the full formula."""
    h, w = alpha.shape
    weight = cv2.resize(np.sqrt(np.clip(1.0 - kept, 0.0, 1.0)), (w, h), interpolation=cv2.INTER_LINEAR)
    np.putmask(weight, cv2.inRange(alpha, SOFT[1], float(np.finfo(np.float32).max)).view(bool), 0.0)
    idx = soft_pixels(alpha) if soft is None else soft
    flat = weight.reshape(-1)
    flat[idx] = restore_weight(alpha.reshape(-1)[idx], 1.0 - flat[idx] ** 2)
    return weight


def apply_headroom(weight: np.ndarray, image: np.ndarray, sigma: float) -> np.ndarray:
    """``weight`` (float32 H×W, changed in place and returned) times the share of the grain each
    pixel of ``image`` could have held, min(1, d / 2σ) with d = min(min_c I, 255 − max_c I) its
    distance in code values to the sensor's clip points: a clipped sky or wall had its noise
    clipped away at the sensor, so it gets none. Only the pixels with d < 2σ (few; found with one
    ``inRange`` over the three channels) are touched."""
    limit = max(2.0 * sigma, 1e-6)
    lo = int(np.ceil(limit))  # d ≥ lo ⟺ every channel in [lo, 255 − lo]: untouched
    clear = cv2.inRange(image, (lo, lo, lo), (255 - lo, 255 - lo, 255 - lo))
    if cv2.countNonZero(clear) == clear.size:
        return weight
    idx = np.flatnonzero(clear.reshape(-1) == 0)
    px = image.reshape(-1, 3)[idx]
    d = np.minimum(px.min(axis=1), 255 - px.max(axis=1)).astype(np.float32)
    flat = weight.reshape(-1)
    flat[idx] *= np.minimum(np.float32(1.0), d / np.float32(limit))
    return weight


STRIP_ROWS = 256  # rows per strip of the luma grain: its buffers stay small and are reused


def _add_luma_strips(result: np.ndarray, white: np.ndarray, model: GrainModel, weight: np.ndarray) -> None:
    """``result`` += the luma field of :func:`_field` (from the uint8 ``white`` noise) × ``weight``
    in all three channels, rounded and saturated, one strip of rows at a time: each strip is
    filtered with ``pad`` rows of its neighbours, so the sum is the same as from the whole field,
    without the whole-image float, int16 and three-channel copies."""
    h = result.shape[0]
    width, sigma = model.width[0], model.sigma[0]
    pad = int(np.ceil(3 * width)) if width > 0 else 0  # the kernel's radius (:func:`_field_of`)
    for r0 in range(0, h, STRIP_ROWS):
        r1 = min(h, r0 + STRIP_ROWS)
        a, b = max(0, r0 - pad), min(h, r1 + pad)
        y = _field_of(white[a:b], width, sigma)[r0 - a:r1 - a]
        y = cv2.multiply(y, weight[r0:r1])
        y16 = cv2.addWeighted(y, 1.0, y, 0.0, 0.0, dtype=cv2.CV_16S)
        cv2.add(result[r0:r1], cv2.merge([y16, y16, y16]), dst=result[r0:r1], dtype=cv2.CV_8U)


# the grain's shape (correlation, chroma) is read from a centre crop of this side and this many
# patches: its level comes from the noise profile (compositing.noise), so a quarter of
# estimate_grain's default work does
SHAPE_SIDE, SHAPE_PATCHES = 256, 4096


@functools.lru_cache(maxsize=32)
def model_fine_std(width: float) -> float:
    """:func:`compositing.noise.fine_std` of unit-variance noise correlated by a Gaussian of ``width`` px: the
    Laplacian's response to the unit-energy Gaussian, √(Σ (∇² ∗ g)² / 20) (1 for white noise)."""
    g = _gaussian(width).astype(np.float64)
    lap = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float64)
    k = cv2.filter2D(np.pad(g, 2), -1, lap, borderType=cv2.BORDER_CONSTANT)
    return float(np.sqrt(np.sum(k * k) / 20.0))


def add_grain(result: np.ndarray, image: np.ndarray, weight: np.ndarray, seed: int) -> np.ndarray:
    """``result`` (uint8 RGB, changed in place and returned) plus new noise of ``image``'s kind
    times ``weight`` (H×W amplitude in [0, 1], changed in place), capped so that no pixel ends up
    noisier at the finest scale than ``image``'s flat regions of its brightness.

    The gate: nothing is added unless :func:`compositing.noise.noise_profile` measured the photo's noise with
    confidence and it is visible (a photo downscaled from a phone, a clean studio shot, a JPEG
    whose flat parts are smooth: none). The shape (correlation, chroma) is
    :func:`estimate_grain`'s; the level at each pixel is the profile's at the brightness of
    ``result`` there and at most the fine-scale std the photo itself had around that pixel, so the
    grain's fine-scale std is ``weight`` × that level: a region that was clean stays clean. None
    within 2σ of the clip points (:func:`apply_headroom`)."""
    profile = noise_profile(image)
    if not profile.confident or cv2.minMaxLoc(weight)[1] <= 0:
        return result
    model = estimate_grain(image, SHAPE_SIDE, SHAPE_PATCHES)
    if model.sigma[0] <= 0:  # no luma correlation found: white luma noise of the profile's level
        model = GrainModel((1.0,) + model.sigma[1:], (0.0,) + model.width[1:])
    # per-pixel factor that turns the model's luma (σ_Y, width c) into the fine-scale level the
    # photo allows there: the profile's at the output's brightness, at most what the photo had there
    # (both are smooth: taken at the profile's half size, then upsampled once)
    unit = np.float32(model.sigma[0] * model_fine_std(model.width[0]))
    h, w = weight.shape
    lh, lw = profile.local.shape
    grey = cv2.resize(cv2.cvtColor(result, cv2.COLOR_RGB2GRAY), (lw, lh), interpolation=cv2.INTER_AREA)
    level = cv2.min(cv2.LUT(grey, profile.table().reshape(1, 256)), profile.local)
    cv2.multiply(weight, cv2.resize(level, (w, h), interpolation=cv2.INTER_LINEAR), dst=weight, scale=1.0 / float(unit))
    apply_headroom(weight, image, float(np.nanmax(profile.level)))
    seeds = image_seed(image, seed)
    if max(model.sigma[1:]) < CHROMA_MIN:  # luma only: the same noise in all three channels
        _add_luma_strips(result, _white(np.random.default_rng(seeds), result.shape[:2]), model, weight)
        return result
    noise = synthesize(model, result.shape[:2], seeds, weight)
    cv2.add(result, noise, dst=result, dtype=cv2.CV_8U)  # rounded and saturated to 0…255
    return result
