"""Is there a real person in this photo? Evidence from a face, a body pose and the person mask.

A person segmenter alone is no evidence: MediaPipe's selfie model paints "person" on a coffee cup,
a cat or a microscopy slide (of scikit-image's coffee, chelsea, immunohistochemistry, retina and
rocket, the mask-only rule rejected only the rocket). The
paper's reviewers removed photos "not featuring any real people" (Nasrullah 2018, §3.1), so the
check asks for evidence that does not fire on such scenes, in this order:

1. **face**: a face (segdepth.face, BlazeFace short + full range) with score ≥ ``min_face_score``
   whose box the person mask covers for at least ``min_on_mask`` of its area (a face-like
   pattern on a colour chart or a wallpaper lies outside any person mask);
2. **pose**: when no face qualifies (the subject looks away or the face is cut by the frame),
   MediaPipe Pose (BlazePose, the full landmark model of the 0.10.14 wheel) finds a
   body with detection confidence ≥ ``min_pose_score``, and the mask covers at least
   ``min_on_mask`` of its landmarks that are visible and inside the image.

Measured on scikit-image's photos (coffee, chelsea, immunohistochemistry, retina, rocket, horse,
coins, colorwheel, motorcycle and the textures): no qualifying face and no pose on any (the
colour chart has a face-like pattern off the mask, the motorcycle a pose off the mask). On 40
procedural scenes without their subject (datasets.synthetic), none at 256 px; made at 512 px, two
pass (face scores 0.53 and 0.63 on round "heads" over figure-like shapes of the background; with
the check at 512 px instead of 256, one other passed, and at 288–448 px 0–3: chance patterns).
On 80 real portraits (Nasrullah 2018's test photos, bench/bench_curation.py): a qualifying face on
78, a pose on 1 (no face found), nothing on 1 (no face; a pose with 0–28 % of its landmarks on the mask).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Optional

import numpy as np

from datasets.io import check_side
from plumbing.cli import quiet_native_logs, without_protobuf_note
from datasets.io import shrink_to
from segdepth.face import FaceDetector
from segdepth.segment import build_segmenter

#: Longer side the three models see; larger images are area-averaged to it first. No model's input is
#: larger (selfie segmentation 256×256, BlazeFace 128 / 192, BlazePose 224 / 256), so more pixels
#: cost time, not evidence: at 512 px the check took 3 ms more per photo, and on the 783 photos of
#: bench/bench_curation.py, and its real photos upscaled to 640 and 1024 px, every decision at 256 px
#: was the one at 512 px.
WORK_SIDE = 256


@dataclass(frozen=True)
class PersonEvidence:
    """What the check saw, in pixels of the image passed in.

    ``mask_fraction``: share of the image the segmenter calls person (mask > 0.5).
    ``face_score``, ``face_box`` (x0, y0, x1, y1), ``face_mask``: the best face found (score 0 and
    no box when none) and the share of its box on the person mask. ``pose_score``, ``pose_mask``:
    the mean visibility of the 33 pose landmarks and the share of visible landmarks on the mask (None when
    the pose was not looked for, i.e. a face qualified, or none was found). ``evidence``: "face",
    "pose" or "none".
    """

    mask_fraction: float
    face_score: float
    face_box: Optional[tuple[float, float, float, float]]
    face_mask: float
    pose_score: Optional[float]
    pose_mask: Optional[float]
    evidence: str

    def describe(self) -> str:
        """One line for rejects.csv and the review page."""
        if self.face_box is not None:
            x0, y0, x1, y1 = self.face_box
            face = (f"face {self.face_score:.2f} at {x0:.0f},{y0:.0f} {x1 - x0:.0f}x{y1 - y0:.0f}, "
                    f"{self.face_mask:.0%} on the mask")
        else:
            face = "no face"
        pose = "" if self.pose_score is None else f"; pose {self.pose_score:.2f}, {self.pose_mask:.0%} on the mask"
        if self.pose_score is None and self.evidence == "none":
            pose = "; no pose"
        return f"{face}{pose}; person mask {self.mask_fraction:.1%} of the image"

    def to_json(self) -> dict:
        """A JSON-able dict (for a feature cache); ``PersonEvidence(**d)`` restores it."""
        return asdict(self)

    @staticmethod
    def from_json(d: dict) -> "PersonEvidence":
        box = d.get("face_box")
        return PersonEvidence(**{**d, "face_box": tuple(box) if box is not None else None})


def _covered(mask: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Share of ``box`` (pixels of ``mask``; clipped to the image) on the mask."""
    h, w = mask.shape
    x0, y0 = max(0, int(round(box[0]))), max(0, int(round(box[1])))
    x1, y1 = min(w, int(round(box[2]))), min(h, int(round(box[3])))
    return float(mask[y0:y1, x0:x1].mean()) if x1 > x0 and y1 > y0 else 0.0


