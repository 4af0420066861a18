"""The offline default segmenter on a real portrait (skimage's astronaut) and its registry."""
import numpy as np
import pytest
from skimage import data

from segdepth.segment import SEGMENTERS, build_segmenter


@pytest.fixture(scope="module")
def astronaut_mask():
    seg = build_segmenter("mediapipe")
    mask = seg(data.astronaut())
    seg.close()
    return mask


def test_mask_contract(astronaut_mask):
    assert astronaut_mask.shape == (512, 512) and astronaut_mask.dtype == np.float32
    assert 0.0 <= astronaut_mask.min() and astronaut_mask.max() <= 1.0


def test_person_found_and_background_rejected(astronaut_mask):
    face = astronaut_mask[60:130, 190:270].mean()
    torso = astronaut_mask[400:500, 100:400].mean()
    sky_corner = astronaut_mask[0:100, 380:512].mean()
    assert face > 0.8 and torso > 0.8
    assert sky_corner < 0.1
    assert 0.3 < (astronaut_mask > 0.5).mean() < 0.75


def test_registry_rejects_unknown_names_and_bad_input():
    assert "mediapipe" in SEGMENTERS
    with pytest.raises(ValueError, match="unknown segmenter"):
        build_segmenter("nope")
    seg = build_segmenter("mediapipe", model_selection=1)
    with pytest.raises(ValueError, match="uint8 RGB"):
        seg(np.zeros((32, 32), np.uint8))
    with pytest.raises(ValueError, match="model_selection"):
        build_segmenter("mediapipe", model_selection=3)
