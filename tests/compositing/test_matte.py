"""Matte operations with known answers."""
import cv2
import numpy as np
import pytest
from scipy import ndimage

from compositing import matte


def _disk(h, w, cy, cx, r):
    yy, xx = np.mgrid[0:h, 0:w]
    return ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.float32)


def test_feather_is_opencv_gaussian_with_sigma_rule_and_halves_the_edge():
    mask = np.zeros((64, 96), np.float32)
    mask[:, 48:] = 1.0
    out = matte.feather(mask, 45)
    np.testing.assert_allclose(out, cv2.GaussianBlur(mask, (45, 45), 0.3 * (22 - 1) + 0.8), atol=1e-6)
    assert out[32, 47] == pytest.approx(0.5, abs=0.05) and out[32, 48] == pytest.approx(0.5, abs=0.05)
    assert np.all(np.diff(out[32]) >= -1e-7)
    assert out[32, 20] < 0.05 and out[32, 80] > 0.95
    np.testing.assert_array_equal(matte.feather(mask, 1), mask)


def test_premultiply_round_trip_and_alpha_blend():
    rng = np.random.default_rng(0)
    color = rng.random((8, 9, 3)).astype(np.float32)
    alpha = rng.random((8, 9)).astype(np.float32)
    alpha[0, 0] = 0.0
    pm = matte.premultiply(color, alpha)
    np.testing.assert_allclose(pm, color * alpha[..., None], atol=1e-7)
    back = matte.unpremultiply(pm, alpha)
    np.testing.assert_allclose(back[1:], color[1:], atol=1e-4)
    assert np.all(back[0, 0] == 0)
    fg = np.full((2, 2, 3), 200, np.uint8)
    bg = np.full((2, 2, 3), 40, np.uint8)
    out = matte.alpha_blend(fg, bg, np.full((2, 2), 0.25, np.float32))
    assert out.dtype == np.uint8 and np.all(out == 80)


def test_fill_holes_fills_enclosed_only():
    mask = _disk(60, 60, 30, 30, 20) - _disk(60, 60, 30, 30, 8)  # ring with a hole
    mask[0:10, 0:30] = 0.0
    mask[0:5, 40:50] = 0.7  # soft region touching the border, not a hole
    out = matte.fill_holes(mask)
    assert out[30, 30] == 1.0 and out[25, 30] == 1.0
    assert out[55, 55] == 0.0  # background connected to the border stays
    assert out[2, 45] == pytest.approx(0.7)
    # notch open to the border: the inside is connected to the outside, so not a hole
    open_ring = mask.copy()
    open_ring[28:33, 30:60] = 0.0
    assert matte.fill_holes(open_ring)[30, 30] == 0.0


def test_edge_band_outer_is_max_filter_minus_mask():
    mask = _disk(80, 80, 40, 40, 20)
    outer = matte.edge_band(mask, width=3, inner=False)
    yy, xx = np.mgrid[-3:4, -3:4]
    disk = xx**2 + yy**2 <= 9
    ref = (ndimage.maximum_filter(mask, footprint=disk) - mask) > 0
    assert (outer != ref).sum() <= 0.02 * ref.sum()  # distance transform vs exact disk filter
    assert outer[40, 61] and outer[40, 63] and not outer[40, 64] and not outer[40, 58]
    both = matte.edge_band(mask, width=3, inner=True)
    assert both[40, 59] and both[40, 62] and not both[40, 40]
    assert not (outer & (mask > 0.5)).any()


def test_refine_edges_snaps_a_loose_mask_to_colour_edges():
    h = w = 96
    truth = _disk(h, w, 48, 48, 24)
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 2] = 180
    img[truth > 0] = (220, 40, 30)
    loose = cv2.GaussianBlur(_disk(h, w, 48, 48, 29), (0, 0), 3.0)  # 5 px too big and blurry
    refined = matte.refine_edges(loose, img, width=8)
    err_before = np.abs(loose - truth).mean()
    err_after = np.abs(refined - truth).mean()
    assert err_after < 0.25 * err_before  # measured: 0.0093 vs 0.093
    band = matte.edge_band(loose, 8)
    np.testing.assert_array_equal(refined[~band], loose[~band])


