"""Compare shallow depth-of-field methods side by side: render, measure, write a gallery.

    python scripts/compare.py --input test_portraits/ --methods gaussian,lens --out compare_out
    python scripts/compare.py --input testA/ --methods lens --params lens:strength=0.03 \\
        --gan masked=runs/mask_loss:mask_loss:overlay \\
        --reference real_bokeh/ --out compare_out

Every image of --input (searched recursively) is rendered with every method: compositor
methods by name (--methods) and trained GAN checkpoints (--gan NAME=CHECKPOINT:PRESET, where
CHECKPOINT is a .pt file or a run directory, for its latest checkpoint; ":overlay" pastes the
input subject back at test time), and folders of published outputs (--results NAME=DIR, files
named like the inputs: a paper's results beside ours). The mask of INPUT/NAME.EXT is
INPUT_masks/NAME.png (8-bit grey, 255 = person, as scripts/prepare_masks.py writes it), or --masks
DIR/NAME.png, or else --segmenter's; depth from --depth DIR/NAME.npy|png or else --depth-model
(default: the portrait depth prior). Two inputs with one name (a.jpg, a.png) are both refused,
naming each other.

Writes into --out: results/<method>/NAME.EXT (full size: a JPEG input gives JPEGs, any other
PNGs, --format jpg|png chooses; each keeps the input's ICC colour profile and EXIF), metrics.csv
(per-image rows and per-method mean/median), metrics.md, plots/ (GAN loss curves from the runs'
log.jsonl), config.json and gallery/index.html (open it in a browser; the whole --out folder can
be zipped and shared). --out is a folder of its own: new, empty, or one a shallowdof program
filled before (its .shallowdof-outputs.jsonl says so); it may not be, hold or lie inside an input.
With --reference (real shallow-DoF photos) also FID/KID (needs the torchvision Inception
weights in the torch hub cache) and a weight-free blur-distribution distance. With --truth
(ground-truth renders, e.g. synthetic scenes) also full-reference PSNR/SSIM.

Bad images (inputs and --reference photos, counted apart) get one line each, the rest goes on,
and the exit status is 1 when any image or render failed (2 for a bad command line).

The program behind ``scripts/compare.py``: the parser of :class:`evaluation.compare.CompareConfig`
(saved as OUT/config.json and reloadable with ``--config``) and :func:`main`.
"""
from __future__ import annotations

import argparse
import logging
from typing import Any, Optional

from compositing.methods import METHODS, build_params
from plumbing.cli import (EXIT_CODES_EPILOG, EXIT_SOME_FAILED, EXIT_USAGE, add_download_flag, output_folder,
                          parse_key_values, torch_device)
from plumbing.config import add_config_option, parse_config_args
from plumbing.fields import SettingError, add_setting
from datasets.io import ImageError
from evaluation.compare import CompareConfig, build_renderers, run_compare
from plumbing.outputs import claim_folder, overlap_problem

log = logging.getLogger("compare")

def method_list(text: str) -> list[str]:
    """argparse type of ``--methods``: ``"gaussian, lens"`` → ``["gaussian", "lens"]`` (``""``: none)."""
    return [m.strip() for m in text.split(",") if m.strip()]


class MethodParams(argparse.Action):
    """``--params METHOD:KEY=VALUE`` (repeatable): merged into the current ``{method: {key: value}}``
    (the default, or a ``--config`` file's), so a flag overrides the file key by key."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        item = str(values)
        method, sep, assignment = item.partition(":")
        key, sep2, _ = assignment.partition("=")
        if not (sep and sep2 and method and key):
            parser.error(f"--params {item!r}: expected METHOD:KEY=VALUE")
        current = {m: dict(v) for m, v in (getattr(namespace, self.dest, None) or {}).items()}
        current.setdefault(method, {}).update(parse_key_values([assignment], f"--params {item!r}"))
        setattr(namespace, self.dest, current)


def build_parser() -> argparse.ArgumentParser:
    """The command line of scripts/compare.py: a flag per CompareConfig field, made from its declaration."""
    p = argparse.ArgumentParser(description=__doc__.split("\nThe program behind")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_CODES_EPILOG)
    add_config_option(p)
    add_setting(p, CompareConfig, "input")
    add_setting(p, CompareConfig, "out", type=output_folder)
    add_setting(p, CompareConfig, "methods", type=method_list, default=list(METHODS),
                shown_default="all of compositing.methods.METHODS")
    add_setting(p, CompareConfig, "params", action=MethodParams)
    add_setting(p, CompareConfig, "gan", action="append")
    add_setting(p, CompareConfig, "results", action="append")
    for name in ("reference", "masks", "depth", "truth"):
        add_setting(p, CompareConfig, name)
    add_setting(p, CompareConfig, "runs", nargs="*")
    for name in ("segmenter", "depth_model", "refine", "fid_weights"):
        add_setting(p, CompareConfig, name)
    add_setting(p, CompareConfig, "device", type=torch_device)
    add_setting(p, CompareConfig, "thumb_size")
    add_setting(p, CompareConfig, "format")
    add_setting(p, CompareConfig, "quiet")
    add_download_flag(p)
    return p


def parse_args(argv: Optional[list[str]] = None) -> CompareConfig:
    """Command line (and ``--config FILE``) → CompareConfig; every value is checked (every --params
    against its method) before any image is read. A bad value: one line, exit status 2."""
    p = build_parser()
    _, cfg = parse_config_args(p, CompareConfig, argv, check_config=check_config)
    return cfg


def check_config(cfg: CompareConfig) -> None:
    """ValueError for a missing --input or --out, SettingError for --params that do not fit their
    method (each field's own type, choices and range are checked before, by its declaration)."""
    missing = [flag for flag, value in (("--input", cfg.input), ("--out", cfg.out)) if not value]
    if missing:
        raise ValueError(f"the following arguments are required: {', '.join(missing)}")
    for method, values in cfg.params.items():
        try:
            build_params(method, values)  # type and range, before any image is read
        except ValueError as exc:
            raise SettingError("params", str(exc)) from None
    inputs = [cfg.input, cfg.reference, cfg.masks, cfg.depth, cfg.truth, *(r.partition("=")[2] for r in cfg.results)]
    overlap = overlap_problem(cfg.out, [i for i in inputs if i])
    if overlap:
        raise ValueError(f"--out {overlap}")


def main(argv: Optional[list[str]] = None) -> int:
    """scripts/compare.py: parse, build the renderers, run; 1 when an image or render failed."""
    cfg = parse_args(argv)
    logging.basicConfig(level=logging.ERROR if cfg.quiet else logging.INFO, format="%(levelname)s %(message)s")
    try:
        renderers = build_renderers(cfg)
        claim_folder(cfg.out, "compare")  # a folder of the user's is not filled (FileProblem, a ValueError)
    except (ValueError, FileNotFoundError) as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    try:
        result = run_compare(cfg, renderers)
    except (ImageError, FileNotFoundError) as exc:  # a missing --input / --masks / --depth folder
        log.error("%s", exc)
        return EXIT_USAGE
    ok_images = result.n_images - result.n_bad
    print(f"{ok_images} image(s) × {len(renderers)} method(s) compared, {result.n_bad} bad image(s), "
          f"{result.n_bad_reference} bad reference image(s), {result.n_render_failures} failed render(s); "
          f"gallery: {result.gallery}")
    return 0 if result.ok else EXIT_SOME_FAILED
