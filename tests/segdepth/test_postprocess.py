"""Border-band sharpening (Nikam & Awate post-processing)."""
import cv2
import numpy as np
import pytest

from segdepth.postprocess import border_band, sharpen_border_band


def soft_disc(size=64, radius=18, blur=7):
    m = np.zeros((size, size), np.float32)
    cv2.circle(m, (32, 32), radius, 1.0, -1)
    return cv2.GaussianBlur(m, (0, 0), blur / 3)


def test_band_surrounds_the_contour_only():
    band = border_band(soft_disc(), width=3)
    assert band[32, 32 - 18] and not band[32, 32] and not band[0, 0]


def test_sharpening_moves_values_away_from_half_inside_the_band_only():
    mask = soft_disc()
    out = sharpen_border_band(mask, width=3, gain=4.0)
    band = border_band(mask, 3)
    np.testing.assert_array_equal(out[~band], mask[~band])
    assert np.all(np.abs(out[band] - 0.5) >= np.abs(mask[band] - 0.5) - 1e-6)
    assert np.abs(out[band] - 0.5).mean() > np.abs(mask[band] - 0.5).mean() + 0.1
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1


def test_guided_variant_follows_the_image_edge():
    image = np.zeros((64, 64, 3), np.uint8)
    cv2.circle(image, (32, 32), 18, (255, 255, 255), -1)
    mask = soft_disc(blur=9)
    out = sharpen_border_band(mask, image, width=4)
    truth = (image[..., 0] > 127).astype(np.float32)
    band = border_band(mask, 4)
    assert np.abs(out - truth)[band].mean() < np.abs(mask - truth)[band].mean()
    with pytest.raises(ValueError):
        sharpen_border_band(mask, image[:10])
    with pytest.raises(ValueError):
        sharpen_border_band(mask, gain=0.5)
