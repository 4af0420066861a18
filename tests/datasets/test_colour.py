"""datasets.colour: the one sRGB implementation, checked against IEC 61966-2-1's own values."""
import numpy as np

from datasets import colour


def test_curves_match_the_standard():
    # decoded values of the standard's formula: the knee, mid grey, 18 % grey and white
    encoded = np.array([0.0, 0.04045, 0.5, 0.461356, 1.0], np.float32)
    linear = np.array([0.0, 0.0031308, 0.214041, 0.18, 1.0], np.float32)
    np.testing.assert_allclose(colour.srgb_to_linear(encoded), linear, atol=2e-6)
    np.testing.assert_allclose(colour.linear_to_srgb(linear), encoded, atol=2e-6)
    assert colour.linear_to_srgb(np.float32(1.7)) == colour.linear_to_srgb(np.float32(1.0))  # clipped: saturates
    x = np.linspace(0, 1, 101, dtype=np.float32)
    assert np.allclose(colour.linear_to_srgb(colour.srgb_to_linear(x)), x, atol=1e-5)


def test_eight_bit_tables_follow_the_curves_and_invert_exactly():
    v = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    lin = colour.srgb8_to_linear(v)
    np.testing.assert_allclose(lin, colour.srgb_to_linear(v / 255.0), atol=1e-6)
    assert abs(float(colour.srgb8_to_linear(np.uint8([[128]]))[0, 0]) - 0.2158605) < 1e-6
    np.testing.assert_array_equal(colour.linear_to_srgb8(lin), v)
    ramp = np.linspace(0, 1, 10001, dtype=np.float32).reshape(1, -1)
    exact = colour.to_uint8(colour.linear_to_srgb(ramp))
    assert np.abs(colour.linear_to_srgb8(ramp).astype(int) - exact).max() <= 1
