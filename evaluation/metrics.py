"""Metrics for comparing shallow depth-of-field renders.

Conventions: images are numpy uint8 RGB H×W×3 (``image`` = the all-in-focus input,
``output`` = a method's render, ``truth`` = a reference render when one exists); masks are
float32 H×W in [0, 1] (1 = subject). Luminance is Y = 0.299 R + 0.587 G + 0.114 B on the
0–255 scale. Every metric returns a float; ``nan`` where the region it needs is empty.

Regions (``make_regions``): S = {mask ≥ 0.5}; the *core* is S eroded by ``erode_px``; the
*ring* is dilate(S, ring_px) \\ S; the *background* B is the complement of
dilate(S, 2·ring_px), so that no filter support in B reaches the subject edge.

Per-image metrics live in the ``METRICS`` registry (name → ``Metric``); set metrics (the
blur-distribution distance, the background-sharpness statistics) take samples of many images.
FID, KID and LPIPS, which need a network, are in :mod:`evaluation.feature_metrics`.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable, Optional

import cv2
import numpy as np
from scipy import stats
from skimage.metrics import structural_similarity

from evaluation.defocus import background_defocus
from segdepth.distance import distance_to

log = logging.getLogger(__name__)

_SSIM_WIN = 7  # skimage's default SSIM window side
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# 2×2 Haar detail filters, orthonormal (each has unit L2 norm): horizontal, vertical and the
# period-2 checkerboard (diagonal) component.
_HAAR_H = np.array([[0.5, 0.5], [-0.5, -0.5]], dtype=np.float32)
_HAAR_V = np.array([[0.5, -0.5], [0.5, -0.5]], dtype=np.float32)
_HAAR_D = np.array([[0.5, -0.5], [-0.5, 0.5]], dtype=np.float32)


class MetricUnavailable(RuntimeError):
    """A metric cannot be computed here (missing weights or optional package); the message says why."""


# ----------------------------------------------------------------------------- regions


@dataclass(frozen=True)
class Regions:
    """Boolean H×W masks: ``core`` (eroded subject), ``ring`` (just outside it), ``background``."""

    core: np.ndarray
    ring: np.ndarray
    background: np.ndarray


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def make_regions(
    mask: np.ndarray,
    erode_px: Optional[int] = None,
    ring_px: Optional[int] = None,
) -> Regions:
    """Split an image into subject core, edge ring and background (see the module docstring).

    ``mask`` float32 H×W in [0, 1]. Defaults scale with s = min(H, W):
    erode_px = max(5, round(0.02 s)) (5 ≥ the 7×7 SSIM window's corner distance 3√2, so that a
    subject pasted back untouched scores SSIM 1), ring_px = max(2, round(0.03 s)).
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be H×W, got shape {mask.shape}")
    s = min(mask.shape)
    erode_px = max(5, round(0.02 * s)) if erode_px is None else erode_px
    ring_px = max(2, round(0.03 * s)) if ring_px is None else ring_px
    subject = (mask >= 0.5).astype(np.uint8)
    core = cv2.erode(subject, _disk(erode_px), borderType=cv2.BORDER_REPLICATE) > 0
    near = cv2.dilate(subject, _disk(ring_px)) > 0
    far = cv2.dilate(subject, _disk(2 * ring_px)) > 0
    return Regions(core=core, ring=near & ~(subject > 0), background=~far)


# ----------------------------------------------------------------------------- helpers


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"images must both be H×W×3 of one shape, got {a.shape} and {b.shape}")


def luminance(image: np.ndarray) -> np.ndarray:
    """uint8 RGB H×W×3 → float32 H×W luminance Y (Rec. 601 weights), 0–255 scale."""
    return image.astype(np.float32) @ _LUMA


def _laplacian(y: np.ndarray) -> np.ndarray:
    return cv2.Laplacian(y, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT)


