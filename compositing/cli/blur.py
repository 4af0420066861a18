"""Give portraits a shallow depth of field: segment the person, get depth, blur the background.

    python scripts/blur.py photo.jpg --method lens
    python scripts/blur.py photos/ --method gaussian --out results/gaussian --save-mask
    python scripts/blur.py photo.jpg --method lens --depth photo_depth.npy --focus 50%,40%
    python scripts/blur.py photo.jpg --method lens --params strength=0.03 blades=6

Inputs are files or folders (searched recursively), any size up to --max-pixels, EXIF
orientation respected; a side may be at most 32,766 pixels (OpenCV's limit). Each INPUT gives
NAME_<method>.jpg (a JPEG input: quality 95, its chroma subsampling) or NAME_<method>.png (any
other input) next to it, or under --out (keeping the folders' layout); --format jpg|png chooses.
The output keeps the photo's ICC colour profile and its EXIF (camera, lens, date; orientation
set to 1, since the pixels are already upright; no thumbnail). Depth comes from --depth (one depth file for one image, or a folder of
NAME.npz / NAME.npy / NAME.png / NAME_depth.npz: .npz as --save-depth writes it, with its unit;
.npy and 16-bit PNG in millimetres are metres, so the lens method uses a thin lens, where
f_number and focal_length_mm matter) or else from --depth-model (default: the portrait depth
PRIOR, an assumption, not an estimate: the background behind the person, the ground where they
stand sharp at their feet), in relative units: the lens blur radius is then
strength · width · |d − d_focus|, default strength 0.0085, about what an 85 mm f/1.8 lens on
full frame focused at 3 m gives a background 6–7.5 m away (compositing/optics.py), and what
puts the far background of real portraits at the median blur of real shallow-DoF photos
(bench/BENCHMARKS.md). Ask for a physical lens (f_number, focal_length_mm or coc=thin_lens in
--params) and the lens method makes the prior metric from the faces MediaPipe finds (each
person's distance from their face size), with the camera from EXIF FocalLengthIn35mmFilm or,
without it, that same 85 mm portrait lens, so f_number and focal_length_mm act as on a camera
(f/1.8 when only the focal length is given: f/1.4 strongly defocused, f/16 nearly sharp; a
person far behind the subject is blurred at their own distance); without a face it stays
relative and f_number has no effect: a warning says so. The focus is
the median depth of the main person, or the depth at --focus X,Y (pixels of the upright image
from its top-left corner, or percentages of its width and height such as 50%,40%).
The lens method puts the photo's own sensor grain back where its blur removed it, only where the
photo had measurable, visible noise and never more than the photo had there (a photo downscaled
from a phone, or one whose flat parts are clean, gets none; compositing/grain.py); it is seeded
by the photo and by seed=N, and --params grain=false turns it off.
--params are checked against the method's parameters (type and range) before any image is read.
A file that cannot be used gets one line naming it and the problem; the batch goes on and the
exit status is 1 when any file failed ("3 done, 2 failed"). Outputs are written atomically;
temporary files left by a killed run are removed on the next run into the same folder (never
those of a run still writing there). An existing file is replaced only when blur (or another
shallowdof program) wrote it and it is unchanged since (the folder's .shallowdof-outputs.jsonl
says so): a file of yours that happens to have an output's name is left alone, one line.
The run's settings are saved as blur_<method>_config.json in --out (or beside the outputs), with
per image the depth path taken (metric_from_face with each person's distance, or relative).

The program behind ``scripts/blur.py``: :class:`BlurConfig` (saved with the results and
reloadable with ``--config``), its parser, the plan of a batch (outputs, depth files, earlier
outputs skipped, name collisions) and the batch policy (one line per failed file, go on, count,
exit status 1). Each photo goes through :class:`compositing.pipeline.PhotoPipeline` and
:func:`compositing.pipeline.render_prepared`.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
from tqdm import tqdm

from plumbing.cli import EXIT_CODES_EPILOG, EXIT_SOME_FAILED, EXIT_USAGE, KeyValues, add_download_flag, output_folder
from plumbing.config import add_config_option, parse_config_args, save_config
from plumbing.fields import SettingError, add_setting, setting
from datasets.io import (DEFAULT_MAX_PIXELS, MAX_PIXELS_CEILING, OUTPUT_FORMATS, ImageError, list_images,
                         output_suffix, read_depth_with_unit, read_photo, write_depth, write_image)
from plumbing.files import FileProblem, one_line, remove_stale_temporaries, write_json
from plumbing.outputs import OutputGuard
from segdepth.depth import DEPTH_MODELS, build_depth_model
from segdepth.segment import SEGMENTERS, build_segmenter
from compositing.methods import METHODS, build_params, ineffective_params
from compositing.pipeline import REFINEMENTS, Lazy, PhotoPipeline, face_detector_factory, render_prepared, wants_faces

log = logging.getLogger("blur")

#: keys of the saved config that record what the run did (not settings: dropped by ``--config``)
RECORD_KEYS = ("images",)


@dataclass
class BlurConfig:
    """Everything that decides the outputs of one run (saved as blur_<method>_config.json); each
    field declares its flag's help and its allowed values (:func:`plumbing.fields.setting`)."""

    inputs: list[str] = setting(default_factory=list, help="image files or folders", metavar="INPUT")
    method: str = setting("lens", "compositor method", tuple(sorted(METHODS)))
    depth: Optional[str] = setting(None, "depth map for one image, or a folder of NAME.npy/NAME.png",
                                   metavar="FILE|DIR")
    focus: Optional[str] = setting(None, "focus on this point: pixels from the top-left corner, or percentages of "
                                   "width and height like 50%,40%", metavar="X,Y")
    out: Optional[str] = setting(None, "output folder (default: next to each input)", metavar="DIR")
    segmenter: str = setting("mediapipe", "person segmenter", tuple(sorted(SEGMENTERS)))
    depth_model: str = setting("prior", "depth when --depth is not given (default: the portrait depth prior)",
                               tuple(sorted(DEPTH_MODELS)), shown_default="")
    save_mask: bool = setting(False, "also write NAME_mask.png (person mask)")
    save_depth: bool = setting(False, "also write NAME_depth.npz (the depth used, with its unit: --depth reads it "
                               "back as such)")
    params: dict = setting(default_factory=dict, help="method parameters: key=value … or one JSON object (checked "
                           "against the method)", metavar="KEY=VALUE")
    refine: str = setting("snap", "mask edge refinement: snap (closed-form matting in a narrow band), nikam_awate "
                          "(their wider colour band), none", REFINEMENTS)
    max_pixels: int = setting(DEFAULT_MAX_PIXELS, "refuse images above this many pixels; the most is Pillow's own "
                              "hard limit", lo=1, hi=MAX_PIXELS_CEILING)
    format: str = setting("auto", "format of the blurred photo: auto (JPEG for a JPEG input, PNG otherwise), jpg, png",
                          OUTPUT_FORMATS)
    quiet: bool = setting(False, "no progress bar; only errors and the final count")


