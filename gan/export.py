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
them :func:`export_onnx` raises one line saying what to install. The program is
``gan/cli/export_onnx.py`` (``scripts/export_onnx.py``).
"""
from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch

from gan.infer import FullResolutionGenerator, LoadedGenerator, load_generator, training_size
from plumbing.files import atomic_path

log = logging.getLogger(__name__)

OPSET = 18
MAX_SIDE = 16384
EXTRA = "pip install 'shallowdof[onnx]' (onnx, onnxscript and onnxruntime)"


class ExportUnavailable(RuntimeError):
    """An ONNX package is not installed; the message says which extra to install."""


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
