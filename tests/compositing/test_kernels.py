"""Kernels against reference implementations (OpenCV, datasets.synthetic) and known geometry."""
import cv2
import numpy as np
import pytest

from compositing import kernels
from datasets import synthetic


@pytest.mark.parametrize("k", [1, 3, 5, 7, 9, 11, 15, 21, 45])
def test_gaussian_matches_opencv_with_sigma_rule(k):
    sigma = 0.3 * ((k - 1) / 2 - 1) + 0.8
    assert kernels.gaussian_sigma(k) == pytest.approx(sigma)
    ref = cv2.getGaussianKernel(k, sigma).ravel()
    np.testing.assert_allclose(kernels.gaussian_kernel_1d(k), ref, atol=1e-6)


@pytest.mark.parametrize("k", [11, 15, 45])
def test_gaussian_sigma_rule_is_opencvs_default_for_large_kernels(k):
    # For k above OpenCV's small fixed tables, sigma <= 0 means exactly the sigma rule.
    np.testing.assert_allclose(kernels.gaussian_kernel_1d(k), cv2.getGaussianKernel(k, 0).ravel(), atol=1e-6)


def test_gaussian_2d_filter_equals_cv2_gaussianblur():
    rng = np.random.default_rng(0)
    img = rng.random((40, 50, 3)).astype(np.float32)
    k = 9
    ours = cv2.filter2D(img, -1, kernels.gaussian_kernel(k), borderType=cv2.BORDER_REFLECT_101)
    ref = cv2.GaussianBlur(img, (k, k), kernels.gaussian_sigma(k))
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    assert kernels.gaussian_kernel(k).shape == (k, k)


def test_box_kernel_equals_cv2_blur():
    rng = np.random.default_rng(1)
    img = rng.random((30, 33)).astype(np.float32)
    ours = cv2.filter2D(img, -1, kernels.box_kernel(5), borderType=cv2.BORDER_REFLECT_101)
    np.testing.assert_allclose(ours, cv2.blur(img, (5, 5)), atol=1e-6)


@pytest.mark.parametrize("bad", [0, 2, -3, 4])
def test_even_or_nonpositive_sizes_rejected(bad):
    with pytest.raises(ValueError):
        kernels.box_kernel(bad)
    with pytest.raises(ValueError):
        kernels.gaussian_kernel_1d(bad)


@pytest.mark.parametrize("radius", [0.7, 1.5, 3.0, 6.4, 12.0])
def test_disk_matches_reference_and_is_normalised(radius):
    k = kernels.disk_kernel(radius)
    assert k.shape == (2 * int(np.ceil(radius)) + 1,) * 2
    assert k.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-7)
    np.testing.assert_allclose(k, k.T, atol=1e-7)
    np.testing.assert_allclose(k, synthetic.disk_kernel(radius), atol=1e-6)


def test_disk_area_and_identity():
    cov = kernels.aperture_coverage(20.0)
    assert cov.sum() == pytest.approx(np.pi * 400, rel=0.005)
    assert cov[0, 0] == 0.0 and cov[20, 20] == 1.0
    # anti-aliased: some edge pixels are partially covered
    assert ((cov > 0.05) & (cov < 0.95)).sum() > 50
    np.testing.assert_array_equal(kernels.disk_kernel(0.3), np.ones((1, 1), np.float32))


@pytest.mark.parametrize("blades", [3, 5, 6, 8])
def test_polygon_area_and_corner_count(blades):
    r = 40.0
    cov = kernels.aperture_coverage(r, blades, rotation_deg=10.0)
    area = blades / 2 * r * r * np.sin(2 * np.pi / blades)
    assert cov.sum() == pytest.approx(area, rel=0.01)
    contours, _ = cv2.findContours((cov > 0.5).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    approx = cv2.approxPolyDP(contour, 0.02 * cv2.arcLength(contour, True), True)
    assert len(approx) == blades
    k = kernels.polygon_kernel(r, blades)
    assert k.sum() == pytest.approx(1.0, abs=1e-5)


def test_polygon_rotation_moves_the_corner():
    r = 30.0
    c = int(np.ceil(r))
    corner_at_0 = kernels.aperture_coverage(r, 6, rotation_deg=0.0)
    edge_at_0 = kernels.aperture_coverage(r, 6, rotation_deg=30.0)
    # with a corner on +x the pixel at distance r-1 on the x axis is inside; with an edge
    # midpoint there (apothem r·cos 30° ≈ 0.87 r) it is outside
    assert corner_at_0[c, c + int(r) - 1] == 1.0
    assert edge_at_0[c, c + int(r) - 1] == 0.0
    # a rotation by one blade period gives the same shape
    np.testing.assert_allclose(kernels.aperture_coverage(r, 6, 60.0), corner_at_0, atol=1e-6)
    # a corner at 90° counter-clockwise points up (row index smaller than the centre)
    up = kernels.aperture_coverage(r, 5, rotation_deg=90.0)
    assert up[c - int(r) + 1, c] == 1.0 and up[c + int(r) - 1, c] == 0.0


def test_aperture_kernel_dispatch_and_blade_validation():
    np.testing.assert_allclose(kernels.aperture_kernel(5.0, 0), kernels.disk_kernel(5.0))
    np.testing.assert_allclose(kernels.aperture_kernel(5.0, 7, 3.0), kernels.polygon_kernel(5.0, 7, 3.0))
    with pytest.raises(ValueError):
        kernels.aperture_coverage(5.0, blades=2)
