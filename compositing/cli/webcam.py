"""Blur the background of a camera or a video, live or into a file.

    python scripts/webcam.py --input 0 --show                      # webcam, window (q quits)
    python scripts/webcam.py --input talk.mp4 --output talk_blur.mp4
    python scripts/webcam.py --input talk.mp4 --output out.mp4 --method lens   # slow, full quality

The default ``--method fast`` is the real-time path (compositing.video.FrameBlur): MediaPipe's
landscape model on a 256-pixel-wide copy, a mask smoothed over time (EMA + hysteresis) so edges
do not flicker, a background blurred at 1/8 of the size and composited at full size.
Any compositor method (``--method lens`` …) renders each frame at full resolution with the
depth prior instead (offline quality, not real-time). Output is MPEG-4 (mp4v) in a .mp4, .m4v,
.mov, .mkv or .avi file, written atomically; Ctrl-C ends a recording and keeps the frames so far.
The run's settings are saved as OUTPUT_STEM_config.json beside the video. The output may not be
the input, and an existing output is replaced only when shallowdof wrote it (the folder's
.shallowdof-outputs.jsonl says so). A video file is checked before OpenCV reads it (its
container's header, then its first frames decoded in a child process): a file that would crash
OpenCV's reader, such as an uncompressed bottom-up AVI, is one line.

The program behind ``scripts/webcam.py``: :class:`WebcamConfig` (saved beside the video and
reloadable with ``--config``), its parser and :func:`build_frame_blur`; the frame path itself is
:mod:`compositing.video`.
"""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from plumbing.cli import EXIT_CODES_EPILOG, EXIT_SOME_FAILED, EXIT_USAGE, KeyValues, add_download_flag, output_file
from plumbing.config import add_config_option, parse_config_args, save_config
from plumbing.fields import BIG, SettingError, add_setting, setting
from plumbing.files import FileProblem
from plumbing.outputs import OutputGuard, overlap_problem
from segdepth.segment import SEGMENTERS, build_segmenter
from compositing.methods import METHODS, build_params
from compositing.video import FrameBlur, FrameBlurConfig, MaskSmoother, pipeline_renderer, process_video


#: Output file extensions OpenCV's writer takes with the mp4v codec.
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".avi")


def method_names() -> list[str]:
    """``fast`` (the real-time path) and every compositor method."""
    return ["fast", *sorted(METHODS)]


