"""The two training tasks (segmentation, depth): data, model, loss step and validation.

A task builds its network (:meth:`build_model`), its loaders (every file-backed sample is
decoded once first, :func:`checked_samples`), reseeds its data order per epoch
(:meth:`set_epoch`) and computes one batch's loss (:meth:`step`); :mod:`segdepth.train.loop`
drives it.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from datasets.depth import SOURCES as DEPTH_SOURCES
from datasets.depth import DepthDataset
from datasets.io import ImageError
from datasets.segmentation import SOURCES as SEG_SOURCES
from datasets.segmentation import Augment, BucketBatchSampler, SegmentationDataset
from datasets.unaligned import DatasetError
from plumbing.cli import call_with_options

from ..depth.dense_depth import ARCH_NAME, make_dense_depth
from ..losses import DepthLoss, SegmentationLoss, depth_to_target
from ..segment import get_arch
from ..weights import build_with_weights, check_weights_spec
from .config import DepthTrainConfig, SegTrainConfig, TrainConfig
from .evaluate import evaluate_depth, evaluate_segmentation

_MAX_LISTED = 20  # problems spelled out in one DatasetError; the rest are counted


def checked_samples(samples: list, quiet: bool = False) -> list:
    """``samples`` after decoding every file-backed one (image and label or depth) once: bad
    files (missing, truncated, over the pixel limit, mismatched label) raise one DatasetError
    listing each as "PATH: problem", before anything is trained or written. Procedural samples
    (synthetic scenes, rows of a .mat file) are not files and are not scanned."""
    problems = []
    for sample in tqdm(samples, desc="checking files", unit="sample", disable=quiet, leave=False):
        if not hasattr(sample, "image"):
            continue
        try:
            sample.load()
        except ImageError as exc:
            problems.append(str(exc))
        except (OSError, ValueError, MemoryError) as exc:
            problems.append(f"{sample.image}: {exc}")
    if problems:
        listed, more = problems[:_MAX_LISTED], len(problems) - _MAX_LISTED
        raise DatasetError(f"{len(problems)} bad file(s) in the training data:\n" + "\n".join(listed)
                           + (f"\n... and {more} more" if more > 0 else ""))
    return samples


def _split(dataset: Any, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    n = len(dataset)
    n_val = max(1, int(round(n * val_fraction))) if n > 1 else 0
    order = np.random.default_rng(seed).permutation(n)
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


class SegmentationTask:
    """Person segmentation: two-class logits, CE / soft-IoU / L1, monitored by validation IoU."""

    name = "segmentation"
    monitor = "iou"
    mode = "max"

    def __init__(self, cfg: SegTrainConfig) -> None:
        self.cfg = cfg
        self.loss = SegmentationLoss(cfg.loss_ce, cfg.loss_iou, cfg.loss_l1)

    def build_model(self) -> tuple[nn.Module, dict]:
        cfg = self.cfg
        arch = get_arch(cfg.model)
        if check_weights_spec(cfg.weights) == "default":
            return arch.make(pretrained=arch.pretrained_what is not None, **cfg.arch_kwargs), dict(cfg.arch_kwargs)
        return build_with_weights(cfg.model, cfg.weights, arch.make, dict(cfg.arch_kwargs))

    def loaders(self) -> tuple[DataLoader, DataLoader]:
        cfg = self.cfg
        buckets = [tuple(b) for b in cfg.buckets]
        samples = checked_samples(call_with_options(SEG_SOURCES[cfg.dataset], cfg.data, "--data"), cfg.quiet)
        aug = Augment(cfg.flip, cfg.rotate_deg, cfg.jitter)
        if cfg.val_data is not None:
            train = SegmentationDataset(samples, buckets, aug, cfg.seed)
            val = SegmentationDataset(checked_samples(call_with_options(SEG_SOURCES[cfg.dataset], cfg.val_data, "--val-data"), cfg.quiet), buckets, None)
            train_buckets, val_buckets = train.bucket_of, val.bucket_of
        else:
            tr, va = _split(samples, cfg.val_fraction, cfg.seed)
            full_train = SegmentationDataset(samples, buckets, aug, cfg.seed)
            full_val = SegmentationDataset(samples, buckets, None)
            train, val = _SubsetWithEpoch(full_train, tr), Subset(full_val, va)
            train_buckets = [full_train.bucket_of[i] for i in tr]
            val_buckets = [full_val.bucket_of[i] for i in va]
        self.train_set = train
        sampler = BucketBatchSampler(train_buckets, cfg.batch_size, shuffle=True, drop_last=False, seed=cfg.seed)
        self.sampler = sampler
        train_loader = DataLoader(train, batch_sampler=sampler, num_workers=cfg.num_workers)
        val_loader = DataLoader(val, batch_sampler=BucketBatchSampler(val_buckets, cfg.batch_size, shuffle=False),
                                num_workers=cfg.num_workers)
        return train_loader, val_loader

    def set_epoch(self, epoch: int) -> None:
        self.train_set.set_epoch(epoch)
        self.sampler.set_epoch(epoch)

    def step(self, net: nn.Module, batch: dict, device: torch.device) -> tuple[torch.Tensor, dict[str, float], int]:
        x, y = batch["image"].to(device), batch["label"].to(device)
        total, parts = self.loss(net(x), y)
        return total, parts, x.shape[0]

    @torch.no_grad()
    def evaluate(self, net: nn.Module, loader: DataLoader, device: torch.device) -> dict[str, float]:
        return evaluate_segmentation(net, loader, device, self.loss)


class DepthTask:
    """Dense depth: normalised target max_depth / depth, Alhashim–Wonka loss, monitored by AbsRel."""

    name = "depth"
    monitor = "abs_rel"
    mode = "min"

    def __init__(self, cfg: DepthTrainConfig) -> None:
        self.cfg = cfg
        self.loss = DepthLoss(cfg.loss_l1, cfg.loss_grad, cfg.loss_ssim, data_range=cfg.max_depth / cfg.min_depth)

    def build_model(self) -> tuple[nn.Module, dict]:
        cfg = self.cfg
        if cfg.model != ARCH_NAME:
            raise ValueError(f"unknown trainable depth network {cfg.model!r}; choose from ['{ARCH_NAME}']")
        kwargs = {**cfg.arch_kwargs, "max_depth": cfg.max_depth, "min_depth": cfg.min_depth}
        if check_weights_spec(cfg.weights) == "default":
            return make_dense_depth(pretrained=True, **kwargs), kwargs
        return build_with_weights(ARCH_NAME, cfg.weights, make_dense_depth, kwargs)

    def loaders(self) -> tuple[DataLoader, DataLoader]:
        cfg = self.cfg
        samples = checked_samples(call_with_options(DEPTH_SOURCES[cfg.dataset], cfg.data, "--data"), cfg.quiet)
        if cfg.val_data is not None:
            train = DepthDataset(samples, cfg.size, cfg.augment, cfg.seed)
            val = DepthDataset(checked_samples(call_with_options(DEPTH_SOURCES[cfg.dataset], cfg.val_data, "--val-data"), cfg.quiet), cfg.size)
        else:
            tr, va = _split(samples, cfg.val_fraction, cfg.seed)
            train = _SubsetWithEpoch(DepthDataset(samples, cfg.size, cfg.augment, cfg.seed), tr)
            val = Subset(DepthDataset(samples, cfg.size), va)
        self.train_set = train
        self.generator = torch.Generator()
        train_loader = DataLoader(train, batch_size=cfg.batch_size, shuffle=True, generator=self.generator,
                                  num_workers=cfg.num_workers)
        val_loader = DataLoader(val, batch_size=cfg.batch_size, shuffle=False, num_workers=cfg.num_workers)
        return train_loader, val_loader

    def set_epoch(self, epoch: int) -> None:
        self.train_set.set_epoch(epoch)
        self.generator.manual_seed(self.cfg.seed * 1_000_003 + epoch)

    def step(self, net: nn.Module, batch: dict, device: torch.device) -> tuple[torch.Tensor, dict[str, float], int]:
        cfg = self.cfg
        x, d, valid = batch["image"].to(device), batch["depth"].to(device), batch["valid"].to(device)
        target = depth_to_target(torch.where(valid, d, torch.full_like(d, cfg.max_depth)), cfg.max_depth, cfg.min_depth)
        total, parts = self.loss(net(x), target, valid)
        return total, parts, x.shape[0]

    @torch.no_grad()
    def evaluate(self, net: nn.Module, loader: DataLoader, device: torch.device) -> dict[str, float]:
        return evaluate_depth(net, loader, device, self.cfg.max_depth, self.cfg.min_depth, self.cfg.eigen_crop)


class _SubsetWithEpoch(Subset):
    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)


Task = SegmentationTask | DepthTask


def make_task(cfg: TrainConfig) -> Task:
    """The task for a config class."""
    return DepthTask(cfg) if isinstance(cfg, DepthTrainConfig) else SegmentationTask(cfg)
