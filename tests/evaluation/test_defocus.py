"""The background defocus estimator reads known disk blur back, whatever the grain and content."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from bench.bench_defocus import Case, blur_disk, degrade, estimates, holds, medians
from datasets.synthetic import dead_leaves
from datasets.testing.people import skimage_rgb
from evaluation import metrics as M
from evaluation.defocus import defocus_radius

# radii from 1 % of the width: twice the test scenes' own softness (they read 0.1–0.45 % unblurred,
# at 256 px) is at most 0.9 %, and below that the estimate reads the scene, not the blur
FRACTIONS = (0.01, 0.02, 0.03, 0.04)


def _photo(name: str, side: int = 256) -> np.ndarray:
    image = skimage_rgb(name)
    h, w = image.shape[:2]
    s = side / min(h, w)
    return cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    """Procedural dead-leaves scenes (natural-image statistics) and three scikit-image photos."""
    return [Case(f"leaves{s}", dead_leaves(s)) for s in range(3)] + [
        Case(name, _photo(name)) for name in ("astronaut", "coffee", "chelsea")]


@pytest.mark.parametrize("noise_std, quality", [(0.0, None), (2.0, 75)], ids=["clean", "noise+jpeg"])
def test_known_disk_radii_are_read_back(cases, noise_std, quality):
    own, ratios = estimates(cases, FRACTIONS, noise_std, quality)
    assert np.all(np.isfinite(own)) and np.all(own <= 0.0045), own  # the scenes are sharp
    assert np.isfinite(ratios).mean() >= 0.9
    med = medians(ratios)
    within, monotonic = holds(med, FRACTIONS)
    assert within, med  # median estimate within ±25 % of the truth at every radius
    assert monotonic, med


def test_grain_does_not_read_as_sharpness():
    """Strong grain over a blurred background leaves the estimate where the blur put it."""
    scene = dead_leaves(7)
    blurred = blur_disk(scene, 0.025 * 256)
    clean = defocus_radius(blurred).radius_frac
    grainy = defocus_radius(degrade(blurred, 4.0, None, seed=3)).radius_frac
    assert clean == pytest.approx(0.025, rel=0.25)
    assert grainy == pytest.approx(clean, rel=0.25)


def test_only_the_far_background_counts():
    """A sharp person in front of a blurred background: the background's blur is read, not the person's."""
    background = blur_disk(dead_leaves(3), 0.02 * 256)
    person = dead_leaves(4)
    mask = np.zeros((256, 256), np.float32)
    cv2.ellipse(mask, (128, 200), (60, 110), 0, 0, 360, 1.0, -1)
    image = np.where(mask[..., None] > 0.5, person, background).astype(np.uint8)
    assert defocus_radius(image, mask).radius_frac == pytest.approx(0.02, rel=0.25)
    assert defocus_radius(image).radius_frac < 0.013  # the whole frame, person included, reads sharper


def test_no_structure_no_estimate():
    """A clear sky (a smooth gradient with noise) has no blur to measure: nan, not a number."""
    sky = np.linspace(90, 200, 256, dtype=np.float32)[:, None, None] * np.ones((256, 256, 3), np.float32)
    assert math.isnan(defocus_radius(degrade(sky.astype(np.uint8), 2.0, None, seed=0)).radius_px)


def test_large_photos_are_measured_at_the_working_size():
    """The radius is a fraction of the width, the same for a photo and its 2× upscale."""
    small = blur_disk(dead_leaves(5), 0.02 * 256)
    large = cv2.resize(small, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    a, b = defocus_radius(small), defocus_radius(large)
    assert b.radius_frac == pytest.approx(a.radius_frac, rel=0.2)
    assert b.radius_px == pytest.approx(4 * a.radius_px, rel=0.2)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="uint8"):
        defocus_radius(np.zeros((32, 32), np.uint8))
    with pytest.raises(ValueError, match="mask shape"):
        defocus_radius(np.zeros((32, 32, 3), np.uint8), np.zeros((16, 16), np.float32))


def test_registered_as_a_metric():
    image = dead_leaves(6)
    output = blur_disk(image, 0.02 * 256)
    mask = np.zeros((256, 256), np.float32)
    value = M.compute_image_metrics(image, output, mask)["bg_defocus"]
    assert value == pytest.approx(2.0, rel=0.25)  # percent of the width