# --- argument parsing --------------------------------------------------------------------------


def parse_focus(text: str) -> tuple[tuple[float, bool], tuple[float, bool]]:
    """"X,Y" (pixels) or "X%,Y%" (percent of width/height) → ((x, is_percent), (y, is_percent))."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 2:
        raise ValueError(f"--focus must be X,Y, got {text!r}")
    try:
        x, y = ((float(part.rstrip("%")), part.endswith("%")) for part in parts)
    except ValueError:
        raise ValueError(f"--focus must be two numbers X,Y (or X%,Y%), got {text!r}") from None
    if not (math.isfinite(x[0]) and math.isfinite(y[0])):
        raise ValueError(f"--focus must be two finite numbers X,Y (or X%,Y%), got {text!r}")
    return x, y


def focus_point(text: str, width: int, height: int) -> tuple[float, float]:
    """The --focus point in pixels of a width × height image; ValueError when it lies outside."""
    xy = [v / 100.0 * (size - 1) if percent else v for (v, percent), size in zip(parse_focus(text), (width, height))]
    x, y = xy
    if not (0 <= x <= width - 1 and 0 <= y <= height - 1):
        raise ValueError(f"focus point ({x:g}, {y:g}) is outside the {width}×{height} image")
    return x, y


def build_parser() -> argparse.ArgumentParser:
    """The command line of scripts/blur.py: a flag per BlurConfig field, made from its declaration."""
    p = argparse.ArgumentParser(description=__doc__.split("\nThe program behind")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_CODES_EPILOG)
    add_setting(p, BlurConfig, "inputs", "inputs", nargs="*")
    add_config_option(p)
    for name in ("method", "depth", "focus"):
        add_setting(p, BlurConfig, name)
    add_setting(p, BlurConfig, "out", type=output_folder)
    for name in ("segmenter", "depth_model", "save_mask", "save_depth", "refine"):
        add_setting(p, BlurConfig, name)
    add_setting(p, BlurConfig, "params", nargs="*", action=KeyValues)
    add_setting(p, BlurConfig, "max_pixels")
    add_setting(p, BlurConfig, "format")
    add_setting(p, BlurConfig, "quiet")
    add_download_flag(p)
    return p


def parse_args(argv: Optional[list[str]] = None) -> BlurConfig:
    """Command line (and ``--config FILE``) → BlurConfig, every value checked (--params against the
    method) before any image is read; a bad one is argparse's one line and exit status 2."""
    return parse_config_args(build_parser(), BlurConfig, argv, record_keys=RECORD_KEYS, check_config=check_config)[1]


