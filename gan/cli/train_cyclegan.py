"""The ``train_cyclegan`` command line: the parser (every TrainConfig and ModelConfig setting as a
flag), ``--config`` (a saved run's config.json, then the flags given), and :func:`main`, the
program with its exit statuses (``scripts/train_cyclegan.py`` only calls it)."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import typing
from typing import Any, Optional, Sequence

from plumbing.cli import EXIT_CODES_EPILOG, EXIT_SOME_FAILED, EXIT_USAGE, BoolFlag, HelpFormatter, add_download_flag
from plumbing.config import read_settings, setting_error_line
from plumbing.fields import SettingError, add_setting, setting_of
from datasets.unaligned import DatasetError
from gan.checkpoint import CheckpointError
from gan.display import DisplayError
from gan.losses import VGGWeightsError
from gan.model import PRESETS, ModelConfig
from gan.train.config import PAPER_DATA, PAPER_DATA_MODEL, TRAIN_OWNED_MODEL_FIELDS, TrainConfig
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
        return "by preset: " + ", ".join(f"{n} {v}" for n, v in by_preset.items()) + f", else {f.default}"
    return "by netG" if f.default is None else ""


def _max_steps(text: str) -> int:
    """``--max-steps``: a count N >= 1, or ``all`` for the whole schedule (stored as 0)."""
    if text.strip().lower() == "all":
        return 0
    try:
        steps = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N >= 1 or 'all', got {text!r}") from None
    if steps == 0:
        raise argparse.ArgumentTypeError("expected N >= 1 or 'all' (the whole schedule), got 0")
    return steps


def build_parser() -> argparse.ArgumentParser:
    """The ``train_cyclegan`` command line: a flag per TrainConfig and ModelConfig setting, made from
    its declaration (:func:`plumbing.fields.add_setting`). Only flags given on the command line
    change the configuration (which starts from ``--config`` or the defaults), so it is parsed once."""
    p = argparse.ArgumentParser(
        description="Train a CycleGAN (and the mask-loss / mask-overlay variants of Nasrullah 2018) "
                    "on an unpaired dataset: photos in DATAROOT/{trainA,trainB}, their subject masks in "
                    "DATAROOT/{trainA,trainB}_masks/NAME.png (made by scripts/prepare_masks.py DATAROOT).",
        formatter_class=HelpFormatter,
        argument_default=argparse.SUPPRESS,
        epilog=_epilog() + "\n\n" + EXIT_CODES_EPILOG
        + "\n  3    stopped by a non-finite loss (the last good checkpoint is kept)",
    )

    def add(group: Any, *names: str) -> None:
        for name in names:
            kind = typing.get_type_hints(TrainConfig)[name]
            add_setting(group, TrainConfig, name, **({"action": BoolFlag} if kind is bool else {}))

    g = p.add_argument_group("run")
    add(g, "dataroot", "name", "runs_dir")
    g.add_argument("--config", dest="config_file", metavar="JSON",
                   help="start from a saved runs/NAME/config.json (flags given here override it)")
    g.add_argument("--resume", nargs="?", const="", metavar="CKPT",
                   help="continue the run from its latest checkpoint (or from CKPT)")
    add_setting(g, TrainConfig, "max_steps", type=_max_steps, metavar="N|all",
                help="stop after N >= 1 iterations in all, counted over the run (default and 'all': the whole "
                     "schedule); saved in config.json, so give a larger N to continue a stopped run")
    add(g, "seed", "deterministic", "device", "quiet")
    add_download_flag(g)

    g = p.add_argument_group("model")
    add(g, "preset")
    for f, kind in _model_override_fields():
        add_setting(g, ModelConfig, f.name, "--" + f.name.replace("_", "-"), dest="model." + f.name,
                    shown_default=_model_default_text(f) or None,
                    **({"action": BoolFlag} if kind is bool else
                       {"metavar": None if setting_of(f).choices else kind.__name__.upper()}))

    g = p.add_argument_group("data and schedule")
    add(g, "load_size", "crop_size", "flip")
    g.add_argument("--paper-data", dest="paper_data", action="store_true",
                   help="the paper's data setting exactly: --load-size 256 --crop-size 256 --no-flip "
                        "--masks binary (images used as they are: prepare them at 256×256)")
    add(g, "serial_batches", "batch_size", "n_epochs", "n_epochs_decay", "num_workers")

    g = p.add_argument_group("speed")
    add(g, "amp", "channels_last", "compile", "compile_mode")

    g = p.add_argument_group("output")
    add(g, "log_every", "save_every", "save_every_epochs", "keep_last", "display", "display_port", "display_every")
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
    """Command line → TrainConfig (``--config`` first, then the flags given), every value checked
    against its declaration; a bad one is one line (exit status 2) naming the config file when the
    value came from it."""
    parser = build_parser()
    ns = vars(parser.parse_args(argv))
    config_file = ns.pop("config_file", None)
    try:
        data = dict(read_settings(TrainConfig, config_file)) if config_file else {}
    except ValueError as exc:
        parser.error(str(exc))
    if ns.pop("paper_data", False):
        _apply_paper_data(ns)
    overrides = dict(data.get("model_overrides", {}))
    for key, value in ns.items():
        if key.startswith("model."):
            overrides[key[len("model."):]] = value
        elif key == "resume":
            data["resume"], data["resume_from"] = True, value
        else:
            data[key] = value
    data["model_overrides"] = overrides
    try:
        cfg = TrainConfig.from_dict(data)
        if not cfg.dataroot:
            parser.error("--dataroot is required (or --config with a dataroot)")
        cfg.check()
    except SettingError as exc:  # the file's value unless a flag gave it
        dest = exc.key if exc.key in ns else "model." + exc.key
        parser.error(setting_error_line(parser, exc, config_file, dest not in ns, dest))
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
