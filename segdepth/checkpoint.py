"""Checkpoints of the segdepth networks: the one module that writes, reads and checks them.

A checkpoint is a dict of plain containers and tensors, so ``torch.load(weights_only=True)``
reads it: ``format`` (:data:`CHECKPOINT_FORMAT`, ``"shallowdof.segdepth.train/1"``), ``arch`` (the
registry name), ``arch_kwargs`` (the constructor options) and ``model`` (the state dict); a
training run adds ``task``, ``optimizer``, ``scheduler``, ``config``, ``val`` and its epoch
counters (see :mod:`segdepth.train`). Files are written and read through
:mod:`plumbing.checkpoint` (atomic, ``weights_only``, a checked tag).

The format tag is checked on every read: a tag of another program or a version this code does
not know is one :class:`WeightsError` naming the file and the tag. Files tagged with the earlier
spelling ``shallowdof-segdepth/1`` are the same format. A checkpoint without a tag (a bare state
dict, or a dict written by hand before tags were checked) is read as version 1, the only version
so far, and the log says so.

A run folder keeps its files in ``RUN/checkpoints/``: ``last.pt`` after every epoch (the one
a run resumes from, :func:`latest_checkpoint`) and ``best.pt`` at the best validation score.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from plumbing.checkpoint import CheckpointError, CheckpointFormat, read_file, save_tagged

#: A segdepth network's checkpoint; files were written without a tag before tags were checked.
TRAINING = CheckpointFormat("shallowdof.segdepth.train", "segdepth checkpoint", "train_segmentation / train_depth",
                            untagged=1, old_names=("shallowdof-segdepth",))
CHECKPOINT_FORMAT = TRAINING.tag
CHECKPOINT_DIR = "checkpoints"
LAST, BEST = "last.pt", "best.pt"

# what torch.load and torchvision raise for a file that is not a readable checkpoint
LOAD_ERRORS = (OSError, RuntimeError, EOFError, pickle.UnpicklingError, ValueError)


#: segdepth's name for the one checkpoint error (:class:`plumbing.checkpoint.CheckpointError`):
#: weights or a checkpoint that cannot be had or do not fit; the message names the file and what to do.
WeightsError = CheckpointError


def save_checkpoint(path: str | os.PathLike, ckpt: dict[str, Any]) -> None:
    """Write ``ckpt`` with the current format tag, atomically (the folder is made if needed)."""
    save_tagged(path, TRAINING, ckpt)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint of ours with ``weights_only=True`` and check its format tag; a bare
    state dict is wrapped as ``{"model": state}``."""
    obj = read_file(path)
    if isinstance(obj.get("model"), dict):
        TRAINING.version_of(obj.get("format"), path)
        return obj
    if all(isinstance(v, torch.Tensor) for v in obj.values()):
        TRAINING.version_of(None, path)
        return {"model": obj}
    raise WeightsError(f"{path}: not a checkpoint (no 'model' state dict inside)")


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """The checkpoint files of a run folder (``RUN/checkpoints/*.pt``), sorted by name."""
    return sorted(p for p in (Path(run_dir) / CHECKPOINT_DIR).glob("*.pt") if p.is_file())


def latest_checkpoint(run_dir: str | os.PathLike) -> Optional[Path]:
    """The file a run resumes from (``RUN/checkpoints/last.pt``), or ``None`` when it has none."""
    path = Path(run_dir) / CHECKPOINT_DIR / LAST
    return path if path.is_file() else None


def checkpoint_arch_kwargs(ckpt: dict[str, Any], arch: str, path: str | os.PathLike) -> dict[str, Any]:
    """The constructor kwargs stored with a checkpoint, after checking it is for ``arch``."""
    found = ckpt.get("arch")
    if found is not None and found != arch:
        raise WeightsError(f"{path}: checkpoint is for architecture {found!r}, not {arch!r}")
    return dict(ckpt.get("arch_kwargs") or {})


def load_state(model: nn.Module, state: dict[str, torch.Tensor], arch: str, path: str | os.PathLike) -> nn.Module:
    """``model.load_state_dict(state)`` strictly; a mismatch is one clear error naming ``path``."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong_shape = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong_shape:
        examples = (missing + unexpected + wrong_shape)[:3]
        raise WeightsError(
            f"{path}: not a checkpoint of architecture {arch!r} ({len(missing)} missing, "
            f"{len(unexpected)} unexpected, {len(wrong_shape)} wrongly shaped tensors, e.g. {examples})"
        )
    model.load_state_dict(state)
    return model
