"""Run shallowdof's benchmarks and write bench/BENCHMARKS.md with the machine they ran on.

    python scripts/benchmark.py                    # every benchmark, full size
    python scripts/benchmark.py --only compositing --quick
    python scripts/benchmark.py --only curation --photos PHOTOS   # PHOTOS/ordinary, PHOTOS/shallow
    python scripts/benchmark.py --only realphotos --real-photos PHOTOS   # scores every method on real portraits

Each benchmark lives in bench/bench_<name>.py as ``run(quick: bool) -> str`` (a Markdown
section). Speed-ups are ratios against a baseline measured in the same run. Benchmarks in
``TAKES_PHOTOS`` also measure on a folder of real photos when ``--photos`` names one (it is not
part of the project; without it they measure on bundled material only and say so). A section
that says "Skipped" keeps its section of the report it overwrites, marked as kept, so a run
without the photos does not erase the last real-photo tables. --out is replaced only when it is
such a report (it starts with the report's title); any other file is refused before a benchmark runs.
"""
from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bench import (bench_app, bench_compositing, bench_curation, bench_dataset, bench_evaluation, bench_gan,
                   bench_gan_realphotos, bench_onnx, bench_realphotos, bench_segdepth, bench_webcam)
from plumbing.cli import EXIT_CODES_EPILOG, output_file
from plumbing.config import add_config_option, parse_config_args
from plumbing.fields import SettingError, add_setting, setting
from plumbing.files import FileProblem, read_text, write_text

ROOT = Path(__file__).resolve().parents[2]


BENCHES: dict[str, Callable[[bool], str]] = {
    "compositing": bench_compositing.run,
    "webcam": bench_webcam.run,
    "app": bench_app.run,  # the local app: first render and preview latency at 1 and 12 MP
    "dataset": bench_dataset.run,
    "segdepth": bench_segdepth.run,
    "gan": bench_gan.run,
    "evaluation": bench_evaluation.run,
    "curation": bench_curation.run,
    "realphotos": bench_realphotos.run,  # every method and published results on real portraits
    "onnx": bench_onnx.run,  # the exported generator in onnxruntime against eager PyTorch
    # the GAN trained on real portraits and scored beside the published outputs (hours with photos)
    "gan_realphotos": bench_gan_realphotos.run,
}
TAKES_PHOTOS = {"curation", "realphotos", "gan_realphotos"}  # run(quick, photos: Path | None)


#: The first line of every report this program writes: how it tells its own --out file.
TITLE = "# shallowdof benchmarks"


@dataclass
class BenchConfig:
    """Options of one benchmark run; each field declares its flag's help and allowed values
    (:func:`plumbing.fields.setting`)."""

    out: str = setting("bench/BENCHMARKS.md", "Markdown file to write (only a report this program wrote is replaced)")
    only: list[str] = setting(default_factory=lambda: list(BENCHES), help="benchmarks to run", choices=tuple(BENCHES),
                              shown_default="all")
    quick: bool = setting(False, "tiny sizes, for a smoke test")
    photos: str = setting("", "folder of real photos (ordinary/, shallow/; for realphotos also ordinary_masks/, "
                          f"shallow_masks/ and optional paper_results/NAME/) for {', '.join(sorted(TAKES_PHOTOS))}; "
                          "without it they say so and skip")


