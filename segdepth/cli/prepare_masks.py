"""prepare_masks: the person mask of every photo of a dataset, written beside it (segdepth.masks
holds the work: MaskConfig, the plan, prepare_masks); this module is its parser and main."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Optional, Sequence

from plumbing.cli import EXIT_CODES_EPILOG, EXIT_USAGE, add_download_flag, writable_folder_problem
from plumbing.config import add_config_option, parse_config_args
from plumbing.fields import add_setting
from segdepth.masks import MaskConfig, prepare_masks

#: ``scripts/prepare_masks.py --help``.
PROGRAM_HELP = """Write the person mask of every photo of a dataset into a mask folder beside it; photos stay untouched.

    python scripts/prepare_masks.py data/portraits                  # default segmenter: mediapipe (offline)
    python scripts/prepare_masks.py data/portraits --segmenter mediapipe --batch-size 32
    python scripts/prepare_masks.py data/portraits --config data/portraits/trainA_masks/masks_config.json

The mask of DIR/sub/NAME.EXT is DIR_masks/sub/NAME.png, 8-bit greyscale, 255 = person, where DIR
is each split folder of ROOT (trainA, trainB, testA, testB) or, without them, ROOT itself:
data/portraits/trainA/x.jpg gets data/portraits/trainA_masks/x.png. Only mask files are written
(and each mask folder's record masks.jsonl and masks_config.json). A mask file this program did
not write (your own, or one you edited) is left as it is, even with --force. Resumable: recorded
masks whose photo and segmenter are unchanged are skipped, so a second run changes nothing
(--force redoes the recorded ones). Two photos that would share a mask (a.jpg and a.png in one
folder) are reported naming both; bad files get one line each and the run goes on.
Exit status: 0 done; 1 some files were bad (counted at the end); 2 bad arguments.
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``scripts/prepare_masks.py``: a flag per MaskConfig field, made from its declaration."""
    p = argparse.ArgumentParser(description=PROGRAM_HELP, epilog=EXIT_CODES_EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_setting(p, MaskConfig, "root", "root")
    add_config_option(p)
    for name in ("segmenter", "batch_size", "workers", "force", "dry_run", "quiet"):
        add_setting(p, MaskConfig, name)
    add_download_flag(p)
    return p


def parse_args(argv: Optional[Sequence[str]] = None) -> MaskConfig:
    """The MaskConfig of a command line: defaults, then ``--config`` (a masks_config.json), then the flags given."""
    parser = build_parser()
    _, config = parse_config_args(parser, MaskConfig, argv)
    problem = None if config.dry_run else writable_folder_problem(Path(config.root))
    if problem and Path(config.root).exists():  # a missing root is reported by prepare_masks itself (exit 2)
        parser.error(problem)
    return config


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``scripts/prepare_masks.py``: 0 done, 1 some files were bad (counted), 2 bad arguments."""
    config = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if config.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        result = prepare_masks(config)
    except (FileNotFoundError, ValueError) as exc:  # no such folder, a mask folder given
        logging.getLogger("prepare_masks").error("%s", exc)
        return EXIT_USAGE
    if not config.quiet:
        print(("dry run: " if config.dry_run else "") + result.summary())
    if result.bad:
        logging.getLogger("prepare_masks").error("%d bad files (see above)", len(result.bad))
        return 1
    return 0
