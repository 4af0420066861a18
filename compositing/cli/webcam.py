"""Blur the background of a camera or a video, live or into a file.

    python scripts/webcam.py --input 0 --show                      # webcam, window (q quits)
    python scripts/webcam.py --input talk.mp4 --output talk_blur.mp4
    python scripts/webcam.py --input talk.mp4 --output out.mp4 --method lens   # slow, full quality

The default ``--method fast`` is the real-time path (compositing.video.FrameBlur): MediaPipe's
landscape model on a 256-pixel-wide copy, a mask smoothed over time (EMA + hysteresis) so edges
do not flicker, a background blurred at 1/8 of the size and composited at full size.
Any compositor method (``--method lens`` …) renders each frame at full resolution with the
depth prior instead (offline quality, not real-time). Output is MPEG-4 (mp4v), written
atomically; Ctrl-C ends a recording and keeps the frames so far. The run's settings are saved
as OUTPUT_STEM_config.json beside the video.

The program behind ``scripts/webcam.py``: :class:`WebcamConfig` (saved beside the video and
reloadable with ``--config``), its parser and :func:`build_frame_blur`; the frame path itself is
:mod:`compositing.video`.
"""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from plumbing.cli import (EXIT_CODES_EPILOG, EXIT_SOME_FAILED, KeyValues, add_download_flag, float_range, int_range,
                          output_file, positive_int)
from plumbing.config import add_config_option, parse_config_args, save_config
from segdepth.segment import SEGMENTERS, build_segmenter
from compositing.methods import METHODS, build_params
from compositing.video import FrameBlur, FrameBlurConfig, MaskSmoother, pipeline_renderer, process_video


def method_names() -> list[str]:
    """``fast`` (the real-time path) and every compositor method."""
    return ["fast", *sorted(METHODS)]


@dataclass
class WebcamConfig:
    """Everything that decides the output of one run (saved as OUTPUT_STEM_config.json)."""

    input: Optional[str] = None
    output: Optional[str] = None
    show: bool = False
    method: str = "fast"
    segmenter: str = "mediapipe"
    mediapipe_model: int = 1
    seg_width: int = FrameBlurConfig.seg_width
    blur_scale: float = FrameBlurConfig.blur_scale
    blur_sigma: float = FrameBlurConfig.blur_sigma
    smoothing: bool = True
    ema_alpha: float = 0.5
    hysteresis: tuple[float, float] = (0.3, 0.7)
    max_frames: Optional[int] = None
    params: dict = field(default_factory=dict)
    quiet: bool = False


def build_parser() -> argparse.ArgumentParser:
    """The command line of scripts/webcam.py (every flag sets the WebcamConfig field of its name)."""
    d = WebcamConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\nThe program behind")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_CODES_EPILOG)
    add_config_option(p)
    p.add_argument("--input", help="camera index (0, 1, …) or a video file (required unless --config names one)")
    p.add_argument("--output", type=output_file, help="output video (.mp4, codec mp4v)")
    p.add_argument("--show", action=argparse.BooleanOptionalAction, default=False, help="show the result in a window (q or Esc quits)")
    p.add_argument("--method", default=d.method, choices=method_names(),
                   help="'fast' = real-time downscaled blur; others = compositor methods at full resolution")
    p.add_argument("--segmenter", default=d.segmenter, choices=sorted(SEGMENTERS))
    p.add_argument("--mediapipe-model", type=int, default=d.mediapipe_model, choices=(0, 1),
                   help="MediaPipe model: 1 = landscape 256×144 (faster), 0 = general 256×256")
    p.add_argument("--seg-width", type=int_range(16, 4096), default=d.seg_width,
                   help="width of the copy the segmenter sees (16 … 4096)")
    p.add_argument("--blur-scale", type=float_range(0.01, 1.0), default=d.blur_scale,
                   help="fast path: blur at this fraction of the size (0.01 … 1)")
    p.add_argument("--blur-sigma", type=float_range(0.1, 500.0), default=d.blur_sigma,
                   help="fast path: Gaussian sigma in full-size pixels (0.1 … 500)")
    p.add_argument("--no-smoothing", dest="smoothing", action="store_false",
                   help="use each frame's raw mask (edges flicker)")
    p.add_argument("--ema-alpha", type=float_range(0.001, 1.0), default=d.ema_alpha,
                   help="weight of the newest mask in the moving average (0.001 … 1)")
    p.add_argument("--hysteresis", type=float_range(0.0, 1.0), nargs=2, default=d.hysteresis, metavar=("LOW", "HIGH"),
                   help="mask thresholds, 0 < LOW <= HIGH < 1")
    p.add_argument("--max-frames", type=positive_int, help="stop after this many frames (at least 1)")
    p.add_argument("--params", nargs="*", action=KeyValues, default={},
                   help="compositor parameters: key=value … or a JSON object")
    p.add_argument("--quiet", action=argparse.BooleanOptionalAction, default=False, help="no progress bar")
    add_download_flag(p)
    return p


