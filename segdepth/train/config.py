"""The training programs' options: one dataclass per task, saved as the run's ``config.json``
and read back strictly (plumbing.config: unknown keys and values of the wrong type are errors)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, TypeVar

from plumbing.config import load_config

C = TypeVar("C", bound="TrainConfig")


@dataclass
class TrainConfig:
    """Options common to both training programs (saved as the run's ``config.json``)."""

    run_dir: str = "runs/segdepth"
    model: str = "unet"
    weights: str = "default"  # default: library-pretrained parts where they exist; none; or a checkpoint
    arch_kwargs: dict = field(default_factory=dict)
    dataset: str = "synthetic"
    data: dict = field(default_factory=dict)  # kwargs of the dataset source (paths, split, …)
    val_data: Optional[dict] = None  # kwargs of the validation source; None: hold out val_fraction
    val_fraction: float = 0.1
    epochs: int = 20
    batch_size: int = 8
    lr: float = 1e-4
    optimizer: str = "adam"  # adam | sgd (with momentum)
    momentum: float = 0.9
    weight_decay: float = 0.0
    patience: int = 10  # early stopping: epochs without improvement of the monitored metric
    plateau_patience: int = 3  # ReduceLROnPlateau
    plateau_factor: float = 0.1
    max_steps: int = 0  # batches per epoch (0 = all), for smoke runs
    seed: int = 0
    device: str = "cpu"
    num_workers: int = 0
    quiet: bool = False


@dataclass
class SegTrainConfig(TrainConfig):
    """``scripts/train_segmentation.py``: buckets (H, W), augmentation and loss weights."""

    buckets: list = field(default_factory=lambda: [[288, 512], [384, 384], [512, 288]])
    flip: bool = True
    rotate_deg: float = 15.0
    jitter: float = 0.0
    loss_ce: float = 1.0
    loss_iou: float = 0.0
    loss_l1: float = 0.0


@dataclass
class DepthTrainConfig(TrainConfig):
    """``scripts/train_depth.py``: input size (H, W), depth range and loss weights."""

    model: str = "dense_depth"
    size: list = field(default_factory=lambda: [480, 640])
    max_depth: float = 10.0
    min_depth: float = 0.1
    loss_l1: float = 0.1
    loss_grad: float = 1.0
    loss_ssim: float = 1.0
    augment: bool = True
    eigen_crop: bool = False  # evaluate on Eigen et al.'s crop of 480×640 frames


def run_config_path(run_dir: str | Path) -> Path:
    """Where a run keeps its config: ``run_dir/config.json``."""
    return Path(run_dir) / "config.json"


def load_run_config(cls: type[C], run_dir: str | Path) -> C:
    """The config saved in ``run_dir/config.json`` as ``cls``; ValueError "PATH: problem" for a
    missing or broken file, unknown keys or a value of the wrong type."""
    return load_config(cls, run_config_path(run_dir))
