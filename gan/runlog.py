"""A training run's ``log.jsonl``: which keys of a record are not losses, reading it, and the one
loss-curve plotter (the run's own ``loss_curves.png`` and the comparison plots of
``evaluation.report``, Nasrullah 2018 Figs. 15 and 16).

A record is one flat JSON object that ``gan.train`` appends every ``log_every`` iterations:
:data:`LOG_STAT_KEYS` (where and how fast the run was) and, under the model's loss names
(``G_A``, ``cycle_A``, ``mask_A``, ``D_A`` …), the mean of each loss over the window. Every other
key of a record is a loss. Imports no torch, so reports read logs cheaply.
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Sequence

from plumbing.files import atomic_path, loads_json, read_text

log = logging.getLogger(__name__)

# Keys of a log.jsonl record that are not losses, in the order gan.train writes them.
LOG_STAT_KEYS = ("epoch", "iter", "step", "epoch_iter", "progress", "lr", "it_per_s", "data_time_s",
                 "sec_per_kimg", "peak_mem_mb", "world_size", "time")

Series = tuple[Sequence[float], Sequence[float]]  # x, y


def is_loss_key(key: str) -> bool:
    """Whether a record's ``key`` is a loss (every key but :data:`LOG_STAT_KEYS`)."""
    return key not in LOG_STAT_KEYS


def read_log(path: str | os.PathLike) -> list[dict[str, float]]:
    """The numeric, finite fields of every JSON line of a training log; a line that is not a JSON
    object is skipped with a warning naming it."""
    records = []
    for lineno, line in enumerate(read_text(path).splitlines(), 1):  # FileProblem: not a regular text file
        if not line.strip():
            continue
        try:
            obj = loads_json(line)
        except ValueError as exc:
            log.warning("%s:%d: skipped, not JSON (%s)", path, lineno, getattr(exc, "msg", exc))
            continue
        if not isinstance(obj, dict):
            log.warning("%s:%d: skipped, not a JSON object", path, lineno)
            continue
        records.append({k: float(v) for k, v in obj.items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)})
    return records


@dataclass
class Panel:
    """One plot of curves: ``series`` maps a legend label to its (x, y) points."""

    title: str
    series: dict[str, Series]
    xlabel: str
    ylabel: str = "loss"


def plot_curves(path: str | os.PathLike, panels: Sequence[Panel], size: tuple[float, float] = (6.4, 3.6),
                dpi: int = 100) -> None:
    """Draw ``panels`` side by side into the PNG ``path`` (atomically). Series of few points get
    markers, so that a single record is a dot rather than an invisible zero-length line; a panel
    without series says "no data". Uses matplotlib's object API, no pyplot state."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=dpi)
    for i, panel in enumerate(panels, 1):
        ax = fig.add_subplot(1, len(panels), i)
        for label, (x, y) in panel.series.items():
            ax.plot(x, y, label=label, linewidth=1.2, marker="o" if len(x) < 30 else None, markersize=3)
        ax.set_title(panel.title)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        if panel.series:
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def plot_loss_curves(log_path: str | os.PathLike, out_path: str | os.PathLike) -> None:
    """A run's ``loss_curves.png``: every loss of its ``log.jsonl`` against fractional epoch,
    generator terms and discriminator terms (names starting with ``D``) in two panels.
    Nothing is written while the log has no record."""
    records = [r for r in read_log(log_path) if "progress" in r]
    if not records:
        return
    names = sorted({k for r in records for k in r if is_loss_key(k)})
    panels = [Panel("generator terms", {}, "epoch"), Panel("discriminator terms", {}, "epoch")]
    for name in names:
        pts = [(r["progress"], r[name]) for r in records if name in r]
        panels[1 if name.startswith("D") else 0].series[name] = ([p for p, _ in pts], [v for _, v in pts])
    plot_curves(out_path, panels, size=(11, 4), dpi=90)
