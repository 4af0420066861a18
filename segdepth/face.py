"""Face detection with MediaPipe's BlazeFace models (they ship in the mediapipe 0.10.14 wheel).

Two models, through the legacy ``mediapipe.solutions.face_detection`` API: ``short``
(``face_detection_short_range.tflite``, 128×128 input, faces that fill a good part of the frame,
within about 2 m of the camera) and ``full`` (``face_detection_full_range_sparse.tflite``,
192×192 input, smaller faces up to about 5 m). Bazarevsky et al. 2019, "BlazeFace: Sub-millisecond
Neural Face Detection on Mobile GPUs".

All coordinates are **pixels of the image passed in** (x to the right, y down, origin at the
top-left corner of the top-left pixel). A first pass runs the models on the whole image; each
face found is then *refined*: the short-range model runs again on a square crop of twice the
face's size centred on it, resampled to 256×256, and the box and keypoints come from that pass.
The first pass sees a small face at a few dozen pixels of the model's input and its box width
varies by up to 40 % with the framing; after refinement, on scikit-image's astronaut (512 px,
interpupillary distance 43 px, eyes annotated by hand) the box width stays within ±3 % across
image sizes 256–1024 px and paddings, and each eye lies within 3 px of the annotation.
A face too small for the short-range model to find again on the crop (below about 25 px) keeps
its first-pass box and keypoints, with ``refined=False``.

Keypoints are named from the *subject's* point of view, as MediaPipe does: ``right_eye`` is the
subject's right eye, which appears on the image's left in an unmirrored photo.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np

from datasets.io import check_side
from plumbing.cli import quiet_native_logs, without_protobuf_note

KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear", "left_ear")
MODELS = {"short": 0, "full": 1}
REFINE_SIZE = 256
REFINE_FACTOR = 2.0
MAX_SIDE = 1024


@dataclass(frozen=True)
class Face:
    """One face in pixels of the input image.

    ``box`` is (x0, y0, x1, y1): BlazeFace's square box, from about the eyebrows to the chin and
    across the cheeks (ears outside); on a frontal face its width is about 2.4 × ``eye_distance``
    (the astronaut: 103 px and 43 px; not measured on turned heads). ``keypoints`` maps each name of ``KEYPOINTS`` to (x, y).
    ``score`` is the detector's confidence in [0, 1] (the higher of the two passes); ``model`` the
    first-pass model that found it; ``refined`` whether the box and keypoints come from the
    second pass (the accurate ones, see the module docstring).
    """

    box: tuple[float, float, float, float]
    score: float
    keypoints: dict[str, tuple[float, float]]
    model: str
    refined: bool = False

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.box[3] - self.box[1]

    @property
    def center(self) -> tuple[float, float]:
        """Box centre (x, y) in pixels."""
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2

    @property
    def eye_distance(self) -> float:
        """Distance between the two eye keypoints in pixels (about 63 mm on an adult face)."""
        (rx, ry), (lx, ly) = self.keypoints["right_eye"], self.keypoints["left_eye"]
        return float(np.hypot(lx - rx, ly - ry))

    def describe(self) -> str:
        """Short text for reports: score, model and box (x0,y0 width x height)."""
        return f"face {self.score:.2f} ({self.model}) at {self.box[0]:.0f},{self.box[1]:.0f} " \
               f"{self.width:.0f}x{self.height:.0f}"


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected uint8 RGB H×W×3, got {getattr(image, 'dtype', type(image))} "
                         f"{getattr(image, 'shape', '')}")
    if min(image.shape[:2]) < 1:
        raise ValueError(f"empty image {image.shape}")
    problem = check_side(image.shape[1], image.shape[0])  # MediaPipe's OpenCV would abort the process
    if problem:
        raise ValueError(problem)


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _square_crop(image: np.ndarray, cx: float, cy: float, side: float, size: int) -> tuple[np.ndarray, float, float]:
    """``size``×``size`` resampling of the square of ``side`` px centred on (cx, cy), zero outside the
    image; returns it with the crop's top-left corner (x0, y0) in image pixels."""
    x0, y0 = cx - side / 2, cy - side / 2
    ix0, iy0 = int(np.floor(x0)), int(np.floor(y0))
    n = int(np.ceil(side)) + 1
    h, w = image.shape[:2]
    patch = np.zeros((n, n, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(ix0, 0), max(iy0, 0), min(ix0 + n, w), min(iy0 + n, h)
    if sx1 > sx0 and sy1 > sy0:
        patch[sy0 - iy0:sy1 - iy0, sx0 - ix0:sx1 - ix0] = image[sy0:sy1, sx0:sx1]
    scale = size / side
    m = np.array([[scale, 0, -(x0 - ix0) * scale], [0, scale, -(y0 - iy0) * scale]], np.float64)
    if scale < 1:  # area-average first so a large face is not aliased, then place sub-pixel exactly
        small = cv2.resize(patch, (max(1, round(n * scale)), max(1, round(n * scale))), interpolation=cv2.INTER_AREA)
        f = small.shape[1] / n
        m = np.array([[scale / f, 0, -(x0 - ix0) * scale], [0, scale / f, -(y0 - iy0) * scale]], np.float64)
        patch = small
    crop = cv2.warpAffine(patch, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return crop, x0, y0


class FaceDetector:
    """Callable ``detector(image) -> list[Face]`` (highest score first) for uint8 RGB H×W×3 images.

    ``models`` are the first-pass models (``"short"``, ``"full"`` or both, merged by box overlap);
    ``min_score`` the confidence a face needs; ``refine=False`` skips the second pass (half the time;
    boxes then vary with the framing as the module docstring says). Not thread-safe (one MediaPipe graph
    per model); call ``close()`` or use it as a context manager to release the graphs.
    """

    def __init__(self, models: Iterable[str] = ("short", "full"), min_score: float = 0.5, refine: bool = True) -> None:
        models = tuple(models)
        unknown = [m for m in models if m not in MODELS]
        if unknown or not models:
            raise ValueError(f"face models must be some of {sorted(MODELS)}, got {list(models)}")
        if not 0.0 < min_score < 1.0:
            raise ValueError(f"min_score must be in (0, 1), got {min_score}")
        try:
            from mediapipe.python.solutions import face_detection
        except ImportError as exc:  # a newer mediapipe without the legacy API
            raise ImportError("mediapipe 0.10.14 is required for the offline face detection models "
                              "(newer releases dropped the solutions API): pip install mediapipe==0.10.14") from exc
        self.models, self.min_score, self.refine = models, min_score, refine
        names = set(models) | ({"short"} if refine else set())
        with quiet_native_logs(), without_protobuf_note():  # the graphs start (and TFLite logs) on a first image
            self._graphs = {m: face_detection.FaceDetection(min_detection_confidence=min_score,
                                                            model_selection=MODELS[m]) for m in names}
            for graph in self._graphs.values():
                graph.process(np.zeros((16, 16, 3), np.uint8))

    def _run(self, model: str, image: np.ndarray, scale: float = 1.0, x0: float = 0.0, y0: float = 0.0) -> list[Face]:
        """Raw detections of one model on ``image``, mapped by p → p · scale + (x0, y0)."""
        h, w = image.shape[:2]
        found = []
        with without_protobuf_note():
            detections = self._graphs[model].process(np.ascontiguousarray(image)).detections or []
        for det in detections:
            loc = det.location_data
            bb = loc.relative_bounding_box
            box = (bb.xmin * w * scale + x0, bb.ymin * h * scale + y0,
                   (bb.xmin + bb.width) * w * scale + x0, (bb.ymin + bb.height) * h * scale + y0)
            kps = {name: (kp.x * w * scale + x0, kp.y * h * scale + y0)
                   for name, kp in zip(KEYPOINTS, loc.relative_keypoints)}
            found.append(Face(box, float(det.score[0]), kps, model))
        return found

    def _refine(self, image: np.ndarray, face: Face) -> Face | None:
        """The face re-detected by the short-range model on a crop of twice its size, or None."""
        cx, cy = face.center
        side = REFINE_FACTOR * max(face.width, face.height)
        crop, x0, y0 = _square_crop(image, cx, cy, side, REFINE_SIZE)
        candidates = self._run("short", crop, side / REFINE_SIZE, x0, y0)
        if not candidates:
            return None
        best = min(candidates, key=lambda f: np.hypot(f.center[0] - cx, f.center[1] - cy))
        if np.hypot(best.center[0] - cx, best.center[1] - cy) > max(face.width, face.height) / 2:
            return None
        return Face(best.box, max(face.score, best.score), best.keypoints, face.model, refined=True)

    def __call__(self, image: np.ndarray, models: Iterable[str] | None = None) -> list[Face]:
        """Faces in ``image``, highest score first; ``models`` picks some of this detector's models."""
        _check_image(image)
        models = self.models if models is None else tuple(models)
        if not models or any(m not in self.models for m in models):
            raise ValueError(f"models must be some of this detector's {list(self.models)}, got {list(models)}")
        h, w = image.shape[:2]
        scale = min(1.0, MAX_SIDE / max(h, w))
        small = image if scale == 1.0 else cv2.resize(
            image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        back = w / small.shape[1]
        first = sorted((f for m in models for f in self._run(m, small, back)), key=lambda f: -f.score)
        faces: list[Face] = []
        for face in first:
            if any(_iou(face.box, kept.box) > 0.3 for kept in faces):
                continue
            refined = (self._refine(image, face) if self.refine else None) or face
            if not any(_iou(refined.box, kept.box) > 0.3 for kept in faces):
                faces.append(refined)
        return sorted(faces, key=lambda f: -f.score)

    def close(self) -> None:
        """Release the MediaPipe graphs."""
        for graph in self._graphs.values():
            graph.close()
        self._graphs = {}

    def __enter__(self) -> "FaceDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def detect_faces(image: np.ndarray, models: Iterable[str] = ("short", "full"), min_score: float = 0.5) -> list[Face]:
    """Faces in a uint8 RGB H×W×3 image, highest score first (builds a FaceDetector for one call;
    keep a FaceDetector for many images)."""
    with FaceDetector(models, min_score) as detector:
        return detector(image)
