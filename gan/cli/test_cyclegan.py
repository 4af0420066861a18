"""The ``test_cyclegan`` program: translate a folder of images with a trained CycleGAN checkpoint.

``TestConfig`` holds its settings; the run saves them as ``OUT/test_config.json`` with what the
checkpoint decided filled in (the checkpoint file used, the overlay, the generator input size),
so ``--config OUT/test_config.json`` repeats the run exactly (flags given beside it override the
file, through :func:`plumbing.config.parse_config_args`). ``scripts/test_cyclegan.py`` only
calls :func:`main`.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from datasets.io import OUTPUT_FORMATS
from plumbing.cli import EXIT_CODES_EPILOG, int_range, non_negative_int, output_folder, torch_device
from plumbing.config import add_config_option, parse_config_args, save_config
from plumbing.outputs import OutputGuard, overlap_problem
from gan.checkpoint import resolve_checkpoint
from gan.infer import DIRECTIONS, MODES, Translator, translate_folder

CONFIG_NAME = "test_config.json"
REQUIRED = ("checkpoint", "input", "out")

DESCRIPTION = """Translate images with a trained CycleGAN checkpoint (either direction), at full resolution.

Examples:
  python scripts/test_cyclegan.py --checkpoint scripts/demo_gan.pt --input photo.jpg --out translated
  python scripts/test_cyclegan.py --checkpoint runs/dof --input dataset/testA --out results/dof \\
      --direction AtoB
  python scripts/test_cyclegan.py --checkpoint runs/dof/checkpoints/ckpt_00177750.pt \\
      --input dataset/testA --out results/dof_final
  python scripts/test_cyclegan.py --checkpoint ckpt.pt --input photos --out out --mode tiles --overlay
  python scripts/test_cyclegan.py --config results/dof/test_config.json --input photos --out out2

