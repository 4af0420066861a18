#!/usr/bin/env python3
"""Train a CycleGAN or one of the mask-guided variants of Nasrullah (2018) on an unpaired dataset.

The program is gan/cli/train_cyclegan.py; ``python scripts/train_cyclegan.py --help`` lists every
option, the presets and examples. Multi-GPU: ``torchrun --nproc_per_node N scripts/train_cyclegan.py ...``.
Exit status: 0 done; 1 bad training data, or weights / a display that cannot be had; 2 bad command
line, config file or run folder (unusable checkpoint, another preset, nothing left to train);
3 stopped by a non-finite loss; 130 interrupted.
"""
import sys

from shallowdof.programs import run_program

if __name__ == "__main__":
    sys.exit(run_program("train_cyclegan"))
