"""CycleGAN training loop: run directory, exact resume, schedule, AMP, DDP, displays.

One ``TrainConfig`` (built from argparse, saved as ``runs/NAME/config.json``) drives
``train(cfg)``. Batches hold GAN tensors N×3×H×W in [-1, 1] and masks N×1×H×W in [0, 1]
(see ``datasets.unaligned``). The run directory holds:

- ``config.json``: the TrainConfig; ``--config runs/NAME/config.json`` reproduces the run.
- ``log.jsonl``: every ``log_every`` iterations one flat JSON object: the mean of every loss
  over the window and over all processes (keys = the model's loss names) and ``display.LOG_STAT_KEYS``: epoch, iter
  (= step, counted over the run), progress (fractional epoch), lr, it/s, data time per
  iteration, sec/kimg (StyleGAN2-ADA's speed unit), peak memory (CUDA allocator or process RSS).
- ``checkpoints/ckpt_ITER.pt``: everything needed to continue exactly (networks, optimisers,
  gradient scaler, image pools, LR schedulers, epoch, position in the epoch, RNG states; under
  DDP the pools and RNG states of every process);
  written atomically, the last ``keep_last`` kept, loadable with ``torch.load(weights_only=True)``.
- ``loss_curves.png`` and ``web/index.html`` (recent samples); live plots with ``--display visdom``.

Exact resume: the order of an epoch's samples comes from a ``DistributedSampler`` seeded by
``seed`` and the epoch; each sample's own randomness (random crop, flip, the unpaired B image) is
a function of (seed, epoch, index) in ``UnalignedDataset``, whatever the worker process; the
DataLoader draws from its own generator, never the global one. So a checkpoint taken after any iteration, mid-epoch included,
resumes to the very same batches and, on the CPU with ``deterministic``, the very same weights.

Schedule (Zhu et al. 2017, as the reference code): Adam at ``lr`` for ``n_epochs`` epochs,
then linear decay over ``n_epochs_decay`` epochs, lr·(1 − max(0, e + 1 − n_epochs)/(n_epochs_decay + 1))
for epoch e counted from 0.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import random
import resource
import time
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from datasets import io
from datasets.cli import EXIT_CODES_EPILOG, add_download_flag, check_types, float_range, int_range
from datasets.unaligned import UnalignedDataset
from gan import display as display_mod
from gan.infer import list_checkpoints
from gan.model import (AMP_DTYPES, PRESETS, CycleGANModel, ModelConfig, config_from_preset,
                       dataclass_from_dict)

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "shallowdof.cyclegan.train/1"
# ModelConfig fields that change the networks' shapes: a checkpoint must agree on these.
ARCHITECTURE_FIELDS = ("input_nc", "output_nc", "ngf", "ndf", "netG", "n_blocks", "n_layers_D", "norm",
                       "upsample", "use_depth")
# ModelConfig fields the TrainConfig sets itself (not model overrides).
_TRAIN_OWNED_MODEL_FIELDS = ("preset", "amp", "channels_last")
# Nasrullah 2018's data exactly (--paper-data): 256×256 images used as they are (no resize, crop
# or flip augmentation at training time; prepare the images at 256×256) and binary masks.
PAPER_DATA: dict[str, Any] = {"load_size": 256, "crop_size": 256, "flip": False}
PAPER_DATA_MODEL: dict[str, Any] = {"masks": "binary"}


# torch.compile modes -> whether the mode replays the compiled graphs as CUDA graphs
COMPILE_MODES: dict[str, bool] = {"default": False, "reduce-overhead": True, "max-autotune": True,
                                  "max-autotune-no-cudagraphs": False}


def compile_network(net: torch.nn.Module, mode: str, dynamic: Optional[bool] = None) -> torch.nn.Module:
    """``torch.compile(net)`` in ``mode``, a key of COMPILE_MODES (training and bench_gan alike)."""
    return torch.compile(net, mode=None if mode == "default" else mode, dynamic=dynamic)


def replays_cuda_graphs(mode: str, device: torch.device) -> bool:
    """Whether networks compiled in ``mode`` run as CUDA graphs on ``device``: each training step
    must then begin with ``torch.compiler.cudagraph_mark_step_begin()``."""
    return COMPILE_MODES[mode] and device.type == "cuda"


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; training stopped without writing a checkpoint."""


class CheckpointError(ValueError):
    """A checkpoint cannot be used for this run (unreadable, wrong format, other architecture)."""


def _limited(default: int, lo: int, hi: int) -> Any:
    """A TrainConfig field whose value must lie in [lo, hi] (checked by ``TrainConfig.check``,
    for flags and config files alike; the flags' argparse types use the same bounds)."""
    return field(default=default, metadata={"lo": lo, "hi": hi})


