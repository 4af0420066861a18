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
from plumbing.cli import EXIT_CODES_EPILOG, output_folder, torch_device
from plumbing.config import add_config_option, parse_config_args, save_config
from plumbing.fields import SettingError, add_setting, like, setting
from plumbing.outputs import OutputGuard, overlap_problem
from gan.checkpoint import resolve_checkpoint
from gan.infer import Translator, translate_folder

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

    checkpoint: str = setting("", "checkpoint of any kind (train_cyclegan's .pt, a networks-only file such as "
                              "scripts/demo_gan.pt) or a run directory: its latest checkpoint (required)")
    input: str = setting("", "folder (or file) of images to translate (required)")
    out: str = setting("", "output folder (required)")
    direction: str = like(Translator, "direction")
    overlay: Optional[bool] = setting(None, "paste the full-resolution subject back with its mask (default: the "
                                      "preset's setting)")
    size: Optional[int] = like(Translator, "size", lo=8, hi=16384,
                               help="generator input size: shorter side (resize) or tile side (tiles); default: the "
                                    "checkpoint's training size (load size for resize, crop size for tiles)")
    full_res: bool = setting(False, "run the generator on the whole image at once")
    mode: str = like(Translator, "mode", help="full-resolution strategy: resize (residual upsampling) or tiles; "
                                              "see above")
    tile_overlap: Optional[int] = like(Translator, "tile_overlap")
    depth_dir: Optional[str] = setting(None, "folder of NAME.npy depth maps (depth-input models)")
    device: str = setting("cpu", "torch device, e.g. cpu or cuda")
    format: str = setting("auto", "format of the outputs: auto (JPEG for a JPEG input, PNG otherwise), jpg, png",
                          OUTPUT_FORMATS)
    quiet: bool = setting(False, "no progress bar")


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
    """The ``test_cyclegan`` command line: a flag per TestConfig field, made from its declaration."""
    p = argparse.ArgumentParser(description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_CODES_EPILOG)
    add_config_option(p)
    add_setting(p, TestConfig, "checkpoint")
    add_setting(p, TestConfig, "input")
    add_setting(p, TestConfig, "out", type=output_folder)
    add_setting(p, TestConfig, "direction")
    add_setting(p, TestConfig, "overlay")
    size = p.add_mutually_exclusive_group()
    add_setting(size, TestConfig, "size", action=_Size)
    add_setting(size, TestConfig, "full_res", action=_FullRes)
    for name in ("mode", "tile_overlap", "depth_dir"):
        add_setting(p, TestConfig, name)
    add_setting(p, TestConfig, "device", type=torch_device)
    add_setting(p, TestConfig, "format")
    add_setting(p, TestConfig, "quiet")
    return p


def parse_args(argv: Optional[Sequence[str]] = None) -> TestConfig:
    """Command line → TestConfig (``--config`` first, then the flags given), every value checked;
    a missing or inconsistent setting is argparse's one-line error (exit status 2)."""
    parser = build_parser()
    _, cfg = parse_config_args(parser, TestConfig, argv, check_config=check_config)
    missing = [name for name in REQUIRED if not getattr(cfg, name)]
    if missing:
        parser.error(f"{', '.join('--' + m for m in missing)} {'is' if len(missing) == 1 else 'are'} required "
                     "(or --config with a saved test_config.json)")
    overlap = overlap_problem(cfg.out, [cfg.input])  # the outputs are named like the inputs
    if overlap:
        parser.error(f"--out {overlap}")
    return cfg


def check_config(cfg: TestConfig) -> None:
    """SettingError for settings that do not go together (each one's own range is checked before)."""
    if cfg.full_res and cfg.size is not None:
        raise SettingError("full_res", f"excludes size {cfg.size}")
    if cfg.size is not None and cfg.tile_overlap is not None and cfg.tile_overlap >= cfg.size:
        raise SettingError("tile_overlap", f"{cfg.tile_overlap} must be smaller than the tile (size {cfg.size})")


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
