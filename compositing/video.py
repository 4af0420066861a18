"""Background blur for video: temporal mask smoothing and a real-time frame path.

Conventions: video frames are uint8 **BGR** H×W×3 (OpenCV's order, so that frames go from
``cv2.VideoCapture`` to ``cv2.VideoWriter`` without copies); the segmenter is given RGB at low
resolution. Masks are float32 H×W in [0, 1] (1 = person).

* :class:`MaskSmoother` removes the frame-to-frame flicker of per-frame segmentation: an
  exponential moving average ``s_t = a·m_t + (1 − a)·s_{t−1}`` followed by hysteresis
  (a pixel turns on when ``s_t > high`` and off only when ``s_t < low``), then a small Gaussian
  feather for a soft edge. A still subject therefore keeps a still mask, while a moving one is
  followed within a few frames.
* :class:`FrameBlur` is the webcam path: segment at low resolution (MediaPipe's landscape model
  takes 256×144), blur a background downscaled 8× with the subject excluded (normalised
  convolution, so the subject's colours do not bleed into the background), upscale it and
  composite at full resolution with ``cv2.blendLinear`` inside the subject's bounding box. Any method of
  :mod:`compositing.pipeline` can replace the fast blur (full resolution, not real-time).
* :func:`process_video` runs a :class:`FrameBlur` over a camera or a video file and writes the
  result atomically (or shows it in a window).
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

import cv2
import numpy as np

from datasets.io import check_side
from plumbing.files import atomic_path

from .methods import METHODS, build_params, ineffective_params
from .video_check import check_video
from .pipeline import params_for_depth, prepare, render_prepared

log = logging.getLogger(__name__)

Segmenter = Callable[[np.ndarray], np.ndarray]


@dataclass
class MaskSmoother:
    """Temporal smoothing of a per-frame soft mask: EMA, hysteresis, Gaussian feather.

    ``alpha`` is the EMA weight of the newest mask (1 = no averaging); ``low``/``high`` the
    hysteresis thresholds; ``feather_sigma`` the Gaussian sigma (pixels at the mask's
    resolution) that softens the binary edge. Feed masks of one size; :meth:`reset` between
    videos. Input and output: float32 H×W in [0, 1].
    """

    alpha: float = 0.5
    low: float = 0.3
    high: float = 0.7
    feather_sigma: float = 1.0
    _ema: Optional[np.ndarray] = field(default=None, init=False, repr=False)
    _on: Optional[np.ndarray] = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if not 0.0 < self.low <= self.high < 1.0:
            raise ValueError(f"need 0 < low <= high < 1, got low={self.low} high={self.high}")

    def reset(self) -> None:
        """Forget the history (call between unrelated videos)."""
        self._ema = None
        self._on = None

    def __call__(self, mask: np.ndarray) -> np.ndarray:
        mask = np.asarray(mask, np.float32)
        if self._ema is None or self._ema.shape != mask.shape:
            self._ema = mask.copy()
            self._on = mask > 0.5
        else:
            cv2.addWeighted(mask, self.alpha, self._ema, 1.0 - self.alpha, 0.0, dst=self._ema)
            self._on = (self._ema > self.high) | (self._on & (self._ema >= self.low))
        out = self._on.astype(np.float32)
        if self.feather_sigma > 0:
            out = cv2.GaussianBlur(out, (0, 0), self.feather_sigma)
        return out


@dataclass
class FrameBlurConfig:
    """Settings of the real-time frame path (sizes in pixels of the full-resolution frame)."""

    seg_width: int = 256  # width the segmenter sees (height keeps the aspect ratio)
    blur_scale: float = 0.125  # the background is blurred at this fraction of the frame size
    blur_sigma: float = 12.0  # Gaussian sigma of the background blur, in full-resolution pixels


class FrameBlur:
    """Per-frame background blur for video; call with a uint8 BGR frame, get a uint8 BGR frame.

    ``segmenter``: RGB uint8 → float32 mask (any of ``segdepth.segment.SEGMENTERS``).
    ``smoother``: a :class:`MaskSmoother`, or ``None`` for the raw per-frame mask.
    ``render``: ``None`` for the fast downscaled Gaussian path, or a function
    ``(rgb, mask) -> rgb`` (e.g. a :mod:`compositing.pipeline` method with a depth prior) used at
    full resolution instead. ``timings`` accumulates seconds per stage over all calls.
    """

    def __init__(
        self,
        segmenter: Segmenter,
        smoother: Optional[MaskSmoother] = None,
        config: Optional[FrameBlurConfig] = None,
        render: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None,
    ) -> None:
        self.segmenter = segmenter
        self.smoother = smoother
        self.config = config or FrameBlurConfig()
        self.render = render
        self.timings: dict[str, float] = defaultdict(float)
        self.frames = 0

    def mask(self, frame_bgr: np.ndarray) -> np.ndarray:
        """The (smoothed) person mask at segmentation resolution, float32 in [0, 1]."""
        h, w = frame_bgr.shape[:2]
        sw = min(self.config.seg_width, w)
        sh = max(1, round(h * sw / w))
        t0 = time.perf_counter()
        small = cv2.resize(frame_bgr, (sw, sh), interpolation=cv2.INTER_AREA)
        mask = self.segmenter(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        t1 = time.perf_counter()
        if self.smoother is not None:
            mask = self.smoother(mask)
        t2 = time.perf_counter()
        self.timings["segment"] += t1 - t0
        self.timings["smooth"] += t2 - t1
        return mask

    def _fast_background(self, frame_bgr: np.ndarray, mask_small: np.ndarray) -> np.ndarray:
        """Blurred background at full size; subject pixels excluded by normalised convolution.

        bg = G∗(I·(1−m)) / G∗(1−m) at ``blur_scale`` of the size (one Gaussian pass over the
        premultiplied colour and the weight as a 4-channel image), then bilinear upscaling.
        """
        h, w = frame_bgr.shape[:2]
        bw, bh = max(1, round(w * self.config.blur_scale)), max(1, round(h * self.config.blur_scale))
        sigma = max(self.config.blur_sigma * self.config.blur_scale, 0.5)
        small = cv2.resize(frame_bgr, (bw, bh), interpolation=cv2.INTER_AREA)
        keep = 1.0 - cv2.resize(mask_small, (bw, bh), interpolation=cv2.INTER_AREA)
        stack = np.empty((bh, bw, 4), np.float32)
        np.multiply(small, keep[..., None], out=stack[..., :3])
        stack[..., 3] = keep
        stack = cv2.GaussianBlur(stack, (0, 0), sigma)
        # a floor on the weight: deep inside a large subject there is no background to average,
        # and the (subject-coloured) remainder there is hidden by the composite anyway
        bg = stack[..., :3] / np.maximum(stack[..., 3:], 1e-2)
        bg = np.clip(bg, 0, 255).astype(np.uint8)
        return cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)

    def __call__(self, frame_bgr: np.ndarray) -> np.ndarray:
        if frame_bgr.dtype != np.uint8 or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
            raise ValueError(f"expected a uint8 BGR H×W×3 frame, got {frame_bgr.dtype} {frame_bgr.shape}")
        h, w = frame_bgr.shape[:2]
        mask_small = self.mask(frame_bgr)
        t0 = time.perf_counter()
        if self.render is not None:
            mask = cv2.resize(mask_small, (w, h), interpolation=cv2.INTER_LINEAR)
            rgb = self.render(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB), mask)
            out = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
            self.timings["blur"] += time.perf_counter() - t0
        else:
            bg = self._fast_background(frame_bgr, mask_small)
            t1 = time.perf_counter()
            out = composite(frame_bgr, bg, mask_small)
            self.timings["blur"] += t1 - t0
            self.timings["composite"] += time.perf_counter() - t1
        self.frames += 1
        return out


def composite(frame: np.ndarray, background: np.ndarray, mask_small: np.ndarray) -> np.ndarray:
    """out = m·frame + (1 − m)·background with ``mask_small`` upscaled bilinearly to the frame.

    Only the bounding box of ``mask_small > 1/512`` (plus one low-resolution pixel, the reach of
    bilinear interpolation) is blended: outside it m < 1/512, so m·(frame − background) < 0.5 and
    the rounded result is the background pixel anyway. ``background`` is modified in place and
    returned. uint8 H×W×3 frames, float32 mask in [0, 1] at any size.
    """
    h, w = frame.shape[:2]
    sh, sw = mask_small.shape
    ys, xs = np.nonzero(mask_small > 1.0 / 512)
    if ys.size == 0:
        return background
    fy, fx = h / sh, w / sw
    y0, y1 = max(0, int((ys.min() - 1) * fy)), min(h, int(np.ceil((ys.max() + 2) * fy)))
    x0, x1 = max(0, int((xs.min() - 1) * fx)), min(w, int(np.ceil((xs.max() + 2) * fx)))
    mask = cv2.resize(mask_small, (w, h), interpolation=cv2.INTER_LINEAR)[y0:y1, x0:x1]
    roi = np.s_[y0:y1, x0:x1]
    out = background[roi]  # a view: blendLinear writes the blend straight into ``background``
    cv2.blendLinear(frame[roi], out, mask, 1.0 - mask, dst=out)
    return background


def pipeline_renderer(method: str, params: Optional[dict] = None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A full-resolution ``(rgb, mask) -> rgb`` frame renderer for :class:`FrameBlur`: the photo
    pipeline (:func:`compositing.pipeline.prepare` with the portrait depth prior and the default
    focus, then :func:`compositing.pipeline.render_prepared`) on the frame's already smoothed mask,
    which is used as it is (no hole filling, no edge refinement: that would flicker)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {sorted(METHODS)}")
    given = params or {}
    mode, ignored = ineffective_params(method, given, build_params(method, params_for_depth(method, params, True)))
    if ignored:
        log.warning("params %s: no effect in %s mode %r (the depth prior is relative)", " ".join(ignored), method, mode)

    def _render(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        prepared = prepare(rgb, mask, refine="none", fill_holes=False)
        return render_prepared(method, prepared, params).output

    return _render


def open_source(source: Union[int, str, Path]) -> cv2.VideoCapture:
    """Open a camera index (int or a string of digits) or a video file; ValueError if it cannot be
    (a video file first passes :func:`compositing.video_check.check_video`)."""
    if isinstance(source, str) and source.isdigit():
        source = int(source)
    if isinstance(source, int):
        cap = cv2.VideoCapture(source)
        if not cap.isOpened():
            raise ValueError(f"camera {source}: cannot open (no camera with that index, or it is busy)")
        return cap
    path = Path(source)
    if not os.path.lexists(path):
        raise ValueError(f"{path}: no such video file")
    check_video(path)  # what OpenCV's native reader cannot take is refused before it gets it
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"{path}: cannot open as a video (unknown format or corrupt)")
    return cap


def process_video(
    source: Union[int, str, Path],
    blur: FrameBlur,
    output: Optional[Path] = None,
    show: bool = False,
    max_frames: Optional[int] = None,
    progress: bool = True,
) -> int:
    """Blur every frame of ``source`` into ``output`` (mp4v, written atomically) and/or a window.

    Stops at the end of the video, after ``max_frames``, on q/Esc in the window, or on Ctrl-C
    (the frames so far are kept: that is how a camera recording ends). Returns the number of
    frames written. Raises ValueError if the source cannot be read or has no frames.
    """
    from tqdm import tqdm

    if output is None and not show:
        raise ValueError("nothing to do: give an output video, or show the result in a window")
    if show and sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        # OpenCV's Qt window would abort the whole process here instead of raising
        raise RuntimeError("cannot show a window: no display (DISPLAY is not set); write a video with --output")
    cap = open_source(source)
    try:
        ok, frame = cap.read()
        if not ok:
            raise ValueError(f"{source}: no frames could be read")
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))  # 0 or -1 for cameras
        total: Optional[int] = count if count > 0 else None
        if max_frames is not None:
            total = min(total, max_frames) if total else max_frames
        h, w = frame.shape[:2]
        if check_side(w, h):  # frames OpenCV could not take further on
            raise ValueError(f"{source}: {check_side(w, h)}")
        with _video_writer(output, fps, (w, h)) as writer:
            bar = tqdm(total=total, unit="frame", disable=not progress)
            n = 0
            try:
                while ok and (max_frames is None or n < max_frames):
                    out = blur(frame)
                    if writer is not None:
                        writer.write(out)
                    n += 1
                    bar.update(1)
                    if show:
                        try:
                            cv2.imshow("shallowdof (q to quit)", out)
                            key = cv2.waitKey(1) & 0xFF
                        except cv2.error as exc:
                            raise RuntimeError(f"cannot open a window ({exc}); use --output instead") from None
                        if key in (27, ord("q")):
                            break
                    ok, frame = cap.read()
            except KeyboardInterrupt:
                log.info("interrupted after %d frames; keeping them", n)
            finally:
                bar.close()
        return n
    finally:
        cap.release()
        if show:
            cv2.destroyAllWindows()


@contextlib.contextmanager
def _video_writer(output: Optional[Path], fps: float, size: tuple[int, int]) -> Iterator[Optional[cv2.VideoWriter]]:
    """An mp4v ``cv2.VideoWriter`` on an :func:`atomic_path` temp file (renamed on success), or None."""
    if output is None:
        yield None
        return
    with atomic_path(output) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not writer.isOpened():
            raise ValueError(f"{output}: cannot open a video writer (codec mp4v; use a .mp4 name)")
        try:
            yield writer
        finally:
            writer.release()
