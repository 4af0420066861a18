"""Metric depth prior from face size (segdepth/depth/metric.py) and its use by the lens pipeline."""
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from skimage import data

from compositing.pipeline import render_photo
from evaluation import metrics as M
from segdepth.depth import metric
from segdepth.face import FaceDetector
from segdepth.segment import build_segmenter


@dataclass
class _Face:
    box: tuple[float, float, float, float]

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]


def test_face_distance_follows_the_pinhole_model():
    # a 36 × 24 frame, 28 mm: f_px = 28 · diagonal_px / 43.27 mm
    w, h = 3600, 2400
    f_px = 28.0 * np.hypot(w, h) / metric.FULL_FRAME_DIAGONAL_MM
    d = metric.face_distance_m(300.0, w, h, 28.0)
    assert d == pytest.approx(f_px * metric.FACE_BOX_WIDTH_M / 300.0)
    assert metric.face_distance_m(150.0, w, h, 28.0) == pytest.approx(2 * d)  # half the size: twice as far
    assert metric.face_distance_m(300.0, w, h, 56.0) == pytest.approx(2 * d)  # twice the focal length
    assert metric.sensor_width_mm(w, h) == pytest.approx(36.0)
    with pytest.raises(ValueError, match="positive"):
        metric.face_distance_m(0.0, w, h, 28.0)


def _two_people(second_width: float) -> tuple[np.ndarray, np.ndarray, list[_Face]]:
    h, w = 200, 300
    mask = np.zeros((h, w), np.float32)
    mask[60:200, 40:120] = 1.0  # the subject
    mask[80:200, 190:260] = 1.0  # a second person
    faces = [_Face((50, 60, 110, 120)), _Face((225 - second_width / 2, 80, 225 + second_width / 2, 80 + second_width))]
    return np.zeros((h, w, 3), np.uint8), mask, faces


def test_a_person_far_behind_leaves_the_sharp_mask_and_one_beside_stays():
    def coc(d: float, focus: float) -> float:  # any lens: radius grows with the depth difference
        return 10.0 * abs(d - focus) / d

    image, mask, faces = _two_people(second_width=20.0)  # a third of the face width: 3× as far
    far = metric.metric_depth(image, mask, faces, None, coc)
    assert far.focal_source == "default" and far.focal_35mm == metric.DEFAULT_FOCAL_35MM
    d_main, d_second = far.people[0].distance_m, far.people[1].distance_m
    assert d_second == pytest.approx(3 * d_main) and far.focus_m == pytest.approx(d_main)
    assert far.people[0].in_focus and not far.people[1].in_focus
    assert far.mask[150, 220] == 0.0 and far.mask[150, 80] == 1.0
    assert far.depth[150, 220] == pytest.approx(d_second, rel=1e-5)
    assert far.depth[150, 80] == pytest.approx(d_main, rel=1e-5)
    assert far.summary()["depth_source"] == "metric_from_face"

    image, mask, faces = _two_people(second_width=58.0)  # about the subject's size: beside them
    beside = metric.metric_depth(image, mask, faces, 50.0, coc)
    assert beside.focal_source == "exif" and all(p.in_focus for p in beside.people)
    np.testing.assert_array_equal(beside.mask, mask)
    # no face on the mask: no metric depth (the caller keeps the relative prior)
    assert metric.metric_depth(image, mask, [_Face((280, 0, 299, 19))], None, coc) is None


@pytest.fixture(scope="module")
def astronaut_inputs():
    image = np.ascontiguousarray(data.astronaut()[:, :, :3])
    seg = build_segmenter("mediapipe")
    with FaceDetector() as detector:
        return image, seg(image), detector(image)


def _detail_kept(image: np.ndarray, output: np.ndarray, mask: np.ndarray, sigma: float = 2.0) -> float:
    """Background detail at 2–4 px kept by ``output``: energy of the difference of Gaussians
    σ, 2σ over the background, output ÷ input (the photo's grain, which the lens puts back at
    the pixel scale, does not count as detail here)."""
    bg = M.make_regions(mask).background

    def band(img: np.ndarray) -> float:
        y = M.luminance(img)
        b = cv2.GaussianBlur(y, (0, 0), sigma) - cv2.GaussianBlur(y, (0, 0), 2 * sigma)
        return float(np.mean(b[bg] ** 2))

    return band(output) / band(image)


def test_f_number_acts_as_on_a_camera_with_the_face_prior(astronaut_inputs):
    """Without EXIF the camera is the portrait lens (85 mm): f/1.4 is strongly defocused, f/16
    nearly sharp, and f/16 keeps at least 1.3× the background detail f/1.4 keeps."""
    image, raw, faces = astronaut_inputs
    assert faces, "MediaPipe should find the astronaut's face"
    kept = {}
    for n in (1.4, 4.0, 16.0):
        done = render_photo("lens", image, raw, {"f_number": n}, faces=faces)
        assert done.depth_info["depth_source"] == "metric_from_face" and done.params["f_number"] == n
        assert done.params["focal_length_mm"] == metric.DEFAULT_FOCAL_35MM == 85.0
        # the face's size at the 85 mm lens's field of view: about 2 m
        assert done.depth_info["people"][0]["distance_m"] == pytest.approx(2.1, abs=0.6)
        kept[n] = _detail_kept(image, done.output, done.mask)
    assert kept[1.4] < 0.2 and kept[16.0] > 0.8  # strongly defocused / nearly sharp
    assert kept[1.4] < 0.5 * kept[4.0] < kept[16.0]
    assert kept[16.0] >= 1.3 * kept[1.4]
    # the relative path, for comparison: f-number has no effect there
    rel = [render_photo("lens", image, raw, {"coc": "relative", "f_number": n}, faces=faces) for n in (1.4, 16.0)]
    assert rel[0].depth_info["depth_source"] == "relative"
    np.testing.assert_array_equal(rel[0].output, rel[1].output)
    # a longer lens at the same f-number (same framing assumed) blurs more
    long = render_photo("lens", image, raw, {"f_number": 4.0, "focal_length_mm": 135.0}, faces=faces)
    assert _detail_kept(image, long.output, long.mask) < kept[4.0]
