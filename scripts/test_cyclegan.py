#!/usr/bin/env python3
"""Translate a folder of images with a trained CycleGAN checkpoint (either direction).

Thin wrapper over ``gan.translate.main``; ``python scripts/test_cyclegan.py --help`` lists every
option and examples. The run's settings are saved as OUT/test_config.json, and
``--config OUT/test_config.json`` repeats the run. Exit status: 0 done; 1 some images failed;
2 bad command line, config file, checkpoint or input; 130 interrupted.
"""
from __future__ import annotations

import sys

from plumbing.cli import run_main
from gan.translate import main, parse_args

__all__ = ["main", "parse_args"]

if __name__ == "__main__":
    sys.exit(run_main(main, "test_cyclegan"))