def test_pushpull_keeps_known_pixels_and_interpolates_holes():
    h, w = 64, 80
    ramp = np.tile(np.linspace(0, 1, w, dtype=np.float32), (h, 1))
    weight = np.ones((h, w), np.float32)
    weight[20:44, 30:50] = 0.0
    out = matte.pushpull_fill(ramp, weight)
    np.testing.assert_allclose(out[weight == 1], ramp[weight == 1], atol=1e-6)
    assert np.abs(out[weight == 0] - ramp[weight == 0]).max() < 0.06
    const = np.full((h, w, 3), (0.2, 0.5, 0.9), np.float32)
    np.testing.assert_allclose(matte.pushpull_fill(const, weight), const, atol=1e-5)
    with pytest.raises(ValueError):
        matte.pushpull_fill(ramp, np.zeros_like(weight))


def test_decontaminate_recovers_foreground_colour_at_soft_edges():
    h, w = 40, 90
    alpha = np.tile(np.clip((np.arange(w, dtype=np.float32) - 30) / 30, 0, 1), (h, 1))
    fg = np.array([230, 30, 20], np.float32)
    bg = np.array([20, 60, 200], np.float32)
    img = np.rint(alpha[..., None] * fg + (1 - alpha[..., None]) * bg).astype(np.uint8)
    out = matte.decontaminate(img, alpha)
    edge = (alpha > 0.1) & (alpha < 0.95)
    err_in = np.abs(img[edge].astype(np.float32) - fg).max()
    err_out = np.abs(out[edge].astype(np.float32) - fg).max()
    assert err_in > 100 and err_out < 12
    np.testing.assert_array_equal(out[alpha >= 0.95], img[alpha >= 0.95])


def test_blur_fusion_foreground_drops_the_background_texture():
    # I = αF + (1 − α)B with a flat subject colour F and a textured background B
    h = w = 96
    rng = np.random.default_rng(3)
    xx = np.tile(np.arange(w, dtype=np.float32), (h, 1))
    alpha = np.clip((48.0 - xx) / 12.0 + 0.5, 0.0, 1.0).astype(np.float32)  # soft edge over 12 px
    fg_colour = np.array([0.8, 0.5, 0.2], np.float32)
    bg = rng.uniform(0.0, 1.0, (h, w, 3)).astype(np.float32)
    image = alpha[..., None] * fg_colour + (1.0 - alpha[..., None]) * bg
    est = matte.estimate_foreground(image, alpha)
    soft = (alpha > 0.05) & (alpha < 0.95)
    np.testing.assert_array_equal(est[alpha >= 1.0], image[alpha >= 1.0])
    # the composite's subject term α·F̂ keeps far less background texture than α·F = I − (1 − α)·B̄
    err_fusion = np.abs(est[soft] - fg_colour).mean()
    b_mean = bg.mean(axis=(0, 1))
    subtract = (image - (1.0 - alpha[..., None]) * b_mean) / np.maximum(alpha[..., None], 1e-3)
    err_subtract = np.abs(np.clip(subtract, 0, 1)[soft] - fg_colour).mean()
    assert err_fusion < 0.5 * err_subtract
    assert err_fusion < 0.12


def test_outer_fringe_softens_the_step_outwards_only():
    """The snapped matte's edge gets a one-pixel soft fringe outside it (no staircase against a
    smooth background); the subject's own pixels keep their value; nothing far from the edge moves."""
    from compositing.matte import outer_fringe

    yy, xx = np.mgrid[0:40, 0:40]
    hard = (xx < yy).astype(np.float32)  # a diagonal edge: a staircase at 0/1
    out = outer_fringe(hard.copy(), 0.5)
    assert np.all(out >= hard) and np.all(out[hard == 1] == 1.0)
    first_out = (xx == yy)  # the pixels just outside the stairs
    assert np.all((out[first_out][1:-1] > 0.05) & (out[first_out][1:-1] < 0.5))
    assert np.all(out[xx > yy + 2] == 0.0)
    for flat in (np.zeros((8, 8), np.float32), np.ones((8, 8), np.float32)):
        np.testing.assert_array_equal(outer_fringe(flat.copy(), 0.5), flat)
    np.testing.assert_array_equal(outer_fringe(hard.copy(), 0.0), hard)