def machine_description() -> str:
    """One Markdown paragraph naming the machine: CPU model, cores, memory, Python and torch."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"Machine: {cpu}, {os.cpu_count()} cores{mem}, {gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}, {platform.system()} {platform.release()}.")


def run(cfg: BenchConfig) -> tuple[str, list[str]]:
    """Run the selected benchmarks; return the Markdown report and the names that failed."""
    sections, failed = [], []
    for name in cfg.only:
        logging.info("benchmark %s ...", name)
        start = time.perf_counter()
        try:
            if name in TAKES_PHOTOS:
                body = BENCHES[name](cfg.quick, Path(cfg.photos) if cfg.photos else None)
            else:
                body = BENCHES[name](cfg.quick)
        except Exception as exc:  # a broken benchmark is reported, the others still run
            logging.exception("benchmark %s failed", name)
            body = f"### {name}\n\nFAILED: {type(exc).__name__}: {exc}\n"
            failed.append(name)
        sections.append(f"{body.rstrip()}\n\n_({name}: {time.perf_counter() - start:.0f} s wall)_\n")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = (f"{TITLE}\n\nWritten by `make bench` (scripts/benchmark.py) on {stamp}"
            f"{' in quick mode' if cfg.quick else ''}.\n\n{machine_description()}\n")
    return head + "\n" + "\n".join(sections), failed


def build_parser() -> argparse.ArgumentParser:
    """The benchmark program's parser: a flag per BenchConfig field, made from its declaration."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=EXIT_CODES_EPILOG.replace("some inputs failed (each named on its own line, "
                                                                 "the rest were processed)",
                                                                 "some benchmarks failed (the others ran)"))
    add_config_option(p)
    add_setting(p, BenchConfig, "out", type=output_file)
    add_setting(p, BenchConfig, "only", nargs="+")
    add_setting(p, BenchConfig, "quick")
    add_setting(p, BenchConfig, "photos", "--photos", "--real-photos")
    return p


def parse_args(argv: list[str] | None = None) -> BenchConfig:
    """The config: its defaults, then ``--config``, then the flags given, every value checked."""
    return parse_config_args(build_parser(), BenchConfig, argv, check_config=check_config)[1]


def check_config(cfg: BenchConfig) -> None:
    """SettingError for a photos folder that is not there, or an ``out`` that is not a report this
    program wrote (checked before any benchmark runs)."""
    if cfg.photos and not Path(cfg.photos).is_dir():
        raise SettingError("photos", f"{cfg.photos}: no such folder")
    try:
        previous_report(out_path(cfg.out))
    except ValueError as exc:
        raise SettingError("out", str(exc)) from None


def out_path(out: str) -> Path:
    """Where ``--out`` is: relative to the checkout unless absolute."""
    return ROOT / out if not Path(out).is_absolute() else Path(out)


def previous_report(out: Path) -> str:
    """The report at ``out`` this program wrote before ("" when there is none); a folder, or a
    file that is not such a report (its first line is not TITLE), is a ValueError: never replaced."""
    if not os.path.lexists(out):
        return ""
    text = read_text(out)  # FileProblem: a folder, FIFO, device, not UTF-8
    if not text.startswith(TITLE + "\n"):
        raise FileProblem(out, f"is not a benchmark report (its first line is not {TITLE!r}); not replacing it")
    return text


def _sections(markdown: str) -> list[str]:
    """The ``### `` sections of a report (each from its heading to the next), in order."""
    parts = re.split(r"(?m)^(?=### )", markdown)
    return [part for part in parts if part.startswith("### ")]


KEPT_PREFIX = "_Kept from the previous report: this run skipped it"


def keep_skipped(report: str, previous: str) -> str:
    """``report`` with each section that says "Skipped: REASON" replaced by the section of
    ``previous`` whose heading starts with the same title, if there is one, marked as kept: a run
    without the photos folder does not erase the last measured real-photo tables."""
    old = {sec.split("\n", 1)[0]: sec for sec in _sections(previous)}
    for sec in _sections(report):
        heading, _, body = sec.partition("\n")
        skipped = re.search(r"^Skipped: (.*?)\.?$", body, re.M)
        match = next((old_sec for title, old_sec in old.items() if title.startswith(heading)), None)
        if skipped is None or match is None:
            continue
        old_heading, _, old_body = match.partition("\n")
        kept = [line for line in old_body.strip("\n").split("\n\n") if not line.startswith(KEPT_PREFIX)]
        note = f"{KEPT_PREFIX} ({skipped.group(1)})._"
        report = report.replace(sec, "\n\n".join([old_heading, note, *kept]) + "\n\n", 1)
    return report


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = parse_args(argv)
    report, failed = run(cfg)
    out = out_path(cfg.out)
    previous = previous_report(out)
    if previous:
        report = keep_skipped(report, previous)
    write_text(out, report)
    print(report)
    return 1 if failed else 0

