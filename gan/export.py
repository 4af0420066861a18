"""Export a trained CycleGAN generator to ONNX: the ``export_onnx`` program.

The exported graph is :class:`gan.infer.FullResolutionGenerator`, the same forward that
``test_cyclegan --mode resize`` runs: with a size N the residual upsampling (translate a copy whose
shorter side is N, add the upsampled change to the full-resolution input), without one the
generator on the whole image; both pad to the generator's divisor inside the graph. Height and
width are dynamic (any size from 1 to 16384 px), and so is the batch.

- Input ``image``: float32 N×3×H×W in [-1, 1] (uint8 RGB / 127.5 − 1); with a depth-input
  generator a second input ``depth``: N×1×H×W in [-1, 1] (``datasets.unaligned.normalize_depth``).
- Output ``output``: float32 N×3×H×W in [-1, 1]. The mask overlay (Nasrullah 2018 eq. 13,
  out = M·input + (1 − M)·output) is left to the caller, as is tiling (``--mode tiles``: a loop
  over tiles whose number depends on the size, which stays in PyTorch).
- Opset :data:`OPSET` = 18, the first whose Resize has the ``antialias`` attribute the
  downscaling of the residual path needs; exported with PyTorch's dynamo exporter
  (``torch.onnx.export(dynamo=True)``, which needs onnxscript).
- The model's metadata (``metadata_props``) records the direction, the size, the source file and
  these conventions.

``onnx``, ``onnxscript`` and ``onnxruntime`` are the optional extra ``shallowdof[onnx]``; without
them :func:`export_onnx` raises one line saying what to install. ``scripts/export_onnx.py`` only
calls :func:`main`.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np
import torch

from datasets.cli import EXIT_CODES_EPILOG, int_range
from datasets.config import add_config_option, parse_config_args, save_config
from datasets.io import atomic_path
from gan.infer import DIRECTIONS, FullResolutionGenerator, LoadedGenerator, load_generator, training_size

log = logging.getLogger(__name__)

OPSET = 18
MAX_SIDE = 16384
EXTRA = "pip install 'shallowdof[onnx]' (onnx, onnxscript and onnxruntime)"


class ExportUnavailable(RuntimeError):
    """An ONNX package is not installed; the message says which extra to install."""


@dataclass
class ExportConfig:
    """Settings of one export (saved beside the model as ``NAME.onnx.json``)."""

    checkpoint: str = ""  # a checkpoint file of any kind, or a run folder (its latest checkpoint)
    out: str = ""  # the .onnx file to write
    direction: str = "AtoB"
    size: Optional[int] = None  # residual upsampling at this shorter side; None: the checkpoint's load size
    full_res: bool = False  # the whole image at once instead (no residual upsampling)
    opset: int = OPSET
    verify: bool = True  # run the exported model in onnxruntime beside PyTorch and report the difference


@dataclass
class ExportResult:
    """What an export wrote and how far onnxruntime's output is from PyTorch's."""

    path: Path
    size: Optional[int]
    max_abs_diff: Optional[float]  # on the verification image, in [-1, 1] units; None without verify


def _onnx() -> Any:
    """The ``onnx`` module, after checking that the exporter's ``onnxscript`` is installed too."""
    try:
        import onnx
        import onnxscript  # noqa: F401  (torch's dynamo exporter imports it)
    except ImportError as exc:
        raise ExportUnavailable(f"ONNX export needs the package {exc.name!r}: {EXTRA}") from None
    return onnx


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Hide the exporter's progress prints and its graph optimiser's per-initializer INFO lines."""
    loggers = [logging.getLogger(name) for name in ("onnxscript", "onnx_ir")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def example_input(loaded: LoadedGenerator, height: int, width: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """A 1×C×H×W image (and 1×1×H×W depth for a depth-input generator) in [-1, 1] of smooth
    random structure with fine noise, for tracing and checking."""
    g = torch.Generator().manual_seed(seed)
    c_in, _ = loaded.cfg.generator_channels(loaded.direction)
    coarse = torch.rand(1, c_in, max(2, height // 8), max(2, width // 8), generator=g) * 2 - 1
    x = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    x = (x + 0.1 * (torch.rand(x.shape, generator=g) * 2 - 1)).clamp(-1, 1)
    return (x[:, :-1], x[:, -1:]) if loaded.cfg.use_depth else (x,)


def onnx_runner(path: str | Path, threads: int | None = None) -> Callable[..., np.ndarray]:
    """A function that runs the exported model in onnxruntime's CPU provider (on ``threads``
    threads; None: onnxruntime's default): numpy inputs → output array."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ExportUnavailable(f"running an exported model needs the package 'onnxruntime': {EXTRA}") from None
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run(*inputs: np.ndarray) -> np.ndarray:
        return session.run(None, dict(zip(names, inputs)))[0]

    return run


