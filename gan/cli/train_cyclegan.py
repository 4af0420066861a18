"""The ``train_cyclegan`` command line: the parser (every TrainConfig and ModelConfig setting as a
flag), ``--config`` (a saved run's config.json, then the flags given), and :func:`main`, the
program with its exit statuses (``scripts/train_cyclegan.py`` only calls it)."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import typing
from typing import Any, Optional, Sequence

from plumbing.cli import (EXIT_CODES_EPILOG, EXIT_SOME_FAILED, EXIT_USAGE, BoolFlag, HelpFormatter, add_download_flag,
                          float_range, int_range)
from datasets.unaligned import DatasetError
from gan.checkpoint import CheckpointError
from gan.display import DisplayError
from gan.losses import VGGWeightsError
from gan.model import AMP_DTYPES, PRESETS, ModelConfig
from gan.train.config import PAPER_DATA, PAPER_DATA_MODEL, TRAIN_OWNED_MODEL_FIELDS, TrainConfig, load_config
from gan.train.device import COMPILE_MODES
from gan.train.loop import NonFiniteLossError, train

EXIT_NON_FINITE = 3


def _model_override_fields() -> list[tuple[dataclasses.Field, Any]]:
    """(field, type) of the ModelConfig fields a user may override (``X | None`` gives X)."""
    hints = typing.get_type_hints(ModelConfig)
    out = []
    for f in dataclasses.fields(ModelConfig):
        if f.name in TRAIN_OWNED_MODEL_FIELDS:
            continue
        kind = hints[f.name]
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        out.append((f, args[0] if args else kind))
    return out


def _model_default_text(f: dataclasses.Field) -> str:
    """How the default of a model setting is chosen, for ``--help``."""
    by_preset = {name: p[f.name] for name, p in PRESETS.items() if f.name in p}
    if by_preset:
        return "default by preset: " + ", ".join(f"{n} {v}" for n, v in by_preset.items()) + f", else {f.default}"
    return "default: see netG" if f.default is None else f"default {f.default}"


def _bounded(name: str) -> Any:
    """The argparse type of TrainConfig field ``name``: an int within the field's limits."""
    f = next(f for f in dataclasses.fields(TrainConfig) if f.name == name)
    return int_range(f.metadata["lo"], f.metadata["hi"])


def _max_steps(text: str) -> int:
    """``--max-steps``: a positive count, or ``all`` for the whole schedule (stored as 0)."""
    if text.strip().lower() == "all":
        return 0
    return int_range(1, 10**9)(text)


def _model_type(f: dataclasses.Field, kind: Any) -> Any:
    """The argparse type of a non-boolean model setting: a bounded number, or the plain type."""
    if kind in (int, float) and f.metadata.get("lo") is not None:
        return (int_range if kind is int else float_range)(f.metadata["lo"], f.metadata["hi"])
    return kind