@dataclass
class TrainConfig:
    """Settings of one training run (saved as ``runs/NAME/config.json``)."""

    dataroot: str = ""
    name: str = "cyclegan"
    runs_dir: str = "runs"
    preset: str = "cyclegan"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    load_size: int = _limited(286, 1, 16384)
    crop_size: int = _limited(256, 1, 16384)  # square crop after the shorter side is resized to load_size
    flip: bool = True
    serial_batches: bool = False  # B in order instead of at random
    batch_size: int = _limited(1, 1, 65536)
    n_epochs: int = _limited(50, 0, 100_000)
    n_epochs_decay: int = _limited(25, 0, 100_000)
    num_workers: int = _limited(4, 0, 256)
    seed: int = _limited(0, 0, 2**32 - 1)
    deterministic: bool = False
    device: str = "auto"  # auto | cpu | cuda
    amp: str = "none"  # none | bf16 | fp16
    channels_last: bool = False
    compile: bool = False
    compile_mode: str = "default"  # a key of COMPILE_MODES
    log_every: int = _limited(100, 1, 10**9)
    save_every: int = _limited(0, 0, 10**9)  # iterations between checkpoints; 0: only at epoch ends
    save_every_epochs: int = _limited(1, 0, 100_000)
    keep_last: int = _limited(3, 1, 100_000)
    display: str = "html"  # none | html | visdom
    display_port: int = _limited(8097, 1, 65535)
    display_every: int = _limited(400, 0, 10**9)
    display_keep: int = _limited(10, 1, 100_000)
    max_steps: int = _limited(0, 0, 10**9)  # stop after this many iterations in all (0: the full schedule)
    resume: bool = False
    resume_from: str = ""  # a checkpoint file; default: the run's latest
    quiet: bool = False

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.name

    def model_config(self) -> ModelConfig:
        """The ModelConfig: the preset's settings, then the overrides, then amp / channels_last."""
        return config_from_preset(self.preset, **self.model_overrides, amp=self.amp, channels_last=self.channels_last)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """The config saved in a run's config.json; unknown keys and wrong types are errors naming them."""
        return dataclass_from_dict(cls, d)

    def check(self) -> None:
        """ValueError naming the first setting that is out of range, of the wrong type or
        inconsistent; the model settings (preset + overrides) are checked by ModelConfig."""
        check_types(self)
        for f in dataclasses.fields(self):
            lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
            value = getattr(self, f.name)
            if lo is not None and not lo <= value <= hi:
                raise ValueError(f"{f.name} must be between {lo} and {hi}, got {value}")
        if self.n_epochs + self.n_epochs_decay < 1:
            raise ValueError("n_epochs + n_epochs_decay must be at least 1 (the schedule would train nothing)")
        if self.crop_size > self.load_size:
            raise ValueError(f"crop_size {self.crop_size} is larger than load_size {self.load_size}")
        name = Path(self.name)
        if not self.name or name.is_absolute() or len(name.parts) != 1 or self.name in (".", ".."):
            raise ValueError(f"name {self.name!r} must be one folder name inside runs_dir {self.runs_dir!r} "
                             "(no '/', '..' or absolute path)")
        for key, allowed in (("device", ("auto", "cpu", "cuda")), ("amp", tuple(AMP_DTYPES)),
                             ("compile_mode", tuple(COMPILE_MODES)), ("display", ("none", "html", "visdom"))):
            if getattr(self, key) not in allowed:
                raise ValueError(f"{key} {getattr(self, key)!r} is not one of {list(allowed)}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' asked for, but torch sees no CUDA device (use --device cpu or auto)")
        try:
            self.model_config()
        except TypeError as exc:  # an unknown key in model_overrides
            raise ValueError(f"model_overrides: {exc}") from None


@dataclass
class TrainResult:
    """What ``train`` leaves: the run directory, the model (unwrapped networks) and where it stopped."""

    run_dir: Path
    model: CycleGANModel
    epoch: int
    iteration: int
    last_checkpoint: Optional[Path]


# --------------------------------------------------------------------------- command line

def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def _model_override_fields() -> list[tuple[dataclasses.Field, Any]]:
    """(field, type) of the ModelConfig fields a user may override (``X | None`` gives X)."""
    hints = typing.get_type_hints(ModelConfig)
    out = []
    for f in dataclasses.fields(ModelConfig):
        if f.name in _TRAIN_OWNED_MODEL_FIELDS:
            continue
        kind = hints[f.name]
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        out.append((f, args[0] if args else kind))
    return out


def _model_default_text(f: dataclasses.Field) -> str:
    """How the default of a model setting is chosen, for ``--help``."""
    by_preset = {name: p[f.name] for name, p in PRESETS.items() if f.name in p}
    if by_preset:
        return "default by preset: " + ", ".join(f"{n} {v}" for n, v in by_preset.items()) + f", else {f.default}"
    return "default: see netG" if f.default is None else f"default {f.default}"


