"""Validation measures of the trained networks and ``--evaluate CKPT``'s Markdown table.

Segmentation: mean per-image IoU, pixel accuracy and boundary F; depth: the Eigen et al.
measures (AbsRel, RMSE, log10, δ < 1.25^k) of the flip-averaged prediction (Alhashim & Wonka).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from plumbing import markdown
from plumbing.cli import call_with_options
from datasets.depth import EIGEN_CROP, DepthDataset
from datasets.depth import SOURCES as DEPTH_SOURCES
from datasets.segmentation import SOURCES as SEG_SOURCES
from datasets.segmentation import BucketBatchSampler, SegmentationDataset

from ..checkpoint import load_checkpoint
from ..depth.dense_depth import ARCH_NAME, make_dense_depth, predict_flip_averaged
from ..losses import SegmentationLoss, target_to_depth
from ..metrics import DepthMeter, SegmentationMeter
from ..segment import get_arch
from ..weights import build_with_weights
from .config import TrainConfig

SEED_NYU = {"abs_rel": 0.072, "rmse": 0.474, "log10": 0.031}  # Pyzh & Gogarev, MobileNetV2, 10 epochs


@torch.no_grad()
def evaluate_segmentation(net: nn.Module, loader: DataLoader, device: torch.device,
                          loss: Optional[SegmentationLoss] = None, quiet: bool = True) -> dict[str, float]:
    """Mean per-image IoU, pixel accuracy and boundary F (person = softmax ≥ 0.5; label 255
    ignored) and, with ``loss``, the mean validation loss."""
    net.eval()
    meter = SegmentationMeter()
    losses = []
    for batch in tqdm(loader, desc="eval", disable=quiet, leave=False):
        x, y = batch["image"].to(device), batch["label"].to(device)
        logits = net(x)
        if loss is not None:
            losses.append(float(loss(logits, y)[0]))
        pred = (torch.softmax(logits.float(), 1)[:, 1] >= 0.5).cpu().numpy()
        labels = y.cpu().numpy()
        for p, t in zip(pred, labels):
            meter.update(p, t == 1, t != 255)
    out = meter.result()
    if losses:
        out["loss"] = float(np.mean(losses))
    return out


def predict_depth(net: nn.Module, x: torch.Tensor, max_depth: float, min_depth: float) -> torch.Tensor:
    """Depth in metres from the flip-averaged normalised prediction (Alhashim & Wonka)."""
    return target_to_depth(predict_flip_averaged(net, x).float(), max_depth, min_depth)


@torch.no_grad()
def evaluate_depth(net: nn.Module, loader: DataLoader, device: torch.device, max_depth: float = 10.0,
                   min_depth: float = 0.1, eigen_crop: bool = False, quiet: bool = True) -> dict[str, float]:
    """Eigen et al. measures over all valid pixels; ground truth is clipped to the network's
    range [min_depth, max_depth]; ``eigen_crop`` keeps Eigen's crop of 480×640 frames."""
    net.eval()
    meter = DepthMeter()
    for batch in tqdm(loader, desc="eval", disable=quiet, leave=False):
        x = batch["image"].to(device)
        pred = predict_depth(net, x, max_depth, min_depth).cpu().numpy()
        gt = batch["depth"].numpy()
        valid = batch["valid"].numpy()
        for p, g, v in zip(pred[:, 0], gt[:, 0], valid[:, 0]):
            if eigen_crop:
                if g.shape != (480, 640):
                    raise ValueError(f"the Eigen crop needs 480×640 frames, got {g.shape}")
                crop = np.zeros_like(v)
                crop[EIGEN_CROP] = True
                v = v & crop
            meter.update(p, np.clip(g, min_depth, max_depth), v)
    return meter.result()


def markdown_table(rows: list[tuple[str, dict[str, float]]], keys: list[str]) -> str:
    """Rows of (name, metrics) as a Markdown table over ``keys`` (missing values shown as —)."""
    cells = [[name, *(f"{values[k]:.3f}" if k in values and values[k] is not None else "—" for k in keys)]
             for name, values in rows]
    return markdown.table(["", *keys], cells)


def evaluate_checkpoint(task: str, cfg: TrainConfig, ckpt_path: str) -> str:
    """Evaluate ``ckpt_path`` on the dataset of ``cfg`` (all of its samples); Markdown table.
    For depth the seed's NYU numbers are printed in the row beneath for comparison."""
    device = torch.device(cfg.device)
    arch = load_checkpoint(ckpt_path).get("arch")
    if task == "segmentation":
        if arch is None:
            raise ValueError(f"{ckpt_path}: checkpoint has no 'arch'; cannot tell which network to build")
        net, _ = build_with_weights(arch, ckpt_path, get_arch(arch).make, {})
        data = SegmentationDataset(call_with_options(SEG_SOURCES[cfg.dataset], cfg.data, "--data"), [tuple(b) for b in cfg.buckets], None)
        loader = DataLoader(data, batch_sampler=BucketBatchSampler(data.bucket_of, cfg.batch_size, shuffle=False),
                            num_workers=cfg.num_workers)
        res = evaluate_segmentation(net.to(device), loader, device, quiet=cfg.quiet)
        return markdown_table([(Path(ckpt_path).name, res)], ["iou", "pixel_acc", "boundary_f"])
    net, _ = build_with_weights(ARCH_NAME, ckpt_path, make_dense_depth, {})
    size = None if cfg.eigen_crop else cfg.size
    loader = DataLoader(DepthDataset(call_with_options(DEPTH_SOURCES[cfg.dataset], cfg.data, "--data"), size), batch_size=cfg.batch_size,
                        num_workers=cfg.num_workers)
    res = evaluate_depth(net.to(device), loader, device, net.max_depth, net.min_depth, cfg.eigen_crop, quiet=cfg.quiet)
    keys = ["abs_rel", "rmse", "log10", "delta1", "delta2", "delta3"]
    return markdown_table([(Path(ckpt_path).name, res), ("seed (Pyzh & Gogarev, NYU, 10 epochs)", SEED_NYU)], keys)
