"""When is a stage of the reproduction complete? Each check reads only what the stage's own program
records, and returns None when the stage's outputs are complete, else why it must (still) run.

* scrape: the scraper's ``manifest.jsonl`` holds the photos asked for in every domain;
* curate: its ``split.json`` and ``curate_config.json`` (the same settings) account for every
  scraped photo (in a split, or in ``quarantine/``), and the review's ``decisions.csv`` has not
  been edited since the run (it is written before ``summary.md``, the run's last file);
* fit: ``datasets.fit``'s record holds every photo of every split, unchanged;
* masks: ``prepare_masks``' plan (its record ``masks.jsonl``) has nothing left to write;
* train: the run's latest checkpoint was saved at the end of the schedule's last epoch;
* translate: ``test_config.json`` names the run's final checkpoint and the same settings, and every
  test photo has its output;
* compare: ``config.json`` has the same settings, ``metrics.csv`` has a row for every column and
  photo (no render failed) and is newer than every translation.

Nothing here builds a network or writes a file.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import logging
from collections import Counter
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from plumbing.config import load_config
from plumbing.files import read_json, read_jsonl, read_text
from datasets.curate import CurateConfig
from datasets.fit import plan_fit
from datasets.flickr import PAPER_DOMAINS
from datasets.io import list_photos, output_suffix
from evaluation.compare import CompareConfig
from gan.checkpoint import latest_checkpoint, load_checkpoint
from gan.cli.test_cyclegan import CONFIG_NAME, TestConfig
from segdepth.masks import MaskConfig, plan


@contextlib.contextmanager
def _silenced(name: str) -> Iterator[None]:
    """Log records of logger ``name`` below ERROR are dropped while a check reads (a plan's notes)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _same_settings(saved: Any, wanted: Any) -> bool:
    """Two configs of one program alike in everything but ``quiet`` (how much a run prints)."""
    return dataclasses.replace(saved, quiet=False) == dataclasses.replace(wanted, quiet=False)


def scrape_pending(flickr: Path, per_domain: int) -> Optional[str]:
    """Domains whose manifest holds fewer than ``per_domain`` downloaded photos."""
    counts = Counter(r.get("domain") for r in read_jsonl(flickr / "manifest.jsonl") if r.get("status") == "ok")
    short = [f"{d.name}: {counts[d.name]:,} of {per_domain:,} photos" for d in PAPER_DOMAINS
             if counts[d.name] < per_domain]
    return "; ".join(short) or None


def curate_pending(flickr: Path, portraits: Path, wanted: CurateConfig) -> Optional[str]:
    """Why the curated dataset does not match the scrape and the settings (see the module docstring)."""
    split_file, config_file = portraits / "split.json", portraits / "curate_config.json"
    if not (split_file.is_file() and config_file.is_file()):
        return "not curated yet"
    if not _same_settings(load_config(CurateConfig, config_file), wanted):
        return f"{config_file} holds other settings"
    summary, decisions = portraits / "summary.md", wanted.decisions_path()
    if not summary.is_file() or (decisions.is_file() and decisions.stat().st_mtime_ns > summary.stat().st_mtime_ns):
        return f"{decisions} changed since the last curation"
    placed = read_json(split_file)
    letters = {wanted.domain_a: "A", wanted.domain_b: "B"}
    missing = 0
    for r in read_jsonl(flickr / "manifest.jsonl"):
        if r.get("status") != "ok" or r.get("domain") not in letters:
            continue
        name, letter = Path(r["file"]).name, letters[r["domain"]]
        in_split = any(name in placed.get(f"{s}{letter}", ()) and (portraits / f"{s}{letter}" / name).is_file()
                       for s in ("train", "test"))
        if not in_split and not any((portraits / "quarantine").glob(f"*/{r['domain']}/{name}")):
            missing += 1
    return f"{missing:,} scraped photos not curated yet" if missing else None


def fit_pending(portraits: Path, fitted: Path, size: int) -> Optional[str]:
    """Photos of the curated splits not yet at ``size``², and fitted files whose photo left its split."""
    if not portraits.is_dir():
        return f"{portraits}: not curated yet"
    todo = plan_fit(portraits, fitted, size)
    if todo.complete:
        return None
    return (f"{len(todo.todo):,} photos to fit to {size}×{size}, {len(todo.stale):,} to remove"
            + (f", {len(todo.problems)} problems" if todo.problems else ""))


def masks_pending(roots: Sequence[Path]) -> Optional[str]:
    """Photos under ``roots`` that prepare_masks has not (or not currently) given a mask."""
    reasons = []
    with _silenced("segdepth.masks"):
        for root in roots:
            if not root.is_dir():
                return f"{root}: no such folder yet"
            todo, result = plan(MaskConfig(root=str(root), dry_run=True))
            if todo or result.bad:
                reasons.append(f"{root}: {len(todo):,} photos without a current mask"
                               + (f", {len(result.bad)} problems" if result.bad else ""))
    return "; ".join(reasons) or None


def final_checkpoint(run_dir: Path, total_epochs: int) -> tuple[Optional[Path], Optional[str]]:
    """(the run's latest checkpoint, None) when it ends the schedule's ``total_epochs``, else
    (latest or None, why the run is not finished)."""
    latest = latest_checkpoint(run_dir)
    if latest is None:
        return None, "no checkpoint yet"
    epoch = int(load_checkpoint(latest, ("epoch",))["epoch"])
    if epoch < total_epochs:
        return latest, f"at epoch {epoch} of {total_epochs}, resuming from {latest.name}"
    return latest, None


def translate_pending(run_dir: Path, wanted: TestConfig) -> Optional[str]:
    """Test photos without an output made from the run's final checkpoint with ``wanted``'s settings
    (the saved test_config.json fills in the checkpoint file, the overlay and the size it used)."""
    out, test_input = Path(wanted.out), Path(wanted.input)
    config_file = out / CONFIG_NAME
    if not config_file.is_file():
        return "not translated yet"
    saved = load_config(TestConfig, config_file)
    latest = latest_checkpoint(run_dir)
    if latest is None or saved.checkpoint != str(latest):
        return f"translated with {saved.checkpoint}, not the run's final checkpoint {latest}"
    if config_file.stat().st_mtime_ns < latest.stat().st_mtime_ns:  # a checkpoint of that name written since
        return f"{latest} is newer than the translations"
    filled = {"checkpoint": saved.checkpoint, "overlay": saved.overlay, "size": saved.size, "device": saved.device}
    if not _same_settings(saved, dataclasses.replace(wanted, **filled)):
        return f"{config_file} holds other settings"
    photos, _ = list_photos(test_input)
    missing = [p for p in photos
               if not (out / p.relative_to(test_input).with_suffix(output_suffix(p, wanted.format))).is_file()]
    return f"{len(missing):,} of {len(photos):,} photos not translated" if missing else None


def compare_pending(wanted: CompareConfig, columns: Sequence[str], translations: Sequence[Path]) -> Optional[str]:
    """Why the comparison in ``wanted.out`` is missing, stale or incomplete."""
    out = Path(wanted.out)
    config_file, metrics = out / "config.json", out / "metrics.csv"
    if not (config_file.is_file() and metrics.is_file() and (out / "gallery" / "index.html").is_file()):
        return "not compared yet"
    if not _same_settings(load_config(CompareConfig, config_file), wanted):
        return f"{config_file} holds other settings"
    newer = [t for t in translations if t.is_file() and t.stat().st_mtime_ns > metrics.stat().st_mtime_ns]
    if newer:
        return f"{newer[0].parent} is newer than the comparison"
    root = Path(wanted.input)
    names = {p.relative_to(root).with_suffix("").as_posix() for p in list_photos(root)[0]}
    rows = {(r["method"], r["image"]) for r in csv.DictReader(io.StringIO(read_text(metrics), newline=""))
            if r.get("scope") == "image"}
    missing = sum(1 for c in columns for n in names if (c, n) not in rows)
    return f"{missing} renders missing from {metrics}" if missing else None
