"""The training loop: optimiser, ReduceLROnPlateau, early stopping, checkpoints and exact resume.

Every random draw is a function of (seed, epoch), so a resumed run continues exactly where it
stopped; each epoch appends one line to ``log.jsonl`` and writes ``checkpoints/last.pt`` (and
``best.pt`` when the monitored validation metric improved) through :mod:`segdepth.checkpoint`.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from plumbing.config import save_config
from plumbing.files import append_jsonl

from ..checkpoint import BEST, CHECKPOINT_DIR, LAST, latest_checkpoint, load_checkpoint, load_state, save_checkpoint
from .config import TrainConfig, run_config_path
from .tasks import Task, make_task

log = logging.getLogger(__name__)


# a new run's epoch counters (also the keys a checkpoint carries them under)
_FRESH = {"epoch": 0, "best": None, "best_epoch": None, "bad_epochs": 0}


def _improved(value: float, best: Optional[float], mode: str) -> bool:
    if value is None or math.isnan(value):
        return False
    return best is None or (value > best if mode == "max" else value < best)


def _optimizer(cfg: TrainConfig, net: nn.Module) -> torch.optim.Optimizer:
    """Adam, or SGD with momentum, over the trainable parameters."""
    params = [p for p in net.parameters() if p.requires_grad]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose adam or sgd")


def _resume(cfg: TrainConfig, net: nn.Module, opt: torch.optim.Optimizer, sched: Any) -> dict[str, Any]:
    """Load the run's latest checkpoint into ``net``, ``opt`` and ``sched``; its epoch counters."""
    run = Path(cfg.run_dir)
    path = latest_checkpoint(run)
    if path is None:
        raise FileNotFoundError(f"{run / CHECKPOINT_DIR / LAST}: nothing to resume")
    ckpt = load_checkpoint(path)
    load_state(net, ckpt["model"], cfg.model, path)
    opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["scheduler"])
    state = {k: ckpt[k] for k in _FRESH}
    log.info("resuming %s after epoch %d", run, state["epoch"])
    return state


def _train_epoch(task: Task, net: nn.Module, opt: torch.optim.Optimizer, loader: DataLoader, device: torch.device,
                 cfg: TrainConfig, epoch: int) -> tuple[dict[str, float], int, float]:
    """One pass (at most ``cfg.max_steps`` batches): mean losses, images seen, seconds taken."""
    torch.manual_seed(cfg.seed * 1_000_003 + epoch)
    task.set_epoch(epoch)
    net.train()
    t0 = time.perf_counter()
    sums: dict[str, float] = {}
    n_images = n_batches = 0
    bar = tqdm(loader, desc=f"epoch {epoch}/{cfg.epochs}", disable=cfg.quiet, leave=False)
    for batch in bar:
        loss, parts, n = task.step(net, batch, device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        n_images += n
        n_batches += 1
        for k, v in {"loss": float(loss.detach()), **parts}.items():
            sums[k] = sums.get(k, 0.0) + v
        bar.set_postfix(loss=f"{sums['loss'] / n_batches:.4f}")
        if cfg.max_steps and n_batches >= cfg.max_steps:
            break
    return {k: v / max(n_batches, 1) for k, v in sums.items()}, n_images, time.perf_counter() - t0


def fit(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train (or with ``resume`` continue) the run in ``cfg.run_dir``; returns a summary dict
    (``best``, ``best_epoch``, ``epochs_run``, ``stopped_early``, last ``val`` metrics)."""
    task = make_task(cfg)
    run = Path(cfg.run_dir)
    device = torch.device(cfg.device)
    torch.manual_seed(cfg.seed)
    net, arch_kwargs = task.build_model()
    net.to(device)
    opt = _optimizer(cfg, net)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=task.mode, factor=cfg.plateau_factor,
                                                       patience=cfg.plateau_patience)
    state = _resume(cfg, net, opt, sched) if resume else dict(_FRESH)
    train_loader, val_loader = task.loaders()  # the files are checked before anything is written
    if not resume:
        run.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_config_path(run))
    val: dict[str, float] = {}
    for epoch in range(state["epoch"] + 1, cfg.epochs + 1):
        if state["bad_epochs"] >= cfg.patience:
            log.info("early stop: %d epochs without improvement of %s", state["bad_epochs"], task.monitor)
            break
        train, n_images, train_seconds = _train_epoch(task, net, opt, train_loader, device, cfg, epoch)
        val = task.evaluate(net, val_loader, device)
        value = val.get(task.monitor, float("nan"))
        sched.step(value)
        improved = _improved(value, state["best"], task.mode)
        if improved:
            state.update(best=value, best_epoch=epoch, bad_epochs=0)
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch
        record = {
            "epoch": epoch,
            "train": train,
            "val": val,
            "lr": opt.param_groups[0]["lr"],
            "train_seconds": train_seconds,
            "images_per_s": n_images / train_seconds if train_seconds > 0 else None,
            "improved": improved,
        }
        ckpt = {
            "task": task.name,
            "arch": cfg.model,
            "arch_kwargs": arch_kwargs,
            "model": net.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "config": json.loads(json.dumps(asdict(cfg))),
            "val": val,
            **state,
        }
        save_checkpoint(run / CHECKPOINT_DIR / LAST, ckpt)
        if improved:
            save_checkpoint(run / CHECKPOINT_DIR / BEST, ckpt)
        append_jsonl(run / "log.jsonl", record)
        log.info("epoch %d: loss %.4f, val %s", epoch, train.get("loss", float("nan")),
                 {k: round(v, 4) for k, v in val.items()})
    stopped_early = state["bad_epochs"] >= cfg.patience and state["epoch"] < cfg.epochs
    return {"best": state["best"], "best_epoch": state["best_epoch"], "epochs_run": state["epoch"],
            "stopped_early": stopped_early, "val": val}