def _bounded(name: str) -> Any:
    """The argparse type of TrainConfig field ``name``: an int within the field's limits."""
    f = next(f for f in dataclasses.fields(TrainConfig) if f.name == name)
    return int_range(f.metadata["lo"], f.metadata["hi"])


def _max_steps(text: str) -> int:
    """``--max-steps``: a positive count, or ``all`` for the whole schedule (stored as 0)."""
    if text.strip().lower() == "all":
        return 0
    return int_range(1, 10**9)(text)


def _model_type(f: dataclasses.Field, kind: Any) -> Any:
    """The argparse type of a model setting: bool, a bounded number, or the plain type."""
    if kind is bool:
        return _parse_bool
    if kind in (int, float) and f.metadata.get("lo") is not None:
        return (int_range if kind is int else float_range)(f.metadata["lo"], f.metadata["hi"])
    return kind


def build_parser() -> argparse.ArgumentParser:
    """The ``train_cyclegan`` command line. Only flags given on the command line change the
    configuration (which starts from ``--config`` or the defaults), so it is parsed once."""
    d = TrainConfig()
    S = argparse.SUPPRESS
    p = argparse.ArgumentParser(
        description="Train a CycleGAN (and the mask-loss / mask-overlay variants of Nasrullah 2018) "
                    "on an unpaired dataset: photos in DATAROOT/{trainA,trainB}, their subject masks in "
                    "DATAROOT/{trainA,trainB}_masks/NAME.png (made by scripts/prepare_masks.py DATAROOT).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=S,
        epilog=_epilog() + "\n\n" + EXIT_CODES_EPILOG
        + "\n  3    stopped by a non-finite loss (the last good checkpoint is kept)",
    )
    g = p.add_argument_group("run")
    g.add_argument("--dataroot", help="dataset folder with trainA/ and trainB/")
    g.add_argument("--name", help=f"run name; files go to RUNS_DIR/NAME (default {d.name})")
    g.add_argument("--runs-dir", dest="runs_dir", help=f"folder of run directories (default {d.runs_dir})")
    g.add_argument("--config", dest="config_file", metavar="JSON",
                   help="start from a saved runs/NAME/config.json (flags given here override it)")
    g.add_argument("--resume", nargs="?", const="", metavar="CKPT",
                   help="continue the run from its latest checkpoint (or from CKPT)")
    g.add_argument("--max-steps", dest="max_steps", type=_max_steps, metavar="N|all",
                   help="stop after N >= 1 iterations in all, counted over the run (default and 'all': the "
                        "whole schedule); saved in config.json, so give a larger N to continue a stopped run")
    g.add_argument("--seed", type=_bounded("seed"), help=f"random seed (default {d.seed})")
    g.add_argument("--deterministic", type=_parse_bool, metavar="BOOL",
                   help="deterministic algorithms (bitwise repeatable on the CPU; slower on GPU)")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), help=f"(default {d.device})")
    g.add_argument("--quiet", type=_parse_bool, nargs="?", const=True, metavar="BOOL", help="no progress bar")
    add_download_flag(g)

    g = p.add_argument_group("model")
    g.add_argument("--preset", choices=sorted(PRESETS), help=f"model variant (default {d.preset})")
    for f, kind in _model_override_fields():
        choices = f.metadata["choices"] or None
        g.add_argument("--" + f.name.replace("_", "-"), dest="model." + f.name,
                       type=_model_type(f, kind), choices=choices,
                       metavar=None if choices else kind.__name__.upper(),
                       help=f"{f.metadata['help']} ({_model_default_text(f)})")

    g = p.add_argument_group("data and schedule")
    g.add_argument("--load-size", dest="load_size", type=_bounded("load_size"),
                   help=f"resize images to this (shorter side) before cropping (default {d.load_size})")
    g.add_argument("--crop-size", dest="crop_size", type=_bounded("crop_size"),
                   help=f"random square crop, the same for image, mask and depth (default {d.crop_size})")
    g.add_argument("--flip", type=_parse_bool, metavar="BOOL", help="random horizontal flips (default true)")
    g.add_argument("--paper-data", dest="paper_data", action="store_true",
                   help="the paper's data setting exactly: --load-size 256 --crop-size 256 --flip false "
                        "--masks binary (images used as they are: prepare them at 256×256)")
    g.add_argument("--serial-batches", dest="serial_batches", type=_parse_bool, metavar="BOOL",
                   help="pair B images in order instead of at random (default false)")
    g.add_argument("--batch-size", dest="batch_size", type=_bounded("batch_size"),
                   help=f"per process (default {d.batch_size})")
    g.add_argument("--n-epochs", dest="n_epochs", type=_bounded("n_epochs"),
                   help=f"epochs at the initial lr (default {d.n_epochs})")
    g.add_argument("--n-epochs-decay", dest="n_epochs_decay", type=_bounded("n_epochs_decay"),
                   help=f"epochs of linear decay to zero (default {d.n_epochs_decay})")
    g.add_argument("--num-workers", dest="num_workers", type=_bounded("num_workers"),
                   help=f"data loader workers (default {d.num_workers})")

    g = p.add_argument_group("speed")
    g.add_argument("--amp", choices=tuple(AMP_DTYPES), help="mixed precision (fp16 with a gradient scaler)")
    g.add_argument("--channels-last", dest="channels_last", type=_parse_bool, nargs="?", const=True, metavar="BOOL")
    g.add_argument("--compile", type=_parse_bool, nargs="?", const=True, metavar="BOOL",
                   help="torch.compile the networks (the first steps wait minutes for the compiler)")
    g.add_argument("--compile-mode", dest="compile_mode", choices=sorted(COMPILE_MODES),
                   help="torch.compile mode (default 'default'); on a GPU 'reduce-overhead' also replays "
                        "each step as CUDA graphs, the fastest at small batches")

    g = p.add_argument_group("output")
    g.add_argument("--log-every", dest="log_every", type=_bounded("log_every"),
                   help=f"iterations per log line (default {d.log_every})")
    g.add_argument("--save-every", dest="save_every", type=_bounded("save_every"),
                   help="iterations between checkpoints (default 0: at epoch ends only)")
    g.add_argument("--save-every-epochs", dest="save_every_epochs", type=_bounded("save_every_epochs"),
                   help=f"epochs between epoch-end checkpoints (default {d.save_every_epochs})")
    g.add_argument("--keep-last", dest="keep_last", type=_bounded("keep_last"),
                   help=f"checkpoints kept (default {d.keep_last})")
    g.add_argument("--display", choices=("none", "html", "visdom"),
                   help="sample page web/index.html; visdom also plots live (default html)")
    g.add_argument("--display-port", dest="display_port", type=_bounded("display_port"),
                   help=f"visdom port (default {d.display_port})")
    g.add_argument("--display-every", dest="display_every", type=_bounded("display_every"),
                   help=f"iterations between sample displays (default {d.display_every})")
    return p


