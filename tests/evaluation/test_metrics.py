"""Metrics on constructed cases with known answers (evaluation/metrics.py)."""
import math

import cv2
import numpy as np
import pytest
import torch

from evaluation import feature_metrics as FM
from evaluation import metrics as M


def _scene(size: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured RGB image (uint8) with a disk-shaped subject mask (float32)."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (size // 4, size // 4, 3)).astype(np.uint8)
    image = cv2.resize(noise, (size, size), interpolation=cv2.INTER_LINEAR)
    image = np.clip(image.astype(int) + rng.integers(-20, 21, image.shape), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:size, :size]
    mask = (((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size / 4) ** 2).astype(np.float32)
    return image, mask


def _composite(image, mask, background):
    m = mask[..., None]
    return (image * m + background * (1 - m)).round().astype(np.uint8)


def test_regions_partition():
    _, mask = _scene()
    r = M.make_regions(mask, erode_px=2, ring_px=3)
    subject = mask >= 0.5
    assert r.core.any() and r.ring.any() and r.background.any()
    assert (r.core <= subject).all()
    assert not (r.ring & subject).any()
    assert not (r.ring & r.background).any()
    assert not (r.background & subject).any()
    assert r.core.sum() < subject.sum()


def test_identity_output():
    image, mask = _scene()
    res = M.compute_image_metrics(image, image.copy(), mask, truth=image)
    assert res["subject_psnr"] == math.inf
    assert res["subject_ssim"] == pytest.approx(1.0)
    assert res["bg_blur"] == pytest.approx(1.0)
    assert res["halo"] == 0.0
    assert res["bg_shift"] == 0.0
    assert res["checkerboard"] == pytest.approx(1.0)
    assert res["truth_psnr"] == math.inf
    assert res["truth_ssim"] == pytest.approx(1.0)


def test_truth_metrics_only_with_truth():
    image, mask = _scene()
    assert "truth_psnr" not in M.compute_image_metrics(image, image, mask)


def test_gaussian_background_blur():
    image, mask = _scene()
    blurred = cv2.GaussianBlur(image, (0, 0), 3)
    out = _composite(image, mask, blurred)
    res = M.compute_image_metrics(image, out, mask)
    assert res["bg_blur"] < 0.1
    assert res["subject_psnr"] == math.inf  # subject pasted back untouched
    assert res["subject_ssim"] == pytest.approx(1.0)
    # a blur of the whole frame destroys subject fidelity
    whole = M.compute_image_metrics(image, blurred, mask)
    assert whole["subject_psnr"] < 30 and whole["subject_ssim"] < 0.9
    # a clean blur leaves no halo and no checkerboard
    assert abs(res["halo"]) < 0.05
    assert res["checkerboard"] < 1.5


def test_subject_psnr_known_value():
    image, mask = _scene()
    out = image.astype(int)
    out[..., 0] = np.where(out[..., 0] < 128, out[..., 0] + 10, out[..., 0] - 10)  # |Δ| = 10 in R only
    res = M.subject_psnr(image, out.astype(np.uint8), M.make_regions(mask))
    assert res == pytest.approx(10 * math.log10(255**2 / (100 / 3)), rel=1e-9)


def test_checkerboard_pattern_detected():
    image, mask = _scene()
    blurred = _composite(image, mask, cv2.GaussianBlur(image, (0, 0), 3))
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    pattern = np.where((yy + xx) % 2 == 0, 6, -6)[..., None]
    artifacts = np.clip(blurred.astype(int) + pattern, 0, 255).astype(np.uint8)
    clean = M.compute_image_metrics(image, blurred, mask)["checkerboard"]
    dirty = M.compute_image_metrics(image, artifacts, mask)["checkerboard"]
    assert dirty > 3.0
    assert dirty > 5 * clean
    # a pure checkerboard has all its 2×2 detail energy in the diagonal filter
    flat = np.full_like(image, 128).astype(int) + pattern
    interior = np.zeros(mask.shape, bool)
    interior[1:-1, 1:-1] = True  # away from the reflected image border
    share = M.checkerboard_share(flat.astype(np.uint8), interior, noise_floor=0.0)
    assert share == pytest.approx(1.0, abs=1e-6)


def test_colour_halo_detected():
    image, mask = _scene()
    blurred = _composite(image, mask, cv2.GaussianBlur(image, (0, 0), 3))
    regions = M.make_regions(mask)
    painted = blurred.copy()
    painted[regions.ring] = (255, 0, 255)
    clean = M.halo(image, blurred, regions)
    dirty = M.halo(image, painted, regions)
    assert dirty > 0.3
    assert dirty - clean > 0.3
    # an unblurred ring around a blurred background reads negative
    sharp_ring = blurred.copy()
    sharp_ring[regions.ring] = image[regions.ring]
    assert M.halo(image, sharp_ring, regions) < 0


def test_background_colour_shift_sees_a_cast_not_a_blur():
    image, mask = _scene(seed=3)
    regions = M.make_regions(mask)
    blurred = _composite(image, mask, cv2.GaussianBlur(image, (9, 9), 3, borderType=cv2.BORDER_REFLECT))
    assert M.background_colour_shift(image, blurred, regions) < 1.0
    tinted = image.astype(int)
    tinted[..., 2] = np.clip(tinted[..., 2] - 10, 0, 255)  # blue down by 10 where it can go
    tinted = _composite(image, mask, tinted.astype(np.uint8))
    bg = regions.background
    expected = image[bg][:, 2].astype(float).mean() - tinted[bg][:, 2].astype(float).mean()
    assert M.background_colour_shift(image, tinted, regions) == pytest.approx(expected, rel=1e-9)
    assert 8 < expected <= 10


def test_empty_regions_are_nan():
    image, _ = _scene()
    empty = np.zeros(image.shape[:2], np.float32)
    res = M.compute_image_metrics(image, image, empty)
    assert math.isnan(res["subject_psnr"]) and math.isnan(res["halo"])
    assert res["bg_blur"] == pytest.approx(1.0)  # everything is background
    flat = np.full_like(image, 100)
    assert math.isnan(M.compute_image_metrics(flat, flat, _scene()[1])["bg_blur"])


def test_tiny_images_give_nan_ssim():
    image = np.zeros((5, 6, 3), np.uint8)
    mask = np.zeros((5, 6), np.float32)
    mask[1:4, 2:5] = 1
    res = M.compute_image_metrics(image, image, mask, truth=image)
    assert math.isnan(res["truth_ssim"]) and res["truth_psnr"] == math.inf


def test_shape_mismatch_raises():
    image, mask = _scene()
    with pytest.raises(ValueError):
        M.compute_image_metrics(image, image[:-1], mask)


# ----------------------------------------------------------------------------- FID / KID


def _fid_reference(a: np.ndarray, b: np.ndarray) -> float:
    """FID via eigenvalues: Tr((Σa Σb)^½) = Σ sqrt(λ_i(Σa Σb)), an independent route."""
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    lam = np.linalg.eigvals(ca @ cb).real.clip(min=0)
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * np.sqrt(lam).sum())


def test_fid_math():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 6))
    b = rng.normal(size=(150, 6)) @ rng.normal(size=(6, 6)) + 0.5
    assert FM.fid_from_features(a, b) == pytest.approx(_fid_reference(a, b), rel=1e-6)
    assert FM.fid_from_features(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, -2.0, 0.0, 0.0, 3.0, 0.5])
    assert FM.fid_from_features(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-6)
    # 1-D Gaussians by hand: (μa − μb)² + (σa − σb)²
    x = rng.normal(size=(500, 1))
    y = 2.0 * (x - x.mean()) + 3.0
    assert FM.fid_from_features(x, y) == pytest.approx((x.mean() - 3.0) ** 2 + np.var(x, ddof=1) * (1 - 2) ** 2, rel=1e-6)
    assert math.isnan(FM.fid_from_features(a[:1], b))


