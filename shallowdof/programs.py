"""The one table of shallowdof's programs: name → what it does and where its code is.

Program NAME lives in ``PACKAGE/cli/NAME.py`` (its parser, ``build_parser`` and ``parse_args``,
and ``main(argv) -> exit status``), in the lowest package that holds everything it runs.
``scripts/NAME.py``, ``python -m shallowdof NAME`` and the ``shallowdof NAME`` command all run it
through :func:`run_program`; the tests and the command's ``--help`` read :data:`PROGRAMS`.
Each entry's loader imports its module only when the program runs, so listing the programs
imports none of them.

A new program is its module ``PACKAGE/cli/NAME.py``, one entry here and ``scripts/NAME.py``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Callable, Optional, Sequence

from plumbing.cli import EXIT_USAGE, run_main


@dataclass(frozen=True)
class Program:
    """One program: a one-line summary and a loader of its module (``build_parser``,
    ``parse_args``, ``main``)."""

    summary: str
    load: Callable[[], ModuleType]

    def main(self, argv: Optional[Sequence[str]] = None) -> int:
        """The program's exit status for ``argv`` (None: the process's command line)."""
        return self.load().main(None if argv is None else list(argv))


def _scrape_flickr() -> ModuleType:
    from datasets.cli import scrape_flickr
    return scrape_flickr


def _curate() -> ModuleType:
    from segdepth.cli import curate
    return curate


def _prepare_masks() -> ModuleType:
    from segdepth.cli import prepare_masks
    return prepare_masks


def _train_segmentation() -> ModuleType:
    from segdepth.cli import train_segmentation
    return train_segmentation


def _train_depth() -> ModuleType:
    from segdepth.cli import train_depth
    return train_depth


def _blur() -> ModuleType:
    from compositing.cli import blur
    return blur


def _webcam() -> ModuleType:
    from compositing.cli import webcam
    return webcam


def _train_cyclegan() -> ModuleType:
    from gan.cli import train_cyclegan
    return train_cyclegan


def _test_cyclegan() -> ModuleType:
    from gan.cli import test_cyclegan
    return test_cyclegan


def _export_onnx() -> ModuleType:
    from gan.cli import export_onnx
    return export_onnx


def _compare() -> ModuleType:
    from evaluation.cli import compare
    return compare


def _app() -> ModuleType:
    from evaluation.cli import app
    return app


def _reproduce_paper() -> ModuleType:
    from evaluation.cli import reproduce_paper
    return reproduce_paper


def _demo() -> ModuleType:
    from evaluation.cli import demo
    return demo


def _benchmark() -> ModuleType:
    """bench/ is part of a source checkout, not of the installed package: outside one this is a
    ModuleNotFoundError, which :func:`run_program` reports in one line."""
    from bench.cli import benchmark
    return benchmark


#: Every program, in the order a dataset and a model are made and used.
PROGRAMS: dict[str, Program] = {
    "scrape_flickr": Program("scrape the unpaired portrait dataset from Flickr (resumable)", _scrape_flickr),
    "curate": Program("curate a scrape into trainA/trainB/testA/testB, with a review page", _curate),
    "prepare_masks": Program("write the person mask of every photo of a dataset beside it", _prepare_masks),
    "train_segmentation": Program("train or evaluate a person-segmentation network", _train_segmentation),
    "train_depth": Program("train or evaluate the dense-depth network", _train_depth),
    "train_cyclegan": Program("train a CycleGAN or a mask-guided variant on an unpaired dataset", _train_cyclegan),
    "test_cyclegan": Program("translate a folder of images with a trained CycleGAN checkpoint", _test_cyclegan),
    "export_onnx": Program("export a trained CycleGAN generator to ONNX (needs the onnx extra)", _export_onnx),
    "blur": Program("give portraits a shallow depth of field with a compositor method", _blur),
    "webcam": Program("blur the background of a camera or a video, live or into a file", _webcam),
    "compare": Program("render, measure and compare methods side by side in a gallery", _compare),
    "app": Program("a local web app: open a portrait, tap to focus, set the aperture, compare, save "
                   "(needs the app extra)", _app),
    "reproduce_paper": Program("the paper end to end: scrape, curate, masks, train the four presets, translate, "
                               "compare (resumable)", _reproduce_paper),
    "demo": Program("every approach on built-in inputs, offline, into one gallery (make demo)", _demo),
    "benchmark": Program("run the benchmarks of a source checkout into bench/BENCHMARKS.md (make bench)",
                         _benchmark),
}


def run_program(name: str, argv: Optional[Sequence[str]] = None) -> int:
    """Run program ``name`` on ``argv`` (None: the process's command line) and return its exit
    status; Ctrl-C is one line and 130 (:func:`plumbing.cli.run_main`). A program whose code is
    not installed (``benchmark`` outside a source checkout) is one line and exit status 2."""
    program = PROGRAMS[name]
    try:
        program.load()
    except ModuleNotFoundError as exc:
        if exc.name not in ("bench", "bench.cli"):
            raise
        print(f"{name}: needs the benchmarks of a source checkout (bench/), which this installation "
              "does not have; run it in the repository (make bench)", file=sys.stderr)
        return EXIT_USAGE
    return run_main(lambda: program.main(argv), name)
