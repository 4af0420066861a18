"""The one Markdown-table writer: curation's Table 1 (datasets.curate), the scrape summary
(datasets.flickr), ``--evaluate``'s table (segdepth.train) and the comparison's metrics.md
(evaluation.report) all go through :func:`table`.

A GitHub-flavoured table: a header row, a ``|---|`` rule, one row per record; each cell is its
``str()`` with ``\\``, ``|`` and line breaks escaped (:func:`escape`) and one space either side
(an empty cell is ``| |``).
"""
from __future__ import annotations

from typing import Iterable, Sequence


def escape(text: str) -> str:
    """``text`` safe inside a Markdown table cell or list item: ``\\`` and ``|`` escaped, line breaks as spaces."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _cell(value: object) -> str:
    text = escape(str(value))
    return f" {text} " if text else " "


def _row(cells: Iterable[object]) -> str:
    return "|" + "|".join(_cell(c) for c in cells) + "|"


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """``header`` and ``rows`` (each as long as ``header``; cells ``str()``-ed) as a Markdown table,
    lines joined by ``\\n``, without a final newline."""
    lines = [_row(header), "|" + "---|" * len(header)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a Markdown row of {len(row)} cells under a header of {len(header)}: {list(row)}")
        lines.append(_row(row))
    return "\n".join(lines)
