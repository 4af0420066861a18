"""sRGB ↔ linear light (IEC 61966-2-1), the one implementation for the whole project.

The renderer (compositing/lens.py: blur in linear light) and the synthetic ground truth
(datasets/synthetic.py: layers composited in linear light, then encoded) both use it: the
transfer curve is a published standard, not a model, and tests/test_colour.py checks it against
the standard's own values, so sharing it cannot hide a renderer bug from evaluation the way a
shared circle of confusion would (docs/ARCHITECTURE.md).

* :func:`srgb_to_linear` / :func:`linear_to_srgb`: float32 arrays in [0, 1], the exact curves;
* :func:`srgb8_to_linear` / :func:`linear_to_srgb8`: uint8 ↔ float32 through tables built from
  the same curves (in float64), fast enough for full-resolution photos; :data:`SRGB8_TO_LINEAR`
  is the decoding table itself, for indexing selected pixels.
"""
from __future__ import annotations

import cv2
import numpy as np

#: where the curve turns from linear to the power law, in encoded and in linear values
_ENCODED_KNEE, _LINEAR_KNEE = 0.04045, 0.0031308


def _decode(x: np.ndarray) -> np.ndarray:
    """The sRGB decoding curve, in the dtype of ``x``."""
    return np.where(x <= _ENCODED_KNEE, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _encode(x: np.ndarray) -> np.ndarray:
    """The sRGB encoding curve, in the dtype of ``x`` (``x`` in [0, 1])."""
    return np.where(x <= _LINEAR_KNEE, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB decoding of values in [0, 1] (float32)."""
    return _decode(np.asarray(x, np.float32)).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB encoding; input clipped to [0, 1] (the sensor saturates). float32."""
    return _encode(np.clip(np.asarray(x, np.float32), 0.0, 1.0)).astype(np.float32)


def to_uint8(srgb: np.ndarray) -> np.ndarray:
    """[0, 1] float → uint8 with rounding."""
    return np.clip(np.rint(srgb * 255.0), 0, 255).astype(np.uint8)


#: linear light of every 8-bit sRGB code value (float32, 256 entries; index it with uint8 pixels)
SRGB8_TO_LINEAR = _decode(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
# indexed by sqrt(linear): even precision over the whole range (see linear_to_srgb8)
_SQRT_LUT_SIZE = 8192
_LINEAR_TO_SRGB8 = to_uint8(_encode(np.square(np.arange(_SQRT_LUT_SIZE, dtype=np.float64) / (_SQRT_LUT_SIZE - 1))))


def srgb8_to_linear(image: np.ndarray) -> np.ndarray:
    """uint8 sRGB → float32 linear light in [0, 1] (IEC 61966-2-1), via a 256-entry table."""
    return cv2.LUT(image, SRGB8_TO_LINEAR.reshape(1, 256))


def linear_to_srgb8(linear: np.ndarray) -> np.ndarray:
    """float32 linear light → uint8 sRGB (clipped to [0, 1]); a table indexed by √x keeps the
    error below one code value everywhere and inverts :func:`srgb8_to_linear` exactly."""
    s = cv2.sqrt(np.clip(linear, 0.0, 1.0))
    idx = (s * np.float32(_SQRT_LUT_SIZE - 1) + np.float32(0.5)).astype(np.uint16)
    return _LINEAR_TO_SRGB8[idx]