def test_trace_sqrt_product_few_samples_many_dims():
    """N ≪ D takes the nuclear-norm route; it must agree with scipy's sqrtm on Σa Σb."""
    from scipy import linalg

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(7, 40)), rng.normal(size=(9, 40)) * 2 + 1
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = np.trace(np.real(linalg.sqrtm(ca @ cb)))
    assert FM.trace_sqrt_product(a, b) == pytest.approx(expected, rel=1e-5)
    assert FM.fid_from_features(a, b) == pytest.approx(_fid_reference(a, b), rel=1e-5)


def _kid_reference(x: np.ndarray, y: np.ndarray) -> float:
    d, m = x.shape[1], len(x)
    k = lambda u, v: (float(u @ v) / d + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
    return xx + yy - 2 * xy


def test_kid_math():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(12, 5))
    b = rng.normal(size=(12, 5)) + 0.7
    assert FM.kid_from_features(a, b) == pytest.approx(_kid_reference(a, b), rel=1e-9)
    # subsets: each subset value is the reference on that subset; same seed → same answer
    big_a, big_b = rng.normal(size=(40, 5)), rng.normal(size=(30, 5)) + 1.0
    v1 = FM.kid_from_features(big_a, big_b, subset_size=10, n_subsets=20, seed=3)
    v2 = FM.kid_from_features(big_a, big_b, subset_size=10, n_subsets=20, seed=3)
    assert v1 == v2 and v1 > FM.kid_from_features(big_a, big_a[::-1] + 0.0, subset_size=10, seed=3)
    # unbiased: independent samples from one distribution average to ~0
    same = [FM.kid_from_features(rng.normal(size=(30, 5)), rng.normal(size=(30, 5))) for _ in range(20)]
    assert abs(np.mean(same)) < 0.1 * FM.kid_from_features(big_a, big_b)


