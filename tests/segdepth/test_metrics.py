"""Segmentation and depth metrics against hand-computed cases and scikit-image."""
import numpy as np
import pytest

from segdepth.metrics import (
    DepthMeter, SegmentationMeter, boundary_f_score, boundary_tolerance_px, depth_metrics, iou, pixel_accuracy,
)


def square(shape=(40, 40), y0=10, x0=10, size=20):
    m = np.zeros(shape, np.float32)
    m[y0:y0 + size, x0:x0 + size] = 1.0
    return m


def test_iou_and_accuracy_hand_computed():
    a = square(size=20)  # 400 px
    b = square(y0=10, x0=20, size=20)  # overlaps a in 20×10 = 200 px
    assert iou(a, b) == pytest.approx(200 / 600)
    assert pixel_accuracy(a, b) == pytest.approx(1 - 400 / 1600)
    assert iou(a, a) == 1.0 and pixel_accuracy(a, a) == 1.0
    empty = np.zeros_like(a)
    assert iou(empty, empty) == 1.0
    assert iou(a, empty) == 0.0
    soft = a * 0.6  # thresholded at 0.5
    assert iou(soft, a) == 1.0 and iou(a * 0.4, a) == 0.0


def test_iou_with_valid_mask():
    a, b = square(size=20), square(y0=10, x0=20, size=20)
    valid = np.zeros(a.shape, bool)
    valid[:, :30] = True  # hides b's part outside a
    assert iou(a, b, valid) == pytest.approx(1 / 2)
    assert pixel_accuracy(a, b, valid) == pytest.approx(1 - 200 / 1200)


def test_boundary_f_score():
    a = square(size=20)
    assert boundary_f_score(a, a) == 1.0
    shifted = square(x0=11, size=20)
    assert boundary_f_score(a, shifted, tolerance=1) == 1.0
    # tolerance 0: boundaries are the 76-px rings; the shifted square shares 38 of its 76 (top
    # and bottom rows 11..29 = 19 px each) and the right/left columns do not coincide
    bp = 76
    shared = 19 + 19
    assert boundary_f_score(a, shifted, tolerance=0) == pytest.approx(shared / bp)
    far = square(shape=(100, 100), y0=70, x0=70, size=20)
    assert boundary_f_score(square(shape=(100, 100)), far, tolerance=2) == 0.0
    empty = np.zeros_like(a)
    assert boundary_f_score(empty, empty) == 1.0
    assert boundary_f_score(a, empty) == 0.0
    assert boundary_tolerance_px((480, 640)) == 7  # ceil(0.008 · 800)


def test_segmentation_meter_averages_images():
    meter = SegmentationMeter(tolerance=1)
    a, b = square(size=20), square(y0=10, x0=20, size=20)
    meter.update(a, a)
    meter.update(a, b)
    res = meter.result()
    assert res["iou"] == pytest.approx((1 + 1 / 3) / 2)
    assert set(res) == {"iou", "pixel_acc", "boundary_f"}


def test_depth_metrics_known_answers():
    gt = np.array([[1.0, 2.0], [4.0, 8.0]], np.float32)
    perfect = depth_metrics(gt, gt)
    assert perfect["abs_rel"] == 0 and perfect["rmse"] == 0 and perfect["log10"] == 0
    assert perfect["delta1"] == perfect["delta2"] == perfect["delta3"] == 1.0
    scaled = depth_metrics(gt * 1.3, gt)  # ratio 1.3: fails δ<1.25, passes δ<1.5625
    assert scaled["abs_rel"] == pytest.approx(0.3)
    assert scaled["log10"] == pytest.approx(np.log10(1.3))
    assert scaled["rmse"] == pytest.approx(np.sqrt(np.mean((0.3 * gt) ** 2)))
    assert scaled["delta1"] == 0.0 and scaled["delta2"] == 1.0
    # constant depth, prediction off by 10 cm
    const = np.full((5, 5), 2.0, np.float32)
    m = depth_metrics(const + 0.1, const)
    assert m["abs_rel"] == pytest.approx(0.05) and m["rmse"] == pytest.approx(0.1)


def test_depth_metrics_skip_invalid_and_pool_pixels():
    gt = np.array([[1.0, 0.0], [np.nan, 2.0]], np.float32)
    pred = np.array([[1.5, 5.0], [5.0, 2.0]], np.float32)
    m = depth_metrics(pred, gt)
    assert m["abs_rel"] == pytest.approx(0.25)  # (0.5 + 0) / 2
    meter = DepthMeter()
    meter.update(np.full((1, 3), 2.0), np.full((1, 3), 1.0))  # 3 px, abs_rel 1
    meter.update(np.full((1, 1), 1.0), np.full((1, 1), 1.0))  # 1 px, abs_rel 0
    assert meter.result()["abs_rel"] == pytest.approx(0.75)
    with pytest.raises(ValueError):
        depth_metrics(np.ones((2, 2)), np.ones((3, 3)))
