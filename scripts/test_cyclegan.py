#!/usr/bin/env python3
"""Translate a folder of images with a trained CycleGAN checkpoint (either direction).

Examples:
  python scripts/test_cyclegan.py --checkpoint runs/dof --input dataset/testA --out results/dof \\
      --direction AtoB
  python scripts/test_cyclegan.py --checkpoint runs/dof/checkpoints/ckpt_00177750.pt \\
      --input dataset/testA --out results/dof_final
  python scripts/test_cyclegan.py --checkpoint ckpt.pt --input photos --out out --full-res --overlay

Outputs are PNGs named after the inputs (same relative paths). --overlay pastes the subject back
(Nasrullah 2018 eq. 13) with the mask of INPUT/NAME.EXT from INPUT_masks/NAME.png (what
scripts/prepare_masks.py writes; e.g. dataset/testA_masks/ for dataset/testA). With
--size N the generator sees the image at shorter side N and the change it makes is added to
the full-resolution input (--mode resize), or it runs on N×N tiles blended together
(--mode tiles); by default N is the size the checkpoint was trained at (its --load-size for
resize, its --crop-size for tiles); --full-res runs it on the whole image at once. The run's settings are saved
as test_config.json in --out, with the checkpoint file used. Bad files are reported one line each; the exit status is 1
when any failed.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from datasets.cli import EXIT_CODES_EPILOG, int_range, non_negative_int, output_folder, run_main, torch_device
from datasets.io import write_json
from gan.infer import DIRECTIONS, MODES, Translator, resolve_checkpoint, translate_folder


@dataclass
class TestConfig:
    checkpoint: str
    input: str
    out: str
    direction: str = "AtoB"
    overlay: bool | None = None  # None: the checkpoint's mask_overlay_test
    size: int | None = None  # None: the checkpoint's training size (see training_size)
    full_res: bool = False
    mode: str = "resize"
    tile_overlap: int | None = None
    depth_dir: str | None = None
    device: str = "cpu"
    quiet: bool = False


def parse_args(argv: list[str] | None = None) -> TestConfig:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=EXIT_CODES_EPILOG)
    p.add_argument("--checkpoint", required=True,
                   help="train_cyclegan checkpoint (.pt), or a run directory: its latest checkpoint")
    p.add_argument("--input", required=True, help="folder (or file) of images to translate")
    p.add_argument("--out", required=True, type=output_folder, help="output folder")
    p.add_argument("--direction", choices=DIRECTIONS, default="AtoB", help="AtoB uses G_A, BtoA uses G_B")
    p.add_argument("--overlay", action=argparse.BooleanOptionalAction, default=None,
                   help="paste the full-resolution subject back with its mask (default: the preset's setting)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", type=int_range(8, 16384), default=None,
                      help="generator input size: shorter side (resize) or tile side (tiles), 8 … 16384; "
                           "default: the checkpoint's training size (load size for resize, crop size for tiles)")
    size.add_argument("--full-res", action="store_true", help="run the generator on the whole image at once")
    p.add_argument("--mode", choices=MODES, default="resize", help="full-resolution strategy")
    p.add_argument("--tile-overlap", type=non_negative_int, default=None,
                   help="tile overlap in pixels, less than the tile (default size/4)")
    p.add_argument("--depth-dir", default=None, help="folder of NAME.npy depth maps (depth-input models)")
    p.add_argument("--device", type=torch_device, default="cpu", help="torch device, e.g. cpu or cuda")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    if a.size is not None and a.tile_overlap is not None and a.tile_overlap >= a.size:
        p.error(f"--tile-overlap {a.tile_overlap} must be smaller than the tile (--size {a.size})")
    return TestConfig(checkpoint=a.checkpoint, input=a.input, out=a.out, direction=a.direction,
                      overlay=a.overlay, size=a.size, full_res=a.full_res, mode=a.mode,
                      tile_overlap=a.tile_overlap, depth_dir=a.depth_dir, device=a.device, quiet=a.quiet)


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if cfg.quiet else logging.INFO, format="%(message)s")
    out = Path(cfg.out)
    try:  # CheckpointError and ImageError (e.g. no such input folder) are ValueErrors
        checkpoint = resolve_checkpoint(cfg.checkpoint)
        size = None if cfg.full_res else (cfg.size or "checkpoint")
        translator = Translator.from_checkpoint(checkpoint, cfg.direction, cfg.overlay, cfg.device,
                                                size, cfg.mode, tile_overlap=cfg.tile_overlap)
        write_json(out / "test_config.json", {**dataclasses.asdict(cfg), "checkpoint": str(checkpoint),
                                              "overlay": translator.overlay, "size": translator.size})
        ok, failed = translate_folder(translator, cfg.input, out, cfg.depth_dir, quiet=cfg.quiet)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.info("%d translated, %d failed -> %s", ok, failed, out)
    if failed:
        print(f"{failed} of {ok + failed} images failed (see the messages above)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_main(main, "test_cyclegan"))
