"""The parser and main that ``train_segmentation`` and ``train_depth`` share, by task (their program
modules, segdepth/cli/train_segmentation.py and train_depth.py, bind the task).

The config pattern of plumbing.config: every option's dest is a field of the task's dataclass
(SegTrainConfig, DepthTrainConfig), so the run's config is the dataclass's defaults, then a
``--config`` file (a run's config.json), then the flags given. Booleans are ``--X`` / ``--no-X``
(``--no-flip``, ``--no-augment``, ``--eigen-crop``, ``--quiet`` keep their old spelling), so a
flag can switch off what a config file switched on. ``--resume`` reads ``RUN_DIR/config.json``
instead, and takes only ``--epochs``, ``--device`` and ``--quiet`` anew.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from typing import Optional, Sequence

from datasets import depth as depth_data
from datasets import segmentation as seg_data
from plumbing.cli import (EXIT_CODES_EPILOG, EXIT_SOME_FAILED, EXIT_USAGE, KeyValues, add_download_flag, float_range,
                          int_range, non_negative_int, positive_int, torch_device)
from plumbing.config import add_config_option, parse_config_args
from datasets.unaligned import DatasetError

from ..segment import SEG_ARCHS
from .config import DepthTrainConfig, SegTrainConfig, TrainConfig, load_run_config
from .evaluate import evaluate_checkpoint
from .loop import fit

log = logging.getLogger(__name__)

#: The config dataclass of each task.
CONFIGS: dict[str, type[TrainConfig]] = {"segmentation": SegTrainConfig, "depth": DepthTrainConfig}
#: What ``--resume`` takes from the command line (besides ``--quiet``); the rest is the run's.
RESUME_OPTIONS = ("epochs", "device")


def _hw(text: str) -> list[int]:
    """``HxW`` (e.g. 480x640) → [H, W], each 8 … 8192 (an argparse type)."""
    h, sep, w = text.lower().partition("x")
    try:
        size = [int(h), int(w)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 480x640, got {text!r}") from None
    if not sep or not all(8 <= v <= 8192 for v in size):
        raise argparse.ArgumentTypeError(f"expected HxW with each side 8 … 8192, got {text!r}")
    return size


def _hw_list(text: str) -> list[list[int]]:
    """``HxW,HxW,…`` → [[H, W], …] (an argparse type)."""
    return [_hw(part) for part in text.split(",")]


def build_parser(task: str) -> argparse.ArgumentParser:
    """Argument parser of the training program for ``task`` ("segmentation" or "depth")."""
    # longer than 80 lines: one flat list of options, in the order --help shows them
    seg = task == "segmentation"
    d = CONFIGS[task]()
    sources = sorted((seg_data.SOURCES if seg else depth_data.SOURCES))
    examples = (
        "examples:\n"
        "  %(prog)s --run-dir runs/unet --model unet --weights none --dataset synthetic --data n=200 shape=[128,128]\n"
        "  %(prog)s --run-dir runs/effnet --model effnet --dataset supervisely --data root=Supervisely_Person\n"
        "  %(prog)s --run-dir runs/voc --model deeplabv3_mobilenet --dataset voc --data root=VOC2012 split=train "
        "--val-data root=VOC2012 split=val\n"
        "  %(prog)s --run-dir runs/unet --resume\n"
        "  %(prog)s --config runs/unet/config.json --run-dir runs/unet_long --epochs 60\n"
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
    add_config_option(p)
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir with its saved config "
                   "(only --epochs, --quiet and --device may be given anew)")
    p.add_argument("--evaluate", metavar="CKPT", help="evaluate a checkpoint on --dataset/--data and print the table")
    p.add_argument("--model", default=d.model, choices=sorted(SEG_ARCHS) if seg else ["dense_depth"])
    p.add_argument("--weights", default=d.weights,
                   help="default: the library's pretrained weights where the architecture has them (DeepLabV3: "
                        "COCO/VOC; EfficientNet, DenseNet, VGG16, MobileNetV2 encoders: ImageNet; U-Net: none exist); "
                        "none: random initialisation; or a checkpoint of ours to start from")
    p.add_argument("--arch", dest="arch_kwargs", nargs="*", action=KeyValues, default=d.arch_kwargs,
                   metavar="KEY=VALUE", help="network constructor options, e.g. base=32")
    p.add_argument("--dataset", default=d.dataset, choices=sources)
    p.add_argument("--data", nargs="*", action=KeyValues, metavar="KEY=VALUE", default=d.data,
                   help="options of the dataset source (see datasets/%s.py)" % ("segmentation" if seg else "depth"))
    p.add_argument("--val-data", nargs="*", action=KeyValues, metavar="KEY=VALUE", default=d.val_data,
                   help="validation source options (default: hold out --val-fraction)")
    p.add_argument("--val-fraction", type=float_range(0.0, 0.9), default=d.val_fraction,
                   help=f"share held out for validation, 0 … 0.9 (default {d.val_fraction})")
    p.add_argument("--epochs", type=int_range(1, 100_000), default=d.epochs, help=f"default {d.epochs}")
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
    p.add_argument("--device", type=torch_device, default=d.device, help=f"cpu, cuda, cuda:1 … (default {d.device})")
    p.add_argument("--num-workers", type=int_range(0, 256), default=d.num_workers)
    p.add_argument("--quiet", action=argparse.BooleanOptionalAction, default=d.quiet, help="warnings only")
    add_download_flag(p)
    if seg:
        p.add_argument("--buckets", type=_hw_list, default=d.buckets,
                       help="comma-separated HxW aspect-ratio buckets (default 288x512,384x384,512x288)")
        p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=d.flip, help="random horizontal flips")
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
        p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=d.augment,
                       help="training augmentation: horizontal flips, colour-channel swaps (Alhashim & Wonka)")
        p.add_argument("--eigen-crop", action=argparse.BooleanOptionalAction, default=d.eigen_crop,
                       help="evaluate on Eigen's crop of 480×640 frames")
    return p


def _given(task: str, argv: Optional[Sequence[str]]) -> set[str]:
    """The config fields that ``argv`` sets on the command line itself (not by default or file)."""
    unset = object()  # a default no flag can produce (argparse would convert a string one)
    names = [f.name for f in dataclasses.fields(CONFIGS[task])]
    probe = build_parser(task)
    probe.set_defaults(**dict.fromkeys(names, unset))
    args = vars(probe.parse_args(argv))
    return {k for k in names if args.get(k, unset) is not unset}


def parse_args(task: str, argv: Optional[Sequence[str]] = None) -> tuple[argparse.Namespace, TrainConfig]:
    """``(args, config)`` of the training program for ``task``: the dataclass's defaults, then
    ``--config``, then the flags given; with ``--resume``, the run's saved config with only
    RESUME_OPTIONS given anew (and ``--quiet``). Bad values exit with argparse's one line (status 2)."""
    parser = build_parser(task)
    args, cfg = parse_config_args(parser, CONFIGS[task], argv)
    if task == "depth" and cfg.min_depth >= cfg.max_depth:
        parser.error(f"--min-depth {cfg.min_depth:g} must be below --max-depth {cfg.max_depth:g}")
    if args.resume:
        try:
            saved = load_run_config(CONFIGS[task], cfg.run_dir)
        except ValueError as exc:  # no run there, or a broken config.json
            parser.error(f"--resume: {exc}")
        given = _given(task, argv)
        cfg = dataclasses.replace(saved, quiet=cfg.quiet, **{k: getattr(cfg, k) for k in RESUME_OPTIONS if k in given})
    return args, cfg


def main(task: str, argv: Optional[list[str]] = None) -> int:
    """Entry point of both training scripts; returns the exit status."""
    args, cfg = parse_args(task, argv)
    logging.basicConfig(level=logging.WARNING if cfg.quiet else logging.INFO, format="%(message)s")
    try:
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
