"""Write the person mask of every photo of a dataset into a mask folder beside it; photos stay untouched.

    python scripts/prepare_masks.py data/portraits                  # default segmenter: mediapipe (offline)
    python scripts/prepare_masks.py data/portraits --segmenter mediapipe --batch-size 32

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
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from datasets.cli import EXIT_CODES_EPILOG, add_download_flag, int_range, run_main, writable_folder_problem
from segdepth.masks import MaskConfig, prepare_masks
from segdepth.segment import SEGMENTERS


def parse_args(argv: list[str] | None = None) -> MaskConfig:
    d = MaskConfig(root="")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=EXIT_CODES_EPILOG)
    p.add_argument("root", help="dataset folder (e.g. with trainA/ trainB/ testA/ testB/)")
    p.add_argument("--segmenter", default=d.segmenter, choices=sorted(SEGMENTERS),
                   help=f"person segmenter (default {d.segmenter})")
    p.add_argument("--batch-size", type=int_range(1, 4096), default=d.batch_size,
                   help=f"images read/written together, 1 … 4096 ({d.batch_size})")
    p.add_argument("--workers", type=int_range(1, 256), default=d.workers,
                   help=f"reader/writer threads, 1 … 256 ({d.workers})")
    p.add_argument("--force", action="store_true",
                   help="redo every mask this program wrote, even up-to-date ones (never your own mask files)")
    p.add_argument("--dry-run", action="store_true", help="count what would be done; write nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar, errors only")
    add_download_flag(p)
    a = p.parse_args(argv)
    problem = None if a.dry_run else writable_folder_problem(Path(a.root))
    if problem and Path(a.root).exists():  # a missing root is reported by prepare_masks itself (exit 2)
        p.error(problem)
    return MaskConfig(root=a.root, segmenter=a.segmenter, batch_size=a.batch_size, workers=a.workers,
                      force=a.force, dry_run=a.dry_run, quiet=a.quiet)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if config.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        result = prepare_masks(config)
    except (FileNotFoundError, ValueError) as exc:  # no such folder, a mask folder given
        logging.getLogger("prepare_masks").error("%s", exc)
        return 2
    if not config.quiet:
        print(("dry run: " if config.dry_run else "") + result.summary())
    if result.bad:
        logging.getLogger("prepare_masks").error("%d bad files (see above)", len(result.bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "prepare_masks"))