def check_config(cfg: BlurConfig) -> None:
    """ValueError for a config that cannot run: no inputs; SettingError for bad --params or --focus
    (each field's own type and choices are checked before, by its declaration)."""
    if not cfg.inputs:
        raise ValueError("give at least one INPUT (image file or folder), or a --config that names them")
    try:
        build_params(cfg.method, cfg.params)
    except ValueError as exc:
        raise SettingError("params", str(exc)) from None
    if cfg.focus is not None:
        try:
            parse_focus(cfg.focus)
        except ValueError as exc:
            raise SettingError("focus", str(exc)) from None


# --- planning ------------------------------------------------------------------------------------


def _output_suffixes() -> tuple[str, ...]:
    return tuple(f"_{m}" for m in METHODS) + ("_mask",)


def output_name(path: Path, cfg: BlurConfig) -> str:
    """The file name of ``path``'s blurred photo: NAME_<method>.jpg or .png (:func:`datasets.io.output_suffix`)."""
    return f"{path.stem}_{cfg.method}{output_suffix(path, cfg.format)}"


def drop_earlier_outputs(files: list[Path]) -> tuple[list[Path], list[Path]]:
    """Split off files that are this program's own outputs for another listed file.

    ``a_lens.png``, ``a_lens.jpg`` and ``a_mask.png`` are skipped when ``a.<ext>`` is in the same
    folder among ``files`` (so re-running on a folder does not blur its previous results); a photo
    that merely has such a name, with no source beside it, is kept.
    """
    stems = {(f.parent, f.stem) for f in files}
    keep, dropped = [], []
    for f in files:
        source = next((f.stem[: -len(s)] for s in _output_suffixes() if f.stem.endswith(s)), None)
        if f.suffix.lower() in (".png", ".jpg") and source and (f.parent, source) in stems:
            dropped.append(f)
        else:
            keep.append(f)
    return keep, dropped


def output_dir(path: Path, cfg: BlurConfig) -> Path:
    """Where ``path``'s outputs go: next to it, or under --out keeping its folder's layout."""
    if cfg.out is None:
        return path.parent
    out = Path(cfg.out)
    for item in map(Path, cfg.inputs):
        if item.is_dir() and path.is_relative_to(item):
            return out / path.parent.relative_to(item)
    return out


DEPTH_NAMES = ("{}.npz", "{}.npy", "{}.png", "{}_depth.npz")  # in a --depth folder; the last as --save-depth writes


def depth_file_for(path: Path, cfg: BlurConfig) -> Optional[Path]:
    """The --depth file for ``path``: the file itself, or the first of DEPTH_NAMES in the --depth folder."""
    if cfg.depth is None:
        return None
    depth = Path(cfg.depth)
    if not depth.is_dir():
        return depth
    for name in DEPTH_NAMES:
        if (depth / name.format(path.stem)).is_file():
            return depth / name.format(path.stem)
    raise ImageError(path, f"no depth map {' / '.join(n.format(path.stem) for n in DEPTH_NAMES)} in {depth}")


def _collisions(plan: list[tuple[Path, Path]], cfg: BlurConfig) -> dict[Path, str]:
    """Inputs whose outputs another input also gets (``a.jpg`` + ``a.png``: ``a_lens.*``, ``a_mask.png``,
    the depth file ``a.npy`` in --depth): each with its problem naming the others. Found before any
    work, so neither is silently skipped."""
    by_stem: dict[Path, list[Path]] = {}
    for path, out_dir in plan:
        by_stem.setdefault(out_dir / path.stem, []).append(path)
    problems = {}
    for stem, paths in by_stem.items():
        for path in paths if len(paths) > 1 else ():
            others = ", ".join(str(o) for o in paths if o != path)
            problems[path] = f"has the same output {stem}_{cfg.method}.* as {others}; rename one of them"
    return problems


