"""MediaPipe selfie segmentation, the offline default (the model ships in the mediapipe 0.10.14 wheel)."""
from __future__ import annotations

import numpy as np

from datasets.io import check_side
from plumbing.cli import quiet_native_logs


class MediaPipeSegmenter:
    """Soft person mask from MediaPipe Selfie Segmentation (legacy ``solutions`` API).

    ``model_selection=0`` is the general 256×256 model, ``1`` the faster landscape model.
    Input uint8 RGB H×W×3; output float32 H×W in [0, 1] at the input size. MediaPipe's own
    start-up log lines are hidden when logging is quieter than INFO (``--quiet``).
    """

    def __init__(self, model_selection: int = 0) -> None:
        if model_selection not in (0, 1):
            raise ValueError(f"model_selection must be 0 or 1, got {model_selection}")
        try:
            from mediapipe.python.solutions import selfie_segmentation
        except ImportError as exc:  # a newer mediapipe without the legacy API
            raise ImportError(
                "mediapipe 0.10.14 is required for the offline selfie segmentation model "
                "(newer releases dropped it): pip install mediapipe==0.10.14"
            ) from exc
        with quiet_native_logs():  # the graph starts (and TFLite logs its set-up) on the first frame: run one
            self._model = selfie_segmentation.SelfieSegmentation(model_selection=model_selection)
            self._model.process(np.zeros((16, 16, 3), np.uint8))

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected uint8 RGB H×W×3, got {image.dtype} {image.shape}")
        problem = check_side(image.shape[1], image.shape[0])  # its OpenCV would abort the whole process
        if problem:
            raise ValueError(problem)
        result = self._model.process(np.ascontiguousarray(image))
        mask = result.segmentation_mask
        if mask is None:
            return np.zeros(image.shape[:2], np.float32)
        return np.clip(mask.astype(np.float32), 0.0, 1.0)

    def close(self) -> None:
        """Release the MediaPipe graph."""
        self._model.close()