--checkpoint takes any file the project writes: a train_cyclegan checkpoint, a run folder (its
latest checkpoint) or a networks-only file such as the shipped scripts/demo_gan.pt. --input is one
photo or a folder (any size; a JPEG's EXIF orientation is applied first). Outputs are named after
the inputs (same relative paths), each at its input's full (upright) resolution: a JPEG input gives
a JPEG (quality 95, its chroma subsampling), any other a PNG (--format jpg|png chooses); each keeps
its input's ICC colour profile and EXIF (orientation 1: the pixels are upright). --out may not be,
hold or lie inside --input, and an existing output is replaced only when shallowdof wrote it (OUT's
.shallowdof-outputs.jsonl says so).

How a photo larger than the generator's training size is translated:
  --mode resize (default), residual upsampling: the generator sees a copy whose shorter side is
      N; the change it makes there, G(x) - x, is upsampled (bilinear) and added to the
      full-resolution photo. The photo's own detail survives wherever the generator changes
      nothing (the subject), and the generator works at the scale it was trained at, so the blur
      it learnt keeps its size relative to the photo. A photo no larger than N is translated whole.
  --mode tiles: the generator runs at full resolution on overlapping N x N tiles (overlap N/4,
      --tile-overlap), blended with linear ramps so tile borders leave no seams. Detail is made
      at the photo's own pixel scale, so a blur learnt on 256-px photos stays that many pixels
      wide on a 4000-px photo (a much weaker look); slower by the number of tiles.
  --full-res: the generator on the whole photo at once (memory grows with the photo).
N is --size, by default the size the checkpoint was trained at (its --load-size for resize, its
--crop-size for tiles; 256 when the file does not record it).

--overlay pastes the subject back (Nasrullah 2018 eq. 13) with the mask of INPUT/NAME.EXT from
INPUT_masks/NAME.png (what scripts/prepare_masks.py writes; e.g. dataset/testA_masks/ for
dataset/testA). The run's settings are saved as test_config.json in --out, with the checkpoint
file used; --config repeats them. Bad files are reported one line each; the exit status is 1 when
any failed.
"""


@dataclass
class TestConfig:
    """Settings of one test_cyclegan run (saved as ``OUT/test_config.json``)."""

    __test__ = False  # not a pytest test class

    checkpoint: str = ""  # a checkpoint file or a run folder (its latest checkpoint)
    input: str = ""
    out: str = ""
    direction: str = "AtoB"
    overlay: Optional[bool] = None  # None: the checkpoint's mask_overlay_test
    size: Optional[int] = None  # None: the checkpoint's training size (see gan.infer.training_size)
    full_res: bool = False
    mode: str = "resize"
    tile_overlap: Optional[int] = None
    depth_dir: Optional[str] = None
    device: str = "cpu"
    format: str = "auto"  # of the outputs: auto (a JPEG input gives a JPEG, others a PNG), jpg or png
    quiet: bool = False


class _Size(argparse.Action):
    """``--size N``; on the command line it replaces a ``--config`` file's ``full_res``."""

    def __call__(self, parser: argparse.ArgumentParser, ns: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        ns.size, ns.full_res = values, False


class _FullRes(argparse.Action):
    """``--full-res``; on the command line it replaces a ``--config`` file's ``size``."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, ns: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        ns.full_res, ns.size = True, None


def build_parser() -> argparse.ArgumentParser:
    """The ``test_cyclegan`` command line (defaults: TestConfig's)."""
    d = TestConfig()
    p = argparse.ArgumentParser(description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_CODES_EPILOG)
    add_config_option(p)
    p.add_argument("--checkpoint", default=d.checkpoint,
                   help="checkpoint of any kind (train_cyclegan's .pt, a networks-only file such as "
                        "scripts/demo_gan.pt) or a run directory: its latest checkpoint (required)")
    p.add_argument("--input", default=d.input, help="folder (or file) of images to translate (required)")
    p.add_argument("--out", default=d.out, type=output_folder, help="output folder (required)")
    p.add_argument("--direction", choices=DIRECTIONS, default=d.direction, help="AtoB uses G_A, BtoA uses G_B")
    p.add_argument("--overlay", action=argparse.BooleanOptionalAction, default=d.overlay,
                   help="paste the full-resolution subject back with its mask (default: the preset's setting)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", action=_Size, type=int_range(8, 16384), default=d.size,
                      help="generator input size: shorter side (resize) or tile side (tiles), 8 … 16384; "
                           "default: the checkpoint's training size (load size for resize, crop size for tiles)")
    size.add_argument("--full-res", action=_FullRes, default=d.full_res,
                      help="run the generator on the whole image at once")
    p.add_argument("--mode", choices=MODES, default=d.mode,
                   help="full-resolution strategy: resize (residual upsampling) or tiles; see above")
    p.add_argument("--tile-overlap", type=non_negative_int, default=d.tile_overlap,
                   help="tile overlap in pixels, less than the tile (default size/4)")
    p.add_argument("--depth-dir", default=d.depth_dir, help="folder of NAME.npy depth maps (depth-input models)")
    p.add_argument("--device", type=torch_device, default=d.device, help="torch device, e.g. cpu or cuda")
    p.add_argument("--format", default=d.format, choices=OUTPUT_FORMATS,
                   help="format of the outputs: auto (default: JPEG for a JPEG input, PNG otherwise), jpg, png")
    p.add_argument("--quiet", action=argparse.BooleanOptionalAction, default=d.quiet, help="no progress bar")
    return p


def parse_args(argv: Optional[Sequence[str]] = None) -> TestConfig:
    """Command line → TestConfig (``--config`` first, then the flags given); a missing or
    inconsistent setting is argparse's one-line error (exit status 2)."""
    parser = build_parser()
    _, cfg = parse_config_args(parser, TestConfig, argv)
    missing = [name for name in REQUIRED if not getattr(cfg, name)]
    if missing:
        parser.error(f"{', '.join('--' + m for m in missing)} {'is' if len(missing) == 1 else 'are'} required "
                     "(or --config with a saved test_config.json)")
    if cfg.full_res and cfg.size is not None:
        parser.error(f"size {cfg.size} and full_res exclude each other")
    if cfg.size is not None and cfg.tile_overlap is not None and cfg.tile_overlap >= cfg.size:
        parser.error(f"--tile-overlap {cfg.tile_overlap} must be smaller than the tile (--size {cfg.size})")
    if cfg.format not in OUTPUT_FORMATS:  # a --config's value (argparse checks the flag's)
        parser.error(f"format: {cfg.format!r} is not one of {', '.join(OUTPUT_FORMATS)}")
    overlap = overlap_problem(cfg.out, [cfg.input])  # the outputs are named like the inputs
    if overlap:
        parser.error(f"--out {overlap}")
    return cfg


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``test_cyclegan``: translate the input folder; 0 done, 1 some images failed, 2 unusable
    checkpoint or input."""
    cfg = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if cfg.quiet else logging.INFO, format="%(message)s")
    out = Path(cfg.out)
    guard = OutputGuard("test_cyclegan")
    try:  # CheckpointError, ImageError (e.g. no such input folder) and FileProblem are ValueErrors
        guard.check(out / CONFIG_NAME)
        checkpoint = resolve_checkpoint(cfg.checkpoint)
        size = None if cfg.full_res else (cfg.size or "checkpoint")
        translator = Translator.from_checkpoint(checkpoint, cfg.direction, cfg.overlay, cfg.device,
                                                size, cfg.mode, tile_overlap=cfg.tile_overlap)
        save_config(dataclasses.replace(cfg, checkpoint=str(checkpoint), overlay=translator.overlay,
                                        size=translator.size), out / CONFIG_NAME)
        guard.record(out / CONFIG_NAME)
        ok, failed = translate_folder(translator, cfg.input, out, cfg.depth_dir, quiet=cfg.quiet, fmt=cfg.format,
                                      guard=guard)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.info("%d translated, %d failed -> %s", ok, failed, out)
    if failed:
        print(f"{failed} of {ok + failed} images failed (see the messages above)", file=sys.stderr)
    return 1 if failed else 0
