"""Training snapshots: what a run's checkpoint holds, writing one, and continuing a run from one.

The file format, finding a run's checkpoints and the one error class are :mod:`gan.checkpoint`;
this module fills a checkpoint with everything a run needs to continue exactly (networks,
optimisers, gradient scaler, image pools, LR schedulers, position, RNG states; under DDP every
process's pools and RNG states) and checks that a checkpoint continues *this* run.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

from gan.checkpoint import (TRAINING_KEYS, CheckpointError, check_architecture, latest_checkpoint,
                            list_checkpoints, load_checkpoint, save_checkpoint)
from gan.model import CycleGANModel, ModelConfig

from .config import TrainConfig
from .rng import capture_rng_state

log = logging.getLogger(__name__)

Schedulers = Sequence[torch.optim.lr_scheduler.LRScheduler]


@dataclass
class Position:
    """Where a run is: the epoch, the iterations done in it, and the iterations over the run."""

    epoch: int = 0
    epoch_iter: int = 0
    iteration: int = 0


def save_snapshot(path: Path, *, cfg: TrainConfig, model_cfg: ModelConfig, model: CycleGANModel,
                  schedulers: Schedulers, position: Position, world_size: int,
                  rank_states: Optional[list[dict[str, Any]]] = None) -> None:
    """Write a full training snapshot atomically. ``rank_states``: every process's own image
    pools and RNG states under DDP (``gather_rank_states``); the snapshot's ``model`` pools and
    ``rng`` are rank 0's."""
    state = {
        "config": {"model": asdict(model_cfg), "train": asdict(cfg)},
        "model": model.state_dict(),
        "schedulers": [s.state_dict() for s in schedulers],
        "epoch": position.epoch,
        "epoch_iter": position.epoch_iter,
        "iter": position.iteration,
        "world_size": world_size,
        "rng": capture_rng_state(),
    }
    if rank_states is not None:
        state["rank_states"] = rank_states
    save_checkpoint(path, state)


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


def snapshot_to_resume(cfg: TrainConfig, model_cfg: ModelConfig) -> tuple[Optional[Path], Optional[dict[str, Any]]]:
    """With ``cfg.resume``: the checkpoint to continue from (``cfg.resume_from`` or the run's
    latest) and its contents, checked against this run; without: (None, None), after making
    sure the run folder has no checkpoints that a new run would mix with."""
    run_dir = cfg.run_dir
    if not cfg.resume:
        if list_checkpoints(run_dir):
            raise FileExistsError(f"{run_dir}: the run already has checkpoints; pass --resume to continue it "
                                  "or choose another --name")
        return None, None
    path = Path(cfg.resume_from) if cfg.resume_from else latest_checkpoint(run_dir)
    if path is None:
        raise CheckpointError(f"{run_dir / 'checkpoints'}: --resume given but the run has no checkpoint")
    ckpt = load_checkpoint(path, TRAINING_KEYS)
    check_resumable(path, ckpt, cfg)
    check_architecture(path, ckpt["config"]["model"], model_cfg)
    return path, ckpt


def restore_snapshot(path: Path, ckpt: dict[str, Any], model: CycleGANModel, schedulers: Schedulers) -> Position:
    """Load the networks, optimisers, pools and schedulers of ``ckpt`` (its random state is
    restored later, once the run is set up); the position it was saved at."""
    try:
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, KeyError, ValueError) as e:
        raise CheckpointError(f"{path}: does not fit this model: {str(e)[:300]}") from e
    for s, state in zip(schedulers, ckpt["schedulers"]):
        s.load_state_dict(state)
    return Position(int(ckpt["epoch"]), int(ckpt.get("epoch_iter", 0)), int(ckpt["iter"]))
