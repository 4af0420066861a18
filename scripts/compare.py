"""Compare shallow depth-of-field methods side by side: render, measure, write a gallery.

    python scripts/compare.py --input test_portraits/ --methods gaussian,lens --out compare_out
    python scripts/compare.py --input testA/ --methods lens --params lens:strength=0.03 \\
        --gan masked=runs/mask_loss:mask_loss:overlay \\
        --reference real_bokeh/ --out compare_out

Every image of --input (searched recursively) is rendered with every method: compositor
methods by name (--methods) and trained GAN checkpoints (--gan NAME=CHECKPOINT:PRESET, where
CHECKPOINT is a .pt file or a run directory, for its latest checkpoint; ":overlay" pastes the
input subject back at test time). The mask of INPUT/NAME.EXT is INPUT_masks/NAME.png (8-bit grey,
255 = person, as scripts/prepare_masks.py writes it), or --masks DIR/NAME.png, or else
--segmenter's; depth from --depth DIR/NAME.npy|png or else --depth-model (default: the portrait
depth prior). Two inputs with one name (a.jpg, a.png) are both refused, naming each other.

Writes into --out: results/<method>/NAME.png, metrics.csv (per-image rows and per-method
mean/median), metrics.md, plots/ (GAN loss curves from the runs' log.jsonl), config.json and
gallery/index.html (open it in a browser; the whole --out folder can be zipped and shared).
With --reference (real shallow-DoF photos) also FID/KID (needs the torchvision Inception
weights in the torch hub cache) and a weight-free blur-distribution distance. With --truth
(ground-truth renders, e.g. synthetic scenes) also full-reference PSNR/SSIM.

Bad images (inputs and --reference photos, counted apart) get one line each, the rest goes on,
and the exit status is 1 when any image or render failed (2 for a bad command line).
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from compositing.pipeline import build_params
from datasets.cli import (EXIT_CODES_EPILOG, add_download_flag, int_range, output_folder, parse_key_values,
                          run_main, torch_device)
from datasets.io import ImageError
from evaluation.compare import CompareConfig, build_renderers, run_compare

log = logging.getLogger("compare")


def parse_params(parser: argparse.ArgumentParser, items: list[str]) -> dict[str, dict[str, Any]]:
    """``["lens:f_number=1.4", "lens:blades=6"]`` → ``{"lens": {"f_number": 1.4, "blades": 6}}``."""
    params: dict[str, dict[str, Any]] = {}
    for item in items:
        method, sep, assignment = item.partition(":")
        key, sep2, value = assignment.partition("=")
        if not (sep and sep2 and method and key):
            parser.error(f"--params {item!r}: expected METHOD:KEY=VALUE")
        params.setdefault(method, {}).update(parse_key_values([assignment], f"--params {item!r}"))
    for method, values in params.items():
        try:
            build_params(method, values)  # type and range, before any image is read
        except ValueError as exc:
            parser.error(f"--params: {exc}")
    return params


def parse_args(argv: list[str] | None = None) -> CompareConfig:
    """Command line → CompareConfig."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=EXIT_CODES_EPILOG)
    p.add_argument("--input", required=True, help="folder (or file) of test images")
    p.add_argument("--out", required=True, type=output_folder, help="output folder")
    p.add_argument("--methods", default=None,
                   help="comma-separated compositor methods (default: all of compositing.pipeline.METHODS; "
                        "'' for none)")
    p.add_argument("--params", action="append", default=[], metavar="METHOD:KEY=VALUE",
                   help="a compositor method parameter, e.g. lens:f_number=1.4 (repeatable; values are JSON "
                        "where they parse, else strings)")
    p.add_argument("--gan", action="append", default=[], metavar="NAME=CKPT:PRESET[:overlay]",
                   help="a trained GAN checkpoint to compare (repeatable)")
    p.add_argument("--reference", help="folder of real shallow-DoF photos for FID/KID and the blur distance")
    p.add_argument("--masks", help="folder of masks NAME.png (8-bit grey, 255 = person) instead of INPUT_masks/")
    p.add_argument("--depth", help="folder of depth maps NAME.npy or 16-bit NAME.png (millimetres)")
    p.add_argument("--truth", help="folder of ground-truth shallow-DoF renders NAME.png (full-reference metrics)")
    p.add_argument("--runs", nargs="*", default=[], help="GAN run folders (log.jsonl, config.json) to plot; "
                   "runs holding a --gan checkpoint are found automatically")
    p.add_argument("--segmenter", default="mediapipe", help="segmenter for inputs without a mask")
    p.add_argument("--depth-model", default="prior", help="depth model for inputs without --depth")
    p.add_argument("--fid-weights", choices=["imagenet", "none", "off"], default="imagenet",
                   help="Inception weights for FID/KID: torchvision IMAGENET1K_V1 from the torch hub cache, "
                        "'none' = random init (testing only), 'off' = skip FID/KID")
    p.add_argument("--device", type=torch_device, default="cpu",
                   help="torch device for GAN inference and Inception features")
    p.add_argument("--thumb-size", type=int_range(16, 4096), default=256,
                   help="longer side of gallery thumbnails in pixels (16 … 4096)")
    p.add_argument("--quiet", action="store_true", help="no progress bars, errors only")
    add_download_flag(p)
    a = p.parse_args(argv)
    if a.methods is None:
        from compositing.pipeline import METHODS

        methods = list(METHODS)
    else:
        methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    return CompareConfig(
        input=a.input, out=a.out, methods=methods, params=parse_params(p, a.params), gan=a.gan, reference=a.reference, masks=a.masks,
        depth=a.depth, truth=a.truth, runs=a.runs, segmenter=a.segmenter, depth_model=a.depth_model,
        fid_weights=a.fid_weights, device=a.device, thumb_size=a.thumb_size, quiet=a.quiet,
    )


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    logging.basicConfig(level=logging.ERROR if cfg.quiet else logging.INFO, format="%(levelname)s %(message)s")
    try:
        renderers = build_renderers(cfg)
    except (ValueError, FileNotFoundError) as exc:
        log.error("%s", exc)
        return 2
    try:
        result = run_compare(cfg, renderers)
    except (ImageError, FileNotFoundError) as exc:  # a missing --input / --masks / --depth folder
        log.error("%s", exc)
        return 2
    ok_images = result.n_images - result.n_bad
    print(f"{ok_images} image(s) × {len(renderers)} method(s) compared, {result.n_bad} bad image(s), "
          f"{result.n_bad_reference} bad reference image(s), {result.n_render_failures} failed render(s); "
          f"gallery: {result.gallery}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(run_main(main, "compare"))
