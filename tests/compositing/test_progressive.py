"""Depth-binned progressive blur against direct OpenCV blurs of known regions."""
import cv2
import numpy as np
import pytest

from compositing import progressive as pg


def _noise(h=48, w=96, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_gaussian_blur_sizes():
    img = _noise()
    np.testing.assert_array_equal(pg.gaussian_blur(img, 9), cv2.GaussianBlur(img, (9, 9), 0.3 * 3 + 0.8))
    np.testing.assert_array_equal(pg.gaussian_blur(img, 1), img)
    # even sizes are centred (symmetric input stays symmetric) and between their odd neighbours
    sym = np.concatenate([img, img[:, ::-1]], axis=1)
    b8 = pg.gaussian_blur(sym, 8).astype(np.float32)
    np.testing.assert_allclose(b8, b8[:, ::-1], atol=1)
    stds = [pg.gaussian_blur(img, k).astype(np.float32).std() for k in (7, 8, 9)]
    assert stds[0] > stds[1] > stds[2]


def test_defocus_bins_farthest_first_and_edges():
    depth = np.array([[1.0, 1.2, 1.5, 1.9, 2.0]], np.float32)
    bins = pg.defocus_bins(depth, 1.0, 3)
    np.testing.assert_array_equal(bins, [[2, 2, 1, 0, 0]])
    bins = pg.defocus_bins(depth, 1.0, 2, edges=(0.1,))
    np.testing.assert_array_equal(bins, [[1, 0, 0, 0, 0]])
    with pytest.raises(ValueError):
        pg.defocus_bins(depth, 1.0, 3, edges=(0.5, 0.2))


def test_paste_subject_exact_inside_and_blend_at_edge():
    sharp = np.full((4, 4, 3), 200, np.uint8)
    blurred = np.full((4, 4, 3), 100, np.uint8)
    mask = np.array([[1, 1, 0.5, 0]] * 4, np.float32)
    out = pg.paste_subject(sharp, blurred, mask)
    assert np.all(out[:, :2] == 200) and np.all(out[:, 3] == 100) and np.all(out[:, 2] == 150)


def _three_region_scene():
    h, w = 48, 180
    img = _noise(h, w, 3)
    depth = np.ones((h, w), np.float32)
    depth[:, 60:120] = 2.0
    depth[:, 120:] = 3.0
    mask = np.zeros((h, w), np.float32)
    mask[:, :60] = 1.0
    return img, mask, depth


def test_progressive3_blurs_each_region_with_its_kernel():
    img, mask, depth = _three_region_scene()
    out = pg.progressive_blur(img, mask, depth, 1.0, pg.ProgressiveParams())
    np.testing.assert_array_equal(out[:, :60], img[:, :60])  # subject untouched
    # t = 0.5 → middle bin (kernel 9), t = 1 → farthest bin (kernel 15)
    np.testing.assert_array_equal(out[:, 70:110], cv2.GaussianBlur(img, (9, 9), 0.3 * 3 + 0.8)[:, 70:110])
    np.testing.assert_array_equal(out[:, 130:], cv2.GaussianBlur(img, (15, 15), 0.3 * 6 + 0.8)[:, 130:])


def test_progressive13_uses_thirteen_kernels_by_defocus():
    h, w = 40, 260
    img = _noise(h, w, 5)
    depth = np.repeat(np.linspace(1.0, 2.0, 13, dtype=np.float32), 20)[None, :].repeat(h, 0)
    mask = np.zeros((h, w), np.float32)
    out = pg.progressive_blur(img, mask, depth, 1.0, pg.Progressive13Params())
    assert pg.Progressive13Params().kernels == tuple(range(13, 0, -1))
    np.testing.assert_array_equal(out[:, :15], img[:, :15])  # in-focus column: kernel 1
    for i in range(13):  # column block i has defocus i/12 → kernel i + 1
        sl = slice(20 * i + 7, 20 * i + 13)
        np.testing.assert_array_equal(out[:, sl], pg.gaussian_blur(img, i + 1)[:, sl])
    big = _noise(200, 200, 6)
    stds = [pg.gaussian_blur(big, k).astype(np.float32).std() for k in range(1, 14)]
    assert all(a > b for a, b in zip(stds, stds[1:]))


def test_buckets_kernel_by_distance_from_focus_bucket():
    h, w = 40, 250
    img = _noise(h, w, 7)
    depth = np.repeat(np.array([0.1, 0.3, 0.5, 0.7, 0.9], np.float32), 50)[None, :].repeat(h, 0)
    depth[0, 0], depth[0, -1] = 0.0, 1.0  # normalised range exactly [0, 1]
    mask = np.zeros((h, w), np.float32)
    out = pg.bucket_blur(img, mask, depth, 0.3, pg.BucketParams(bucket_width=0.2, kernel_step=2))
    # focus bucket 1 is sharp; bucket b gets kernel 4·|b − 1| + 1
    np.testing.assert_array_equal(out[5:-5, 60:90], img[5:-5, 60:90])
    for b, k in [(0, 5), (2, 5), (3, 9), (4, 13)]:
        ref = cv2.GaussianBlur(img, (k, k), 0.3 * ((k - 1) / 2 - 1) + 0.8)
        sl = slice(50 * b + 10, 50 * b + 40)
        np.testing.assert_array_equal(out[5:-5, sl], ref[5:-5, sl])
    with pytest.raises(ValueError):
        pg.bucket_blur(img, mask, depth, 0.3, pg.BucketParams(bucket_width=0.0))