def parse_args(argv: Optional[list[str]] = None) -> WebcamConfig:
    """Command line (and ``--config FILE``) → WebcamConfig, checked before the camera or video is
    opened; a bad value is argparse's one line and exit status 2."""
    p = build_parser()
    _, cfg = parse_config_args(p, WebcamConfig, argv)
    cfg.hysteresis = tuple(cfg.hysteresis)
    try:
        check_config(cfg)
    except ValueError as exc:
        p.error(str(exc))
    return cfg


def check_config(cfg: WebcamConfig) -> None:
    """ValueError for a config that cannot run (no input, nothing to do, bad thresholds or params)."""
    if cfg.input is None:
        raise ValueError("the following arguments are required: --input")
    if cfg.output is None and not cfg.show:
        raise ValueError("give --output VIDEO, --show, or both")
    low, high = cfg.hysteresis
    if not 0 < low <= high < 1:
        raise ValueError(f"--hysteresis: need 0 < LOW <= HIGH < 1, got {low:g} {high:g}")
    for key, allowed in (("method", method_names()), ("segmenter", sorted(SEGMENTERS)), ("mediapipe_model", [0, 1])):
        if getattr(cfg, key) not in allowed:  # argparse checks its flags' choices, this a --config's values too
            raise ValueError(f"{key}: {getattr(cfg, key)!r} is not one of {', '.join(map(str, allowed))}")
    if cfg.method != "fast":
        build_params(cfg.method, cfg.params)  # type and range, before the camera or video is opened
    elif cfg.params:
        raise ValueError("--params: the fast path has no compositor parameters (use --blur-scale, --blur-sigma)")


def build_frame_blur(cfg: WebcamConfig) -> FrameBlur:
    """The FrameBlur a config describes."""
    seg_kwargs = {"model_selection": cfg.mediapipe_model} if cfg.segmenter == "mediapipe" else {}
    smoother = MaskSmoother(alpha=cfg.ema_alpha, low=cfg.hysteresis[0], high=cfg.hysteresis[1]) if cfg.smoothing else None
    render = None if cfg.method == "fast" else pipeline_renderer(cfg.method, cfg.params or None)
    return FrameBlur(
        build_segmenter(cfg.segmenter, **seg_kwargs),
        smoother,
        FrameBlurConfig(seg_width=cfg.seg_width, blur_scale=cfg.blur_scale, blur_sigma=cfg.blur_sigma),
        render,
    )


def main(argv: Optional[list[str]] = None) -> int:
    """scripts/webcam.py: parse, blur the video, save the config beside it, log the timings."""
    cfg = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if cfg.quiet else logging.INFO, format="%(message)s")
    output = Path(cfg.output) if cfg.output else None
    try:
        blur = build_frame_blur(cfg)
        n = process_video(cfg.input, blur, output, cfg.show, cfg.max_frames, progress=not cfg.quiet)
    except (ValueError, RuntimeError) as exc:  # a source that cannot be read, no display, a model that cannot load
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SOME_FAILED
    if output is not None:
        save_config(cfg, output.with_name(output.stem + "_config.json"))
    if blur.frames:
        per_frame = {k: f"{1000 * v / blur.frames:.1f} ms" for k, v in blur.timings.items()}
        logging.info("%d frames; per frame: %s", n, per_frame)
    return 0
