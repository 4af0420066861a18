"""How defocused a photo's background is: the disk radius of its blur, fitted to band energies.

A defocused background is the sharp scene convolved with the aperture's disk of radius r, with
the sensor's noise added after it, so its power spectrum is modelled as

    P(f) = A · |f|^−β · |D_r(f)|² + N · |G_c(f)|²,   D_r(f) = 2 J₁(2π r |f|) / (2π r |f|)

A · |f|^−β is the natural-image power law (Field 1987; van der Schaaf & van Hateren 1996; β
between 1 and 3 here), D_r the disk's optical transfer function and N · |G_c|² the noise floor,
white or correlated by a Gaussian of width c ≤ 1 px (a camera's grain after demosaicing and JPEG).
:func:`defocus_radius` measures the luma of the far background (at least 15 px from the person at
256 px) in eleven half-octave bands, differences of Gaussians with σ from 0.6 to 19 px, by
normalised convolution of the background alone (Knutsson & Westin 1993: each Gaussian of the
background-weighted luma divided by the Gaussian of the weight), so that neither the person nor
a sharp edge where the background ends enters a band. The model's band energies are exact sums of
the model spectrum times the bands' discrete transfer functions over a 512² frequency grid. The
fit is a search over a grid of (r, β, c) with A and N found by weighted least squares for each,
in log units (the background's contrast does not matter), each band weighted by the standard
error of its log energy from a delete-one-tile jackknife over a 4×4 grid (Efron & Stein 1981).
N is at most what the finest band's median response allows, 1.4826² · median(b₀²) (Donoho &
Johnstone 1994's robust noise scale): texture cannot pass for noise beyond that.

Why it does not care about grain or content: noise and grain land in N, which is flat across the
bands where the disk cuts the spectrum off; content sets A and β. The finest band (below 0.6 px),
where a camera's sharpening, JPEG blocks and grain dominate, bounds N and is not fitted.

What it cannot do, and says so: the photo's own softness (lens, demosaicing, downscaling) is a
blur too, so below about twice that softness the estimate reads the photo, not the added blur
(bench/BENCHMARKS.md, "Background defocus estimator", gives this floor on real photos); a blur is
only measured when the structure exceeds twice the noise at its scale and at least two measured
bands lie beyond it, otherwise the result is ``nan`` (a clear sky, a plain wall, a background too
small for a blur that large). The background is one spectrum: where part of it is sharp (a
patterned sleeve the person mask missed, a bright bokeh disc's rim) that part weighs in.
Images whose short side exceeds ``WORK_SIDE`` are measured area-downscaled to it.

Conventions: ``image`` uint8 RGB H×W×3, ``mask`` float32 H×W in [0, 1] (1 = person); the radius
comes back in pixels of the image given and as a fraction of its width.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np
from scipy.special import j1

from segdepth.distance import distance_to

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
SIGMAS = tuple(float(0.6 * 2 ** (k / 2)) for k in range(11))  # band edges, px: 0.6 … 19.2
RADII = np.concatenate([[0.0], np.geomspace(0.3, 48.0, 96)])  # the fit's disk radii, px
BETAS = np.round(np.arange(1.0, 3.01, 0.1), 2)  # the fit's power-law exponents
NOISE_WIDTHS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # the noise floor's Gaussian correlation widths, px
GRID = 512  # side of the frequency grid the model's band energies are summed on
FAR_PX = 15.0  # the far background: at least this far from the person (px at 256 px)
MIN_SUPPORT = 0.5  # a pixel counts in a band when this share of the band's Gaussian lies in the background
MIN_SHARE = 0.1  # a band measured on less than this share of a window is not used there
MIN_TILES = 3  # ... nor one measured in fewer of the window's tiles
MIN_BANDS = 6  # fewer usable bands: no estimate
FIRST_BAND = 1  # the finest band (below σ 0.6 px) holds the camera's sharpening, JPEG and noise: not fitted
TILES = 6  # tiles per side of the image
WINDOW = 3  # a window is WINDOW×WINDOW tiles (half the image side); windows start every tile
MIN_ERROR = 0.03  # smallest standard error of a band's log energy (the model's own error)
MIN_SNR = 2.0  # the structure must exceed the noise floor by this factor at the blur's scale
COARSER_BANDS = 2  # measured bands beyond the blur's scale needed to pin the power law
WORK_SIDE = 512  # larger images are measured area-downscaled to this short side


@dataclass(frozen=True)
class Defocus:
    """Result of :func:`defocus_radius`: the disk radius in pixels and as a fraction of the image
    width, the median over the windows that measured one (``nan`` when none did), and the radii
    (px) of those windows."""

    radius_px: float
    radius_frac: float
    windows: tuple[float, ...]


def _gaussian_response(sigma: float, f: np.ndarray) -> np.ndarray:
    """Transfer function at frequencies ``f`` (cycles/px) of the 1-D Gaussian ``cv2.GaussianBlur``
    applies for ``sigma`` (its sampled, normalised kernel: the DTFT Σ g[n] cos 2πfn)."""
    g = cv2.getGaussianKernel(_ksize(sigma), sigma, cv2.CV_64F)[:, 0]
    n = np.arange(g.size) - g.size // 2
    return np.cos(2 * np.pi * f[..., None] * n) @ g


def _ksize(sigma: float) -> int:
    """Kernel size for ``sigma``: ±4σ, odd."""
    return 2 * int(math.ceil(4 * sigma)) + 1


def _band_filters(f1: np.ndarray) -> np.ndarray:
    """|B_k|² on the 2-D grid of 1-D frequencies ``f1``: band 0 is 1 − G(σ₀), band k the
    difference G(σ_{k−1}) − G(σ_k). Shape (bands, n, n)."""
    responses = [np.outer(r, r) for r in (_gaussian_response(s, f1) for s in SIGMAS)]
    bands = [1.0 - responses[0]] + [a - b for a, b in zip(responses[:-1], responses[1:])]
    return np.stack(bands) ** 2


@functools.lru_cache(maxsize=1)
def _models() -> tuple[np.ndarray, np.ndarray]:
    """Band energies of the model, summed over the frequency grid: structure
    M[r, β, k] = Σ_f |f|^−β |D_r(f)|² |B_k(f)|² and noise W[c, k] = Σ_f |G_c(f)|² |B_k(f)|² (unit
    white noise correlated by a Gaussian of width c, ``NOISE_WIDTHS``)."""
    f1 = np.fft.fftfreq(GRID)
    bands = _band_filters(f1)
    radial = np.hypot(f1[:, None], f1[None, :])
    # sum over rings of equal |f| first: the model depends on |f| only
    edges = np.linspace(0.0, radial.max() + 1e-9, 1025)
    ring = np.digitize(radial, edges) - 1
    count = np.bincount(ring.ravel(), minlength=edges.size)
    mean_f = np.bincount(ring.ravel(), radial.ravel(), minlength=edges.size) / np.maximum(count, 1)
    band_ring = np.stack([np.bincount(ring.ravel(), b.ravel(), minlength=edges.size) for b in bands])
    x = 2 * np.pi * RADII[:, None] * mean_f[None, :]
    disk = np.where(x > 1e-6, 2 * j1(np.maximum(x, 1e-6)) / np.maximum(x, 1e-6), 1.0) ** 2
    power = np.where(mean_f > 0, np.maximum(mean_f, 1e-9), np.inf)[None, :] ** -BETAS[:, None]  # DC and empty rings: 0
    structure = np.einsum("rf,bf,kf->rbk", disk, power, band_ring)
    noise = np.stack([np.einsum("kf,f->k", band_ring, np.exp(-4 * np.pi**2 * c**2 * mean_f**2)) for c in NOISE_WIDTHS])
    return structure, noise


@dataclass(frozen=True)
class Bands:
    """Band energies of a region of the far background: mean squared response per band (0 where
    not measured), pixels per band (0: not measured), standard error of each log energy and the
    robust variance of the finest band over the whole background, (1.4826 · median |b₀|)², that
    bounds the noise."""

    energies: np.ndarray
    counts: np.ndarray
    errors: np.ndarray
    fine_robust_var: float


@dataclass(frozen=True)
class TileEnergies:
    """Sums and counts of the far background's squared band responses per band and tile
    (bands × ``TILES`` × ``TILES``; :func:`tile_energies`) and the finest band's robust variance."""

    sums: np.ndarray
    counts: np.ndarray
    fine_robust_var: float


