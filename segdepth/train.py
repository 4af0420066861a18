"""Training loop shared by ``scripts/train_segmentation.py`` and ``scripts/train_depth.py``.

A run directory holds ``config.json`` (the run's dataclass, enough to reproduce or resume it),
``log.jsonl`` (one line per epoch: losses, validation metrics, learning rate, images/s) and
``checkpoints/{last,best}.pt``. Checkpoints are written atomically and hold only plain
containers and tensors, so ``torch.load(weights_only=True)`` reads them; the model entry is
also a valid ``weights=PATH`` for the segmenter / depth registries (``arch`` + ``arch_kwargs``
+ ``model``). Adam or SGD with momentum; ReduceLROnPlateau on the monitored validation metric
(segmentation: IoU, depth: AbsRel); early stopping after ``patience`` epochs without improvement.
Every random draw is a function of (seed, epoch), so ``resume`` continues exactly where the
run stopped.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from datasets.cli import (EXIT_CODES_EPILOG, EXIT_SOME_FAILED, EXIT_USAGE, add_download_flag, float_range, int_range,
                          non_negative_int, positive_int, torch_device)
from datasets.io import ImageError, append_jsonl, atomic_path, write_json
from datasets.unaligned import DatasetError

from .losses import DepthLoss, SegmentationLoss, depth_to_target, target_to_depth
from .metrics import DepthMeter, SegmentationMeter
from .weights import CHECKPOINT_FORMAT, build_with_weights, check_weights_spec

log = logging.getLogger(__name__)


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


def load_config(cls: type, run_dir: str | Path) -> TrainConfig:
    """The config saved in ``run_dir/config.json`` as ``cls`` (unknown keys are an error)."""
    path = Path(run_dir) / "config.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(f"{path}: cannot read the run's config ({exc})") from None
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(raw) - names
    if unknown:
        raise ValueError(f"{path}: unknown options {sorted(unknown)}")
    return cls(**raw)


# --- tasks ------------------------------------------------------------------------------------

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
        from .segment.torch_segmenter import get_arch

        cfg = self.cfg
        arch = get_arch(cfg.model)
        if check_weights_spec(cfg.weights) == "default":
            return arch.make(pretrained=arch.pretrained_what is not None, **cfg.arch_kwargs), dict(cfg.arch_kwargs)
        return build_with_weights(cfg.model, cfg.weights, arch.make, dict(cfg.arch_kwargs))

    def loaders(self) -> tuple[DataLoader, DataLoader]:
        from datasets.segmentation import SOURCES, Augment, BucketBatchSampler, SegmentationDataset

        cfg = self.cfg
        buckets = [tuple(b) for b in cfg.buckets]
        samples = checked_samples(SOURCES[cfg.dataset](**cfg.data), cfg.quiet)
        aug = Augment(cfg.flip, cfg.rotate_deg, cfg.jitter)
        if cfg.val_data is not None:
            train = SegmentationDataset(samples, buckets, aug, cfg.seed)
            val = SegmentationDataset(checked_samples(SOURCES[cfg.dataset](**cfg.val_data), cfg.quiet), buckets, None)
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
        from .depth.dense_depth import ARCH_NAME, make_dense_depth

        cfg = self.cfg
        if cfg.model != ARCH_NAME:
            raise ValueError(f"unknown trainable depth network {cfg.model!r}; choose from ['{ARCH_NAME}']")
        kwargs = {**cfg.arch_kwargs, "max_depth": cfg.max_depth, "min_depth": cfg.min_depth}
        if check_weights_spec(cfg.weights) == "default":
            return make_dense_depth(pretrained=True, **kwargs), kwargs
        return build_with_weights(ARCH_NAME, cfg.weights, make_dense_depth, kwargs)

    def loaders(self) -> tuple[DataLoader, DataLoader]:
        from datasets.depth import SOURCES, DepthDataset

        cfg = self.cfg
        samples = checked_samples(SOURCES[cfg.dataset](**cfg.data), cfg.quiet)
        if cfg.val_data is not None:
            train = DepthDataset(samples, cfg.size, cfg.augment, cfg.seed)
            val = DepthDataset(checked_samples(SOURCES[cfg.dataset](**cfg.val_data), cfg.quiet), cfg.size)
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


# --- evaluation -------------------------------------------------------------------------------

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
    from .depth.dense_depth import predict_flip_averaged

    return target_to_depth(predict_flip_averaged(net, x).float(), max_depth, min_depth)


@torch.no_grad()
def evaluate_depth(net: nn.Module, loader: DataLoader, device: torch.device, max_depth: float = 10.0,
                   min_depth: float = 0.1, eigen_crop: bool = False, quiet: bool = True) -> dict[str, float]:
    """Eigen et al. measures over all valid pixels; ground truth is clipped to the network's
    range [min_depth, max_depth]; ``eigen_crop`` keeps Eigen's crop of 480×640 frames."""
    from datasets.depth import EIGEN_CROP

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


