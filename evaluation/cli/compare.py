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

Writes into --out: results/<method>/NAME.png, metrics.csv (per-image rows and per-method
mean/median), metrics.md, plots/ (GAN loss curves from the runs' log.jsonl), config.json and
gallery/index.html (open it in a browser; the whole --out folder can be zipped and shared).
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
from compositing.pipeline import REFINEMENTS
from plumbing.cli import (EXIT_CODES_EPILOG, EXIT_SOME_FAILED, EXIT_USAGE, add_download_flag, int_range, output_folder,
                          parse_key_values, torch_device)
from plumbing.config import add_config_option, parse_config_args
from datasets.io import ImageError
from evaluation.compare import CompareConfig, build_renderers, run_compare

log = logging.getLogger("compare")

FID_WEIGHTS = ("imagenet", "none", "off")


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
    """The command line of scripts/compare.py (every flag sets the CompareConfig field of its name)."""
    d = CompareConfig(input="", out="")
    p = argparse.ArgumentParser(description=__doc__.split("\nThe program behind")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_CODES_EPILOG)
    add_config_option(p)
    p.add_argument("--input", help="folder (or file) of test images (required unless --config names one)")
    p.add_argument("--out", type=output_folder, help="output folder (required unless --config names one)")
    p.add_argument("--methods", type=method_list, default=list(METHODS),
                   help="comma-separated compositor methods (default: all of compositing.methods.METHODS; "
                        "'' for none)")
    p.add_argument("--params", action=MethodParams, default={}, metavar="METHOD:KEY=VALUE",
                   help="a compositor method parameter, e.g. lens:f_number=1.4 (repeatable; values are JSON "
                        "where they parse, else strings)")
    p.add_argument("--gan", action="append", default=[], metavar="NAME=CKPT:PRESET[:overlay]",
                   help="a trained GAN checkpoint to compare (repeatable)")
    p.add_argument("--results", action="append", default=[], metavar="NAME=DIR",
                   help="a folder of published outputs (e.g. a paper's results), files named like the inputs, "
                        "shown and measured as one more method (repeatable)")
    p.add_argument("--reference", help="folder of real shallow-DoF photos for FID/KID and the blur distance")
    p.add_argument("--masks", help="folder of masks NAME.png (8-bit grey, 255 = person) instead of INPUT_masks/")
    p.add_argument("--depth", help="folder of depth maps NAME.npy or 16-bit NAME.png (millimetres)")
    p.add_argument("--truth", help="folder of ground-truth shallow-DoF renders NAME.png (full-reference metrics; "
                   "noise-free synthetic truth has no sensor grain: compare the lens with --params lens:grain=false)")
    p.add_argument("--runs", nargs="*", default=[], help="GAN run folders (log.jsonl, config.json) to plot; "
                   "runs holding a --gan checkpoint are found automatically")
    p.add_argument("--segmenter", default=d.segmenter, help="segmenter for inputs without a mask")
    p.add_argument("--depth-model", default=d.depth_model, help="depth model for inputs without --depth")
    p.add_argument("--refine", default=d.refine, choices=REFINEMENTS,
                   help="the compositor methods' mask edge refinement, as scripts/blur.py's (default snap)")
    p.add_argument("--fid-weights", choices=FID_WEIGHTS, default=d.fid_weights,
                   help="Inception weights for FID/KID: torchvision IMAGENET1K_V1 from the torch hub cache, "
                        "'none' = random init (testing only), 'off' = skip FID/KID")
    p.add_argument("--device", type=torch_device, default=d.device,
                   help="torch device for GAN inference and Inception features")
    p.add_argument("--thumb-size", type=int_range(16, 4096), default=d.thumb_size,
                   help="longer side of gallery thumbnails in pixels (16 … 4096)")
    p.add_argument("--quiet", action=argparse.BooleanOptionalAction, default=False, help="no progress bars, errors only")
    add_download_flag(p)
    return p


def parse_args(argv: Optional[list[str]] = None) -> CompareConfig:
    """Command line (and ``--config FILE``) → CompareConfig; every --params is checked against its
    method (type and range) before any image is read. A bad value: one line, exit status 2."""
    p = build_parser()
    _, cfg = parse_config_args(p, CompareConfig, argv)
    missing = [flag for flag, value in (("--input", cfg.input), ("--out", cfg.out)) if not value]
    if missing:
        p.error(f"the following arguments are required: {', '.join(missing)}")
    for key, allowed in (("refine", REFINEMENTS), ("fid_weights", FID_WEIGHTS)):  # a --config's values too
        if getattr(cfg, key) not in allowed:
            p.error(f"{key}: {getattr(cfg, key)!r} is not one of {', '.join(allowed)}")
    for method, values in cfg.params.items():
        try:
            build_params(method, values)  # type and range, before any image is read
        except ValueError as exc:
            p.error(f"--params: {exc}")
    return cfg


def main(argv: Optional[list[str]] = None) -> int:
    """scripts/compare.py: parse, build the renderers, run; 1 when an image or render failed."""
    cfg = parse_args(argv)
    logging.basicConfig(level=logging.ERROR if cfg.quiet else logging.INFO, format="%(levelname)s %(message)s")
    try:
        renderers = build_renderers(cfg)
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
