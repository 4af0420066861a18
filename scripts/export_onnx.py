#!/usr/bin/env python3
"""Export a trained CycleGAN generator to ONNX (dynamic height and width, opset 18).

The program is gan/cli/export_onnx.py; ``python scripts/export_onnx.py --help`` lists every option
and examples. Needs the optional extra ``shallowdof[onnx]``. Exit status: 0 written (and checked
against PyTorch); 1 onnxruntime's output differs from PyTorch's by more than 1e-4; 2 bad command
line, checkpoint or missing package; 130 interrupted.
"""
import sys

from shallowdof.programs import run_program

if __name__ == "__main__":
    sys.exit(run_program("export_onnx"))
