"""Distinct photos of a real person for tests and benchmarks that need one (curation's person check, the
end-to-end run), and photos without one (scikit-image's, procedural scenes without their subject).

Procedural scenes have no real face, so a face detector rightly finds none in them. These photos
paste scikit-image's bundled ``astronaut()`` portrait (a real photograph of a person) at a random
scale, position and mirror onto a different procedural background each, so perceptual hashes
and file sizes differ from photo to photo while the face stays real. Pure functions of the seed.
"""
from __future__ import annotations

import cv2
import numpy as np
from skimage import data

from datasets.synthetic import composite_layers, linear_to_srgb, make_layers, make_scene, to_uint8


def person_photo(seed: int, size: tuple[int, int] = (256, 256)) -> np.ndarray:
    """One H×W×3 uint8 RGB photo: the astronaut (a random square crop, 45–75 % of the height, bottom-aligned) on scene ``seed``."""
    h, w = size
    rng = np.random.default_rng(seed)
    canvas = make_scene(seed, size=size).image.copy()
    person = data.astronaut()
    crop = int(round(person.shape[0] * rng.uniform(0.75, 1.0)))
    c0 = int(rng.integers(0, person.shape[1] - crop + 1))
    person = person[:crop, c0:c0 + crop]
    if rng.random() < 0.5:
        person = person[:, ::-1]
    side = int(round(h * rng.uniform(0.45, 0.75)))
    person = cv2.resize(np.ascontiguousarray(person), (side, side), interpolation=cv2.INTER_AREA)
    side_w = min(side, w)
    x0 = int(rng.integers(0, w - side_w + 1))
    canvas[h - side:, x0:x0 + side_w] = person[:, :side_w]
    return canvas


def person_photos(n: int, size: tuple[int, int] = (256, 256), seed: int = 0) -> list[np.ndarray]:
    """``n`` distinct person photos (seeds ``seed`` … ``seed + n − 1``)."""
    return [person_photo(seed + i, size) for i in range(n)]


# scikit-image's bundled photos without a person (apart from textures, text and micrographs)
NO_PERSON = ("coffee", "chelsea", "immunohistochemistry", "retina", "rocket", "horse", "coins", "colorwheel",
             "hubble_deep_field", "logo", "motorcycle")


def skimage_rgb(name: str) -> np.ndarray:
    """A bundled scikit-image photo as uint8 RGB (``motorcycle`` is the left view of the stereo pair)."""
    image = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, -1)
    return np.ascontiguousarray(image[..., :3].astype(np.uint8))


def background_only(seed: int, size=(256, 256)) -> np.ndarray:
    """A procedural scene (datasets.synthetic) without its subject layer."""
    layers, _ = make_layers(seed, size)
    return to_uint8(linear_to_srgb(composite_layers(layers[:-1])))
