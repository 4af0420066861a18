"""segdepth.person: evidence of a real person on scikit-image's photos, the astronaut photos and person-less scenes."""
import numpy as np
import pytest
from skimage import data

from datasets.testing.people import NO_PERSON, background_only, person_photos, skimage_rgb
from segdepth.person import PersonCheck, PersonEvidence, person_check_factory


@pytest.fixture(scope="module")
def check():
    c = person_check_factory()()
    yield c
    c.close()


@pytest.mark.parametrize("name", NO_PERSON)
def test_no_evidence_on_photos_without_people(check, name):
    ev = check(skimage_rgb(name))
    assert ev.evidence == "none", ev.describe()


def test_cup_cat_and_microscopy_are_person_to_the_mask_but_not_to_the_check(check):
    """The selfie mask alone passed these; the face and pose evidence does not."""
    for name in ("coffee", "chelsea", "immunohistochemistry", "retina"):
        ev = check(skimage_rgb(name))
        assert ev.mask_fraction > 0.1 and ev.evidence == "none", (name, ev.describe())


def test_the_astronaut_and_the_cameraman_have_a_face_on_the_mask(check):
    for name in ("astronaut", "camera"):
        ev = check(skimage_rgb(name))
        assert ev.evidence == "face" and ev.face_score > 0.7 and ev.face_mask > 0.9, ev.describe()
    ev = check(data.astronaut())
    x0, y0, x1, y1 = ev.face_box
    assert 165 < x0 < 185 and 60 < y0 < 90 and 90 < x1 - x0 < 115  # pixels of the 512-px input
    assert ev.describe().startswith("face 0.9") and "on the mask" in ev.describe()
    assert PersonEvidence.from_json(ev.to_json()) == ev


def test_person_photos_pass_and_person_less_scenes_do_not(check):
    assert all(check(p).evidence == "face" for p in person_photos(5))
    for seed in range(5):
        ev = check(background_only(seed))
        assert ev.evidence == "none", (seed, ev.describe())


def test_a_face_cut_by_the_frame_falls_back_to_the_pose(check):
    """Half the astronaut's face cut off (as in a tight real crop): no face, but a pose on the mask."""
    cut = np.ascontiguousarray(data.astronaut()[:, 235:])
    ev = check(cut)
    assert ev.evidence == "pose" and ev.pose_mask > 0.9 and ev.face_box is None, ev.describe()
    assert "no face; pose" in ev.describe()
    off_mask = PersonCheck(lambda im: np.zeros(im.shape[:2], np.float32))  # the same pose, off any mask
    assert off_mask(cut).evidence == "none"
    off_mask.close()


def test_bad_input_and_settings():
    with pytest.raises(ValueError, match="min_face_score"):
        PersonCheck(lambda im: im[..., 0], min_face_score=0)
    with pytest.raises(ValueError, match="min_on_mask"):
        PersonCheck(lambda im: im[..., 0], min_on_mask=2)
    c = PersonCheck(lambda im: np.zeros(im.shape[:2], np.float32))
    with pytest.raises(ValueError, match="uint8 RGB"):
        c(np.zeros((8, 8), np.uint8))
    c.close()


def test_face_box_of_a_reduced_copy_is_given_in_the_full_photos_pixels(check):
    """check(small, size=full size) reports the box where check(full) does (datasets.curate passes
    the reduced decode of a photo)."""
    import cv2

    full = cv2.resize(person_photos(1, (256, 256), seed=3)[0], (1024, 1024), interpolation=cv2.INTER_CUBIC)
    small = cv2.resize(full, (512, 512), interpolation=cv2.INTER_AREA)
    a, b = check(full), check(small, size=(1024, 1024))
    assert a.evidence == b.evidence == "face"
    assert np.allclose(a.face_box, b.face_box, atol=2), (a.face_box, b.face_box)
    assert check(small).face_box[2] < 0.6 * b.face_box[2]  # without size: the small copy's pixels