@dataclass
class WebcamConfig:
    """Everything that decides the output of one run (saved as OUTPUT_STEM_config.json); each field
    declares its flag's help and its allowed values or range (:func:`plumbing.fields.setting`)."""

    input: Optional[str] = setting(None, "camera index (0, 1, …) or a video file (required unless --config names one)")
    output: Optional[str] = setting(None, "output video (.mp4, codec mp4v)")
    show: bool = setting(False, "show the result in a window (q or Esc quits)")
    method: str = setting("fast", "'fast' = real-time downscaled blur; others = compositor methods at full resolution",
                          method_names())
    segmenter: str = setting("mediapipe", "person segmenter", tuple(sorted(SEGMENTERS)))
    mediapipe_model: int = setting(1, "MediaPipe model: 1 = landscape 256×144 (faster), 0 = general 256×256", (0, 1))
    seg_width: int = setting(FrameBlurConfig.seg_width, "width of the copy the segmenter sees", lo=16, hi=4096)
    blur_scale: float = setting(FrameBlurConfig.blur_scale, "fast path: blur at this fraction of the size",
                                lo=0.01, hi=1.0)
    blur_sigma: float = setting(FrameBlurConfig.blur_sigma, "fast path: Gaussian sigma in full-size pixels",
                                lo=0.1, hi=500.0)
    smoothing: bool = setting(True, "smooth the mask over time (moving average and hysteresis); --no-smoothing uses "
                              "each frame's raw mask (edges flicker)")
    ema_alpha: float = setting(0.5, "weight of the newest mask in the moving average", lo=0.001, hi=1.0)
    hysteresis: tuple[float, float] = setting((0.3, 0.7), "mask thresholds, 0 < LOW <= HIGH < 1", lo=0.0, hi=1.0,
                                              metavar=("LOW", "HIGH"))
    max_frames: Optional[int] = setting(None, "stop after this many frames", lo=1, hi=BIG)
    params: dict = setting(default_factory=dict, help="compositor parameters: key=value … or a JSON object")
    quiet: bool = setting(False, "no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The command line of scripts/webcam.py: a flag per WebcamConfig field, made from its declaration."""
    p = argparse.ArgumentParser(description=__doc__.split("\nThe program behind")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_CODES_EPILOG)
    add_config_option(p)
    add_setting(p, WebcamConfig, "input")
    add_setting(p, WebcamConfig, "output", type=output_file)
    for name in ("show", "method", "segmenter", "mediapipe_model", "seg_width", "blur_scale", "blur_sigma",
                 "smoothing", "ema_alpha"):
        add_setting(p, WebcamConfig, name)
    add_setting(p, WebcamConfig, "hysteresis", nargs=2)
    add_setting(p, WebcamConfig, "max_frames")
    add_setting(p, WebcamConfig, "params", nargs="*", action=KeyValues)
    add_setting(p, WebcamConfig, "quiet")
    add_download_flag(p)
    return p


def parse_args(argv: Optional[list[str]] = None) -> WebcamConfig:
    """Command line (and ``--config FILE``) → WebcamConfig, every value checked before the camera or
    video is opened; a bad one is argparse's one line and exit status 2."""
    cfg = parse_config_args(build_parser(), WebcamConfig, argv, check_config=check_config)[1]
    cfg.hysteresis = tuple(cfg.hysteresis)
    return cfg


def check_config(cfg: WebcamConfig) -> None:
    """ValueError for a config that cannot run (no input, nothing to do), SettingError for bad
    thresholds or params (each field's own type, choices and range are checked before, by its
    declaration)."""
    if cfg.input is None:
        raise ValueError("the following arguments are required: --input")
    if cfg.output is None and not cfg.show:
        raise ValueError("give --output VIDEO, --show, or both")
    if cfg.output is not None and Path(cfg.output).suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"--output {cfg.output}: a video file name ends in {', '.join(VIDEO_SUFFIXES)}")
    overlap = None if cfg.output is None or cfg.input.isdigit() else overlap_problem(cfg.output, [cfg.input])
    if overlap:
        raise ValueError(f"--output {overlap}")
    low, high = cfg.hysteresis
    if not 0 < low <= high < 1:
        raise SettingError("hysteresis", f"need 0 < LOW <= HIGH < 1, got {low:g} {high:g}")
    if cfg.method != "fast":
        try:
            build_params(cfg.method, cfg.params)  # type and range, before the camera or video is opened
        except ValueError as exc:
            raise SettingError("params", str(exc)) from None
    elif cfg.params:
        raise SettingError("params", "the fast path has no compositor parameters (use --blur-scale, --blur-sigma)")


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
    written = [output, output.with_name(output.stem + "_config.json")] if output is not None else []
    guard = OutputGuard("webcam")
    try:
        for path in written:
            guard.check(path)
    except FileProblem as exc:  # a file of the user's under the output's name: nothing is done
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        blur = build_frame_blur(cfg)
        n = process_video(cfg.input, blur, output, cfg.show, cfg.max_frames, progress=not cfg.quiet)
    except (ValueError, RuntimeError) as exc:  # a source that cannot be read, no display, a model that cannot load
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SOME_FAILED
    if output is not None:
        save_config(cfg, written[1])
        for path in written:
            guard.record(path)
    if blur.frames:
        per_frame = {k: f"{1000 * v / blur.frames:.1f} ms" for k, v in blur.timings.items()}
        logging.info("%d frames; per frame: %s", n, per_frame)
    return 0
