"""Evaluation speed: per-image metrics at 1 MP, gallery writing, and the FID trace term.

The FID term Tr((Σa Σb)^½) is computed as the nuclear norm of Xa Xbᵀ when the sets are small
(evaluation.feature_metrics.trace_sqrt_product); the baseline is scipy.linalg.sqrtm of the D×D product,
the pytorch-fid route. Both are timed in the same run on random 2048-d features (the Inception
pool3 size) and must agree.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _metrics_row(height: int, width: int, repeats: int) -> float:
    import cv2

    from datasets.synthetic import make_scene
    from evaluation.metrics import compute_image_metrics

    scene = make_scene(3, (240, 320))
    size = (width, height)
    image = cv2.resize(scene.image, size, interpolation=cv2.INTER_CUBIC)
    truth = cv2.resize(scene.dof, size, interpolation=cv2.INTER_CUBIC)
    mask = np.clip(cv2.resize(scene.mask, size, interpolation=cv2.INTER_LINEAR), 0, 1)
    output = cv2.GaussianBlur(image, (0, 0), 3)
    return _median_time(lambda: compute_image_metrics(image, output, mask, truth=truth), repeats)


def _gallery_time(n_images: int, n_columns: int) -> float:
    from evaluation.gallery import Cell, Column, Row, build_gallery, write_thumbnail

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        picture = rng.integers(0, 256, (512, 384, 3), dtype=np.uint8)
        start = time.perf_counter()
        rows = []
        for i in range(n_images):
            cells = []
            for k in range(n_columns):
                thumb = root / "gallery" / "thumbs" / str(k) / f"{i}.jpg"
                write_thumbnail(thumb, picture)
                cells.append(Cell(root / "full.png", thumb, "blur 0.1 · halo 0.01"))
            rows.append(Row(f"image {i}", cells))
        build_gallery(root / "gallery", [Column(f"m{k}") for k in range(n_columns)], rows)
        return time.perf_counter() - start


def run(quick: bool = False) -> str:
    """Markdown section: metric and gallery timings, FID trace speed-up over sqrtm."""
    from scipy import linalg

    from evaluation.feature_metrics import trace_sqrt_product

    repeats = 1 if quick else 3
    h, w, label = (120, 160, "19 kP") if quick else (866, 1155, "1 MP")
    metrics_s = _metrics_row(h, w, repeats)
    n_img, n_col = (3, 4) if quick else (50, 12)
    gallery_s = _gallery_time(n_img, n_col)

    d, n = (64, 20) if quick else (2048, 50)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(n, d)), rng.normal(size=(n, d)) + 0.1
    fast_value = trace_sqrt_product(a, b)
    fast_s = _median_time(lambda: trace_sqrt_product(a, b), repeats)

    def baseline() -> float:
        return float(np.trace(np.real(linalg.sqrtm(np.cov(a, rowvar=False) @ np.cov(b, rowvar=False)))))

    base_value = baseline()
    base_s = _median_time(baseline, 1)  # the slow baseline runs once
    agree = abs(fast_value - base_value) <= 1e-4 * abs(base_value)
    lines = [
        "### Evaluation", "",
        f"Median of {repeats} run(s) (the sqrtm baseline: 1 run), seconds.", "",
        "| what | size | time (s) |", "|---|---|---|",
        f"| all per-image metrics (PSNR/SSIM subject + truth, blur, halo, checkerboard) | {label} | {metrics_s:.3f} |",
        f"| gallery: thumbnails + index.html | {n_img} images × {n_col} columns | {gallery_s:.3f} |",
        f"| FID trace term, scipy sqrtm (baseline) | {n} + {n} features × {d} | {base_s:.3f} |",
        f"| FID trace term, nuclear norm | {n} + {n} features × {d} | {fast_s:.4f} |",
        "",
        f"Nuclear-norm speed-up over sqrtm: {base_s / fast_s:.0f}×; values agree to 1e-4: {'yes' if agree else 'NO'} "
        f"({fast_value:.6g} vs {base_value:.6g}).",
    ]
    return "\n".join(lines) + "\n"