def test_blur_distribution_distance():
    image, mask = _scene(96)
    sharp = M.blur_samples(image, mask, short_side=96, patch=8)
    soft = M.blur_samples(cv2.GaussianBlur(image, (0, 0), 2), mask, short_side=96, patch=8)
    assert len(sharp) > 10 and len(sharp) == len(soft)
    assert M.blur_distribution_distance(sharp, sharp) == 0.0
    d = M.blur_distribution_distance(sharp, soft)
    assert d == pytest.approx(abs(np.median(sharp) - np.median(soft)), rel=0.5)
    assert d > 0.5  # log10 units: a σ=2 blur removes well over 3× of the Laplacian energy
    assert math.isnan(M.blur_distribution_distance(sharp, np.array([])))


def test_inception_missing_weights_names_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(M.MetricUnavailable, match=r"inception_v3_google-.*\.pth"):
        FM.InceptionFeatures(weights="imagenet")


@pytest.mark.slow
def test_inception_loads_weights_through_torchvision(tmp_path, monkeypatch):
    """A checkpoint placed in the torch hub cache is loaded by the real torchvision API."""
    from torchvision.models import Inception_V3_Weights, inception_v3

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(0)
    donor = inception_v3(weights=None, aux_logits=True, init_weights=True)
    path = FM._hub_checkpoint(Inception_V3_Weights.IMAGENET1K_V1.url)
    path.parent.mkdir(parents=True)
    torch.save(donor.state_dict(), path)
    extractor = FM.InceptionFeatures(weights="imagenet", batch_size=2)
    assert torch.equal(extractor.model.Conv2d_1a_3x3.conv.weight, donor.Conv2d_1a_3x3.conv.weight)
    image, _ = _scene(48)
    feats = extractor([image, image[::-1].copy(), image])
    assert feats.shape == (3, 2048) and np.isfinite(feats).all()
    assert np.allclose(feats[0], feats[2]) and not np.allclose(feats[0], feats[1])



def test_lpips_unavailable_names_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setitem(__import__("sys").modules, "lpips", None)  # as if not installed
    with pytest.raises(M.MetricUnavailable, match="pip install lpips"):
        FM.LPIPSDistance()
    monkeypatch.delitem(__import__("sys").modules, "lpips")
    pytest.importorskip("lpips", reason="the optional lpips package is not installed")
    with pytest.raises(M.MetricUnavailable, match=r"alexnet-.*\.pth"):
        FM.LPIPSDistance()


def test_lpips_with_weights_in_the_hub_cache(tmp_path, monkeypatch):
    """Random AlexNet weights placed where torchvision looks are loaded; LPIPS grows with the damage."""
    pytest.importorskip("lpips", reason="the optional lpips package is not installed")
    from torchvision.models import AlexNet_Weights, alexnet

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(0)
    path = FM._hub_checkpoint(AlexNet_Weights.IMAGENET1K_V1.url)
    path.parent.mkdir(parents=True)
    donor = alexnet(weights=None)
    torch.save(donor.state_dict(), path)
    dist = FM.LPIPSDistance()
    assert torch.equal(dist.model.net.slice1[0].weight, donor.features[0].weight)
    image, _ = _scene(64)
    rng = np.random.default_rng(0)
    noisy = [np.clip(image + rng.normal(0, s, image.shape), 0, 255).astype(np.uint8) for s in (5, 40)]
    assert dist(image, image) == pytest.approx(0.0, abs=1e-6)
    assert 0 < dist(noisy[0], image) < dist(noisy[1], image)


