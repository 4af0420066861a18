"""The training programs' options: one dataclass per task, saved as the run's ``config.json``
and read back strictly (plumbing.config: unknown keys and values of the wrong type are errors)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, TypeVar

from plumbing.config import load_config
from plumbing.fields import BIG, setting
from datasets import depth as depth_data
from datasets import segmentation as seg_data

from ..segment import SEG_ARCHS

C = TypeVar("C", bound="TrainConfig")


@dataclass
class TrainConfig:
    """Options common to both training programs (saved as the run's ``config.json``); each field
    declares its flag's help and allowed values or range (:func:`plumbing.fields.setting`)."""

    run_dir: str = setting("runs/segdepth", "run directory: config.json, log.jsonl, checkpoints/")
    model: str = setting("unet", "network architecture")
    weights: str = setting("default", "default: the library's pretrained weights where the architecture has them "
                           "(DeepLabV3: COCO/VOC; EfficientNet, DenseNet, VGG16, MobileNetV2 encoders: ImageNet; "
                           "U-Net: none exist); none: random initialisation; or a checkpoint of ours to start from",
                           shown_default="")
    arch_kwargs: dict = setting(default_factory=dict, help="network constructor options, e.g. base=32",
                                metavar="KEY=VALUE")
    dataset: str = setting("synthetic", "dataset source")
    data: dict = setting(default_factory=dict, help="options of the dataset source (paths, split, …)",
                         metavar="KEY=VALUE")
    val_data: Optional[dict] = setting(None, "validation source options (default: hold out --val-fraction)",
                                       metavar="KEY=VALUE")
    val_fraction: float = setting(0.1, "share held out for validation", lo=0.0, hi=0.9)
    epochs: int = setting(20, "training epochs", lo=1, hi=100_000)
    batch_size: int = setting(8, "images per batch", lo=1, hi=65536)
    lr: float = setting(1e-4, "learning rate", lo=1e-12, hi=10.0)
    optimizer: str = setting("adam", "adam, or sgd with momentum", ("adam", "sgd"))
    momentum: float = setting(0.9, "SGD momentum", lo=0.0, hi=0.999999)
    weight_decay: float = setting(0.0, "weight decay", lo=0.0, hi=1.0)
    patience: int = setting(10, "early stopping after this many epochs without improvement", lo=1, hi=BIG)
    plateau_patience: int = setting(3, "epochs without improvement before the learning rate drops", lo=0, hi=BIG)
    plateau_factor: float = setting(0.1, "factor of that drop", lo=1e-6, hi=0.999999)
    max_steps: int = setting(0, "batches per epoch (0 = all)", lo=0, hi=BIG)
    seed: int = setting(0, "random seed", lo=0, hi=BIG)
    device: str = setting("cpu", "cpu, cuda, cuda:1 …")
    num_workers: int = setting(0, "data loader workers", lo=0, hi=256)
    quiet: bool = setting(False, "warnings only")


#: The side of a network input (segmentation buckets, depth size), in pixels.
SIDE = {"lo": 8, "hi": 8192}


@dataclass
class SegTrainConfig(TrainConfig):
    """``scripts/train_segmentation.py``: buckets (H, W), augmentation and loss weights."""

    model: str = setting("unet", "network architecture", tuple(sorted(SEG_ARCHS)))
    dataset: str = setting("synthetic", "dataset source", tuple(sorted(seg_data.SOURCES)))
    buckets: list = setting(default_factory=lambda: [[288, 512], [384, 384], [512, 288]], **SIDE,
                            help="comma-separated HxW aspect-ratio buckets", shown_default="288x512,384x384,512x288")
    flip: bool = setting(True, "random horizontal flips")
    rotate_deg: float = setting(15.0, "random rotation up to this many degrees", lo=0.0, hi=180.0)
    jitter: float = setting(0.0, "colour jitter amplitude (0 = off)", lo=0.0, hi=1.0)
    loss_ce: float = setting(1.0, "weight of the cross-entropy", lo=0.0, hi=1e4)
    loss_iou: float = setting(0.0, "weight of 1 − soft IoU (Rahman & Wang)", lo=0.0, hi=1e4)
    loss_l1: float = setting(0.0, "weight of the L1 loss on the probabilities", lo=0.0, hi=1e4)


@dataclass
class DepthTrainConfig(TrainConfig):
    """``scripts/train_depth.py``: input size (H, W), depth range and loss weights."""

    model: str = setting("dense_depth", "network architecture", ("dense_depth",))
    dataset: str = setting("synthetic", "dataset source", tuple(sorted(depth_data.SOURCES)))
    size: list = setting(default_factory=lambda: [480, 640], **SIDE, help="network input HxW", shown_default="480x640")
    max_depth: float = setting(10.0, "largest depth, metres", lo=1e-3, hi=1e4)
    min_depth: float = setting(0.1, "smallest depth, metres, below --max-depth", lo=1e-4, hi=1e4)
    loss_l1: float = setting(0.1, "weight of the L1 depth loss", lo=0.0, hi=1e4)
    loss_grad: float = setting(1.0, "weight of the gradient loss", lo=0.0, hi=1e4)
    loss_ssim: float = setting(1.0, "weight of the SSIM loss", lo=0.0, hi=1e4)
    augment: bool = setting(True, "training augmentation: horizontal flips, colour-channel swaps (Alhashim & Wonka)")
    eigen_crop: bool = setting(False, "evaluate on Eigen's crop of 480×640 frames")


def run_config_path(run_dir: str | Path) -> Path:
    """Where a run keeps its config: ``run_dir/config.json``."""
    return Path(run_dir) / "config.json"


def load_run_config(cls: type[C], run_dir: str | Path) -> C:
    """The config saved in ``run_dir/config.json`` as ``cls``; ValueError "PATH: problem" for a
    missing or broken file, unknown keys or a value of the wrong type."""
    return load_config(cls, run_config_path(run_dir))
