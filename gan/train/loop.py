"""The training loop: one process's run from setup to the last checkpoint.

:func:`train` sets up the device and the process group and runs a :class:`Trainer`, whose
attributes are the state the loop shares (model, schedulers, position, the loss window, the
last checkpoint); each step of the loop is one small method.

Schedule (Zhu et al. 2017, as the reference code): Adam at ``lr`` for ``n_epochs`` epochs,
then linear decay over ``n_epochs_decay`` epochs, lr·(1 − max(0, e + 1 − n_epochs)/(n_epochs_decay + 1))
for epoch e counted from 0. Checkpoints: every ``save_every`` iterations (inside an epoch),
every ``save_every_epochs`` epochs (at the epoch's end, after the schedulers step) and at the end.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import torch
from torch.utils.data import DataLoader, DistributedSampler

from plumbing.files import append_jsonl
from datasets.unaligned import UnalignedDataset
from gan import display as display_mod
from gan.checkpoint import checkpoint_path, prune_checkpoints, remove_stale_temporaries
from gan.model import CycleGANModel, ModelConfig
from gan.runlog import plot_loss_curves

from .config import TrainConfig, save_run_config
from .device import peak_memory_mb, pick_device, replays_cuda_graphs, set_determinism
from .distributed import (Dist, any_rank, gather_rank_states, init_distributed, mean_over_ranks, network_wrapper,
                          own_rank_state, shutdown, world_size_change)
from .rng import restore_rng_state, seed_everything
from .snapshot import Position, restore_snapshot, save_snapshot, snapshot_to_resume

log = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; training stopped without writing a checkpoint."""


@dataclass
class TrainResult:
    """What ``train`` leaves: the run directory, the model (unwrapped networks) and where it stopped."""

    run_dir: Path
    model: CycleGANModel
    epoch: int
    iteration: int
    last_checkpoint: Optional[Path]


@dataclass
class LossWindow:
    """The losses summed since the last log record, with the steps and data-loading time they took."""

    sums: dict[str, float] = field(default_factory=dict)
    steps: int = 0
    data_time: float = 0.0
    start: float = field(default_factory=time.perf_counter)

    def add(self, losses: dict[str, float]) -> None:
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.steps += 1

    def means(self) -> dict[str, float]:
        return {k: v / self.steps for k, v in self.sums.items()}


def lr_lambda_rule(n_epochs: int, n_epochs_decay: int) -> Callable[[int], float]:
    """Multiplier for epoch e (0-based): 1 for e < n_epochs, then linear towards 0 (reference rule)."""
    def rule(epoch: int) -> float:
        return 1.0 - max(0, epoch + 1 - n_epochs) / float(n_epochs_decay + 1)
    return rule


def make_schedulers(model: CycleGANModel, cfg: TrainConfig) -> list[torch.optim.lr_scheduler.LambdaLR]:
    """One LambdaLR per optimiser (G, D) following :func:`lr_lambda_rule`."""
    rule = lr_lambda_rule(cfg.n_epochs, cfg.n_epochs_decay)
    return [torch.optim.lr_scheduler.LambdaLR(opt, rule) for opt in (model.optimizer_G, model.optimizer_D)]


def build_dataset(cfg: TrainConfig, model_cfg: ModelConfig, progress: bool = True) -> UnalignedDataset:
    """The unaligned training set. Its header scan raises ``DatasetError`` before any training on
    bad input: missing or empty domain folders, missing masks when the preset needs them, images
    smaller than the crop, missing or mismatched depth maps, corrupt or truncated files."""
    return UnalignedDataset(cfg.dataroot, phase="train", load_size=cfg.load_size, crop_size=cfg.crop_size,
                            flip=cfg.flip, serial_batches=cfg.serial_batches, seed=cfg.seed,
                            use_depth=model_cfg.use_depth, require_masks=model_cfg.uses_masks, progress=progress)


def train(cfg: TrainConfig) -> TrainResult:
    """Train (or, with ``cfg.resume``, continue) the run ``cfg.runs_dir/cfg.name``.

    Raises NonFiniteLossError (no checkpoint written for the bad step), CheckpointError, and the
    dataset's errors for bad input before the first step.
    """
    cfg.check()
    device = pick_device(cfg.device)
    d = init_distributed(device)
    try:
        return Trainer(cfg, d, device).run()
    finally:
        shutdown(d)


