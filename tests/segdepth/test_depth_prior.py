"""segdepth/depth/prior.py: the portrait depth prior's stated properties."""
from __future__ import annotations

import numpy as np
import pytest

from segdepth.depth import DEPTH_MODELS, build_depth_model
from segdepth.depth.prior import DepthPrior

H, W = 72, 96


def _disc_mask(cy: int = 36, cx: int = 48, r: int = 14) -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W]
    return ((y - cy) ** 2 + (x - cx) ** 2 <= r * r).astype(np.float32)


def _image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)


def test_registry_shape_dtype_relative():
    model = build_depth_model("prior")
    assert isinstance(model, DepthPrior) and model.relative is True
    assert DEPTH_MODELS["prior"] is not None
    depth = model(_image(), _disc_mask())
    assert depth.shape == (H, W) and depth.dtype == np.float32
    assert np.isfinite(depth).all()


def test_subject_at_focal_plane_and_nearest():
    mask = _disc_mask()
    prior = DepthPrior(focal_depth=2.0, gap=0.25, spread=1.0, ground_contact=False)
    depth = prior(_image(), mask)
    subject = mask >= 0.5
    np.testing.assert_array_equal(depth[subject], 2.0)
    assert depth[~subject].min() >= 2.0 + 0.25 - 1e-6  # background starts `gap` behind
    assert depth.max() <= 2.0 + 0.25 + 1.0 + 1e-6


def test_soft_mask_threshold():
    mask = _disc_mask() * 0.6  # soft, all below 1 but above the 0.5 threshold inside
    depth = DepthPrior()(_image(), mask)
    np.testing.assert_array_equal(depth[mask > 0], 1.0)


def test_monotone_away_from_subject_along_a_row():
    mask = _disc_mask(cy=36, cx=30, r=10)
    depth = DepthPrior(ground_contact=False)(_image(), mask)
    row = depth[36, 41:]  # the subject's centre row, right of its edge
    assert np.all(np.diff(row) > 0), row
    left = depth[36, :20][::-1]  # the same row, left of the subject, walking away from it
    assert np.all(np.diff(left) > 0), left


def test_lower_rows_nearer_for_background():
    mask = _disc_mask(cy=36, cx=48, r=10)
    depth = DepthPrior()(_image(), mask)
    # same distance (20 px) from the subject's edge, straight above vs straight below
    above, below = depth[36 - 30, 48], depth[36 + 30, 48]
    assert below < above - 0.1, (above, below)
    # with no subject only the row cue is left: constant along rows, strictly nearer downwards
    empty = DepthPrior()(_image(), np.zeros((H, W), np.float32))
    assert np.all(np.ptp(empty, axis=1) == 0)
    assert np.all(np.diff(empty[:, 0]) < 0)


def test_background_is_smooth():
    depth = DepthPrior(ground_contact=False)(_image(), _disc_mask())
    bg = _disc_mask() < 0.5
    dx = np.abs(np.diff(depth, axis=1))[bg[:, 1:] & bg[:, :-1]]
    dy = np.abs(np.diff(depth, axis=0))[bg[1:] & bg[:-1]]
    assert max(dx.max(), dy.max()) < 0.05  # no steps inside the background (range is 1.25)


def test_deterministic_and_independent_of_pixels():
    mask = _disc_mask()
    a = DepthPrior()(_image(), mask)
    b = DepthPrior()(np.zeros((H, W, 3), np.uint8), mask)
    np.testing.assert_array_equal(a, b)


def test_needs_mask_of_the_right_size():
    with pytest.raises(ValueError, match="needs the person mask"):
        DepthPrior()(_image())
    with pytest.raises(ValueError, match="does not match"):
        DepthPrior()(_image(), np.zeros((H + 1, W), np.float32))
    with pytest.raises(ValueError):
        DepthPrior(falloff=0)


def test_downscaled_background_matches_full_resolution():
    """Above ``work_pixels`` the background is computed small and upsampled: close to exact."""
    mask = _disc_mask()
    full = DepthPrior(ground_contact=False)(_image(), mask)
    small = DepthPrior(work_pixels=H * W // 9, ground_contact=False)(_image(), mask)  # at a third of the size
    assert small.shape == (H, W) and small.dtype == np.float32
    subject = mask >= 0.5
    np.testing.assert_array_equal(small[subject], 1.0)
    assert np.abs(small - full)[~subject].max() < 0.08
    assert np.abs(small - full)[~subject].mean() < 0.01
    assert small[~subject].min() >= 1.25 - 1e-6


def _standing(bottom: int = 60) -> np.ndarray:
    """A person standing in the frame: head, body and legs down to row ``bottom - 1``."""
    mask = np.zeros((H, W), np.float32)
    y, x = np.mgrid[0:H, 0:W]
    mask[(y - 14) ** 2 + (x - 48) ** 2 <= 36] = 1.0
    mask[20:bottom, 42:55] = 1.0
    return mask


def test_ground_at_the_contact_line_is_at_the_subject_distance():
    """Where the person stands, the ground is at their distance: the contact row beside the feet
    is at the focal plane, the ground above it recedes, below it comes nearer; elsewhere no
    farther than the prior without the ground."""
    mask = _standing(bottom=60)
    prior = DepthPrior()
    assert prior.contact_rows(mask >= 0.5) == (8, 59)
    depth, plain = prior(_image(), mask), DepthPrior(ground_contact=False)(_image(), mask)
    contact = depth[59, 5:40]
    assert np.abs(contact - 1.0).max() < 1e-5  # the focal plane, across the ground's row
    column = depth[:, 10]
    assert np.all(np.diff(column[45:60]) < 0)  # receding above the contact line ...
    assert np.all(np.diff(column[59:]) < 0) and column[-1] < 1.0  # ... nearer below it
    assert np.all(depth <= plain + 1e-6)
    np.testing.assert_array_equal(depth[:10], plain[:10])  # above the horizon: the prior as it was
    assert plain[59, 10] >= 2.0  # without the ground, the contact row was background


def test_no_contact_when_the_frame_cuts_the_subject():
    """A head-and-shoulders portrait (the subject reaches the bottom edge) keeps the prior as it was."""
    mask = _standing(bottom=H)
    assert DepthPrior().contact_rows(mask >= 0.5) is None
    np.testing.assert_array_equal(DepthPrior()(_image(), mask), DepthPrior(ground_contact=False)(_image(), mask))
    empty = np.zeros((H, W), np.float32)
    np.testing.assert_array_equal(DepthPrior()(_image(), empty), DepthPrior(ground_contact=False)(_image(), empty))