def export_onnx(checkpoint: str | Path, out: str | Path, direction: str = "AtoB", size: int | None | str = "checkpoint",
                opset: int = OPSET, verify: bool = True) -> ExportResult:
    """Export G_A (AtoB) or G_B (BtoA) of ``checkpoint`` (any kind, :func:`gan.infer.load_generator`)
    to ``out`` (written atomically). ``size``: an int for residual upsampling at that shorter
    side, ``"checkpoint"`` for the training load size, None for the whole image. With ``verify``
    onnxruntime runs it on a test image beside PyTorch and the max abs difference is returned."""
    onnx = _onnx()
    loaded = load_generator(checkpoint, direction)
    if size == "checkpoint":
        size = training_size(loaded.trained_sizes, "resize")
    module = FullResolutionGenerator(loaded.generator, size).eval()
    d = module.divisor
    # trace at a shape larger than the residual size and not a multiple of the divisor, so that
    # every branch-free size computation is traced symbolically
    example = example_input(loaded, (size or 2 * d) + 37, (size or 2 * d) + 101)
    batch, h, w = (torch.export.Dim(n, min=lo, max=MAX_SIDE) for n, lo in (("batch", 1), ("height", 1), ("width", 1)))
    dims = {0: batch, 2: h, 3: w}
    names = ["image", "depth"][:len(example)]
    with torch.no_grad(), _quiet_exporter():
        program = torch.onnx.export(module, example, dynamo=True, opset_version=opset, input_names=names,
                                    output_names=["output"], dynamic_shapes=tuple(dims for _ in example),
                                    verbose=False)
    proto = program.model_proto
    meta = {"shallowdof.direction": direction, "shallowdof.source": Path(loaded.path).name,
            "shallowdof.source_kind": loaded.kind, "shallowdof.preset": loaded.cfg.preset,
            "shallowdof.size": "whole image" if size is None else str(size),
            "shallowdof.convention": "image float32 N×3×H×W in [-1, 1] (uint8/127.5 - 1); output the same; "
                                     "no overlay" + ("; depth N×1×H×W in [-1, 1]" if loaded.cfg.use_depth else "")}
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    out = Path(out)
    with atomic_path(out) as tmp:
        onnx.save(proto, str(tmp))
    diff = None
    if verify:
        check = example_input(loaded, (size or d) + 61, (size or d) // 2 + 45, seed=1)
        with torch.no_grad():
            want = module(*check).numpy()
        got = onnx_runner(out)(*(t.numpy() for t in check))
        diff = float(np.abs(got - want).max())
    return ExportResult(out, size, diff)


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
    """The ``export_onnx`` command line (defaults: ExportConfig's)."""
    d = ExportConfig()
    p = argparse.ArgumentParser(prog="export_onnx.py", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_CODES_EPILOG)
    add_config_option(p)
    p.add_argument("--checkpoint", default=d.checkpoint, help="checkpoint file of any kind, or a run folder (required)")
    p.add_argument("--out", default=d.out, help="the .onnx file to write (required)")
    p.add_argument("--direction", choices=DIRECTIONS, default=d.direction, help="AtoB exports G_A, BtoA G_B")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", type=int_range(8, MAX_SIDE), default=d.size,
                      help="shorter side the generator sees (residual upsampling); default: the checkpoint's "
                           "training load size (256 without one)")
    size.add_argument("--full-res", action=argparse.BooleanOptionalAction, default=d.full_res,
                      help="export the generator on the whole image instead")
    p.add_argument("--opset", type=int_range(OPSET, 23), default=d.opset,
                   help=f"ONNX opset, {OPSET} … 23 (default {OPSET}, the first with antialiased Resize; the one "
                        "the tests check)")
    p.add_argument("--verify", action=argparse.BooleanOptionalAction, default=d.verify,
                   help="compare onnxruntime's output with PyTorch's on a test image (default on)")
    return p


def parse_args(argv: Optional[Sequence[str]] = None) -> ExportConfig:
    """Command line → ExportConfig (``--config`` first, then the flags given)."""
    parser = build_parser()
    _, cfg = parse_config_args(parser, ExportConfig, argv)
    missing = [f"--{name}" for name in ("checkpoint", "out") if not getattr(cfg, name)]
    if missing:
        parser.error(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required")
    if cfg.full_res and cfg.size is not None:
        parser.error(f"size {cfg.size} and full_res exclude each other")
    if not cfg.out.endswith(".onnx"):
        parser.error(f"--out {cfg.out}: name the file NAME.onnx")
    return cfg


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``export_onnx``: 0 written (and verified), 1 verification failed (difference > 1e-4),
    2 unusable checkpoint, missing package or bad command line."""
    cfg = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    size: int | None | str = None if cfg.full_res else (cfg.size or "checkpoint")
    try:
        result = export_onnx(cfg.checkpoint, cfg.out, cfg.direction, size, cfg.opset, cfg.verify)
    except (ValueError, ExportUnavailable) as exc:  # CheckpointError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    save_config(dataclasses.replace(cfg, size=result.size, full_res=result.size is None),
                Path(f"{cfg.out}.json"))
    where = "the whole image" if result.size is None else f"shorter side {result.size}, residual upsampling"
    log.info("wrote %s (opset %d, %s)", result.path, cfg.opset, where)
    if result.max_abs_diff is not None:
        log.info("onnxruntime vs PyTorch on a test image: max abs difference %.2e", result.max_abs_diff)
        if result.max_abs_diff > 1e-4:
            print(f"error: {result.path}: onnxruntime's output differs from PyTorch's by {result.max_abs_diff:.2e} "
                  "(more than 1e-4)", file=sys.stderr)
            return 1
    return 0
