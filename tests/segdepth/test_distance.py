"""segdepth/distance.py: exact Euclidean distances, identical on every call."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from segdepth.distance import SNAP_LIMIT_PX, distance_to


def _masks() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:72, 0:96]
    disc = (y - 36) ** 2 + (x - 48) ** 2 <= 14 ** 2
    return [disc, rng.random((64, 80)) < 0.01, rng.random((120, 90)) < 0.2]


def test_equals_the_exact_transform():
    for target in _masks():
        exact = ndimage.distance_transform_edt(~target).astype(np.float32)
        np.testing.assert_array_equal(distance_to(target), exact)


def test_same_bits_whatever_the_buffer_alignment():
    """cv2's precise transform alone differs by an ulp between such calls (10 of 6,912 pixels on CI)."""
    target = _masks()[0]
    first = distance_to(target)
    for offset in range(1, 40):
        buffer = np.zeros(target.size + offset, bool)  # the same mask at another address
        moved = buffer[offset:].reshape(target.shape)
        moved[...] = target
        np.testing.assert_array_equal(distance_to(moved), first)


def test_far_distances_past_the_snap_limit_stay_exact():
    target = np.zeros((6, int(SNAP_LIMIT_PX) + 80), bool)
    target[2, 0] = True
    out = distance_to(target)
    assert out.max() > SNAP_LIMIT_PX
    np.testing.assert_array_equal(out, ndimage.distance_transform_edt(~target).astype(np.float32))


def test_no_target_is_infinite():
    out = distance_to(np.zeros((5, 7), bool))
    assert out.dtype == np.float32 and np.isinf(out).all()