def build_parser() -> argparse.ArgumentParser:
    """The ``train_cyclegan`` command line. Only flags given on the command line change the
    configuration (which starts from ``--config`` or the defaults), so it is parsed once."""
    # longer than 80 lines: one flat list of options, in the order --help shows them
    d = TrainConfig()
    S = argparse.SUPPRESS
    p = argparse.ArgumentParser(
        description="Train a CycleGAN (and the mask-loss / mask-overlay variants of Nasrullah 2018) "
                    "on an unpaired dataset: photos in DATAROOT/{trainA,trainB}, their subject masks in "
                    "DATAROOT/{trainA,trainB}_masks/NAME.png (made by scripts/prepare_masks.py DATAROOT).",
        formatter_class=HelpFormatter,
        argument_default=S,
        epilog=_epilog() + "\n\n" + EXIT_CODES_EPILOG
        + "\n  3    stopped by a non-finite loss (the last good checkpoint is kept)",
    )
    g = p.add_argument_group("run")
    g.add_argument("--dataroot", help="dataset folder with trainA/ and trainB/")
    g.add_argument("--name", help=f"run name; files go to RUNS_DIR/NAME (default {d.name})")
    g.add_argument("--runs-dir", dest="runs_dir", help=f"folder of run directories (default {d.runs_dir})")
    g.add_argument("--config", dest="config_file", metavar="JSON",
                   help="start from a saved runs/NAME/config.json (flags given here override it)")
    g.add_argument("--resume", nargs="?", const="", metavar="CKPT",
                   help="continue the run from its latest checkpoint (or from CKPT)")
    g.add_argument("--max-steps", dest="max_steps", type=_max_steps, metavar="N|all",
                   help="stop after N >= 1 iterations in all, counted over the run (default and 'all': the "
                        "whole schedule); saved in config.json, so give a larger N to continue a stopped run")
    g.add_argument("--seed", type=_bounded("seed"), help=f"random seed (default {d.seed})")
    g.add_argument("--deterministic", action=BoolFlag,
                   help="deterministic algorithms (bitwise repeatable on the CPU; slower on GPU)")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), help=f"(default {d.device})")
    g.add_argument("--quiet", action=BoolFlag, help="no progress bar")
    add_download_flag(g)

    g = p.add_argument_group("model")
    g.add_argument("--preset", choices=sorted(PRESETS), help=f"model variant (default {d.preset})")
    for f, kind in _model_override_fields():
        flag, dest = "--" + f.name.replace("_", "-"), "model." + f.name
        help_text = f"{f.metadata['help']} ({_model_default_text(f)})"
        if kind is bool:
            g.add_argument(flag, dest=dest, action=BoolFlag, help=help_text)
            continue
        choices = f.metadata["choices"] or None
        g.add_argument(flag, dest=dest, type=_model_type(f, kind), choices=choices,
                       metavar=None if choices else kind.__name__.upper(), help=help_text)

    g = p.add_argument_group("data and schedule")
    g.add_argument("--load-size", dest="load_size", type=_bounded("load_size"),
                   help=f"resize images to this (shorter side) before cropping (default {d.load_size})")
    g.add_argument("--crop-size", dest="crop_size", type=_bounded("crop_size"),
                   help=f"random square crop, the same for image, mask and depth (default {d.crop_size})")
    g.add_argument("--flip", action=BoolFlag, help="random horizontal flips (default true)")
    g.add_argument("--paper-data", dest="paper_data", action="store_true",
                   help="the paper's data setting exactly: --load-size 256 --crop-size 256 --no-flip "
                        "--masks binary (images used as they are: prepare them at 256×256)")
    g.add_argument("--serial-batches", dest="serial_batches", action=BoolFlag,
                   help="pair B images in order instead of at random (default false)")
    g.add_argument("--batch-size", dest="batch_size", type=_bounded("batch_size"),
                   help=f"per process (default {d.batch_size})")
    g.add_argument("--n-epochs", dest="n_epochs", type=_bounded("n_epochs"),
                   help=f"epochs at the initial lr (default {d.n_epochs})")
    g.add_argument("--n-epochs-decay", dest="n_epochs_decay", type=_bounded("n_epochs_decay"),
                   help=f"epochs of linear decay to zero (default {d.n_epochs_decay})")
    g.add_argument("--num-workers", dest="num_workers", type=_bounded("num_workers"),
                   help=f"data loader workers (default {d.num_workers})")

    g = p.add_argument_group("speed")
    g.add_argument("--amp", choices=tuple(AMP_DTYPES), help="mixed precision (fp16 with a gradient scaler)")
    g.add_argument("--channels-last", dest="channels_last", action=BoolFlag, help="channels-last memory format")
    g.add_argument("--compile", action=BoolFlag,
                   help="torch.compile the networks (the first steps wait minutes for the compiler)")
    g.add_argument("--compile-mode", dest="compile_mode", choices=sorted(COMPILE_MODES),
                   help="torch.compile mode (default 'default'); on a GPU 'reduce-overhead' also replays "
                        "each step as CUDA graphs, the fastest at small batches")

    g = p.add_argument_group("output")
    g.add_argument("--log-every", dest="log_every", type=_bounded("log_every"),
                   help=f"iterations per log line (default {d.log_every})")
    g.add_argument("--save-every", dest="save_every", type=_bounded("save_every"),
                   help="iterations between checkpoints (default 0: at epoch ends only)")
    g.add_argument("--save-every-epochs", dest="save_every_epochs", type=_bounded("save_every_epochs"),
                   help=f"epochs between epoch-end checkpoints (default {d.save_every_epochs})")
    g.add_argument("--keep-last", dest="keep_last", type=_bounded("keep_last"),
                   help=f"checkpoints kept (default {d.keep_last})")
    g.add_argument("--display", choices=("none", "html", "visdom"),
                   help="sample page web/index.html; visdom also plots live (default html)")
    g.add_argument("--display-port", dest="display_port", type=_bounded("display_port"),
                   help=f"visdom port (default {d.display_port})")
    g.add_argument("--display-every", dest="display_every", type=_bounded("display_every"),
                   help=f"iterations between sample displays (default {d.display_every})")
    return p