def _epilog() -> str:
    lines = ["presets (settings on one model class):"]
    for name, settings in PRESETS.items():
        shown = ", ".join(f"{k}={v}" for k, v in settings.items()) or "reference CycleGAN"
        lines.append(f"  {name:<18} {shown}")
    lines += [
        "",
        "examples:",
        "  python scripts/train_cyclegan.py --dataroot dataset --name dof --preset mask_loss_overlay",
        "  python scripts/train_cyclegan.py --dataroot dataset --name dof --amp bf16 --batch-size 4",
        "  python scripts/train_cyclegan.py --dataroot dataset256 --name paper --preset mask_loss_overlay --paper-data",
        "  python scripts/train_cyclegan.py --config runs/dof/config.json --resume",
        "  torchrun --nproc_per_node 4 scripts/train_cyclegan.py --dataroot dataset --name dof",
        "  python scripts/train_cyclegan.py --dataroot demo --name tiny --netG resnet --n-blocks 2 "
        "--ngf 8 --ndf 8 --load-size 72 --crop-size 64 --vgg-weights none --num-workers 0",
    ]
    return "\n".join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> TrainConfig:
    """Command line → TrainConfig (``--config`` first, then the flags given)."""
    parser = build_parser()
    ns = vars(parser.parse_args(argv))
    config_file = ns.pop("config_file", None)
    try:
        cfg = load_config(Path(config_file)) if config_file else TrainConfig()
    except ValueError as exc:
        parser.error(str(exc))
    if ns.pop("paper_data", False):
        _apply_paper_data(ns)
    overrides = dict(cfg.model_overrides)
    for key, value in ns.items():
        if key.startswith("model."):
            overrides[key[len("model."):]] = value
        elif key == "resume":
            cfg.resume, cfg.resume_from = True, value
        else:
            setattr(cfg, key, value)
    cfg.model_overrides = overrides
    if not cfg.dataroot:
        parser.error("--dataroot is required (or --config with a dataroot)")
    try:
        cfg.check()
    except ValueError as exc:
        parser.error(f"{config_file}: {exc}" if config_file else str(exc))
    return cfg


def _apply_paper_data(ns: dict[str, Any]) -> None:
    """Put PAPER_DATA (and its binary masks) into the parsed flags ``ns``; a flag given with
    another value is an error naming it."""
    wanted = {**PAPER_DATA, **{"model." + k: v for k, v in PAPER_DATA_MODEL.items()}}
    def flag(key: str, value: Any) -> str:
        return f"--{key.removeprefix('model.').replace('_', '-')} {value}"

    clashes = [flag(k, ns[k]) for k, v in wanted.items() if k in ns and ns[k] != v]
    if clashes:
        raise SystemExit(f"error: --paper-data fixes {' '.join(flag(k, v) for k, v in wanted.items())}; "
                         f"it cannot be combined with {', '.join(clashes)}")
    ns.update(wanted)