# ----------------------------------------------------------------------------- real-photo metrics


def _noise_scene(size: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stationary noise texture (the same statistics everywhere) and a disk subject."""
    rng = np.random.default_rng(seed)
    image = np.clip(rng.normal(128, 20, (size, size, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:size, :size]
    mask = (((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size / 4) ** 2).astype(np.float32)
    return image, mask


def test_edge_bands_distances():
    _, mask = _noise_scene()
    rim, far, inner = M.edge_bands(mask)
    subject = mask >= 0.5
    d_out = cv2.distanceTransform((~subject).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    assert rim.any() and far.any() and inner.any()
    assert (d_out[rim] > 2).all() and (d_out[rim] <= 6).all()
    assert (d_out[far] >= 15).all() and not (far & rim).any()
    assert (inner <= subject).all()
    # the bands scale with the image: at 512 px the rim lies 4–12 px out
    big = cv2.resize(mask, (512, 512), interpolation=cv2.INTER_NEAREST)
    rim2, _, _ = M.edge_bands(big)
    d2 = cv2.distanceTransform((big < 0.5).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    assert d2[rim2].min() > 4 and d2[rim2].max() <= 12


def test_rim_sharpness_uniform_blur_is_one_and_sharp_rim_is_large():
    image, mask = _noise_scene()
    assert M.rim_sharpness(image, image, mask) == pytest.approx(1.0)
    blurred = cv2.GaussianBlur(image, (0, 0), 1.0)
    uniform = _composite(image, mask, blurred)  # ring blurred like the rest
    assert M.rim_sharpness(image, uniform, mask) == pytest.approx(1.0, abs=0.15)
    # the background blurred except a band 8 px wide around the subject: a sharp rim
    grown = cv2.dilate(mask, np.ones((17, 17), np.uint8))
    rimmed = _composite(image, grown, blurred)
    assert M.rim_sharpness(image, rimmed, mask) > 5.0
    assert math.isnan(M.rim_sharpness(image, image, np.zeros_like(mask)))  # no person: no rim


def test_edge_detail_kept():
    image, mask = _noise_scene()
    assert M.edge_detail_kept(image, image, mask) == pytest.approx(1.0)
    whole = cv2.GaussianBlur(image, (0, 0), 1.5)
    assert M.edge_detail_kept(image, whole, mask) < 0.3
    # pasting the subject over a blur: the inner band keeps its pixels, its Laplacian changes a bit
    pasted = _composite(image, mask, whole)
    assert 0.85 < M.edge_detail_kept(image, pasted, mask) < 1.15


def test_background_grey_change_known_value():
    image, mask = _noise_scene()
    brighter = _composite(image, mask, np.clip(image.astype(int) + 10, 0, 255).astype(np.uint8))
    expect = float(np.mean(M.luminance(brighter)[M.edge_bands(mask)[1]] - M.luminance(image)[M.edge_bands(mask)[1]]))
    assert M.background_grey_change(image, brighter, mask) == pytest.approx(expect)
    assert 9.0 < expect <= 10.0
    assert M.background_grey_change(image, image, mask) == 0.0


def test_background_sharpness_of_white_noise():
    # iid noise of variance σ² through the 4-neighbour Laplacian: E (∇²Y)² = (16 + 4)·σ²
    rng = np.random.default_rng(1)
    sigma = 12.0
    grey = np.clip(np.rint(rng.normal(128, sigma, (256, 256))), 0, 255).astype(np.uint8)
    image = np.repeat(grey[..., None], 3, axis=2)
    mask = np.zeros((256, 256), np.float32)
    mask[100:150, 100:150] = 1
    value = M.background_sharpness(image, mask)
    assert value == pytest.approx(math.log(20 * sigma**2 + 20 / 12), abs=0.05)  # + rounding noise
    smoother = M.background_sharpness(cv2.GaussianBlur(image, (0, 0), 1.0), mask)
    assert smoother < value - 2


def test_sharpness_gap_and_w1():
    ref = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    assert M.sharpness_gap(ref - 0.5, ref) == pytest.approx(-0.5)
    assert M.sharpness_w1(ref - 0.5, ref) == pytest.approx(0.5)
    # same median, wider spread: no gap, but W1 sees the difference
    wide = np.array([-2.0, 0.0, 2.0, 4.0, 6.0])
    assert M.sharpness_gap(wide, ref) == pytest.approx(0.0)
    assert M.sharpness_w1(wide, ref) > 0.5
    assert math.isnan(M.sharpness_gap(np.array([]), ref))


def test_w1_permutation_p_tells_same_from_shifted_sets():
    rng = np.random.default_rng(3)
    ref = rng.normal(0.0, 1.5, 40)
    same = M.sharpness_w1_p(rng.normal(0.0, 1.5, 40), ref, draws=500)
    shifted = M.sharpness_w1_p(rng.normal(2.0, 1.5, 40), ref, draws=500)
    assert same > 0.05 and shifted < 0.01
    assert shifted >= 1 / 501  # never 0: the observed split counts (Phipson & Smyth)
    assert math.isnan(M.sharpness_w1_p(np.array([np.nan]), ref))


def test_sharpness_floor_scales_with_spread_and_sample_size():
    ref = np.random.default_rng(4).normal(0.0, 1.5, 400)
    at40, wide = M.sharpness_floor(ref, 40), M.sharpness_floor(2.0 * ref, 40)
    # the same draws: W1 and the gap are scale-equivariant
    assert wide["w1"] == pytest.approx(2.0 * at40["w1"]) and wide["gap"] == pytest.approx(2.0 * at40["gap"])
    # sampling noise falls like 1/sqrt(n): 4x the sample, about half the floor
    assert M.sharpness_floor(ref, 160)["w1"] == pytest.approx(at40["w1"] / 2.0, rel=0.15)
    # for 40 draws of spread 1.5 a W1 of 0.12 is far below the resolution
    assert at40["w1"] > 0.3 and at40["p_w1_le_0.12"] < 0.02
    assert math.isnan(M.sharpness_floor(np.array([]), 40)["w1"])


def test_real_photo_metrics_in_the_registry():
    image, mask = _noise_scene()
    res = M.compute_image_metrics(image, image, mask)
    assert res["rim2"] == pytest.approx(1.0) and res["edge_in"] == pytest.approx(1.0) and res["bg_grey"] == 0.0


def test_band_energy_ratios_match_the_analytic_gaussian_blur_of_white_noise():
    """Known ground truth: for white noise the energy of G_a∗n − G_b∗n is P(a) + P(b) − 2C(a, b), with
    P(σ) = 1/(4πσ²) (P(0) = 1) and C(a, b) = 1/(2π(a² + b²)); a Gaussian blur of σ_b turns every σ into
    √(σ² + σ_b²). At 512 px the bands are twice as wide (σ scaled with the short side)."""
    from evaluation.metrics import DOG_BANDS, band_energy_ratios

    def energy(a: float, b: float) -> float:
        p = lambda s: 1.0 if s == 0 else 1 / (4 * math.pi * s * s)  # noqa: E731
        return p(a) + p(b) - 2 / (2 * math.pi * (a * a + b * b))

    rng = np.random.default_rng(0)
    noise = np.clip(rng.normal(128, 30, (512, 512)), 0, 255).astype(np.float32)
    image = np.rint(np.repeat(noise[..., None], 3, 2)).astype(np.uint8)
    mask = np.zeros((512, 512), np.float32)
    mask[200:300, 200:300] = 1
    assert all(v == 1.0 for v in band_energy_ratios(image, image, mask).values())
    for sigma in (1.0, 2.0, 4.0):  # px of the 512-px image
        blurred = np.clip(np.rint(cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma)), 0, 255).astype(np.uint8)
        got = band_energy_ratios(image, blurred, mask)
        for (a, b), value in zip(DOG_BANDS, got.values()):
            want = energy(math.hypot(2 * a, sigma), math.hypot(2 * b, sigma)) / energy(2 * a, 2 * b)
            assert abs(value - want) <= 0.01 + 0.03 * want, (sigma, a, b, value, want)
        assert list(got.values()) == sorted(got.values())  # a blur keeps more of the coarser bands
