"""Checkpoints of the CycleGAN: the one module that writes, reads, finds and checks them.

A checkpoint is a dict of plain containers and tensors, so ``torch.load(weights_only=True)``
reads it: ``format`` (:data:`CHECKPOINT_FORMAT`, ``"shallowdof.cyclegan.train/1"``), ``config``
(``{"model": ModelConfig dict, "train": TrainConfig dict}``) and ``model``
(``CycleGANModel.state_dict()``); a training run adds what continues it exactly
(:data:`TRAINING_KEYS`: schedulers, epoch, position in the epoch, iteration, world size, RNG
states; under DDP every process's pools and RNG states, see :mod:`gan.train`). Files are
written atomically.

The format tag is checked on every read: a file without one, a tag of another program or a
version this code does not know is one :class:`CheckpointError` naming the file and the tag.
Every checkpoint ``train_cyclegan`` has written carries ``shallowdof.cyclegan.train/1``. A plain
generator state dict in the reference code's layout is not a checkpoint of ours: ``gan.infer``
reads one only when told its architecture (:func:`read_file`).

A run folder keeps its files in ``RUN/checkpoints/ckpt_ITER.pt`` (:func:`checkpoint_path`);
the latest is the one with the highest iteration (:func:`latest_checkpoint`).
"""
from __future__ import annotations

import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

from plumbing import files
from plumbing.files import atomic_path
from gan.model import ModelConfig

log = logging.getLogger(__name__)