def load_config(path: Path) -> TrainConfig:
    """A saved ``config.json`` as a TrainConfig, strictly: a missing, empty or broken file, an
    unknown key, a value of the wrong type or out of range is one ValueError "PATH: key: problem"."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the config file ({exc})") from None
    if not text.strip():
        raise ValueError(f"{path}: empty config file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    try:
        return TrainConfig.from_dict(data)  # ranges are checked once the flags are applied
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None


# --------------------------------------------------------------------------- random states

def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy (global), torch CPU and CUDA generator states as plain containers/tensors."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of ``capture_rng_state``."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


# --------------------------------------------------------------------------- checkpoints

def lr_lambda_rule(n_epochs: int, n_epochs_decay: int):
    """Multiplier for epoch e (0-based): 1 for e < n_epochs, then linear towards 0 (reference rule)."""
    def rule(epoch: int) -> float:
        return 1.0 - max(0, epoch + 1 - n_epochs) / float(n_epochs_decay + 1)
    return rule


def make_schedulers(model: CycleGANModel, cfg: TrainConfig) -> list[torch.optim.lr_scheduler.LambdaLR]:
    rule = lr_lambda_rule(cfg.n_epochs, cfg.n_epochs_decay)
    return [torch.optim.lr_scheduler.LambdaLR(opt, rule) for opt in (model.optimizer_G, model.optimizer_D)]


def checkpoint_path(run_dir: Path, iteration: int) -> Path:
    return run_dir / "checkpoints" / f"ckpt_{iteration:08d}.pt"


def checkpoint_iteration(path: Path) -> int:
    """The iteration a checkpoint was saved at, from its name (``checkpoint_path``'s inverse)."""
    return int(Path(path).stem.removeprefix("ckpt_"))


def save_checkpoint(path: Path, *, cfg: TrainConfig, model_cfg: ModelConfig, model: CycleGANModel,
                    schedulers: Sequence[torch.optim.lr_scheduler.LRScheduler], epoch: int, epoch_iter: int,
                    iteration: int, world_size: int, rank_states: Optional[list[dict[str, Any]]] = None) -> None:
    """Write a full training snapshot atomically (temp file + rename). ``rank_states``: every
    process's own image pools and RNG states under DDP (``gather_rank_states``); the snapshot's
    ``model`` pools and ``rng`` are rank 0's."""
    state = {
        "format": CHECKPOINT_FORMAT,
        "config": {"model": asdict(model_cfg), "train": asdict(cfg)},
        "model": model.state_dict(),
        "schedulers": [s.state_dict() for s in schedulers],
        "epoch": epoch,
        "epoch_iter": epoch_iter,
        "iter": iteration,
        "world_size": world_size,
        "rng": capture_rng_state(),
    }
    if rank_states is not None:
        state["rank_states"] = rank_states
    with io.atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a training checkpoint (``weights_only=True``); CheckpointError names the problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__}: {str(e)[:200]})") from e
    missing = [k for k in ("config", "model", "schedulers", "epoch", "iter", "rng") if k not in ckpt] \
        if isinstance(ckpt, dict) else ["everything"]
    if missing:
        raise CheckpointError(f"{path}: not a shallowdof training checkpoint (missing {', '.join(missing)})")
    return ckpt


def check_architecture(path: Path, saved: dict[str, Any], wanted: ModelConfig) -> None:
    """Raise CheckpointError when the checkpoint's networks differ in shape from ``wanted``."""
    now = asdict(wanted)
    diffs = [f"{k}={saved[k]!r} in the checkpoint but {now[k]!r} here"
             for k in ARCHITECTURE_FIELDS if k in saved and k in now and saved[k] != now[k]]
    if diffs:
        raise CheckpointError(f"{path}: checkpoint from another architecture: " + "; ".join(diffs))
    changed = [f"{k}: {saved[k]!r} -> {now[k]!r}" for k in sorted(set(saved) & set(now))
               if k not in ARCHITECTURE_FIELDS and saved[k] != now[k]]
    if changed:
        log.warning("%s: continuing with changed model settings (%s)", path, ", ".join(changed))


