"""Comparison reports: metric tables (CSV / Markdown) and GAN loss-curve plots.

Per-image metric rows are dicts ``{"method": str, "image": str, <metric>: float, ...}``;
``summarize`` reduces them to one row per method (mean and median over images, NaNs
ignored). Set metrics (FID, KID, blur-distribution distance) are one value per method and
are passed beside the summary as ``{method: {name: value}}``.

Loss curves come from GAN run folders ``runs/NAME/{log.jsonl, config.json}``: every numeric
key of a log line is a series; "cycle" losses are the keys containing ``cycle`` and mask
losses the keys starting with ``mask``; the preset and whether the mask overlay was used in
training are read from config.json (Nasrullah 2018, Figs. 15 and 16).
"""
from __future__ import annotations

import csv
import io
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from plumbing import markdown
from plumbing.files import read_json, write_text
from gan.runlog import Panel, is_loss_key, plot_curves, read_log

log = logging.getLogger(__name__)

PathLike = Union[str, Path]
SetMetrics = Mapping[str, Mapping[str, float]]
_X_LABEL = "iteration (log record)"


# ----------------------------------------------------------------------------- tables


def _reduce(values: Sequence[float], fn: Callable[[np.ndarray], float]) -> float:
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if arr.size == 0 or np.isnan(arr).all():
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # inf − inf inside nanmedian
        return float(fn(arr))


def summarize(rows: Sequence[Mapping[str, Any]], metric_names: Sequence[str]) -> list[dict[str, Any]]:
    """One dict per method, in first-seen order: ``method``, ``n`` (images) and for every metric
    ``<name>_mean`` and ``<name>_median`` over that method's rows (NaNs ignored, NaN if none)."""
    by_method: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_method.setdefault(row["method"], []).append(row)
    summary = []
    for method, items in by_method.items():
        entry: dict[str, Any] = {"method": method, "n": len(items)}
        for name in metric_names:
            values = [r.get(name) for r in items]
            entry[f"{name}_mean"] = _reduce(values, np.nanmean)
            entry[f"{name}_median"] = _reduce(values, np.nanmedian)
        summary.append(entry)
    return summary


def _csv_value(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return "" if v is None else str(v)


def metrics_csv(
    rows: Sequence[Mapping[str, Any]],
    summary: Sequence[Mapping[str, Any]],
    metric_names: Sequence[str],
    set_metrics: Optional[SetMetrics] = None,
) -> str:
    """CSV text: per-image rows (``scope=image``), then per method a ``mean`` and a ``median`` row.

    Columns: scope, method, image, the metrics, then the set metrics (filled in the summary
    rows only). NaN is written as an empty cell, infinity as ``inf``.
    """
    set_metrics = set_metrics or {}
    set_names = sorted({k for v in set_metrics.values() for k in v})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["scope", "method", "image", *metric_names, *set_names])
    for row in rows:
        writer.writerow(["image", row["method"], row["image"], *(_csv_value(row.get(m)) for m in metric_names),
                         *([""] * len(set_names))])
    for entry in summary:
        extra = [_csv_value(set_metrics.get(entry["method"], {}).get(s)) for s in set_names]
        for stat in ("mean", "median"):
            writer.writerow([stat, entry["method"], "", *(_csv_value(entry[f"{m}_{stat}"]) for m in metric_names),
                             *extra])
    return out.getvalue()


def format_value(v: Optional[float]) -> str:
    """Short human form of a metric value: 4 significant digits, ``–`` for NaN/missing."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:.4g}"


def metrics_markdown(
    summary: Sequence[Mapping[str, Any]],
    metric_names: Sequence[str],
    labels: Optional[Mapping[str, str]] = None,
    set_metrics: Optional[SetMetrics] = None,
    notes: Sequence[str] = (),
) -> str:
    """A Markdown table, one row per method; per-image metrics as "mean / median"; then ``notes``."""
    labels = labels or {}
    set_metrics = set_metrics or {}
    set_names = sorted({k for v in set_metrics.values() for k in v})
    head = ["method", "n", *(labels.get(m, m) for m in metric_names), *(labels.get(s, s) for s in set_names)]
    rows = [[e["method"], e["n"],
             *(f"{format_value(e[f'{m}_mean'])} / {format_value(e[f'{m}_median'])}" for m in metric_names),
             *(format_value(set_metrics.get(e["method"], {}).get(s)) for s in set_names)] for e in summary]
    lines = [markdown.table(head, rows), "", "Per-image metrics are mean / median over images."]
    lines += [f"- {markdown.escape(n)}" for n in notes]
    return "\n".join(lines) + "\n"


def write_metrics(
    out_dir: PathLike,
    rows: Sequence[Mapping[str, Any]],
    metric_names: Sequence[str],
    labels: Optional[Mapping[str, str]] = None,
    set_metrics: Optional[SetMetrics] = None,
    notes: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Write ``metrics.csv`` and ``metrics.md`` (with ``notes`` under the table) into ``out_dir``
    (atomically); return the summary."""
    out_dir = Path(out_dir)
    summary = summarize(rows, metric_names)
    write_text(out_dir / "metrics.csv", metrics_csv(rows, summary, metric_names, set_metrics))
    write_text(out_dir / "metrics.md", metrics_markdown(summary, metric_names, labels, set_metrics, notes))
    return summary


