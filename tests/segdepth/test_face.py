"""segdepth.face: faces of real people found, in pixels of the input, and none on scikit-image's other photos."""
import cv2
import numpy as np
import pytest
from skimage import data

from segdepth.face import KEYPOINTS, FaceDetector, detect_faces
from datasets.testing.people import person_photos

# Pupil centres of skimage's astronaut (512×512), annotated by hand on an 8× enlargement.
ASTRONAUT_RIGHT_EYE = (204.0, 101.0)  # the subject's right eye: on the image's left
ASTRONAUT_LEFT_EYE = (247.0, 103.0)


@pytest.fixture(scope="module")
def detector():
    with FaceDetector() as det:
        yield det


def _only_face(det, image):
    faces = det(image)
    assert len(faces) == 1, faces
    return faces[0]


def test_astronaut_box_and_eyes_in_input_pixels(detector):
    face = _only_face(detector, data.astronaut())
    assert face.refined and face.score > 0.8
    assert set(face.keypoints) == set(KEYPOINTS)
    x0, y0, x1, y1 = face.box
    assert 90 < face.width < 115 and abs(face.width - face.height) < 3
    for name, (x, y) in face.keypoints.items():
        if not name.endswith("ear"):
            assert x0 < x < x1 and y0 < y < y1, name
    assert np.hypot(*np.subtract(face.keypoints["right_eye"], ASTRONAUT_RIGHT_EYE)) < 4
    assert np.hypot(*np.subtract(face.keypoints["left_eye"], ASTRONAUT_LEFT_EYE)) < 4
    assert abs(face.eye_distance - 43.0) < 3
    assert face.keypoints["nose_tip"][1] < face.keypoints["mouth_center"][1]
    assert face.describe().startswith("face 0.9")


@pytest.mark.parametrize("size", [256, 1024])
def test_box_scales_with_the_image(detector, size):
    ref = _only_face(detector, data.astronaut())
    face = _only_face(detector, cv2.resize(data.astronaut(), (size, size), interpolation=cv2.INTER_AREA))
    s = size / 512
    assert abs(face.width / s - ref.width) < 0.05 * ref.width
    assert np.hypot(*np.subtract(face.keypoints["left_eye"], np.multiply(ref.keypoints["left_eye"], s))) < 4 * s


def test_padding_shifts_the_box_and_keeps_its_size(detector):
    """A small face in a large non-square frame: coordinates follow the offset, the size stays."""
    ref = _only_face(detector, data.astronaut())
    padded = cv2.copyMakeBorder(data.astronaut(), 100, 700, 300, 0, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    face = _only_face(detector, padded)
    assert face.refined
    assert abs(face.width - ref.width) < 0.05 * ref.width
    assert abs(face.center[0] - 300 - ref.center[0]) < 4 and abs(face.center[1] - 100 - ref.center[1]) < 4


def test_person_photos_each_have_a_face(detector):
    for photo in person_photos(6, (256, 256)):
        assert detector(photo), "no face on a photo of the astronaut"


@pytest.mark.parametrize("name", ["coffee", "chelsea", "immunohistochemistry", "retina", "rocket", "horse",
                                  "hubble_deep_field", "coins", "brick", "gravel"])
def test_no_face_on_photos_without_people(detector, name):
    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, -1)
    assert detector(np.ascontiguousarray(image[..., :3].astype(np.uint8))) == []


def test_bad_input_and_settings_are_refused():
    with pytest.raises(ValueError, match="uint8 RGB"):
        detect_faces(np.zeros((32, 32), np.uint8))
    with pytest.raises(ValueError, match="uint8 RGB"):
        detect_faces(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="face models"):
        FaceDetector(models=("tiny",))
    with pytest.raises(ValueError, match="min_score"):
        FaceDetector(min_score=1.5)
    assert detect_faces(np.zeros((64, 48, 3), np.uint8), models=("short",)) == []


def test_model_subsets_and_first_pass_only(detector):
    photo = data.astronaut()
    short = detector(photo, models=("short",))
    assert len(short) == 1 and short[0].model == "short" and short[0].refined
    with pytest.raises(ValueError, match="models must be some of"):
        detector(photo, models=("tiny",))
    with FaceDetector(("full",), refine=False) as first_pass:
        face = first_pass(photo)[0]
        assert face.model == "full" and not face.refined
        with pytest.raises(ValueError, match="models must be some of"):
            first_pass(photo, models=("short",))
