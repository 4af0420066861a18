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

from plumbing.cli import EXIT_CODES_EPILOG, EXIT_SOME_FAILED, EXIT_USAGE, KeyValues, add_download_flag, torch_device
from plumbing.config import add_config_option, parse_config_args
from plumbing.fields import SettingError, add_setting
from datasets.unaligned import DatasetError

from .config import DepthTrainConfig, SegTrainConfig, TrainConfig, load_run_config
from .evaluate import evaluate_checkpoint
from .loop import fit

log = logging.getLogger(__name__)

#: The config dataclass of each task.
CONFIGS: dict[str, type[TrainConfig]] = {"segmentation": SegTrainConfig, "depth": DepthTrainConfig}
#: What ``--resume`` takes from the command line (besides ``--quiet``); the rest is the run's.
RESUME_OPTIONS = ("epochs", "device")


def _hw(text: str) -> list[int]:
    """``HxW`` (e.g. 480x640) → [H, W] (an argparse type; the range is the field's)."""
    h, sep, w = text.lower().partition("x")
    try:
        if not sep:
            raise ValueError(text)
        return [int(h), int(w)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 480x640, got {text!r}") from None


def _hw_list(text: str) -> list[list[int]]:
    """``HxW,HxW,…`` → [[H, W], …] (an argparse type)."""
    return [_hw(part) for part in text.split(",")]


def build_parser(task: str) -> argparse.ArgumentParser:
    """Argument parser of the training program for ``task`` ("segmentation" or "depth"): a flag per
    setting of its config dataclass, made from the field's declaration."""
    seg = task == "segmentation"
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
    cls = CONFIGS[task]
    add_setting(p, cls, "run_dir")
    add_config_option(p)
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir with its saved config "
                   "(only --epochs, --quiet and --device may be given anew)")
    p.add_argument("--evaluate", metavar="CKPT", help="evaluate a checkpoint on --dataset/--data and print the table")
    add_setting(p, cls, "model")
    add_setting(p, cls, "weights")
    add_setting(p, cls, "arch_kwargs", "--arch", nargs="*", action=KeyValues)
    add_setting(p, cls, "dataset")
    add_setting(p, cls, "data", nargs="*", action=KeyValues,
                help="options of the dataset source (see datasets/%s.py)" % ("segmentation" if seg else "depth"))
    add_setting(p, cls, "val_data", nargs="*", action=KeyValues)
    for name in ("val_fraction", "epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "patience",
                 "plateau_patience", "plateau_factor", "max_steps", "seed"):
        add_setting(p, cls, name)
    add_setting(p, cls, "device", type=torch_device)
    add_setting(p, cls, "num_workers")
    add_setting(p, cls, "quiet")
    add_download_flag(p)
    if seg:
        add_setting(p, cls, "buckets", type=_hw_list)
        for name in ("flip", "rotate_deg", "jitter", "loss_ce", "loss_iou", "loss_l1"):
            add_setting(p, cls, name)
    else:
        add_setting(p, cls, "size", type=_hw)
        for name in ("max_depth", "min_depth", "loss_l1", "loss_grad", "loss_ssim", "augment", "eigen_crop"):
            add_setting(p, cls, name)
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
    args, cfg = parse_config_args(parser, CONFIGS[task], argv, check_config=check_config)
    if args.resume:
        try:
            saved = load_run_config(CONFIGS[task], cfg.run_dir)
        except ValueError as exc:  # no run there, or a broken config.json
            parser.error(f"--resume: {exc}")
        given = _given(task, argv)
        cfg = dataclasses.replace(saved, quiet=cfg.quiet, **{k: getattr(cfg, k) for k in RESUME_OPTIONS if k in given})
    return args, cfg


def check_config(cfg: TrainConfig) -> None:
    """SettingError for sizes that are not H×W pairs and a depth range that is empty (each setting's
    own type and range are checked before, by its declaration)."""
    sizes = {"buckets": getattr(cfg, "buckets", []), "size": [cfg.size] if isinstance(cfg, DepthTrainConfig) else []}
    for key, pairs in sizes.items():
        bad = next((p for p in pairs if not (isinstance(p, list) and len(p) == 2)), None)
        if bad is not None:
            raise SettingError(key, f"expected [H, W] pairs of sides, got {bad!r}")
    if isinstance(cfg, DepthTrainConfig) and cfg.min_depth >= cfg.max_depth:
        raise SettingError("min_depth", f"{cfg.min_depth:g} must be below max_depth {cfg.max_depth:g}")


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
