#!/usr/bin/env python3
"""Translate a folder of images with a trained CycleGAN checkpoint (either direction).

The program is gan/cli/test_cyclegan.py; ``python scripts/test_cyclegan.py --help`` lists every
option and examples. The run's settings are saved as OUT/test_config.json, and
``--config OUT/test_config.json`` repeats the run. Exit status: 0 done; 1 some images failed;
2 bad command line, config file, checkpoint or input; 130 interrupted.
"""
import sys

from shallowdof.programs import run_program

if __name__ == "__main__":
    sys.exit(run_program("test_cyclegan"))
