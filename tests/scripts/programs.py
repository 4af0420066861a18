"""What the tests of tests/scripts need to run any program of ``shallowdof.programs.PROGRAMS`` by its
``parse_args``: a command line that parses (the option under test is added to it), and the config
dataclass the program fills. A new program adds its line to :data:`MINIMAL_ARGV` (a test checks
that every program of the table has one)."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

from shallowdof.programs import PROGRAMS

#: program → the least command line that parses, given a scratch folder (nothing is read or written).
MINIMAL_ARGV: dict[str, Callable[[Path], list[str]]] = {
    "scrape_flickr": lambda tmp: ["--out", str(tmp / "o")],
    "curate": lambda tmp: ["--raw", "r", "--out", str(tmp / "o")],
    "prepare_masks": lambda tmp: [str(tmp / "dataset")],
    "train_segmentation": lambda tmp: [],
    "train_depth": lambda tmp: [],
    "train_cyclegan": lambda tmp: ["--dataroot", "d"],
    "test_cyclegan": lambda tmp: ["--checkpoint", "c", "--input", "i", "--out", str(tmp / "o")],
    "export_onnx": lambda tmp: ["--checkpoint", "c", "--out", str(tmp / "o.onnx")],
    "blur": lambda tmp: ["a.png"],
    "webcam": lambda tmp: ["--input", "0", "--output", str(tmp / "o.mp4")],
    "compare": lambda tmp: ["--input", "i", "--out", str(tmp / "o")],
    "app": lambda tmp: ["--out", str(tmp / "o")],
    "reproduce_paper": lambda tmp: ["--out", str(tmp / "o")],
    "demo": lambda tmp: ["--no-gan", "--out", str(tmp / "o")],
    "benchmark": lambda tmp: [],
}


def parse(program: str, argv: list[str]) -> Any:
    """The config dataclass that program ``program`` makes of ``argv`` (its ``parse_args``; a bad
    command line is argparse's SystemExit)."""
    result = PROGRAMS[program].load().parse_args(argv)
    found = [r for r in (result if isinstance(result, tuple) else (result,)) if dataclasses.is_dataclass(r)]
    assert len(found) == 1, f"{program}.parse_args returned {result!r}"
    return found[0]