# --- the loop ---------------------------------------------------------------------------------

def _improved(value: float, best: Optional[float], mode: str) -> bool:
    if value is None or math.isnan(value):
        return False
    return best is None or (value > best if mode == "max" else value < best)


def _save(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def make_task(cfg: TrainConfig) -> SegmentationTask | DepthTask:
    """The task for a config class."""
    return DepthTask(cfg) if isinstance(cfg, DepthTrainConfig) else SegmentationTask(cfg)


def fit(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train (or with ``resume`` continue) the run in ``cfg.run_dir``; returns a summary dict
    (``best``, ``best_epoch``, ``epochs_run``, ``stopped_early``, last ``val`` metrics)."""
    task = make_task(cfg)
    run = Path(cfg.run_dir)
    ckpt_dir = run / "checkpoints"
    device = torch.device(cfg.device)
    torch.manual_seed(cfg.seed)
    net, arch_kwargs = task.build_model()
    net.to(device)
    params = [p for p in net.parameters() if p.requires_grad]
    if cfg.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    else:
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose adam or sgd")
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=task.mode, factor=cfg.plateau_factor,
                                                       patience=cfg.plateau_patience)
    state = {"epoch": 0, "best": None, "best_epoch": None, "bad_epochs": 0}
    if resume:
        path = ckpt_dir / "last.pt"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: nothing to resume")
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        state = {k: ckpt[k] for k in state}
        log.info("resuming %s after epoch %d", run, state["epoch"])
    train_loader, val_loader = task.loaders()  # the files are checked before anything is written
    if not resume:
        run.mkdir(parents=True, exist_ok=True)
        write_json(run / "config.json", asdict(cfg))
    val: dict[str, float] = {}
    for epoch in range(state["epoch"] + 1, cfg.epochs + 1):
        if state["bad_epochs"] >= cfg.patience:
            log.info("early stop: %d epochs without improvement of %s", state["bad_epochs"], task.monitor)
            break
        torch.manual_seed(cfg.seed * 1_000_003 + epoch)
        task.set_epoch(epoch)
        net.train()
        t0 = time.perf_counter()
        sums: dict[str, float] = {}
        n_images = n_batches = 0
        bar = tqdm(train_loader, desc=f"epoch {epoch}/{cfg.epochs}", disable=cfg.quiet, leave=False)
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
        train_seconds = time.perf_counter() - t0
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
            "train": {k: v / max(n_batches, 1) for k, v in sums.items()},
            "val": val,
            "lr": opt.param_groups[0]["lr"],
            "train_seconds": train_seconds,
            "images_per_s": n_images / train_seconds if train_seconds > 0 else None,
            "improved": improved,
        }
        ckpt = {
            "format": CHECKPOINT_FORMAT,
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
        _save(ckpt_dir / "last.pt", ckpt)
        if improved:
            _save(ckpt_dir / "best.pt", ckpt)
        append_jsonl(run / "log.jsonl", record)
        log.info("epoch %d: loss %.4f, val %s", epoch, record["train"].get("loss", float("nan")),
                 {k: round(v, 4) for k, v in val.items()})
    stopped_early = state["bad_epochs"] >= cfg.patience and state["epoch"] < cfg.epochs
    return {"best": state["best"], "best_epoch": state["best_epoch"], "epochs_run": state["epoch"],
            "stopped_early": stopped_early, "val": val}


# --- command line (shared by scripts/train_segmentation.py and scripts/train_depth.py) ----------

SEED_NYU = {"abs_rel": 0.072, "rmse": 0.474, "log10": 0.031}  # Pyzh & Gogarev, MobileNetV2, 10 epochs


def _key_values(items: Optional[list[str]], flag: str) -> Optional[dict]:
    """``["root=VOC2012", "n=32", "shape=[64,64]"]`` → dict; values are JSON when they parse."""
    if items is None:
        return None
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{flag}: expected KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _hw(text: str) -> list[int]:
    """``HxW`` (e.g. 480x640) → [H, W], each 8 … 8192 (an argparse type)."""
    import argparse

    h, sep, w = text.lower().partition("x")
    try:
        size = [int(h), int(w)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 480x640, got {text!r}") from None
    if not sep or not all(8 <= v <= 8192 for v in size):
        raise argparse.ArgumentTypeError(f"expected HxW with each side 8 … 8192, got {text!r}")
    return size


def build_parser(task: str) -> "argparse.ArgumentParser":
    """Argument parser of the training program for ``task`` ("segmentation" or "depth")."""
    import argparse

    from datasets import depth as depth_data
    from datasets import segmentation as seg_data

    from .segment.torch_segmenter import SEG_ARCHS

    seg = task == "segmentation"
    cls = SegTrainConfig if seg else DepthTrainConfig
    d = cls()
    sources = sorted((seg_data.SOURCES if seg else depth_data.SOURCES))
    examples = (
        "examples:\n"
        "  %(prog)s --run-dir runs/unet --model unet --weights none --dataset synthetic --data n=200 shape=[128,128]\n"
        "  %(prog)s --run-dir runs/effnet --model effnet --dataset supervisely --data root=Supervisely_Person\n"
        "  %(prog)s --run-dir runs/voc --model deeplabv3_mobilenet --dataset voc --data root=VOC2012 split=train "
        "--val-data root=VOC2012 split=val\n"
        "  %(prog)s --run-dir runs/unet --resume\n"
        "  %(prog)s --evaluate runs/unet/checkpoints/best.pt --dataset eg1800 --data root=EG1800 list_file=EG1800/eg1800_test.txt\n"
        if seg else
        "examples:\n"
        "  %(prog)s --run-dir runs/nyu --dataset nyu_csv --data csv_path=nyu_data/data/nyu2_train.csv root=nyu_data "
        "--val-data csv_path=nyu_data/data/nyu2_test.csv root=nyu_data --epochs 10\n"
        "  %(prog)s --run-dir runs/tiny --weights none --dataset synthetic --data n=200 shape=[64,64] --size 64x64\n"
        "  %(prog)s --run-dir runs/nyu --resume\n"
        "The seed comparison (Pyzh & Gogarev: AbsRel 0.072, RMSE 0.474, log10 0.031 on NYU after 10 epochs):\n"
        "  %(prog)s --evaluate runs/nyu/checkpoints/best.pt --dataset nyu_mat "
        "--data mat_path=nyu_depth_v2_labeled.mat splits=splits.mat split=test --eigen-crop\n"
    )
    p = argparse.ArgumentParser(
        description=("Train a person-segmentation network (two-class logits; CE / soft-IoU / L1)."
                     if seg else "Train the MobileNetV2 dense-depth network (Alhashim & Wonka loss)."),
        epilog=examples + "\n" + EXIT_CODES_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", default=d.run_dir, help="run directory: config.json, log.jsonl, checkpoints/")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir with its saved config "
                   "(only --epochs, --quiet and --device may be given anew)")
    p.add_argument("--evaluate", metavar="CKPT", help="evaluate a checkpoint on --dataset/--data and print the table")
    p.add_argument("--model", default=d.model, choices=sorted(SEG_ARCHS) if seg else ["dense_depth"])
    p.add_argument("--weights", default=d.weights,
                   help="default: the library's pretrained weights where the architecture has them (DeepLabV3: "
                        "COCO/VOC; EfficientNet, DenseNet, VGG16, MobileNetV2 encoders: ImageNet; U-Net: none exist); "
                        "none: random initialisation; or a checkpoint of ours to start from")
    p.add_argument("--arch", nargs="*", metavar="KEY=VALUE", help="network constructor options, e.g. base=32")
    p.add_argument("--dataset", default=d.dataset, choices=sources)
    p.add_argument("--data", nargs="*", metavar="KEY=VALUE", default=[],
                   help="options of the dataset source (see datasets/%s.py)" % ("segmentation" if seg else "depth"))
    p.add_argument("--val-data", nargs="*", metavar="KEY=VALUE", help="validation source options (default: hold out --val-fraction)")
    p.add_argument("--val-fraction", type=float_range(0.0, 0.9), default=d.val_fraction,
                   help=f"share held out for validation, 0 … 0.9 (default {d.val_fraction})")
    p.add_argument("--epochs", type=int_range(1, 100_000), default=None, help=f"default {d.epochs}")
    p.add_argument("--batch-size", type=int_range(1, 65536), default=d.batch_size)
    p.add_argument("--lr", type=float_range(1e-12, 10.0), default=d.lr)
    p.add_argument("--optimizer", choices=["adam", "sgd"], default=d.optimizer)
    p.add_argument("--momentum", type=float_range(0.0, 0.999999), default=d.momentum)
    p.add_argument("--weight-decay", type=float_range(0.0, 1.0), default=d.weight_decay)
    p.add_argument("--patience", type=positive_int, default=d.patience,
                   help="early stopping after this many epochs without improvement")
    p.add_argument("--plateau-patience", type=non_negative_int, default=d.plateau_patience)
    p.add_argument("--plateau-factor", type=float_range(1e-6, 0.999999), default=d.plateau_factor)
    p.add_argument("--max-steps", type=non_negative_int, default=d.max_steps, help="batches per epoch (0 = all)")
    p.add_argument("--seed", type=non_negative_int, default=d.seed)
    p.add_argument("--device", type=torch_device, default=None, help="cpu, cuda, cuda:1 … (default cpu)")
    p.add_argument("--num-workers", type=int_range(0, 256), default=d.num_workers)
    p.add_argument("--quiet", action="store_true")
    add_download_flag(p)
    if seg:
        p.add_argument("--buckets", default="288x512,384x384,512x288", help="comma-separated HxW aspect-ratio buckets")
        p.add_argument("--no-flip", action="store_true")
        p.add_argument("--rotate-deg", type=float_range(0.0, 180.0), default=d.rotate_deg)
        p.add_argument("--jitter", type=float_range(0.0, 1.0), default=d.jitter,
                       help="colour jitter amplitude (0 = off)")
        p.add_argument("--loss-ce", type=float_range(0.0, 1e4), default=d.loss_ce)
        p.add_argument("--loss-iou", type=float_range(0.0, 1e4), default=d.loss_iou,
                       help="weight of 1 − soft IoU (Rahman & Wang)")
        p.add_argument("--loss-l1", type=float_range(0.0, 1e4), default=d.loss_l1)
    else:
        p.add_argument("--size", type=_hw, default=d.size, help="network input HxW (default 480x640)")
        p.add_argument("--max-depth", type=float_range(1e-3, 1e4), default=d.max_depth, help="metres")
        p.add_argument("--min-depth", type=float_range(1e-4, 1e4), default=d.min_depth,
                       help="metres, below --max-depth")
        p.add_argument("--loss-l1", type=float_range(0.0, 1e4), default=d.loss_l1)
        p.add_argument("--loss-grad", type=float_range(0.0, 1e4), default=d.loss_grad)
        p.add_argument("--loss-ssim", type=float_range(0.0, 1e4), default=d.loss_ssim)
        p.add_argument("--no-augment", action="store_true")
        p.add_argument("--eigen-crop", action="store_true", help="evaluate on Eigen's crop of 480×640 frames")
    return p


def config_from_args(task: str, args: Any) -> TrainConfig:
    """The run's config dataclass from parsed arguments (or, with ``--resume``, from config.json)."""
    seg = task == "segmentation"
    cls = SegTrainConfig if seg else DepthTrainConfig
    if args.resume:
        cfg = load_config(cls, args.run_dir)
        if args.epochs is not None:
            cfg.epochs = args.epochs
        if args.device is not None:
            cfg.device = args.device
        cfg.quiet = args.quiet
        return cfg
    common = dict(
        run_dir=args.run_dir, model=args.model, weights=args.weights, arch_kwargs=_key_values(args.arch, "--arch") or {},
        dataset=args.dataset, data=_key_values(args.data, "--data") or {}, val_data=_key_values(args.val_data, "--val-data"),
        val_fraction=args.val_fraction, epochs=args.epochs if args.epochs is not None else cls().epochs,
        batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer, momentum=args.momentum,
        weight_decay=args.weight_decay, patience=args.patience, plateau_patience=args.plateau_patience,
        plateau_factor=args.plateau_factor, max_steps=args.max_steps, seed=args.seed, device=args.device or "cpu",
        num_workers=args.num_workers, quiet=args.quiet,
    )
    if seg:
        return SegTrainConfig(**common, buckets=[_hw(b) for b in args.buckets.split(",")], flip=not args.no_flip,
                              rotate_deg=args.rotate_deg, jitter=args.jitter, loss_ce=args.loss_ce,
                              loss_iou=args.loss_iou, loss_l1=args.loss_l1)
    return DepthTrainConfig(**common, size=list(args.size), max_depth=args.max_depth, min_depth=args.min_depth,
                            loss_l1=args.loss_l1, loss_grad=args.loss_grad, loss_ssim=args.loss_ssim,
                            augment=not args.no_augment, eigen_crop=args.eigen_crop)


def markdown_table(rows: list[tuple[str, dict[str, float]]], keys: list[str]) -> str:
    """Rows of (name, metrics) as a Markdown table over ``keys`` (missing values shown as —)."""
    lines = ["| | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, values in rows:
        cells = [f"{values[k]:.3f}" if k in values and values[k] is not None else "—" for k in keys]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def evaluate_checkpoint(task: str, cfg: TrainConfig, ckpt_path: str) -> str:
    """Evaluate ``ckpt_path`` on the dataset of ``cfg`` (all of its samples); Markdown table.
    For depth the seed's NYU numbers are printed in the row beneath for comparison."""
    from .weights import read_checkpoint

    device = torch.device(cfg.device)
    arch = read_checkpoint(ckpt_path).get("arch")
    if task == "segmentation":
        from datasets.segmentation import SOURCES, BucketBatchSampler, SegmentationDataset

        from .segment.torch_segmenter import get_arch

        if arch is None:
            raise ValueError(f"{ckpt_path}: checkpoint has no 'arch'; cannot tell which network to build")
        net, _ = build_with_weights(arch, ckpt_path, get_arch(arch).make, {})
        data = SegmentationDataset(SOURCES[cfg.dataset](**cfg.data), [tuple(b) for b in cfg.buckets], None)
        loader = DataLoader(data, batch_sampler=BucketBatchSampler(data.bucket_of, cfg.batch_size, shuffle=False),
                            num_workers=cfg.num_workers)
        res = evaluate_segmentation(net.to(device), loader, device, quiet=cfg.quiet)
        return markdown_table([(Path(ckpt_path).name, res)], ["iou", "pixel_acc", "boundary_f"])
    from datasets.depth import SOURCES, DepthDataset

    from .depth.dense_depth import ARCH_NAME, make_dense_depth

    net, _ = build_with_weights(ARCH_NAME, ckpt_path, make_dense_depth, {})
    size = None if cfg.eigen_crop else cfg.size
    loader = DataLoader(DepthDataset(SOURCES[cfg.dataset](**cfg.data), size), batch_size=cfg.batch_size,
                        num_workers=cfg.num_workers)
    res = evaluate_depth(net.to(device), loader, device, net.max_depth, net.min_depth, cfg.eigen_crop, quiet=cfg.quiet)
    keys = ["abs_rel", "rmse", "log10", "delta1", "delta2", "delta3"]
    return markdown_table([(Path(ckpt_path).name, res), ("seed (Pyzh & Gogarev, NYU, 10 epochs)", SEED_NYU)], keys)


def main(task: str, argv: Optional[list[str]] = None) -> int:
    """Entry point of both training scripts; returns the exit status."""
    parser = build_parser(task)
    args = parser.parse_args(argv)
    if task == "depth" and args.min_depth >= args.max_depth:
        parser.error(f"--min-depth {args.min_depth:g} must be below --max-depth {args.max_depth:g}")
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    try:
        cfg = config_from_args(task, args)
        if args.evaluate:
            print(evaluate_checkpoint(task, cfg, args.evaluate))
            return 0
        summary = fit(cfg, resume=args.resume)
    except DatasetError as exc:  # bad training files, each named on its own line
        log.error("%s", exc)
        return EXIT_SOME_FAILED
    except (ValueError, FileNotFoundError, RuntimeError) as exc:  # bad options, weights that cannot be had
        log.error("error: %s", exc)
        return EXIT_USAGE
    log.info("done: %s", json.dumps(summary))
    return 0
