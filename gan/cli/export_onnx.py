"""The ``export_onnx`` program: a trained CycleGAN generator to ONNX (:mod:`gan.export`).

``ExportConfig`` holds its settings, saved beside the model as ``OUT.json`` (``--config`` repeats
the export); ``scripts/export_onnx.py`` runs :func:`main` through the program table.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from gan.export import MAX_SIDE, OPSET, ExportUnavailable, export_onnx
from gan.infer import Translator
from plumbing.cli import EXIT_CODES_EPILOG
from plumbing.config import add_config_option, parse_config_args, save_config
from plumbing.fields import SettingError, add_setting, like, setting
from plumbing.outputs import OutputGuard

log = logging.getLogger(__name__)


@dataclass
class ExportConfig:
    """Settings of one export (saved beside the model as ``NAME.onnx.json``); each field declares its
    flag's help and allowed values or range (:func:`plumbing.fields.setting`)."""

    checkpoint: str = setting("", "checkpoint file of any kind, or a run folder: its latest checkpoint (required)")
    out: str = setting("", "the .onnx file to write (required)")
    direction: str = like(Translator, "direction", help="AtoB exports G_A, BtoA G_B")
    size: Optional[int] = like(Translator, "size", lo=8, hi=MAX_SIDE,
                               help="shorter side the generator sees (residual upsampling); default: the "
                                    "checkpoint's training load size (256 without one)")
    full_res: bool = setting(False, "export the generator on the whole image instead (no residual upsampling)")
    opset: int = setting(OPSET, f"ONNX opset ({OPSET}, the default, is the first with antialiased Resize and the one "
                         "the tests check)", lo=OPSET, hi=23)
    verify: bool = setting(True, "compare onnxruntime's output with PyTorch's on a test image")



DESCRIPTION = f"""Export a trained CycleGAN generator to ONNX (opset {OPSET}, dynamic batch, height and width).

Examples:
  python scripts/export_onnx.py --checkpoint scripts/demo_gan.pt --out demo_gan.onnx
  python scripts/export_onnx.py --checkpoint runs/dof --out dof.onnx --size 512
  python scripts/export_onnx.py --checkpoint runs/dof --out dof_whole.onnx --full-res --direction BtoA

The checkpoint may be any file the project writes (a train_cyclegan checkpoint or its run folder,
a networks-only file such as scripts/demo_gan.pt). The exported graph is what test_cyclegan runs
in its default --mode resize: with --size N (default: the size the checkpoint was trained at) it
translates a copy whose shorter side is N and adds the upsampled change to the full-resolution
input (residual upsampling), so a photo of any size comes out at its own size; with --full-res the
generator runs on the whole image. Input "image": float32 N×3×H×W in [-1, 1] (RGB / 127.5 - 1);
output "output": the same. The subject overlay and tiles are left to the caller. Needs the extra
shallowdof[onnx]. After writing, onnxruntime runs the model beside PyTorch on a test image and the
largest difference is printed (--no-verify skips it); the settings are saved as OUT.json.
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``export_onnx`` command line: a flag per ExportConfig field, made from its declaration."""
    p = argparse.ArgumentParser(prog="export_onnx.py", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_CODES_EPILOG)
    add_config_option(p)
    for name in ("checkpoint", "out", "direction"):
        add_setting(p, ExportConfig, name)
    size = p.add_mutually_exclusive_group()
    add_setting(size, ExportConfig, "size")
    add_setting(size, ExportConfig, "full_res")
    add_setting(p, ExportConfig, "opset")
    add_setting(p, ExportConfig, "verify")
    return p


def parse_args(argv: Optional[Sequence[str]] = None) -> ExportConfig:
    """Command line → ExportConfig (``--config`` first, then the flags given), every value checked."""
    return parse_config_args(build_parser(), ExportConfig, argv, check_config=check_config)[1]


def check_config(cfg: ExportConfig) -> None:
    """ValueError for a missing --checkpoint or --out, SettingError for settings that exclude each
    other or an output not named .onnx (each setting's own range is checked before)."""
    missing = [f"--{name}" for name in ("checkpoint", "out") if not getattr(cfg, name)]
    if missing:
        raise ValueError(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required")
    if cfg.full_res and cfg.size is not None:
        raise SettingError("full_res", f"excludes size {cfg.size}")
    if not cfg.out.endswith(".onnx"):
        raise SettingError("out", f"{cfg.out}: name the file NAME.onnx")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``export_onnx``: 0 written (and verified), 1 verification failed (difference > 1e-4),
    2 unusable checkpoint, missing package or bad command line."""
    cfg = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    size: int | None | str = None if cfg.full_res else (cfg.size or "checkpoint")
    written, guard = [Path(cfg.out), Path(f"{cfg.out}.json")], OutputGuard("export_onnx")
    try:
        for path in written:
            guard.check(path)  # a file of the user's under that name is not replaced (FileProblem)
        result = export_onnx(cfg.checkpoint, cfg.out, cfg.direction, size, cfg.opset, cfg.verify)
    except (ValueError, ExportUnavailable) as exc:  # CheckpointError and FileProblem are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    save_config(dataclasses.replace(cfg, size=result.size, full_res=result.size is None), written[1])
    for path in written:
        guard.record(path)
    where = "the whole image" if result.size is None else f"shorter side {result.size}, residual upsampling"
    log.info("wrote %s (opset %d, %s)", result.path, cfg.opset, where)
    if result.max_abs_diff is not None:
        log.info("onnxruntime vs PyTorch on a test image: max abs difference %.2e", result.max_abs_diff)
        if result.max_abs_diff > 1e-4:
            print(f"error: {result.path}: onnxruntime's output differs from PyTorch's by {result.max_abs_diff:.2e} "
                  "(more than 1e-4)", file=sys.stderr)
            return 1
    return 0
