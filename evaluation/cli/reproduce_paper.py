"""reproduce_paper: Nasrullah 2018 end to end, resumable (evaluation.reproduce holds the work:
ReproduceConfig, the stages and their completeness checks); this module is its parser and main."""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path
from typing import Optional, Sequence

from plumbing.cli import EXIT_CODES_EPILOG, add_download_flag, output_folder
from plumbing.config import add_config_option, parse_config_args
from plumbing.fields import add_setting
from evaluation.reproduce import ReproduceConfig, Reproduction, StageFailed, reproduce
from gan.cli import train_cyclegan

#: ``scripts/reproduce_paper.py --help``.
PROGRAM_HELP = """Reproduce Nasrullah 2018, "Simulating Shallow Depth of Field in Portraits Using Generative
Models", end to end: one command, resumable.

    export FLICKR_API_KEY=...        # or --api-key-file FILE; never written or logged
    python scripts/reproduce_paper.py --out paper_out
    python scripts/reproduce_paper.py --out paper_out --test-input paper/ordinary \\
        --results paper_mask_loss_overlay=paper/mask_loss_overlay      # beside the published outputs
    python scripts/reproduce_paper.py --out tiny_out --scale tiny --fake-flickr   # minutes, offline
    python scripts/reproduce_paper.py --config paper_out/reproduce_config.json    # the same run again

Stages (each a program of this project; OUT/ is --out):
  scrape      scrape_flickr: both domains from Flickr          -> OUT/flickr/
  curate      curate: rules, train/test split, review.html       -> OUT/portraits/
  fit         every photo centre-cropped and resized to 256x256, as the paper prepared its data
                                                                 -> OUT/portraits256/
  masks       prepare_masks (MediaPipe)                           -> OUT/portraits256/*_masks/
  train P     train_cyclegan --preset P --paper-data, 50 + 25 epochs at batch 1, for each preset
                                                                 -> OUT/runs/P/
  translate P test_cyclegan on the test photos                   -> OUT/results/P/
  compare     compare: the presets, --methods and --results side by side, scored against the
              real shallow-DoF test photos (testB)                -> OUT/compare/gallery/index.html

A stage whose outputs are complete is skipped (the scrape's manifest holds the photos asked for;
curation's split record covers every scraped photo with the same settings; every photo is fitted
and has its mask; a run's latest checkpoint ends the schedule; every test photo is translated
with the final checkpoint; the comparison has every render with the same settings). So after any
stop, run the same command again: finished stages are skipped and the interrupted one resumes
(the scraper, curation, prepare_masks and training each resume themselves). A failing stage
stops the run with one line naming it and the problem; the exit status is then that stage's own.

--scale tiny runs the same stages at toy size (6 photos per domain, 64x64, 1 + 1 epochs, networks
of a few hundred weights, random VGG features): with --fake-flickr it scrapes a local fake Flickr
(127.0.0.1, photos of a person) and needs no key, no network and no GPU.

Published outputs: the paper's results are named after its own test photos, so give those photos
as --test-input (their masks in DIR_masks/NAME.png, else prepare_masks writes them there) and each
folder of outputs as --results NAME=DIR.
"""


def _names(text: str) -> list[str]:
    """argparse type: ``"a, b"`` → ``["a", "b"]`` (``""``: none)."""
    return [n.strip() for n in text.split(",") if n.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``scripts/reproduce_paper.py``: a flag per ReproduceConfig field, made from its
    declaration, and --api-key-file (never saved)."""
    p = argparse.ArgumentParser(description=PROGRAM_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=EXIT_CODES_EPILOG + "\n  3    training stopped by a non-finite loss")
    add_setting(p, ReproduceConfig, "out", type=output_folder)
    add_config_option(p)
    add_setting(p, ReproduceConfig, "scale")
    add_setting(p, ReproduceConfig, "presets", type=_names)
    add_setting(p, ReproduceConfig, "per_domain")
    add_setting(p, ReproduceConfig, "api_url")
    p.add_argument("--api-key-file", type=Path, default=None,
                   help="file whose first line is the Flickr API key (default: $FLICKR_API_KEY); never saved")
    add_setting(p, ReproduceConfig, "fake_flickr")
    add_setting(p, ReproduceConfig, "test_input")
    add_setting(p, ReproduceConfig, "results", action="append")
    add_setting(p, ReproduceConfig, "methods", type=_names)
    for name in ("device", "nproc_per_node"):
        add_setting(p, ReproduceConfig, name)
    add_setting(p, ReproduceConfig, "train_args", type=shlex.split)
    add_setting(p, ReproduceConfig, "quiet")
    add_download_flag(p)
    return p


def parse_args(argv: Optional[Sequence[str]] = None) -> tuple[ReproduceConfig, argparse.Namespace]:
    """(config, args): defaults, then ``--config``, then the flags given. The settings and the
    training flags they imply are checked before any stage runs (argparse's one line, exit 2)."""
    parser = build_parser()
    args, cfg = parse_config_args(parser, ReproduceConfig, argv, check_config=ReproduceConfig.check)
    try:
        train_cyclegan.parse_args(Reproduction(cfg).train_argv(cfg.presets[0]))
    except SystemExit as exc:
        if isinstance(exc.code, str):  # --paper-data against a flag of --train-args
            parser.error(f"--train-args: {exc.code.removeprefix('error: ')}")
        raise
    return cfg, args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``scripts/reproduce_paper.py``: 0 done, else the exit status of the stage that failed."""
    cfg, args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if cfg.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        gallery = reproduce(cfg, args.api_key_file, report=lambda line: print(line, flush=True))
    except StageFailed as exc:
        print(f"reproduce_paper: {exc}", file=sys.stderr)
        return exc.status
    print(f"done: {gallery} (metrics: {gallery.parent.parent / 'metrics.md'})")
    return 0
