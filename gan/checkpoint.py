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

Programs that translate (test_cyclegan, compare, export_onnx, the app) read a generator from every
kind of file the project writes through :func:`read_generator`: a training checkpoint, a
networks-only file (:func:`save_weights`, e.g. the shipped ``scripts/demo_gan.pt``) or, with its
architecture given, a plain state dict.

A run folder keeps its files in ``RUN/checkpoints/ckpt_ITER.pt`` (:func:`checkpoint_path`);
the latest is the one with the highest iteration (:func:`latest_checkpoint`).
"""
from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
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
                       "norm_D", "netD_input", "upsample", "full_res_head", "output_gate", "use_depth")


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
    """Delete the temporary files a killed checkpoint write left in ``RUN/checkpoints`` (those of a
    process that is gone: plumbing.files.remove_stale_temporaries)."""
    files.remove_stale_temporaries(Path(run_dir) / CHECKPOINT_DIR)


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
    random states) atomically: what scripts/demo.py ships and continues. ``trained_on``'s
    ``scene_size`` and ``crop`` (the training images' side and the crop taken from them) tell
    inference the scale the generator was trained at."""
    state = {"model": model_config, "trained_on": trained_on,
             "nets": {name: {k: v.detach().to(torch.float16) for k, v in nets[name].items()} for name in NETWORKS}}
    save_tagged(path, NETWORKS_ONLY, state)


def load_weights(path: str | os.PathLike) -> dict[str, Any]:
    """Read a networks-only file of :func:`save_weights` (``weights_only=True``); a missing or
    unreadable file or another format is one CheckpointError."""
    return _check_nets(load_tagged(path, NETWORKS_ONLY), path)


def _check_nets(obj: dict[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    """``obj`` after checking that it holds all four networks (a networks-only file's tag checked before)."""
    if not isinstance(obj.get("nets"), dict):
        raise CheckpointError(f"{path}: not a networks-only CycleGAN file (no 'nets' inside)")
    missing = [n for n in NETWORKS if n not in obj["nets"]]
    if missing:
        raise CheckpointError(f"{path}: networks-only file without {', '.join(missing)}")
    return obj


# --------------------------------------------------------------------------- one generator, any file

GENERATOR_KEYS = {"AtoB": "netG_A", "BtoA": "netG_B"}  # translation direction -> the network that does it
READABLE = (f"{CHECKPOINT_FORMAT} (train_cyclegan) and {WEIGHTS_FORMAT} (networks only, e.g. scripts/demo_gan.pt) "
            "files, or a plain reference-layout generator state dict with its architecture given")


def _is_networks_only(tag: Any, path: Path) -> bool:
    try:
        NETWORKS_ONLY.version_of(tag, path)
    except CheckpointError:
        return False
    return tag is not None


@dataclass(frozen=True)
class GeneratorWeights:
    """One generator's weights as stored, with what is known about it.

    ``kind`` says which file it came from ("training checkpoint", "networks-only file" or "state
    dict"); ``state`` is its state dict in float32; ``trained_sizes`` the (load, crop) sizes of
    training when the file records them."""

    path: Path
    kind: str
    config: ModelConfig
    state: dict[str, torch.Tensor]
    trained_sizes: Optional[tuple[int, int]]


def _model_config(path: Path, d: Any) -> ModelConfig:
    try:
        return ModelConfig.from_dict(model_config_dict(d))
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: bad model config in checkpoint ({exc})") from None


def _sizes(d: Any, load_key: str, crop_key: str) -> Optional[tuple[int, int]]:
    """(load, crop) from ``d[load_key]``, ``d[crop_key]`` when both are whole numbers, else None."""
    if isinstance(d, dict) and all(isinstance(d.get(k), int) for k in (load_key, crop_key)):
        return int(d[load_key]), int(d[crop_key])
    return None


def read_generator(path: str | os.PathLike, direction: str = "AtoB",
                   config: Optional[ModelConfig] = None) -> GeneratorWeights:
    """G_A (``AtoB``) or G_B (``BtoA``) from any file the project writes, or a run folder's latest
    checkpoint: a training checkpoint (tag checked; its model config and training sizes), a
    networks-only file (fp16 weights made float32), or a plain reference-layout state dict when
    ``config`` gives its architecture. A ``config`` given for a file that holds its own must
    equal it. Every problem is one CheckpointError naming the file."""
    if direction not in GENERATOR_KEYS:
        raise ValueError(f"direction must be one of {tuple(GENERATOR_KEYS)}, got {direction!r}")
    path = resolve_checkpoint(path)
    obj = read_file(path)
    net_key, tag = GENERATOR_KEYS[direction], obj.get("format")
    if _is_networks_only(tag, path):
        _check_nets(obj, path)
        kind, cfg, state = "networks-only file", _model_config(path, obj.get("model")), obj["nets"][net_key]
        sizes = _sizes(obj.get("trained_on"), "scene_size", "crop")
    elif tag is not None or "config" in obj:
        if tag is not None and not str(tag).startswith(f"{TRAINING.name}/"):
            raise CheckpointError(f"{path}: not a CycleGAN checkpoint (format {tag!r}; programs that translate read "
                                  f"{READABLE})")
        check_checkpoint(obj, path)
        kind, cfg = "training checkpoint", _model_config(path, obj["config"])
        if not isinstance(obj["model"], dict) or net_key not in obj["model"]:
            raise CheckpointError(f"{path}: checkpoint has no {net_key} weights")
        state = obj["model"][net_key]
        sizes = _sizes(obj["config"].get("train") if isinstance(obj["config"], dict) else None,
                       "load_size", "crop_size")
    elif config is None:
        raise CheckpointError(f"{path}: no format tag and no 'config' in this file; programs that translate read "
                              f"{READABLE}")
    else:
        kind, cfg, state, sizes = "state dict", config, obj, None
    if config is not None and config != cfg:
        raise CheckpointError(f"{path}: holds its own model config, which differs from the one given")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: the {net_key} weights are not a state dict of tensors")
    return GeneratorWeights(path, kind, cfg, {k: v.float() if v.is_floating_point() else v for k, v in state.items()},
                            sizes)


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