FORMAT_NAME = "shallowdof.cyclegan.train"
FORMAT_VERSION = 1
CHECKPOINT_FORMAT = f"{FORMAT_NAME}/{FORMAT_VERSION}"
KNOWN_VERSIONS = (1,)
CHECKPOINT_DIR = "checkpoints"
# a networks-only file (scripts/demo.py's shipped start): the four networks in fp16, no training state
WEIGHTS_FORMAT = "shallowdof-demo-gan-1"
NETWORKS = ("netG_A", "netG_B", "netD_A", "netD_B")
# what every checkpoint holds, and what a training checkpoint holds besides
MODEL_KEYS = ("config", "model")
TRAINING_KEYS = (*MODEL_KEYS, "schedulers", "epoch", "iter", "rng")
# ModelConfig fields that change the networks' shapes: a checkpoint must agree on these.
ARCHITECTURE_FIELDS = ("input_nc", "output_nc", "ngf", "ndf", "netG", "n_blocks", "n_layers_D", "norm",
                       "upsample", "full_res_head", "use_depth")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (missing, unreadable, of another format or architecture);
    the message names the file and the problem."""


# --------------------------------------------------------------------------- files of a run

def checkpoint_path(run_dir: str | os.PathLike, iteration: int) -> Path:
    """``RUN/checkpoints/ckpt_ITER.pt``, the file saved after ``iteration`` steps."""
    return Path(run_dir) / CHECKPOINT_DIR / f"ckpt_{iteration:08d}.pt"


def checkpoint_iteration(path: str | os.PathLike) -> int:
    """The iteration a checkpoint was saved at, from its name (:func:`checkpoint_path`'s inverse)."""
    return int(Path(path).stem.removeprefix("ckpt_"))


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """A run's checkpoints (``RUN/checkpoints/ckpt_*.pt``), oldest first; the temporary files of
    an interrupted write are not among them."""
    return sorted((Path(run_dir) / CHECKPOINT_DIR).glob("ckpt_*.pt"))


def latest_checkpoint(run_dir: str | os.PathLike) -> Optional[Path]:
    """The run's newest checkpoint (the one it resumes from), or None when it has none."""
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint file as given, or the latest checkpoint of a run folder (RUN or RUN/checkpoints)."""
    path = Path(path)
    if not path.is_dir():
        return path
    latest = latest_checkpoint(path.parent if path.name == CHECKPOINT_DIR else path)
    if latest is None:
        raise CheckpointError(f"{path}: a directory without checkpoints (ckpt_*.pt); give a run directory or a "
                              ".pt file")
    return latest


def prune_checkpoints(run_dir: str | os.PathLike, keep: int) -> None:
    """Delete all but the ``keep`` newest checkpoints of a run."""
    for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)


def remove_stale_temporaries(run_dir: str | os.PathLike) -> None:
    """Delete the temporary files a killed checkpoint write left in ``RUN/checkpoints``."""
    files.remove_stale_temporaries(Path(run_dir) / CHECKPOINT_DIR, lambda target: target.startswith("ckpt_"))


# --------------------------------------------------------------------------- writing and reading

def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` with the current format tag, atomically (temporary file + rename; the
    folder is made if needed)."""
    with atomic_path(path) as tmp:
        torch.save({"format": CHECKPOINT_FORMAT, **state}, tmp)


def read_file(path: str | os.PathLike) -> dict[str, Any]:
    """The dict stored in ``path`` (``torch.load(weights_only=True)``, on the CPU), unchecked: a
    checkpoint of ours or a plain state dict. Missing, unreadable or not a dict: CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many types for a bad file  # noqa: BLE001
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {first})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: not a checkpoint (found {type(obj).__name__}, expected a dict)")
    return obj


def check_format(tag: Any, path: str | os.PathLike) -> int:
    """The version of a checkpoint's format ``tag``; no tag, a tag of another program or an
    unknown version is a CheckpointError."""
    if tag is None:
        raise CheckpointError(f"{path}: no format tag, so not a checkpoint train_cyclegan wrote "
                              f"(it reads {CHECKPOINT_FORMAT})")
    name, sep, version = str(tag).rpartition("/")
    if not sep or name != FORMAT_NAME:
        raise CheckpointError(f"{path}: not a CycleGAN checkpoint (format {tag!r}; this code reads "
                              f"{CHECKPOINT_FORMAT})")
    if not version.isdigit() or int(version) not in KNOWN_VERSIONS:
        raise CheckpointError(f"{path}: checkpoint format {tag!r} is not one this version of shallowdof reads "
                              f"(it reads {', '.join(f'{FORMAT_NAME}/{v}' for v in KNOWN_VERSIONS)})")
    return int(version)


def check_checkpoint(obj: dict[str, Any], path: str | os.PathLike,
                     required: Sequence[str] = MODEL_KEYS) -> dict[str, Any]:
    """``obj`` after checking its format tag and that it holds the ``required`` keys."""
    check_format(obj.get("format"), path)
    missing = [k for k in required if k not in obj]
    if missing:
        raise CheckpointError(f"{path}: not a complete CycleGAN checkpoint (missing {', '.join(missing)})")
    return obj


def load_checkpoint(path: str | os.PathLike, required: Sequence[str] = MODEL_KEYS) -> dict[str, Any]:
    """Read a checkpoint of ours (``weights_only=True``) and check its format tag and keys
    (``TRAINING_KEYS`` to continue a run); every problem is one CheckpointError."""
    return check_checkpoint(read_file(path), path, required)


def save_weights(path: str | os.PathLike, nets: dict[str, dict[str, torch.Tensor]],
                 model_config: dict[str, Any], trained_on: dict[str, Any]) -> None:
    """Write a networks-only file (:data:`WEIGHTS_FORMAT`: the four networks' state dicts in
    fp16, the model settings and what they were trained on; no optimiser moments, pools or
    random states) atomically: what scripts/demo.py ships and continues."""
    state = {"format": WEIGHTS_FORMAT, "model": model_config, "trained_on": trained_on,
             "nets": {name: {k: v.detach().to(torch.float16) for k, v in nets[name].items()} for name in NETWORKS}}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_weights(path: str | os.PathLike) -> dict[str, Any]:
    """Read a networks-only file of :func:`save_weights` (``weights_only=True``); a missing or
    unreadable file or another format is one CheckpointError."""
    obj = read_file(path)
    if obj.get("format") != WEIGHTS_FORMAT or not isinstance(obj.get("nets"), dict):
        raise CheckpointError(f"{path}: not a networks-only CycleGAN file (format {obj.get('format')!r}; "
                              f"this code reads {WEIGHTS_FORMAT!r})")
    missing = [n for n in NETWORKS if n not in obj["nets"]]
    if missing:
        raise CheckpointError(f"{path}: networks-only file without {', '.join(missing)}")
    return obj


# --------------------------------------------------------------------------- contents

def model_config_dict(config: dict[str, Any]) -> dict[str, Any]:
    """The ModelConfig part of a checkpoint's ``config``: gan.train nests it as
    ``{"model": ..., "train": ...}``; a bare ModelConfig dict is taken as it is."""
    config = dict(config)
    return dict(config["model"]) if isinstance(config.get("model"), dict) else config


def check_architecture(path: str | os.PathLike, saved: dict[str, Any], wanted: ModelConfig) -> None:
    """CheckpointError when the checkpoint's networks (ModelConfig dict ``saved``) differ in
    shape from ``wanted``; other changed settings are logged as a warning."""
    now = asdict(wanted)
    diffs = [f"{k}={saved[k]!r} in the checkpoint but {now[k]!r} here"
             for k in ARCHITECTURE_FIELDS if k in saved and k in now and saved[k] != now[k]]
    if diffs:
        raise CheckpointError(f"{path}: checkpoint from another architecture: " + "; ".join(diffs))
    changed = [f"{k}: {saved[k]!r} -> {now[k]!r}" for k in sorted(set(saved) & set(now))
               if k not in ARCHITECTURE_FIELDS and saved[k] != now[k]]
    if changed:
        log.warning("%s: continuing with changed model settings (%s)", path, ", ".join(changed))