def tile_energies(image: np.ndarray, mask: np.ndarray, far_px: float = FAR_PX) -> TileEnergies:
    """The far background's luma in each band (module docstring) by normalised convolution of the
    background only (``far_px`` at 256 px, scaled with the short side; a pixel counts in a band
    where ``MIN_SUPPORT`` of the band's Gaussian lies in the background), summed per tile."""
    y = np.asarray(image, np.float32) @ _LUMA
    h, w = y.shape
    far = distance_to(np.asarray(mask, np.float32) >= 0.5) >= far_px * min(h, w) / 256.0
    weight = far.astype(np.float32)
    tile = ((np.arange(h)[:, None] * TILES // h) * TILES + np.arange(w)[None, :] * TILES // w).astype(np.int64)
    previous, fine_robust_var = y, math.nan
    sums, counts = np.zeros((len(SIGMAS), TILES * TILES)), np.zeros((len(SIGMAS), TILES * TILES))
    for k, s in enumerate(SIGMAS):
        size = (_ksize(s),) * 2
        support = cv2.GaussianBlur(weight, size, s, borderType=cv2.BORDER_REFLECT)
        smooth = cv2.GaussianBlur(weight * y, size, s, borderType=cv2.BORDER_REFLECT) / np.maximum(support, 1e-6)
        use = far & (support >= MIN_SUPPORT)
        band = (previous - smooth)[use].astype(np.float64)
        if k == 0 and band.size:
            fine_robust_var = float((1.4826 * np.median(np.abs(band))) ** 2)
        sums[k] = np.bincount(tile[use], band * band, minlength=TILES * TILES)
        counts[k] = np.bincount(tile[use], minlength=TILES * TILES)
        previous = smooth
    shape = (len(SIGMAS), TILES, TILES)
    return TileEnergies(sums.reshape(shape), counts.reshape(shape), fine_robust_var)


def window_bands(tiles: TileEnergies, row: int, col: int, window_area: float) -> Bands:
    """:class:`Bands` of the window of ``WINDOW``×``WINDOW`` tiles from tile (``row``, ``col``):
    energies pooled over its tiles, the standard error of each log energy by a delete-one-tile
    jackknife (Efron & Stein 1981); a band measured on less than ``MIN_SHARE`` of the window's
    ``window_area`` or in fewer than ``MIN_TILES`` tiles is not measured."""
    sl = (slice(None), slice(row, row + WINDOW), slice(col, col + WINDOW))
    sums, counts = tiles.sums[sl].reshape(len(SIGMAS), -1), tiles.counts[sl].reshape(len(SIGMAS), -1)
    total, n, held = sums.sum(1), counts.sum(1), counts > 0
    t = held.sum(1)
    measured = (n >= MIN_SHARE * window_area) & (t >= MIN_TILES)
    energies = np.where(measured, total / np.maximum(n, 1), 0.0)
    loo = np.log(np.maximum(total[:, None] - sums, 1e-12) / np.maximum(n[:, None] - counts, 1))
    mean = np.where(held, loo, 0.0).sum(1) / np.maximum(t, 1)
    var = np.where(held, (loo - mean[:, None]) ** 2, 0.0).sum(1) * (t - 1) / np.maximum(t, 1)
    return Bands(energies, np.where(measured, n, 0).astype(np.int64), np.sqrt(var), tiles.fine_robust_var)


def _knee_band(radius: np.ndarray) -> np.ndarray:
    """Index of the band (band k spans σ_{k−1} … σ_k, band 0 below σ₀) holding the disk's
    equivalent Gaussian scale r/2 (the disk's standard deviation per axis), for each radius."""
    return np.searchsorted(np.asarray(SIGMAS), np.asarray(radius) / 2.0)


def fit_radius(bands: Bands) -> tuple[float, float, float]:
    """(radius px, β, noise share of the finest fitted band) of the model (module docstring) that
    fits the band energies best in log units, each band weighted by its standard error (at least
    ``MIN_ERROR``), with A ≥ 0 and 0 ≤ N ≤ what the finest band's median response allows.
    nan radius when too few bands were measured, when fewer than ``COARSER_BANDS`` measured bands
    lie beyond the blur's scale (the background is too small to show a blur that large) or when
    the scene does not exceed ``MIN_SNR`` times the noise in the band of the
    blur's scale or the next coarser one (the blur is hidden under the noise)."""
    structure, noise = _models()
    k_all = np.arange(len(SIGMAS))
    used = (bands.counts > 0) & (bands.energies > 0) & (k_all >= FIRST_BAND)
    if used.sum() < MIN_BANDS:
        return math.nan, math.nan, math.nan
    e = bands.energies[used]
    weight = 1.0 / np.maximum(bands.errors[used], MIN_ERROR) ** 2
    # relative units (each band divided by its energy), axes (radius, β, noise width, band)
    m = structure[:, :, None, used] / e
    w = noise[None, None, :, used] / e
    # weighted least squares for (A, N) per grid model; N is then capped at what the finest band's
    # median response allows and A refitted with N at the cap (texture cannot pass for noise)
    s_mm, s_mw, s_ww = (weight * m * m).sum(-1), (weight * m * w).sum(-1), (weight * w * w).sum(-1)
    s_m1, s_w1 = (weight * m).sum(-1), (weight * w).sum(-1)
    det = s_mm * s_ww - s_mw**2
    ok = det > 1e-12 * s_mm * s_ww
    n = np.where(ok, (s_mm * s_w1 - s_mw * s_m1) / np.where(ok, det, 1.0), 0.0)
    n_max = bands.fine_robust_var / noise[:, 0] if np.isfinite(bands.fine_robust_var) else np.inf
    n = np.clip(n, 0.0, n_max)
    a = np.maximum((s_m1 - n * s_mw) / s_mm, 1e-30)
    loss = np.sum(weight * np.log(a[..., None] * m + n[..., None] * w) ** 2, axis=-1)
    i, j, c = np.unravel_index(int(np.argmin(loss)), loss.shape)
    signal = a[i, j, c] * structure[i, j, used]
    floor = n[i, j, c] * noise[c, used]
    share = float(floor[0] / (signal[0] + floor[0]))
    knee = int(_knee_band(RADII[i]))
    k_used = k_all[used]
    near = (k_used >= knee) & (k_used <= knee + 1)
    if (k_used > knee).sum() < COARSER_BANDS or not np.any(signal[near] > MIN_SNR * floor[near]):
        return math.nan, float(BETAS[j]), share
    return float(RADII[i]), float(BETAS[j]), share


def defocus_radius(image: np.ndarray, mask: Optional[np.ndarray] = None, far_px: float = FAR_PX) -> Defocus:
    """The far background's defocus (module docstring): in each window of half the image's side
    (``WINDOW`` of ``TILES`` tiles, one tile apart), the disk radius r that, with the natural-image
    power law and a noise floor, explains its band energies; the result is the median over the
    windows that measured one, the typical region of the background. ``mask`` None: the whole
    frame is background. ``nan`` when no window could measure a blur."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 H×W×3, got {image.dtype} {image.shape}")
    h, w = image.shape[:2]
    mask = np.zeros((h, w), np.float32) if mask is None else np.asarray(mask, np.float32)
    if mask.shape != (h, w):
        raise ValueError(f"mask shape {mask.shape} does not match image {(h, w)}")
    scale = min(1.0, WORK_SIDE / min(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image, mask = (cv2.resize(x, size, interpolation=cv2.INTER_AREA) for x in (image, mask))
    tiles = tile_energies(image, mask, far_px)
    area = image.shape[0] * image.shape[1] * (WINDOW / TILES) ** 2
    radii = [fit_radius(window_bands(tiles, i, j, area))[0]
             for i in range(TILES - WINDOW + 1) for j in range(TILES - WINDOW + 1)]
    found = tuple(r / scale for r in radii if np.isfinite(r))
    radius_px = float(np.median(found)) if found else math.nan
    return Defocus(radius_px, radius_px / w, found)


def background_defocus(image: np.ndarray, output: np.ndarray, mask: np.ndarray) -> float:
    """The metric: the far background's defocus radius of ``output`` in percent of its width
    (:func:`defocus_radius`; ``image``, the input, is not needed). ``nan`` when unmeasurable."""
    return 100.0 * defocus_radius(output, mask).radius_frac