# ----------------------------------------------------------------------------- GAN run logs


def _find_key(obj: Any, key: str) -> Any:
    """First value stored under ``key`` anywhere in nested dicts (depth-first), else None."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for value in obj.values():
            found = _find_key(value, key)
            if found is not None:
                return found
    return None


@dataclass
class RunLog:
    """One GAN training run: its name, preset, whether the overlay was on in training, and log records."""

    name: str
    preset: str
    overlay: Optional[bool]
    records: list[dict[str, float]]

    @property
    def label(self) -> str:
        return self.name if self.preset == self.name else f"{self.name} ({self.preset})"


def load_run(run_dir: PathLike) -> RunLog:
    """Read ``run_dir/log.jsonl`` and ``run_dir/config.json``: the preset, and the training overlay from
    ``mask_overlay_train`` (or ``overlay``) anywhere in the config, else from ``gan.model.PRESETS``."""
    run_dir = Path(run_dir)
    config: dict[str, Any] = {}
    if (run_dir / "config.json").is_file():
        try:
            config = read_json(run_dir / "config.json")
        except ValueError as exc:  # FileProblem: not a regular file, not JSON, nested too deeply
            log.warning("%s; preset unknown", exc)
    preset = _find_key(config, "preset")
    overlay = _find_key(config, "mask_overlay_train")
    if overlay is None:
        overlay = _find_key(config, "overlay")
    if overlay is None and preset is not None:  # a TrainConfig names the preset; the preset says
        from gan.model import PRESETS

        if preset in PRESETS:
            overlay = PRESETS[preset].get("mask_overlay_train", False)
    return RunLog(
        name=run_dir.name,
        preset=str(preset) if preset is not None else run_dir.name,
        overlay=bool(overlay) if overlay is not None else None,
        records=read_log(run_dir / "log.jsonl"),
    )


def loss_series(records: Sequence[Mapping[str, float]], select: Callable[[str], bool]) -> tuple[np.ndarray, np.ndarray]:
    """x (training position) and y (sum of the selected loss keys) over records that have any of them.

    x is the record's ``step`` (iterations over the run) when present, otherwise its position in
    the log (1, 2, …); ``iter`` counters of other logs may restart every epoch, so they are not
    used as the axis. Keys in ``gan.runlog.LOG_STAT_KEYS`` are never losses.
    """
    xs, ys = [], []
    for i, rec in enumerate(records, 1):
        keys = [k for k in rec if is_loss_key(k) and select(k)]
        if not keys:
            continue
        xs.append(rec.get("step", float(i)))
        ys.append(sum(rec[k] for k in keys))
    return np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)


def is_cycle_key(key: str) -> bool:
    """Cycle-consistency loss keys: ``cycle_A``, ``cycle_B``, ``loss_cycle`` …"""
    return "cycle" in key.lower()


def is_mask_key(key: str) -> bool:
    """Mask loss keys: ``mask_A``, ``mask_B``, ``mask`` … (Nasrullah 2018, eq. 11)."""
    return key.lower().startswith("mask")


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(y) < window:
        return y
    kernel = np.ones(window) / window
    return np.convolve(np.pad(y, (window // 2, window - 1 - window // 2), mode="edge"), kernel, mode="valid")


def plot_cycle_loss(runs: Sequence[RunLog], path: PathLike, smooth: int = 1) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Cycle loss (sum of the cycle keys) per run and preset, as in Nasrullah 2018, Fig. 15.

    Writes a PNG at ``path`` and returns the plotted data ``{label: (x, y)}`` (after the moving
    average of ``smooth`` records). Runs without cycle keys are left out.
    """
    series = {}
    for run in runs:
        x, y = loss_series(run.records, is_cycle_key)
        if len(x):
            series[run.label] = (x, _smooth(y, smooth))
    plot_curves(path, [Panel("Cycle-consistency loss per preset", series, _X_LABEL, "cycle loss (A + B)")])
    return series


def plot_mask_loss(runs: Sequence[RunLog], path: PathLike, smooth: int = 1) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Mask loss with and without the training overlay, as in Nasrullah 2018, Fig. 16.

    Only runs that log mask-loss keys are drawn; labels say "overlay" / "no overlay" (or
    "overlay ?" when config.json does not tell). Returns ``{label: (x, y)}``.
    """
    series = {}
    for run in runs:
        x, y = loss_series(run.records, is_mask_key)
        if len(x):
            tag = {True: "overlay", False: "no overlay", None: "overlay ?"}[run.overlay]
            series[f"{run.label}, {tag}"] = (x, _smooth(y, smooth))
    plot_curves(path, [Panel("Mask loss with and without the mask overlay", series, _X_LABEL, "mask loss (A + B)")])
    return series