def plan_batch(cfg: BlurConfig, present: list[str]) -> list[tuple[Path, Path]]:
    """(photo, its output folder) for every photo of the existing inputs ``present``. ValueError
    when no photo is left or one --depth file is given for several photos."""
    files = list_images(present)
    if cfg.out is not None:  # --out inside an input folder: earlier results there are not inputs
        out, named = Path(os.path.realpath(cfg.out)), {Path(i) for i in cfg.inputs}
        files = [f for f in files if f in named or not Path(os.path.realpath(f)).is_relative_to(out)]
    files, dropped = drop_earlier_outputs(files)
    if dropped:
        log.info("skipping %d earlier outputs of this program (e.g. %s)", len(dropped), dropped[0])
    if not files:
        raise ValueError(f"no images found in {' '.join(present)}")
    if cfg.depth is not None and not Path(cfg.depth).is_dir() and len(files) != 1:
        raise ValueError(f"--depth {cfg.depth} is one file but there are {len(files)} images; give a folder of NAME.npy")
    return [(f, output_dir(f, cfg)) for f in files]


# --- the work ------------------------------------------------------------------------------------


class Blurrer:
    """Runs one photo through the pipeline (segmentation, depth, focus, the compositor) and writes
    its outputs; the models are built once. ``segmenter`` and ``face_detector``: models already
    built for ``cfg.segmenter`` (the local app passes its own), else built here."""

    def __init__(self, cfg: BlurConfig, segmenter: Optional[Callable[[np.ndarray], np.ndarray]] = None,
                 face_detector: Optional[Callable[[np.ndarray], Sequence[Any]]] = None,
                 guard: Optional[OutputGuard] = None) -> None:
        self.cfg = cfg
        self.guard = guard or OutputGuard("blur")
        prior = cfg.depth_model == "prior"
        faces = wants_faces(cfg.method, cfg.params, prior)
        self.pipeline = PhotoPipeline(
            segmenter or build_segmenter(cfg.segmenter),
            None if prior else Lazy(lambda: build_depth_model(cfg.depth_model)),
            cfg.refine,
            (face_detector or face_detector_factory()) if faces else None,
        )
        self._warned: set[tuple[str, tuple[str, ...]]] = set()
        self.depth_paths: dict[str, dict] = {}  # input path → how its depth was made

    def outputs(self, path: Path, out_dir: Path) -> list[Path]:
        """The files blurring ``path`` writes: the photo, and the mask and depth when asked for."""
        cfg = self.cfg
        return [out_dir / output_name(path, cfg)] + ([out_dir / f"{path.stem}_mask.png"] if cfg.save_mask else []) \
            + ([out_dir / f"{path.stem}_depth.npz"] if cfg.save_depth else [])

    def __call__(self, path: Path, out_dir: Path) -> list[Path]:
        """Blur ``path``; returns the files written. Raises ImageError/ValueError on bad input, and
        FileProblem (a ValueError) before any work when an output's name is taken by a file
        shallowdof did not write (plumbing.outputs.OutputGuard)."""
        cfg = self.cfg
        written = self.outputs(path, out_dir)
        for target in written:
            self.guard.check(target)
        image, info = read_photo(path, max_pixels=cfg.max_pixels)
        h, w = image.shape[:2]
        focus_xy = focus_point(cfg.focus, w, h) if cfg.focus else None
        depth_path = depth_file_for(path, cfg)
        # .npy/.png files are metres (coc=relative in --params says otherwise)
        depth, unit = read_depth_with_unit(depth_path, expected_shape=image.shape) if depth_path else (None, "m")
        prepared = self.pipeline(image, depth=depth, depth_relative=unit == "relative", focus_xy=focus_xy,
                                 focal_35mm=info.focal_35mm)
        if depth_path is not None and not prepared.relative and prepared.focus <= 0:
            where = f"at the focus point {cfg.focus}" if cfg.focus else "on the person"
            raise ImageError(depth_path, f"depth {where} is {prepared.focus:g} m (0 = no reading): nothing to "
                                         "focus on there; fill the depth map or choose another --focus")
        done = render_prepared(cfg.method, prepared, cfg.params)
        self.depth_paths[str(path)] = {**done.depth_info, "params": done.params}
        relative = done.depth_info["depth_source"] == "relative"
        self._warn_ineffective(done.params, relative)
        # everything computed: only now write, so a failure leaves no half set of outputs
        write_image(written[0], done.output, info)
        if cfg.save_mask:
            write_image(written[1], np.round(np.clip(done.mask, 0, 1) * 255).astype(np.uint8))
        if cfg.save_depth:
            write_depth(written[-1], done.depth, "relative" if relative else "m")
        for target in written:
            self.guard.record(target)
        return written

    def _warn_ineffective(self, params: Optional[dict], relative: bool) -> None:
        """Warn once per run for --params that the mode the depth put the method in ignores."""
        mode, ignored = ineffective_params(self.cfg.method, self.cfg.params, build_params(self.cfg.method, params))
        if ignored and (mode, tuple(ignored)) not in self._warned:
            self._warned.add((mode, tuple(ignored)))
            why = "the depth is relative (the portrait prior, or a relative depth file)" if relative else \
                "the depth is in metres"
            log.warning("--params %s: no effect in %s mode %s=%r, because %s; the output does not change with %s",
                        " ".join(ignored), self.cfg.method, METHODS[self.cfg.method].mode_field, mode, why,
                        "them" if len(ignored) > 1 else "it")