class PersonCheck:
    """Callable ``check(image) -> PersonEvidence`` for uint8 RGB H×W×3 images (see the module doc).

    ``segmenter``: uint8 RGB → float32 person mask in [0, 1] (segdepth.segment). The image is
    scaled to at most WORK_SIDE (256) px for all three models; boxes are reported in the input's pixels (or
    those of ``size``, the full photo, when the input is a reduced copy of it).
    Not thread-safe; ``close()`` releases the MediaPipe graphs.
    """

    def __init__(self, segmenter: Callable[[np.ndarray], np.ndarray], min_face_score: float = 0.5,
                 min_on_mask: float = 0.5, min_pose_score: float = 0.5) -> None:
        for name, value in (("min_face_score", min_face_score), ("min_pose_score", min_pose_score)):
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name} must be in (0, 1), got {value}")
        if not 0.0 <= min_on_mask <= 1.0:
            raise ValueError(f"min_on_mask must be in [0, 1], got {min_on_mask}")
        from mediapipe.python.solutions import pose

        self.segmenter = segmenter
        self.min_face_score, self.min_on_mask = min_face_score, min_on_mask
        self._faces = FaceDetector(("short", "full"), min_score=min_face_score, refine=False)
        with quiet_native_logs(), without_protobuf_note():  # start-up lines hidden under --quiet (static mode)
            self._pose = pose.Pose(static_image_mode=True, model_complexity=1,
                                   min_detection_confidence=min_pose_score)
            self._pose.process(np.zeros((16, 16, 3), np.uint8))

    def _pose_evidence(self, image: np.ndarray, mask: np.ndarray) -> tuple[Optional[float], Optional[float]]:
        """(mean landmark visibility, share of visible in-image landmarks on the mask), or (None, None)."""
        with without_protobuf_note():
            result = self._pose.process(image)
        if result.pose_landmarks is None:
            return None, None
        h, w = mask.shape
        marks = result.pose_landmarks.landmark
        pts = [(int(m.x * w), int(m.y * h)) for m in marks if m.visibility > 0.5 and 0 <= m.x < 1 and 0 <= m.y < 1]
        on_mask = float(np.mean([mask[y, x] for x, y in pts])) if pts else 0.0
        return float(np.mean([m.visibility for m in marks])), on_mask

    def __call__(self, image: np.ndarray, size: Optional[tuple[int, int]] = None) -> PersonEvidence:
        """The evidence for ``image``; ``size`` (width, height): the photo ``image`` is a reduced copy of
        (e.g. datasets.io.read_image_reduced), whose pixels the face box is given in (default: ``image``'s)."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected uint8 RGB H×W×3, got {image.dtype} {image.shape}")
        h, w = image.shape[:2]
        problem = check_side(w, h)  # MediaPipe's OpenCV would abort the process
        if problem:
            raise ValueError(problem)
        full_w, full_h = size if size is not None else (w, h)
        image = np.ascontiguousarray(shrink_to(image, WORK_SIDE))
        mask = np.asarray(self.segmenter(image)) > 0.5
        faces = [(f, _covered(mask, f.box)) for f in self._faces(image, ("short",))]
        good = [fc for fc in faces if fc[1] >= self.min_on_mask]
        if not good:  # the full-range model (smaller faces) costs 3x the short-range one: only when needed
            faces += [(f, _covered(mask, f.box)) for f in self._faces(image, ("full",))]
            good = [fc for fc in faces if fc[1] >= self.min_on_mask]
        face, cover = max(good or faces, key=lambda fc: fc[0].score) if faces else (None, 0.0)
        pose_score = pose_mask = None
        if good:
            evidence = "face"
        else:
            pose_score, pose_mask = self._pose_evidence(image, mask)
            evidence = "pose" if pose_mask is not None and pose_mask >= self.min_on_mask else "none"
        fx, fy = full_w / image.shape[1], full_h / image.shape[0]
        box = None if face is None else (face.box[0] * fx, face.box[1] * fy, face.box[2] * fx, face.box[3] * fy)
        return PersonEvidence(float(mask.mean()), face.score if face else 0.0, box, cover,
                              pose_score, pose_mask, evidence)

    def close(self) -> None:
        """Release the MediaPipe graphs."""
        self._faces.close()
        self._pose.close()


def person_check_factory(segmenter: str = "mediapipe", min_face_score: float = 0.5,
                         min_on_mask: float = 0.5) -> Callable[[], PersonCheck]:
    """A factory that builds the check with the segmenter registered as ``segmenter`` (for
    datasets.curate.curate, which builds it only when some image needs checking)."""
    return lambda: PersonCheck(build_segmenter(segmenter), min_face_score, min_on_mask)
