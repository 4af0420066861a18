"""Checkpoints of the CycleGAN: the one module that writes, reads, finds and checks them.

A checkpoint is a dict of plain containers and tensors, so ``torch.load(weights_only=True)``
reads it: ``format`` (:data:`CHECKPOINT_FORMAT`, ``"shallowdof.cyclegan.train/1"``), ``config``
(``{"model": ModelConfig dict, "train": TrainConfig dict}``) and ``model``
(``CycleGANModel.state_dict()``); a training run adds what continues it exactly
(:data:`TRAINING_KEYS`: schedulers, epoch, position in the epoch, iteration, world size, RNG
states; under DDP every process's pools and RNG states, see :mod:`gan.train`). Files are
written and read through :mod:`plumbing.checkpoint` (atomic, ``weights_only``, a checked tag).

The format tag is checked on every read: a file without one, a tag of another program or a
version this code does not know is one :class:`CheckpointError` naming the file and the tag.
Every checkpoint ``train_cyclegan`` has written carries ``shallowdof.cyclegan.train/1``. The
demo's networks-only file (:func:`save_weights`) is ``shallowdof.cyclegan.networks/1``, read
under its earlier tag ``shallowdof-demo-gan-1`` too (the shipped ``scripts/demo_gan.pt``). A plain
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

from gan.model import ModelConfig
from plumbing import files
from plumbing.checkpoint import CheckpointError, CheckpointFormat, load_tagged, read_file, save_tagged

log = logging.getLogger(__name__)

#: A training checkpoint: every one train_cyclegan has written carries this tag.
TRAINING = CheckpointFormat("shallowdof.cyclegan.train", "CycleGAN checkpoint", "train_cyclegan")
CHECKPOINT_FORMAT = TRAINING.tag
CHECKPOINT_DIR = "checkpoints"
#: A networks-only file (the demo's shipped start): the four networks in fp16, no training state.
NETWORKS_ONLY = CheckpointFormat("shallowdof.cyclegan.networks", "networks-only CycleGAN file",
                                 "demo --make-checkpoint", old_names=("shallowdof-demo-gan",))
WEIGHTS_FORMAT = NETWORKS_ONLY.tag
NETWORKS = ("netG_A", "netG_B", "netD_A", "netD_B")
# what every checkpoint holds, and what a training checkpoint holds besides
MODEL_KEYS = ("config", "model")
TRAINING_KEYS = (*MODEL_KEYS, "schedulers", "epoch", "iter", "rng")
# ModelConfig fields that change the networks' shapes: a checkpoint must agree on these.
ARCHITECTURE_FIELDS = ("input_nc", "output_nc", "ngf", "ndf", "netG", "n_blocks", "n_layers_D", "norm",
                       "upsample", "full_res_head", "use_depth")


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
    """Write ``state`` with the training format tag, atomically (temporary file + rename; the
    folder is made if needed)."""
    save_tagged(path, TRAINING, state)


def check_checkpoint(obj: dict[str, Any], path: str | os.PathLike,
                     required: Sequence[str] = MODEL_KEYS) -> dict[str, Any]:
    """``obj`` (read by :func:`read_file`) after checking its format tag and that it holds the
    ``required`` keys."""
    TRAINING.version_of(obj.get("format"), path)
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
    state = {"model": model_config, "trained_on": trained_on,
             "nets": {name: {k: v.detach().to(torch.float16) for k, v in nets[name].items()} for name in NETWORKS}}
    save_tagged(path, NETWORKS_ONLY, state)


def load_weights(path: str | os.PathLike) -> dict[str, Any]:
    """Read a networks-only file of :func:`save_weights` (``weights_only=True``); a missing or
    unreadable file or another format is one CheckpointError."""
    obj = load_tagged(path, NETWORKS_ONLY)
    if not isinstance(obj.get("nets"), dict):
        raise CheckpointError(f"{path}: not a networks-only CycleGAN file (no 'nets' inside)")
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
