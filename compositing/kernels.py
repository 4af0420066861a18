"""Blur kernels: box, Gaussian (OpenCV's sigma rule), anti-aliased disk and n-blade polygon.

Every function returns a float32 array. 1-D kernels have shape (k,), 2-D kernels (k, k) with k
odd, centred on the middle tap and normalised to sum 1 (``aperture_coverage`` is the exception:
it returns the unnormalised per-pixel coverage of the aperture shape, whose sum is its area).
"""
from __future__ import annotations

import numpy as np


def _check_odd(k: int) -> int:
    k = int(k)
    if k < 1 or k % 2 == 0:
        raise ValueError(f"kernel size must be a positive odd integer, got {k}")
    return k


def gaussian_sigma(k: int) -> float:
    """OpenCV's default sigma for an odd kernel size k: σ = 0.3·((k − 1)/2 − 1) + 0.8
    (documentation of ``cv2.getGaussianKernel``; Nasrullah 2018 uses it for its Gaussian baseline)."""
    k = _check_odd(k)
    return 0.3 * ((k - 1) / 2.0 - 1.0) + 0.8


def gaussian_kernel_1d(k: int, sigma: float | None = None) -> np.ndarray:
    """Normalised sampled Gaussian, shape (k,); ``sigma=None`` uses :func:`gaussian_sigma`.

    Equals ``cv2.getGaussianKernel(k, sigma)`` for an explicit sigma (OpenCV replaces the formula
    by fixed binomial tables for small k when sigma ≤ 0; we always use the formula).
    """
    k = _check_odd(k)
    s = gaussian_sigma(k) if sigma is None else float(sigma)
    if s <= 0:
        raise ValueError(f"sigma must be positive, got {s}")
    x = np.arange(k, dtype=np.float64) - (k - 1) / 2.0
    g = np.exp(-(x**2) / (2.0 * s * s))
    return (g / g.sum()).astype(np.float32)


def gaussian_kernel(k: int, sigma: float | None = None) -> np.ndarray:
    """2-D separable Gaussian, shape (k, k): outer product of :func:`gaussian_kernel_1d`."""
    g = gaussian_kernel_1d(k, sigma).astype(np.float64)
    return np.outer(g, g).astype(np.float32)


def box_kernel(k: int) -> np.ndarray:
    """Normalised k×k box (mean) filter, as ``cv2.blur(img, (k, k))`` applies."""
    k = _check_odd(k)
    return np.full((k, k), 1.0 / (k * k), np.float32)


def aperture_coverage(radius: float, blades: int = 0, rotation_deg: float = 0.0,
                      supersample: int = 8) -> np.ndarray:
    """Fraction of each pixel covered by the aperture, shape (2⌈r⌉+1, 2⌈r⌉+1), unnormalised.

    ``blades = 0`` is a disk of the given radius; ``blades = n ≥ 3`` a regular n-gon inscribed in
    that circle (a diaphragm with n straight blades), one corner at angle ``rotation_deg``
    (counter-clockwise from +x, image y pointing down). Coverage is measured with
    ``supersample``² samples per pixel, so the sum approximates the shape's area
    (π r² for the disk, n/2·r²·sin(2π/n) for the polygon).
    """
    if blades != 0 and blades < 3:
        raise ValueError(f"blades must be 0 (disk) or at least 3, got {blades}")
    radius = float(radius)
    if radius < 0.5:
        return np.ones((1, 1), np.float32)
    half = int(np.ceil(radius))
    n = 2 * half + 1
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    fine = ((np.arange(n) - half)[:, None] + offsets[None, :]).reshape(-1)
    yy, xx = fine[:, None], fine[None, :]
    if blades == 0:
        inside = xx**2 + yy**2 <= radius**2
    else:
        # Inside a regular n-gon: for every edge normal direction the projection is at most the
        # apothem r·cos(π/n). Edge normals sit halfway between corners.
        theta0 = np.deg2rad(rotation_deg)
        apothem = radius * np.cos(np.pi / blades)
        inside = np.ones((fine.size, fine.size), bool)
        for i in range(blades):
            phi = theta0 + (2 * i + 1) * np.pi / blades
            # image y points down: a counter-clockwise angle maps to −y
            inside &= xx * np.cos(phi) - yy * np.sin(phi) <= apothem
    cov = inside.reshape(n, supersample, n, supersample).mean(axis=(1, 3))
    return cov.astype(np.float32)


def disk_kernel(radius: float, supersample: int = 8) -> np.ndarray:
    """Anti-aliased disk of ``radius`` pixels, normalised to sum 1; radius < 0.5 is the identity."""
    cov = aperture_coverage(radius, 0, 0.0, supersample)
    return (cov / cov.sum()).astype(np.float32)


def polygon_kernel(radius: float, blades: int = 6, rotation_deg: float = 0.0,
                   supersample: int = 8) -> np.ndarray:
    """Anti-aliased regular ``blades``-gon inscribed in a circle of ``radius`` px, normalised."""
    if blades < 3:
        raise ValueError(f"a polygon aperture needs at least 3 blades, got {blades}")
    cov = aperture_coverage(radius, blades, rotation_deg, supersample)
    return (cov / cov.sum()).astype(np.float32)


def aperture_kernel(radius: float, blades: int = 0, rotation_deg: float = 0.0) -> np.ndarray:
    """Disk (``blades = 0``) or polygon aperture kernel of the given radius, normalised."""
    if blades == 0:
        return disk_kernel(radius)
    return polygon_kernel(radius, blades, rotation_deg)