def check_resumable(path: Path, ckpt: dict[str, Any], cfg: TrainConfig) -> None:
    """CheckpointError when resuming ``ckpt`` with ``cfg`` would not continue that run: another
    preset (its checkpoints would mix with the new one's), or nothing left to train because the
    run already reached ``max_steps`` (kept from the first run's config.json)."""
    saved_preset = ckpt["config"]["model"].get("preset")
    if saved_preset is not None and saved_preset != cfg.preset:
        raise CheckpointError(
            f"{path}: this run was trained with preset {saved_preset!r}, not {cfg.preset!r}; resume it "
            f"without --preset, or train {cfg.preset!r} as a new run with another --name")
    if cfg.max_steps and int(ckpt["iter"]) >= cfg.max_steps:
        raise CheckpointError(
            f"{path}: the run already reached max_steps={cfg.max_steps} (iteration {int(ckpt['iter'])}, "
            f"saved in its config.json); to continue, pass a larger --max-steps N or --max-steps all")


def _prune_checkpoints(run_dir: Path, keep: int) -> None:
    for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)


# --------------------------------------------------------------------------- distributed

@dataclass
class _Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _init_distributed(device: torch.device) -> _Dist:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; NCCL on GPU, gloo on CPU. On a GPU the process's
    current device becomes its own (cuda:LOCAL_RANK) first: NCCL's object collectives (the
    checkpoints' ``gather_object``) run on the current device, which is cuda:0 otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    import torch.distributed as dist
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return _Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def _mean_over_ranks(values: dict[str, float], d: _Dist, device: torch.device) -> dict[str, float]:
    """Average logged losses over all processes (every rank calls this at the same iterations)."""
    if not d.enabled:
        return values
    import torch.distributed as dist
    names = sorted(values)
    t = torch.tensor([values[k] for k in names], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return {k: float(v) / d.world_size for k, v in zip(names, t.tolist())}


def gather_rank_states(model: CycleGANModel, d: _Dist) -> Optional[list[dict[str, Any]]]:
    """Under DDP, every process's image pools and RNG states (they differ: each process sees other
    images), gathered on rank 0 for the checkpoint; None on other ranks and without DDP. Every
    rank must call it at the same point."""
    if not d.enabled:
        return None
    import torch.distributed as dist
    mine = {"rng": capture_rng_state(), "fake_A_pool": model.fake_A_pool.state_dict(),
            "fake_B_pool": model.fake_B_pool.state_dict()}
    gathered: Optional[list[Any]] = [None] * d.world_size if d.is_main else None
    dist.gather_object(mine, gathered, dst=0)
    return gathered


def _own_rank_state(ckpt: dict[str, Any], model: CycleGANModel, d: _Dist, device: torch.device) -> dict[str, Any]:
    """This process's RNG state from a checkpoint, its image pools loaded into ``model``: its own
    when the checkpoint holds one per process of the same world size, else rank 0's (which
    ``model.load_state_dict`` has already put in place)."""
    rank_states = ckpt.get("rank_states")
    if rank_states is not None and len(rank_states) == d.world_size:
        own = rank_states[d.rank]
        model.fake_A_pool.load_state_dict(own["fake_A_pool"], device)
        model.fake_B_pool.load_state_dict(own["fake_B_pool"], device)
        return own["rng"]
    return ckpt["rng"]


def world_size_change(ckpt: dict[str, Any], world_size: int) -> Optional[str]:
    """What resuming ``ckpt`` with another number of processes than it was saved with changes
    against an uninterrupted run, in one sentence; None when the number is the same."""
    saved = int(ckpt.get("world_size", 1))
    if saved == world_size:
        return None
    changes = ["every process continues from rank 0's image pools and random state"]
    if ckpt.get("epoch_iter", 0):
        changes.append(f"the rest of epoch {int(ckpt['epoch'])} gets other batches")
    return f"saved with {saved} processes, resumed with {world_size}: " + " and ".join(changes)


def _any_rank(flag: bool, d: _Dist, device: torch.device) -> bool:
    if not d.enabled:
        return flag
    import torch.distributed as dist
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


# --------------------------------------------------------------------------- data

def build_dataset(cfg: TrainConfig, model_cfg: ModelConfig, progress: bool = True) -> UnalignedDataset:
    """The unaligned training set. Its header scan raises ``DatasetError`` before any training on
    bad input: missing or empty domain folders, missing masks when the preset needs them, images
    smaller than the crop, missing or mismatched depth maps, corrupt or truncated files."""
    return UnalignedDataset(cfg.dataroot, phase="train", load_size=cfg.load_size, crop_size=cfg.crop_size,
                            flip=cfg.flip, serial_batches=cfg.serial_batches, seed=cfg.seed,
                            use_depth=model_cfg.use_depth, require_masks=model_cfg.uses_masks, progress=progress)


# --------------------------------------------------------------------------- training

def _pick_device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no CUDA device")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _set_determinism(cfg: TrainConfig) -> None:
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True


def _wrap_fn(cfg: TrainConfig, d: _Dist, device: torch.device):
    def wrap(net: torch.nn.Module) -> torch.nn.Module:
        if d.enabled:
            from torch.nn.parallel import DistributedDataParallel
            net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
        if cfg.compile:
            net = compile_network(net, cfg.compile_mode)
        return net
    return wrap


def train(cfg: TrainConfig) -> TrainResult:
    """Train (or, with ``cfg.resume``, continue) the run ``cfg.runs_dir/cfg.name``.

    Raises NonFiniteLossError (no checkpoint written for the bad step), CheckpointError, and the
    dataset's errors for bad input before the first step.
    """
    cfg.check()
    device = _pick_device(cfg)
    d = _init_distributed(device)
    try:
        return _train(cfg, d, device)
    finally:
        if d.enabled:
            import torch.distributed as dist
            dist.destroy_process_group()


def _train(cfg: TrainConfig, d: _Dist, device: torch.device) -> TrainResult:
    model_cfg = cfg.model_config()
    run_dir = cfg.run_dir
    _set_determinism(cfg)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)

    dataset = build_dataset(cfg, model_cfg, progress=d.is_main and not cfg.quiet)
    sampler = DistributedSampler(dataset, num_replicas=d.world_size, rank=d.rank, shuffle=True, seed=cfg.seed)
    iters_per_epoch = math.ceil(len(sampler) / cfg.batch_size)
    total_epochs = cfg.n_epochs + cfg.n_epochs_decay

    ckpt: Optional[dict[str, Any]] = None
    ckpt_path: Optional[Path] = None
    if cfg.resume:
        ckpt_path = Path(cfg.resume_from) if cfg.resume_from else (list_checkpoints(run_dir) or [None])[-1]
        if ckpt_path is None:
            raise CheckpointError(f"{run_dir / 'checkpoints'}: --resume given but the run has no checkpoint")
        ckpt = load_checkpoint(ckpt_path)
        check_resumable(ckpt_path, ckpt, cfg)
        check_architecture(ckpt_path, ckpt["config"]["model"], model_cfg)
    elif list_checkpoints(run_dir):
        raise FileExistsError(f"{run_dir}: the run already has checkpoints; pass --resume to continue it "
                              "or choose another --name")

    model = CycleGANModel(model_cfg, device, seed=cfg.seed)
    schedulers = make_schedulers(model, cfg)
    epoch, epoch_iter, iteration = 0, 0, 0
    if ckpt is not None:
        try:
            model.load_state_dict(ckpt["model"])
        except (RuntimeError, KeyError, ValueError) as e:
            raise CheckpointError(f"{ckpt_path}: does not fit this model: {str(e)[:300]}") from e
        for s, state in zip(schedulers, ckpt["schedulers"]):
            s.load_state_dict(state)
        epoch, epoch_iter, iteration = int(ckpt["epoch"]), int(ckpt.get("epoch_iter", 0)), int(ckpt["iter"])
        if d.is_main:
            log.info("resuming %s at epoch %d, iteration %d", ckpt_path, epoch, iteration)
            change = world_size_change(ckpt, d.world_size)
            if change:
                log.warning("%s: %s", ckpt_path, change)
    model.wrap_networks(_wrap_fn(cfg, d, device))
    model.train()

    display: display_mod.Display = display_mod.NoDisplay()
    if d.is_main:
        # first the display: a visdom server that does not answer stops the run before anything is written
        display = display_mod.make_display(cfg.display, run_dir, cfg.name, cfg.display_port, cfg.display_keep)
        run_dir.mkdir(parents=True, exist_ok=True)
        for stale in (run_dir / "checkpoints").glob(".ckpt_*"):  # left by a write that was killed
            stale.unlink(missing_ok=True)
        # the run's settings; resume/resume_from say how this process started, not what the run is
        io.write_json(run_dir / "config.json", asdict(dataclasses.replace(cfg, resume=False, resume_from="")))
    if ckpt is not None:
        restore_rng_state(_own_rank_state(ckpt, model, d, device))
        ckpt = None

    last_saved: Optional[Path] = ckpt_path
    saved_at = iteration if ckpt_path is not None else -1

    def save(ep: int, ep_iter: int) -> None:
        nonlocal last_saved, saved_at
        if saved_at == iteration:
            return
        saved_at = iteration
        rank_states = gather_rank_states(model, d)
        if not d.is_main:
            return
        path = checkpoint_path(run_dir, iteration)
        save_checkpoint(path, cfg=cfg, model_cfg=model_cfg, model=model, schedulers=schedulers, epoch=ep,
                        epoch_iter=ep_iter, iteration=iteration, world_size=d.world_size, rank_states=rank_states)
        _prune_checkpoints(run_dir, cfg.keep_last)
        if (run_dir / "log.jsonl").exists():
            display_mod.plot_loss_curves(run_dir / "log.jsonl", run_dir / "loss_curves.png")
        last_saved = path

    images_per_iter = cfg.batch_size * d.world_size
    cuda_graphs = cfg.compile and replays_cuda_graphs(cfg.compile_mode, device)
    window: dict[str, float] = {}
    window_n, window_data_time, window_start = 0, 0.0, time.perf_counter()
    stop = bool(cfg.max_steps) and iteration >= cfg.max_steps
    progress = None
    if d.is_main and not cfg.quiet:
        from tqdm import tqdm
        total = min(total_epochs * iters_per_epoch, cfg.max_steps or 10**12)
        progress = tqdm(total=total, initial=min(iteration, total), unit="it", desc=cfg.name, dynamic_ncols=True)

    def log_window() -> None:
        """Append the mean losses since the last record to log.jsonl (and the live display)."""
        nonlocal window, window_n, window_data_time, window_start
        elapsed = time.perf_counter() - window_start
        mean = _mean_over_ranks({k: v / window_n for k, v in window.items()}, d, device)
        if d.is_main:
            frac = epoch + epoch_iter / iters_per_epoch
            io.append_jsonl(run_dir / "log.jsonl", {
                "epoch": epoch, "iter": iteration, "step": iteration, "epoch_iter": epoch_iter,
                "progress": round(frac, 6), "lr": schedulers[0].get_last_lr()[0],
                "it_per_s": window_n / elapsed, "data_time_s": window_data_time / window_n,
                "sec_per_kimg": elapsed / (window_n * images_per_iter) * 1000,
                "peak_mem_mb": _peak_memory_mb(device), "world_size": d.world_size, "time": time.time(),
                **mean,
            })
            display.plot_losses(frac, mean)
            if progress is not None:
                progress.set_postfix({k: f"{v:.3f}" for k, v in sorted(mean.items())}, refresh=False)
        window, window_n, window_data_time, window_start = {}, 0, 0.0, time.perf_counter()

    shown_at = iteration
    while epoch < total_epochs and not stop:
        sampler.set_epoch(epoch)
        dataset.set_epoch(epoch)  # before the iterator exists: workers copy the dataset
        indices = list(sampler)[epoch_iter * cfg.batch_size:]
        loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=indices, num_workers=cfg.num_workers,
                            pin_memory=device.type == "cuda", drop_last=False,
                            generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch))
        t_data = time.perf_counter()
        for batch in loader:
            window_data_time += time.perf_counter() - t_data
            model.set_input(batch)
            if cuda_graphs:  # a new step: the previous step's graph outputs may be overwritten
                torch.compiler.cudagraph_mark_step_begin()
            model.optimize_parameters()
            iteration += 1
            epoch_iter += 1
            losses = model.get_current_losses()
            bad = [k for k, v in losses.items() if not math.isfinite(v)]
            if _any_rank(bool(bad), d, device):
                where = f"iteration {iteration} (epoch {epoch})"
                what = ", ".join(f"{k}={losses[k]}" for k in bad) if bad else "a loss on another process"
                keep = f"the last good checkpoint is {last_saved}" if last_saved else "no checkpoint was written yet"
                raise NonFiniteLossError(f"non-finite loss {what} at {where}; training stopped, {keep}")
            for k, v in losses.items():
                window[k] = window.get(k, 0.0) + v
            window_n += 1
            if progress is not None:
                progress.update(1)
            if iteration % cfg.log_every == 0:
                log_window()
            if d.is_main and cfg.display_every and iteration % cfg.display_every == 0:
                display.show_visuals(iteration, epoch, model.get_current_visuals())
                shown_at = iteration
            if cfg.max_steps and iteration >= cfg.max_steps:
                stop = True
                break
            if cfg.save_every and iteration % cfg.save_every == 0 and epoch_iter < iters_per_epoch:
                save(epoch, epoch_iter)  # at an epoch's last batch: saved below, after the schedulers step
            t_data = time.perf_counter()
        if stop and epoch_iter < iters_per_epoch:
            break
        for s in schedulers:
            s.step()
        epoch, epoch_iter = epoch + 1, 0
        if (cfg.save_every_epochs and epoch % cfg.save_every_epochs == 0) or \
                (cfg.save_every and iteration % cfg.save_every == 0):
            save(epoch, 0)
    if window_n:  # the steps since the last record: a run shorter than --log-every still leaves one
        log_window()
    if d.is_main and cfg.display_every and shown_at != iteration:  # a short run still gets a sample page
        display.show_visuals(iteration, epoch, model.get_current_visuals())
    if progress is not None:
        progress.close()
    save(epoch, epoch_iter)
    if d.is_main and (run_dir / "log.jsonl").exists():
        display_mod.plot_loss_curves(run_dir / "log.jsonl", run_dir / "loss_curves.png")
    return TrainResult(run_dir, model, epoch, iteration, last_saved)
