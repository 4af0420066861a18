#!/usr/bin/env python3
"""Train a CycleGAN or one of the mask-guided variants of Nasrullah (2018) on an unpaired dataset.

Thin wrapper over ``gan.train``; ``python scripts/train_cyclegan.py --help`` lists every option,
the presets and examples. Multi-GPU: ``torchrun --nproc_per_node N scripts/train_cyclegan.py ...``.
Exit status: 0 done; 1 bad training data, or weights / a display that cannot be had; 2 bad command
line, config file or run folder (unusable checkpoint, another preset, nothing left to train);
3 stopped by a non-finite loss; 130 interrupted.
"""
from __future__ import annotations

import logging
import sys

from datasets.cli import EXIT_SOME_FAILED, EXIT_USAGE, run_main
from datasets.unaligned import DatasetError
from gan.display import DisplayError
from gan.losses import VGGWeightsError
from gan.train import CheckpointError, NonFiniteLossError, parse_args, train


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if cfg.quiet else logging.INFO, format="%(levelname)s %(message)s")
    try:
        result = train(cfg)
    except NonFiniteLossError as e:
        logging.error("%s", e)
        return 3
    except (DatasetError, DisplayError, VGGWeightsError, FileNotFoundError) as e:
        logging.error("%s", e)
        return EXIT_SOME_FAILED
    except (CheckpointError, FileExistsError, ValueError) as e:
        logging.error("%s", e)
        return EXIT_USAGE
    logging.info("done: %s at iteration %d; last checkpoint %s", result.run_dir, result.iteration,
                 result.last_checkpoint)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "train_cyclegan"))