def _haar_details(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense (stride 1) 2×2 Haar detail responses (horizontal, vertical, checkerboard)."""
    return tuple(  # type: ignore[return-value]
        cv2.filter2D(y, cv2.CV_32F, k, borderType=cv2.BORDER_REFLECT) for k in (_HAAR_H, _HAAR_V, _HAAR_D)
    )


# ----------------------------------------------------------------------------- per-image metrics


def subject_psnr(image: np.ndarray, output: np.ndarray, regions: Regions) -> float:
    """Subject fidelity PSNR inside the eroded mask C, in dB (∞ for an unchanged subject).

    PSNR = 10 log10(255² / MSE), MSE = mean over pixels p ∈ C and channels c of (out − in)².
    """
    _check_pair(image, output)
    if not regions.core.any():
        return math.nan
    diff = output[regions.core].astype(np.float64) - image[regions.core].astype(np.float64)
    mse = float(np.mean(diff**2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def subject_ssim(image: np.ndarray, output: np.ndarray, regions: Regions) -> float:
    """Subject fidelity SSIM: the SSIM map (Wang et al. 2004, 7×7 window, colour channels
    averaged) of output vs input, averaged over the eroded mask C; 1 for an unchanged subject."""
    _check_pair(image, output)
    if not regions.core.any() or min(image.shape[:2]) < _SSIM_WIN:
        return math.nan
    _, smap = structural_similarity(image, output, channel_axis=2, data_range=255, full=True)
    return float(smap.mean(axis=2)[regions.core].mean())


def background_blur(image: np.ndarray, output: np.ndarray, regions: Regions) -> float:
    """Background high-frequency energy, output relative to input (1 = unchanged, → 0 = blurred).

    ratio = Σ_{p∈B} (∇²Y_out)² / Σ_{p∈B} (∇²Y_in)², with ∇² the 3×3 Laplacian of luminance Y and
    B the background region. ``nan`` where B is empty or the input background is flat.
    """
    _check_pair(image, output)
    bg = regions.background
    if not bg.any():
        return math.nan
    e_in = float(np.sum(_laplacian(luminance(image))[bg] ** 2, dtype=np.float64))
    e_out = float(np.sum(_laplacian(luminance(output))[bg] ** 2, dtype=np.float64))
    return math.nan if e_in == 0 else e_out / e_in


def background_colour_shift(image: np.ndarray, output: np.ndarray, regions: Regions) -> float:
    """Colour cast of the background in grey levels (0–255): max over channels c of
    |mean_{p∈B} out_c − mean_{p∈B} in_c|. A blur keeps it near 0; a tint or brightness change does not."""
    _check_pair(image, output)
    bg = regions.background
    if not bg.any():
        return math.nan
    diff = output[bg].astype(np.float64).mean(axis=0) - image[bg].astype(np.float64).mean(axis=0)
    return float(np.abs(diff).max())


def halo(image: np.ndarray, output: np.ndarray, regions: Regions) -> float:
    """Excess change in the ring just outside the subject over the rest of the background.

    halo = mean_{p∈R} |Δ(p)| − mean_{p∈B} |Δ(p)|, with Δ = (out − in)/255 averaged over the
    colour channels, R the ring and B the background. 0 when the ring changes like the rest
    of the background (or nothing changes); positive for colour bleeding / edge artifacts,
    up to 1; negative when the ring is left sharper than the rest.
    """
    _check_pair(image, output)
    if not regions.ring.any() or not regions.background.any():
        return math.nan
    delta = np.abs(output.astype(np.float32) - image.astype(np.float32)).mean(axis=2) / 255.0
    return float(delta[regions.ring].mean() - delta[regions.background].mean())


def checkerboard_share(image: np.ndarray, mask_region: np.ndarray, noise_floor: float = 1.0) -> float:
    """Share of period-2 energy in the 2×2 high frequencies of ``image`` over ``mask_region``.

    share = Σ D² / (Σ (H² + V² + D²) + n·ε), with H, V, D the orthonormal 2×2 Haar detail
    responses (D = the checkerboard filter ½[[1, −1], [−1, 1]]) of luminance, n the number of
    pixels and ε = ``noise_floor`` (0–255 units², ≈ 4× the uniform quantisation noise of the
    three details) so that a nearly flat (heavily blurred) region does not count its rounding
    noise as high-frequency structure.
    """
    if not mask_region.any():
        return math.nan
    h, v, d = (r[mask_region].astype(np.float64) for r in _haar_details(luminance(image)))
    total = float(np.sum(h**2) + np.sum(v**2) + np.sum(d**2)) + noise_floor * mask_region.sum()
    return float(np.sum(d**2)) / total


def checkerboard(image: np.ndarray, output: np.ndarray, regions: Regions) -> float:
    """Checkerboard artifact ratio in the background: share(out) / share(in) (see
    ``checkerboard_share``); 1 = unchanged, ≫ 1 = period-2 (deconvolution) artifacts."""
    _check_pair(image, output)
    s_in = checkerboard_share(image, regions.background)
    s_out = checkerboard_share(output, regions.background)
    if math.isnan(s_in) or s_in == 0:
        return math.nan
    return float(s_out / s_in)


# ----------------------------------------------------------------------------- real-photo metrics
# Bands at fixed distances from the subject edge, defined at 256 px (the short side of the real
# test portraits) and scaled with the short side s of the image: factor s / 256.


def _band_scale(shape: tuple[int, ...]) -> float:
    return min(shape[:2]) / 256.0


def edge_bands(mask: np.ndarray, ring: tuple[float, float] = (2.0, 6.0), far_px: float = 15.0,
               inner_px: float = 3.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean H×W bands around the subject S = {mask ≥ 0.5}, from Euclidean distances to its
    edge (distances in px at 256 px, scaled with the short side): the *rim* outside S at
    distance in (ring[0], ring[1]], the *far* background at distance ≥ ``far_px`` and the
    *inner* band of S within ``inner_px`` of the background."""
    subject = (np.asarray(mask, np.float32) >= 0.5).astype(np.uint8)
    k = _band_scale(subject.shape)
    d_out, d_in = distance_to(subject == 1), distance_to(subject == 0)
    rim = (subject == 0) & (d_out > ring[0] * k) & (d_out <= ring[1] * k)
    far = (subject == 0) & (d_out >= far_px * k)
    inner = (subject == 1) & (d_in <= inner_px * k)
    return rim, far, inner


def _energy(image: np.ndarray) -> np.ndarray:
    """Per-pixel Laplacian energy (∇²Y)² of the luminance, float64 H×W."""
    return _laplacian(luminance(image)).astype(np.float64) ** 2


def rim_sharpness(image: np.ndarray, output: np.ndarray, mask: np.ndarray) -> float:
    """rim2: how much sharper the ring 2–6 px outside the person stays than the far background.

    rim2 = [E_out(rim) / E_out(far)] / [E_in(rim) / E_in(far)], with E the mean Laplacian energy
    (∇²Y)² over the band (:func:`edge_bands`; far = ≥ 15 px from the person). ≈ 1 when the ring
    is blurred like the rest of the background; > 1 for a sharp rim of unblurred background.
    """
    _check_pair(image, output)
    rim, far, _ = edge_bands(mask)
    if not rim.any() or not far.any():
        return math.nan
    e_in, e_out = _energy(image), _energy(output)
    denom = e_in[rim].mean() * e_out[far].mean()
    return math.nan if denom == 0 else float(e_out[rim].mean() * e_in[far].mean() / denom)


def edge_detail_kept(image: np.ndarray, output: np.ndarray, mask: np.ndarray) -> float:
    """edge_in: Laplacian energy kept in the 3 px just inside the person, Σ E_out / Σ E_in
    (1 = the subject's edge as sharp as in the input; < 1 eaten by the blur)."""
    _check_pair(image, output)
    _, _, inner = edge_bands(mask)
    if not inner.any():
        return math.nan
    e_in = float(_energy(image)[inner].sum())
    return math.nan if e_in == 0 else float(_energy(output)[inner].sum()) / e_in


def background_grey_change(image: np.ndarray, output: np.ndarray, mask: np.ndarray) -> float:
    """Mean luminance change of the far background (≥ 15 px from the person), out − in, on the
    0–255 scale: 0 for a blur that keeps the exposure; ≠ 0 for a brightened or darkened one."""
    _check_pair(image, output)
    _, far, _ = edge_bands(mask)
    if not far.any():
        return math.nan
    return float(np.mean(luminance(output)[far] - luminance(image)[far], dtype=np.float64))


def background_sharpness(image: np.ndarray, mask: np.ndarray) -> float:
    """Background sharpness of one photo: ln of the mean Laplacian energy (∇²Y)² over the far
    background (≥ 15 px from the person; :func:`edge_bands`), natural log. ``nan`` if empty."""
    _, far, _ = edge_bands(mask)
    if not far.any():
        return math.nan
    return float(np.log(_energy(image)[far].mean() + 1e-6))


# Octave bands of the difference-of-Gaussians pyramid, (σ_fine, σ_coarse) in px at 256 px
# (σ 0 = the image itself): the detail between those two blurs.
DOG_BANDS: tuple[tuple[float, float], ...] = ((0.0, 1.0), (1.0, 2.0), (2.0, 4.0), (4.0, 8.0))


def band_name(band: tuple[float, float]) -> str:
    """``"band0-1"`` for the band (0, 1): the name of a :func:`band_energy_ratios` key."""
    return f"band{band[0]:g}-{band[1]:g}"


def _gauss(y: np.ndarray, sigma: float) -> np.ndarray:
    return y if sigma == 0 else cv2.GaussianBlur(y, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def band_energies(image: np.ndarray, mask: np.ndarray,
                  bands: tuple[tuple[float, float], ...] = DOG_BANDS) -> dict[str, float]:
    """Background structure at each scale of one image: for every octave band (σ_f, σ_c) of
    :data:`DOG_BANDS`, E = mean over the far background (≥ 15 px from the person,
    :func:`edge_bands`) of (G_σf∗Y − G_σc∗Y)², Y on the 0–255 scale (the Laplacian pyramid as
    differences of Gaussians, Burt & Adelson 1983). σ in px at 256 px, scaled with the short side
    like the other real-photo bands. Keys :func:`band_name`; ``nan`` where the far background is empty."""
    _, far, _ = edge_bands(mask)
    k = _band_scale(mask.shape)
    y = luminance(image)
    if not far.any():
        return {band_name(band): math.nan for band in bands}
    return {band_name(band): float(((_gauss(y, band[0] * k) - _gauss(y, band[1] * k))[far].astype(np.float64) ** 2).mean())
            for band in bands}


def band_energy_ratios(image: np.ndarray, output: np.ndarray, mask: np.ndarray,
                       bands: tuple[tuple[float, float], ...] = DOG_BANDS) -> dict[str, float]:
    """Background structure kept at each scale: :func:`band_energies` of ``output`` ÷ those of
    ``image``, per band. 1 = that scale kept; a defocus of radius r takes the bands finer than
    about r towards 0 and leaves coarser ones, while a soft copy loses only the finest band (a
    Gaussian blur of σ 1 px at 256 px keeps 0.4 %, 28 %, 68 % and 91 % of white noise's four bands,
    one of σ 2 px 0 %, 4 %, 28 % and 69 %). ``nan``
    where the far background is empty or the input has no energy in a band."""
    _check_pair(image, output)
    e_in, e_out = band_energies(image, mask, bands), band_energies(output, mask, bands)
    return {b: e_out[b] / e_in[b] if e_in[b] > 0 else math.nan for b in e_in}


def _finite(values: np.ndarray) -> np.ndarray:
    """The finite values of a set of per-image values, float64 (images whose region was empty are nan)."""
    v = np.asarray(values, np.float64)
    return v[np.isfinite(v)]


def sharpness_gap(values: np.ndarray, reference: np.ndarray) -> float:
    """Signed gap of medians, median(values) − median(reference), of per-image
    :func:`background_sharpness` (natural log): < 0 smoother than the reference photos,
    > 0 sharper. ``nan`` when either set is empty."""
    v, r = _finite(values), _finite(reference)
    if v.size == 0 or r.size == 0:
        return math.nan
    return float(np.median(v) - np.median(r))


def sharpness_w1(values: np.ndarray, reference: np.ndarray) -> float:
    """Wasserstein-1 distance between the two sets of per-image :func:`background_sharpness`
    values (the whole distribution, not only its median; scipy.stats.wasserstein_distance)."""
    v, r = _finite(values), _finite(reference)
    if v.size == 0 or r.size == 0:
        return math.nan
    return float(stats.wasserstein_distance(v, r))


def sharpness_w1_p(values: np.ndarray, reference: np.ndarray, draws: int = 2000, seed: int = 0) -> float:
    """Permutation-test p-value of :func:`sharpness_w1` (Good 2005, two-sample permutation test):
    the share of random splits of the pooled values, sized like the two sets, whose W₁ is at
    least the observed one, with the +1 correction of Phipson & Smyth (2010). Large p: the two
    sets cannot be told apart at this sample size; ``nan`` when either set is empty."""
    v, r = _finite(values), _finite(reference)
    if v.size == 0 or r.size == 0:
        return math.nan
    observed = stats.wasserstein_distance(v, r)
    pool, rng = np.concatenate([v, r]), np.random.default_rng(seed)
    hits = sum(stats.wasserstein_distance(p[:v.size], p[v.size:]) >= observed - 1e-12
               for p in (rng.permutation(pool) for _ in range(draws)))
    return float((hits + 1) / (draws + 1))


def sharpness_floor(reference: np.ndarray, n: int, draws: int = 2000, seed: int = 0) -> dict[str, float]:
    """Resolution of the gap and W₁ at sample size ``n``: their mean (|gap| for the gap) between
    two independent bootstrap samples of ``n`` drawn from ``reference`` itself (Efron & Tibshirani
    1993), i.e. what a method whose outputs came from the reference's own distribution would
    score on average; plus the share of draws with W₁ ≤ 0.12 and |gap| ≤ 0.10 (the real-photo benchmark's targets)."""
    r = _finite(reference)
    if r.size == 0 or n < 1:
        return {"gap": math.nan, "w1": math.nan, "p_w1_le_0.12": math.nan, "p_gap_le_0.10": math.nan}
    rng = np.random.default_rng(seed)
    a, b = rng.choice(r, (draws, n)), rng.choice(r, (draws, n))
    gaps = np.abs(np.median(a, axis=1) - np.median(b, axis=1))
    w1 = np.array([stats.wasserstein_distance(x, y) for x, y in zip(a, b)])
    return {"gap": float(gaps.mean()), "w1": float(w1.mean()),
            "p_w1_le_0.12": float(np.mean(w1 <= 0.12)), "p_gap_le_0.10": float(np.mean(gaps <= 0.10))}


def _with_mask(fn: Callable[[np.ndarray, np.ndarray, np.ndarray], float]) -> Callable[..., float]:
    """Adapt a metric of (image, output, mask) to the registry's (image, output, regions, mask)."""
    def metric(image: np.ndarray, output: np.ndarray, regions: Regions, mask: np.ndarray) -> float:
        return fn(image, output, mask)

    metric.__doc__ = fn.__doc__
    return metric


def truth_psnr(output: np.ndarray, truth: np.ndarray) -> float:
    """Full-reference PSNR of the whole output against a ground-truth render, in dB:
    10 log10(255² / mean (out − truth)²)."""
    _check_pair(truth, output)
    mse = float(np.mean((output.astype(np.float64) - truth.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def truth_ssim(output: np.ndarray, truth: np.ndarray) -> float:
    """Full-reference SSIM (Wang et al. 2004, 7×7 window, mean over pixels and channels);
    ``nan`` for images smaller than the window."""
    _check_pair(truth, output)
    if min(truth.shape[:2]) < _SSIM_WIN:
        return math.nan
    return float(structural_similarity(truth, output, channel_axis=2, data_range=255))


@dataclass(frozen=True)
class Metric:
    """A per-image metric: ``fn(image, output, regions)`` or, with ``needs_truth``, ``fn(output, truth)``."""

    fn: Callable[..., float]
    label: str
    higher_is_better: bool
    needs_truth: bool = False
    needs_mask: bool = False  # fn(image, output, regions, mask)


METRICS: dict[str, Metric] = {
    "subject_psnr": Metric(subject_psnr, "subject PSNR (dB)", True),
    "subject_ssim": Metric(subject_ssim, "subject SSIM", True),
    "bg_blur": Metric(background_blur, "background HF energy ratio", False),
    "bg_shift": Metric(background_colour_shift, "background colour shift (grey levels)", False),
    "halo": Metric(halo, "halo (ring − background change)", False),
    "checkerboard": Metric(checkerboard, "checkerboard share ratio", False),
    "rim2": Metric(_with_mask(rim_sharpness), "rim2 (ring 2–6 px out vs far background, ÷ input)", False,
                   needs_mask=True),
    "edge_in": Metric(_with_mask(edge_detail_kept), "edge_in (detail kept 3 px inside)", True, needs_mask=True),
    "bg_grey": Metric(_with_mask(background_grey_change), "background grey-level change", False,
                      needs_mask=True),
    "bg_defocus": Metric(_with_mask(background_defocus), "background defocus radius (% of width)", True,
                         needs_mask=True),
    "truth_psnr": Metric(truth_psnr, "PSNR vs ground truth (dB)", True, needs_truth=True),
    "truth_ssim": Metric(truth_ssim, "SSIM vs ground truth", True, needs_truth=True),
}


def compute_image_metrics(
    image: np.ndarray,
    output: np.ndarray,
    mask: np.ndarray,
    truth: Optional[np.ndarray] = None,
    regions: Optional[Regions] = None,
) -> dict[str, float]:
    """All registered per-image metrics for one render (truth metrics only when ``truth`` is given)."""
    regions = make_regions(mask) if regions is None else regions
    result: dict[str, float] = {}
    for name, metric in METRICS.items():
        if metric.needs_truth:
            if truth is not None:
                result[name] = metric.fn(output, truth)
        elif metric.needs_mask:
            result[name] = metric.fn(image, output, regions, mask)
        else:
            result[name] = metric.fn(image, output, regions)
    return result


# ----------------------------------------------------------------------------- weight-free realism


def blur_samples(image: np.ndarray, mask: np.ndarray, short_side: int = 256, patch: int = 16) -> np.ndarray:
    """Local background sharpness samples of one image, for comparing blur distributions.

    The image is resized (area) to ``short_side`` on its shorter side; for every ``patch``²
    tile lying wholly in the background B, the sample is log10(mean_tile (∇²Y)² + 10⁻³).
    """
    h, w = mask.shape
    scale = short_side / min(h, w)
    size = (max(patch, round(w * scale)), max(patch, round(h * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    bg = make_regions(small_mask).background
    energy = _laplacian(luminance(small)) ** 2
    th, tw = size[1] // patch, size[0] // patch
    tiles_e = energy[: th * patch, : tw * patch].reshape(th, patch, tw, patch).mean(axis=(1, 3))
    tiles_bg = bg[: th * patch, : tw * patch].reshape(th, patch, tw, patch).all(axis=(1, 3))
    return np.log10(tiles_e[tiles_bg] + 1e-3).astype(np.float64)


def blur_distribution_distance(samples_a: np.ndarray, samples_b: np.ndarray) -> float:
    """1-D Wasserstein distance W₁ between two pooled sets of ``blur_samples`` (log10 units).

    W₁(P, Q) = ∫ |F_P(t) − F_Q(t)| dt (scipy.stats.wasserstein_distance); 0 = same blur
    statistics as the real shallow-DoF photos. ``nan`` when either set is empty.
    """
    if len(samples_a) == 0 or len(samples_b) == 0:
        return math.nan
    return float(stats.wasserstein_distance(samples_a, samples_b))