def _epilog() -> str:
    lines = ["presets (settings on one model class):"]
    for name, settings in PRESETS.items():
        shown = ", ".join(f"{k}={v}" for k, v in settings.items()) or "reference CycleGAN"
        lines.append(f"  {name:<18} {shown}")
    lines += [
        "",
        "examples:",
        "  python scripts/train_cyclegan.py --dataroot dataset --name dof --preset mask_loss_overlay",
        "  python scripts/train_cyclegan.py --dataroot dataset --name dof --amp bf16 --batch-size 4",
        "  python scripts/train_cyclegan.py --dataroot dataset256 --name paper --preset mask_loss_overlay --paper-data",
        "  python scripts/train_cyclegan.py --config runs/dof/config.json --resume",
        "  torchrun --nproc_per_node 4 scripts/train_cyclegan.py --dataroot dataset --name dof",
        "  python scripts/train_cyclegan.py --dataroot demo --name tiny --netG resnet --n-blocks 2 "
        "--ngf 8 --ndf 8 --load-size 72 --crop-size 64 --vgg-weights none --num-workers 0",
    ]
    return "\n".join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> TrainConfig:
    """Command line → TrainConfig (``--config`` first, then the flags given)."""
    parser = build_parser()
    ns = vars(parser.parse_args(argv))
    config_file = ns.pop("config_file", None)
    try:
        cfg = load_config(config_file) if config_file else TrainConfig()
    except ValueError as exc:
        parser.error(str(exc))
    if ns.pop("paper_data", False):
        _apply_paper_data(ns)
    overrides = dict(cfg.model_overrides)
    for key, value in ns.items():
        if key.startswith("model."):
            overrides[key[len("model."):]] = value
        elif key == "resume":
            cfg.resume, cfg.resume_from = True, value
        else:
            setattr(cfg, key, value)
    cfg.model_overrides = overrides
    if not cfg.dataroot:
        parser.error("--dataroot is required (or --config with a dataroot)")
    try:
        cfg.check()
    except ValueError as exc:
        parser.error(f"{config_file}: {exc}" if config_file else str(exc))
    return cfg


def _apply_paper_data(ns: dict[str, Any]) -> None:
    """Put PAPER_DATA (and its binary masks) into the parsed flags ``ns``; a flag given with
    another value is an error naming it."""
    wanted = {**PAPER_DATA, **{"model." + k: v for k, v in PAPER_DATA_MODEL.items()}}
    def flag(key: str, value: Any) -> str:
        return f"--{key.removeprefix('model.').replace('_', '-')} {value}"

    clashes = [flag(k, ns[k]) for k, v in wanted.items() if k in ns and ns[k] != v]
    if clashes:
        raise SystemExit(f"error: --paper-data fixes {' '.join(flag(k, v) for k, v in wanted.items())}; "
                         f"it cannot be combined with {', '.join(clashes)}")
    ns.update(wanted)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``train_cyclegan``: parse, train, and map what stopped it to the documented exit status."""
    cfg = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if cfg.quiet else logging.INFO, format="%(levelname)s %(message)s")
    try:
        result = train(cfg)
    except NonFiniteLossError as e:
        logging.error("%s", e)
        return EXIT_NON_FINITE
    except (DatasetError, DisplayError, VGGWeightsError, FileNotFoundError) as e:
        logging.error("%s", e)
        return EXIT_SOME_FAILED
    except (CheckpointError, FileExistsError, ValueError) as e:
        logging.error("%s", e)
        return EXIT_USAGE
    logging.info("done: %s at iteration %d; last checkpoint %s", result.run_dir, result.iteration,
                 result.last_checkpoint)
    return 0