# --- the batch policy ----------------------------------------------------------------------------

#: what one bad file may raise: reported on its line, and the batch goes on
BATCH_ERRORS = (ImageError, ValueError, OSError, RuntimeError, MemoryError)


def failure_line(path: Path, exc: BaseException) -> str:
    """The one line for a file that failed: ``PATH: problem`` (control characters escaped)."""
    if isinstance(exc, FileProblem):
        return str(exc)
    if isinstance(exc, MemoryError):
        return one_line(f"{path}: not enough memory for this image")
    return one_line(f"{path}: {exc}")


def batch_status(failed: int) -> int:
    """The exit status of a batch: 0 when no item failed, else EXIT_SOME_FAILED (1)."""
    return EXIT_SOME_FAILED if failed else 0


def run(cfg: BlurConfig) -> tuple[int, int]:
    """Blur every input; print one line per failed file (a missing one too); return (done, failed)."""
    missing = [i for i in cfg.inputs if not os.path.lexists(i)]
    for item in missing:
        tqdm.write(one_line(f"{item}: no such file or folder"), file=sys.stderr)
    present = [i for i in cfg.inputs if i not in missing]
    if not present:
        return 0, len(missing)
    plan = plan_batch(cfg, present)
    collided = _collisions(plan, cfg)
    for folder in sorted({d for _, d in plan}):
        remove_stale_temporaries(folder)
    folders = [Path(cfg.out)] if cfg.out else sorted({d for _, d in plan})
    guard = OutputGuard("blur")
    for folder in folders:
        guard.check(config_path(cfg, folder))  # a file of the user's there: nothing is done (exit status 2)
    for folder in folders:
        save_config(cfg, config_path(cfg, folder))
        guard.record(config_path(cfg, folder))
    blurrer = Blurrer(cfg, guard=guard)
    done, failed = 0, len(missing)
    for path, out_dir in tqdm(plan, unit="image", disable=cfg.quiet, file=sys.stderr):
        try:
            if path in collided:
                raise ImageError(path, collided[path])
            blurrer(path, out_dir)
            done += 1
        except BATCH_ERRORS as exc:
            failed += 1
            tqdm.write(failure_line(path, exc), file=sys.stderr)
    for folder in folders:  # the config again, now with how each image's depth was made
        guard.record(save_run_config(cfg, folder, blurrer.depth_paths))
    return done, failed


def config_path(cfg: BlurConfig, folder: Path) -> Path:
    """Where a run of ``cfg`` keeps its settings: ``FOLDER/blur_<method>_config.json``."""
    return Path(folder) / f"blur_{cfg.method}_config.json"


def save_run_config(cfg: BlurConfig, folder: Path, images: dict[str, dict]) -> Path:
    """Write ``cfg`` with the record of what the run did per image (``images``: how each depth was
    made, ``--config`` drops it) to :func:`config_path`; returns the file."""
    path = config_path(cfg, folder)
    write_json(path, {**asdict(cfg), "images": images})
    return path


def main(argv: Optional[list[str]] = None) -> int:
    """scripts/blur.py: parse, run the batch, print the count; the exit status of the batch
    (2 for a bad command line or a model that cannot load)."""
    cfg = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if cfg.quiet else logging.INFO, format="%(message)s")
    try:
        done, failed = run(cfg)
    except (ImageError, ValueError, RuntimeError) as exc:  # bad arguments, models that cannot load
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{done} done, {failed} failed", file=sys.stderr)
    return batch_status(failed)