class Trainer:
    """One process's training run. Setup follows a fixed order, which exact resume relies on:
    seeds, data, the checkpoint to continue from, the model (initialised from the seeded torch
    RNG), its restored state, the run folder, and last the checkpoint's random state."""

    def __init__(self, cfg: TrainConfig, d: Dist, device: torch.device) -> None:
        self.cfg, self.d, self.device = cfg, d, device
        self.model_cfg = cfg.model_config()
        self.run_dir = cfg.run_dir
        set_determinism(cfg.deterministic)
        seed_everything(cfg.seed)

        self.dataset = build_dataset(cfg, self.model_cfg, progress=d.is_main and not cfg.quiet)
        self.sampler = DistributedSampler(self.dataset, num_replicas=d.world_size, rank=d.rank, shuffle=True,
                                          seed=cfg.seed)
        self.iters_per_epoch = math.ceil(len(self.sampler) / cfg.batch_size)
        self.total_epochs = cfg.n_epochs + cfg.n_epochs_decay

        ckpt_path, ckpt = snapshot_to_resume(cfg, self.model_cfg)
        self.model = CycleGANModel(self.model_cfg, device, seed=cfg.seed)
        self.schedulers = make_schedulers(self.model, cfg)
        self.pos = Position()
        if ckpt is not None:
            self.pos = restore_snapshot(ckpt_path, ckpt, self.model, self.schedulers)
            if d.is_main:
                log.info("resuming %s at epoch %d, iteration %d", ckpt_path, self.pos.epoch, self.pos.iteration)
                change = world_size_change(ckpt, d.world_size)
                if change:
                    log.warning("%s: %s", ckpt_path, change)
        self.model.wrap_networks(network_wrapper(cfg, d, device))
        self.model.train()

        self.display: display_mod.Display = self._prepare_run_dir() if d.is_main else display_mod.NoDisplay()
        if ckpt is not None:
            restore_rng_state(own_rank_state(ckpt, self.model, d, device))

        self.last_saved: Optional[Path] = ckpt_path
        self.saved_at = self.pos.iteration if ckpt_path is not None else -1
        self.shown_at = self.pos.iteration
        self.images_per_iter = cfg.batch_size * d.world_size
        self.cuda_graphs = cfg.compile and replays_cuda_graphs(cfg.compile_mode, device)
        self.window = LossWindow()
        self.progress = self._progress_bar()

    # ------------------------------------------------------------------ setup
    def _prepare_run_dir(self) -> display_mod.Display:
        """The display, then the run folder and its config.json (rank 0 only). The display comes
        first: a visdom server that does not answer stops the run before anything is written."""
        cfg = self.cfg
        display = display_mod.make_display(cfg.display, self.run_dir, cfg.name, cfg.display_port, cfg.display_keep)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.run_dir)  # left by a write that was killed
        save_run_config(cfg)
        return display

    def _progress_bar(self) -> Any:
        """A tqdm bar over the run's iterations on rank 0 (None with ``quiet``)."""
        if not self.d.is_main or self.cfg.quiet:
            return None
        from tqdm import tqdm
        total = min(self.total_epochs * self.iters_per_epoch, self.cfg.max_steps or 10**12)
        return tqdm(total=total, initial=min(self.pos.iteration, total), unit="it", desc=self.cfg.name,
                    dynamic_ncols=True)

    # ------------------------------------------------------------------ the loop
    def run(self) -> TrainResult:
        """Epochs from the current position until the schedule ends or ``max_steps`` is reached."""
        cfg = self.cfg
        stop = self._reached_max_steps()
        while self.pos.epoch < self.total_epochs and not stop:
            stop = self._run_epoch()
            if stop and self.pos.epoch_iter < self.iters_per_epoch:
                break
            for s in self.schedulers:
                s.step()
            self.pos.epoch, self.pos.epoch_iter = self.pos.epoch + 1, 0
            if (cfg.save_every_epochs and self.pos.epoch % cfg.save_every_epochs == 0) or \
                    (cfg.save_every and self.pos.iteration % cfg.save_every == 0):
                self.save()
        return self._finish()

    def _reached_max_steps(self) -> bool:
        return bool(self.cfg.max_steps) and self.pos.iteration >= self.cfg.max_steps

    def _loader(self) -> DataLoader:
        """The rest of the current epoch's batches: the sampler's order for the epoch, from the
        position in it on; the loader draws from its own generator, never the global one."""
        cfg, epoch = self.cfg, self.pos.epoch
        self.sampler.set_epoch(epoch)
        self.dataset.set_epoch(epoch)  # before the iterator exists: workers copy the dataset
        indices = list(self.sampler)[self.pos.epoch_iter * cfg.batch_size:]
        return DataLoader(self.dataset, batch_size=cfg.batch_size, sampler=indices, num_workers=cfg.num_workers,
                          pin_memory=self.device.type == "cuda", drop_last=False,
                          generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch))

    def _run_epoch(self) -> bool:
        """The current epoch's remaining batches, with the checkpoints inside it; True when
        ``max_steps`` stopped it."""
        cfg = self.cfg
        t_data = time.perf_counter()
        for batch in self._loader():
            self.window.data_time += time.perf_counter() - t_data
            self._step(batch)
            if self._reached_max_steps():
                return True
            if cfg.save_every and self.pos.iteration % cfg.save_every == 0 and \
                    self.pos.epoch_iter < self.iters_per_epoch:
                self.save()  # at an epoch's last batch: saved by run(), after the schedulers step
            t_data = time.perf_counter()
        return False

    def _step(self, batch: dict[str, Any]) -> None:
        """One optimisation step, then its losses into the window, the log and the display."""
        cfg, model = self.cfg, self.model
        model.set_input(batch)
        if self.cuda_graphs:  # a new step: the previous step's graph outputs may be overwritten
            torch.compiler.cudagraph_mark_step_begin()
        model.optimize_parameters()
        self.pos.iteration += 1
        self.pos.epoch_iter += 1
        losses = model.get_current_losses()
        self._check_finite(losses)
        self.window.add(losses)
        if self.progress is not None:
            self.progress.update(1)
        if self.pos.iteration % cfg.log_every == 0:
            self._log_window()
        if self.d.is_main and cfg.display_every and self.pos.iteration % cfg.display_every == 0:
            self._show()

    def _check_finite(self, losses: dict[str, float]) -> None:
        """NonFiniteLossError, on every process, when any process has a NaN or infinite loss."""
        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        if any_rank(bool(bad), self.d, self.device):
            where = f"iteration {self.pos.iteration} (epoch {self.pos.epoch})"
            what = ", ".join(f"{k}={losses[k]}" for k in bad) if bad else "a loss on another process"
            keep = f"the last good checkpoint is {self.last_saved}" if self.last_saved else \
                "no checkpoint was written yet"
            raise NonFiniteLossError(f"non-finite loss {what} at {where}; training stopped, {keep}")

    def _show(self) -> None:
        self.display.show_visuals(self.pos.iteration, self.pos.epoch, self.model.get_current_visuals())
        self.shown_at = self.pos.iteration

    def _log_window(self) -> None:
        """Append the mean losses since the last record to log.jsonl (and the live display); the
        record's other keys are ``gan.runlog.LOG_STAT_KEYS``."""
        w, pos = self.window, self.pos
        elapsed = time.perf_counter() - w.start
        mean = mean_over_ranks(w.means(), self.d, self.device)
        if self.d.is_main:
            frac = pos.epoch + pos.epoch_iter / self.iters_per_epoch
            append_jsonl(self.run_dir / "log.jsonl", {
                "epoch": pos.epoch, "iter": pos.iteration, "step": pos.iteration, "epoch_iter": pos.epoch_iter,
                "progress": round(frac, 6), "lr": self.schedulers[0].get_last_lr()[0],
                "it_per_s": w.steps / elapsed, "data_time_s": w.data_time / w.steps,
                "sec_per_kimg": elapsed / (w.steps * self.images_per_iter) * 1000,
                "peak_mem_mb": peak_memory_mb(self.device), "world_size": self.d.world_size, "time": time.time(),
                **mean,
            })
            self.display.plot_losses(frac, mean)
            if self.progress is not None:
                self.progress.set_postfix({k: f"{v:.3f}" for k, v in sorted(mean.items())}, refresh=False)
        self.window = LossWindow()

    def save(self) -> None:
        """Checkpoint the current position (once per iteration), keep the last ``keep_last``, and
        redraw the loss curves. Every rank calls it (the DDP states are gathered)."""
        if self.saved_at == self.pos.iteration:
            return
        self.saved_at = self.pos.iteration
        rank_states = gather_rank_states(self.model, self.d)
        if not self.d.is_main:
            return
        path = checkpoint_path(self.run_dir, self.pos.iteration)
        save_snapshot(path, cfg=self.cfg, model_cfg=self.model_cfg, model=self.model, schedulers=self.schedulers,
                      position=self.pos, world_size=self.d.world_size, rank_states=rank_states)
        prune_checkpoints(self.run_dir, self.cfg.keep_last)
        self._plot_curves()
        self.last_saved = path

    def _plot_curves(self) -> None:
        if (self.run_dir / "log.jsonl").exists():
            plot_loss_curves(self.run_dir / "log.jsonl", self.run_dir / "loss_curves.png")

    def _finish(self) -> TrainResult:
        """The last log record, sample page and checkpoint of a run that stopped or finished."""
        if self.window.steps:  # the steps since the last record: a run shorter than --log-every still leaves one
            self._log_window()
        if self.d.is_main and self.cfg.display_every and self.shown_at != self.pos.iteration:
            self._show()  # a short run still gets a sample page
        if self.progress is not None:
            self.progress.close()
        self.save()
        if self.d.is_main:
            self._plot_curves()
        return TrainResult(self.run_dir, self.model, self.pos.epoch, self.pos.iteration, self.last_saved)
