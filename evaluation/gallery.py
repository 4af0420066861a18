"""Side-by-side HTML gallery (dominate): one row per image, one column per method.

The page is self-contained: inline CSS and one inline script (allowed by a
Content-Security-Policy hash, so no other script can run even if markup slipped through),
no external scripts or fonts, and only relative links, so the folder works offline and
zipped. All text goes through dominate, which HTML-escapes text and attribute values; file
names in links are percent-encoded as well. Features: a sortable metrics table, checkboxes
that hide columns, thumbnails linking to the full-resolution files, click to enlarge.

Images handed in are numpy uint8 RGB H×W×3 (or H×W grayscale).
"""
from __future__ import annotations

import base64
import hashlib
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union
from urllib.parse import quote

import cv2
import dominate
import numpy as np
from dominate import tags as t
from dominate.util import raw

from datasets.io import PhotoInfo, write_image
from plumbing.files import write_text
from evaluation.report import format_value

log = logging.getLogger(__name__)

PathLike = Union[str, Path]

_CSS = """
body{font-family:system-ui,sans-serif;margin:1em;color:#222;background:#fafafa}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.5em}
table{border-collapse:collapse}
table.metrics th,table.metrics td{border:1px solid #ccc;padding:2px 6px;text-align:right}
table.metrics td.name,table.metrics th.name{text-align:left}
table.metrics th{cursor:pointer;background:#eee;user-select:none}
table.metrics th[aria-sort=ascending]::after{content:" \\25B2"}
table.metrics th[aria-sort=descending]::after{content:" \\25BC"}
table.gallery th,table.gallery td{vertical-align:top;padding:4px;border-bottom:1px solid #ddd}
table.gallery th{position:sticky;top:0;background:#fafafa;text-align:left;max-width:260px}
figure{margin:0}img.thumb{display:block;max-width:256px;max-height:256px}
figcaption,.settings{font-size:.75em;color:#555;max-width:256px;overflow-wrap:anywhere}
td.name{font-weight:bold;min-width:6em;max-width:12em;overflow-wrap:anywhere}
td.missing{color:#a00;font-size:.8em}
fieldset{border:1px solid #ccc;margin:.5em 0}fieldset label{margin-right:1em;white-space:nowrap}
#lightbox{position:fixed;inset:0;background:rgba(0,0,0,.85);display:flex;flex-direction:column;
align-items:center;justify-content:center;z-index:10;cursor:zoom-out}
#lightbox[hidden]{display:none}
#lightbox img{max-width:95vw;max-height:88vh}#lightbox p{color:#eee;margin:.5em}
.errors{color:#a00}.plots img{max-width:48%;margin-right:1%}
img.wide{display:block;max-width:100%;height:auto;margin:.5em 0}
p.lead{max-width:48em;line-height:1.45}
table.links td{padding:3px 10px 3px 0;border-bottom:1px solid #ddd;vertical-align:top}
"""

# Sorting (numbers by data-v, NaN last), column hiding, lightbox. Text only via textContent.
_JS = """
(function () {
  function key(cell) {
    var v = cell.getAttribute('data-v');
    if (v === null) return {s: cell.textContent};
    var n = Number(v);
    return {n: isNaN(n) ? null : n};
  }
  function cmp(a, b) {
    if (a.s !== undefined || b.s !== undefined) return String(a.s).localeCompare(String(b.s));
    if (a.n === null) return b.n === null ? 0 : 1;
    if (b.n === null) return -1;
    return a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
  }
  document.querySelectorAll('table.metrics').forEach(function (table) {
    var heads = table.querySelectorAll('thead th');
    heads.forEach(function (th, col) {
      th.addEventListener('click', function () {
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var a = key(r1.cells[col]), b = key(r2.cells[col]);
          var c = cmp(a, b);
          if (a.n === null || b.n === null) return c;  /* NaN stays last both ways */
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  document.querySelectorAll('input.coltoggle').forEach(function (box) {
    box.addEventListener('change', function () {
      var col = box.getAttribute('data-col');
      document.querySelectorAll('.col-' + col).forEach(function (el) {
        el.style.display = box.checked ? '' : 'none';
      });
    });
  });
  var lb = document.getElementById('lightbox');
  var lbImg = document.getElementById('lightbox-img');
  var lbCap = document.getElementById('lightbox-cap');
  document.querySelectorAll('a.zoom').forEach(function (a) {
    a.addEventListener('click', function (ev) {
      ev.preventDefault();
      lbImg.src = a.getAttribute('href');
      lbCap.textContent = a.getAttribute('data-caption') || '';
      lb.hidden = false;
    });
  });
  lb.addEventListener('click', function () { lb.hidden = true; lbImg.removeAttribute('src'); });
  document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') lb.hidden = true; });
})();
"""


_SHORT_CAPTION = 60  # characters of column settings shown open; longer ones fold into <details>


@dataclass(frozen=True)
class Column:
    """A gallery column: ``title`` (e.g. a method name) and ``settings`` shown under it."""

    title: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def caption(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.settings.items())


@dataclass(frozen=True)
class Cell:
    """One picture: the full-resolution file, its thumbnail (both paths on disk) and a caption."""

    full: Path
    thumb: Path
    caption: str = ""


@dataclass
class Row:
    """One input image: its display name and per column a ``Cell``, a short text shown instead
    of a picture (e.g. "no ground truth"), or None (the render failed)."""

    name: str
    cells: list[Union[Cell, str, None]]


@dataclass
class MetricsTable:
    """Summary rows for the sortable table: ``rows`` are dicts with ``method`` and the
    ``columns`` keys (floats); ``labels`` give the column headings."""

    rows: Sequence[Mapping[str, Any]]
    columns: Sequence[str]
    labels: Mapping[str, str] = field(default_factory=dict)


def write_thumbnail(path: PathLike, image: np.ndarray, max_side: int = 256, icc_profile: Optional[bytes] = None) -> None:
    """Atomically write a small JPEG (or PNG, by extension) of uint8 ``image``, longer side ≤ ``max_side``,
    with the photo's ICC profile when given (a Display P3 photo looks the same in the gallery as full size)."""
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    write_image(path, image, PhotoInfo(icc_profile=icc_profile, jpeg_subsampling=2) if icc_profile else None)


def href(target: PathLike, start: PathLike) -> str:
    """Relative URL from folder ``start`` to file ``target``: POSIX separators, every component
    percent-encoded (so ``#``, ``?``, ``%``, quotes and ``<`` in file names stay literal)."""
    rel = os.path.relpath(os.path.abspath(target), os.path.abspath(start))
    return "/".join(quote(part, safe="") for part in Path(rel).parts)


def _csp(script: str) -> str:
    """The page's Content-Security-Policy: only ``script`` may run (by its hash; none when empty)."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    scripts = f"'sha256-{digest}'" if script else "'none'"
    return f"script-src {scripts}; object-src 'none'; base-uri 'none'; form-action 'none'"


def page(title: str, script: str = "") -> dominate.document:
    """An empty page with the gallery's look: UTF-8, the Content-Security-Policy that lets only
    ``script`` run, the gallery's stylesheet (the gallery and the demo's index page share it)."""
    doc = dominate.document(title=title)
    with doc.head:
        t.meta(charset="utf-8")
        t.meta(http_equiv="Content-Security-Policy", content=_csp(script))
        t.meta(name="viewport", content="width=device-width, initial-scale=1")
        t.style(raw(_CSS))
    return doc


def _data_value(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "NaN"
    if isinstance(v, float) and math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return repr(float(v))


def _metrics_table(table: MetricsTable) -> t.table:
    tbl = t.table(cls="metrics", id="metrics")
    with tbl:
        with t.thead():
            with t.tr():
                t.th("method", cls="name", title="click to sort")
                for c in table.columns:
                    t.th(table.labels.get(c, c), title="click to sort")
        with t.tbody():
            for row in table.rows:
                with t.tr():
                    t.td(str(row["method"]), cls="name")
                    for c in table.columns:
                        v = row.get(c)
                        t.td(format_value(v), data_v=_data_value(v))
    return tbl


def _image_table(columns: Sequence[Column], rows: Sequence[Row], out_dir: Path) -> None:
    """The gallery's table inside the current dominate context: one row per image, one column per
    method, each cell a thumbnail linking to the full-size file (links relative to ``out_dir``)."""
    with t.table(cls="gallery", id="gallery"):
        with t.thead():
            with t.tr():
                t.th("image")
                for k, col in enumerate(columns):
                    with t.th(cls=f"col-{k}"):
                        t.div(col.title)
                        if len(col.caption) > _SHORT_CAPTION:  # long settings fold away
                            with t.details():
                                t.summary("settings", cls="settings")
                                t.div(col.caption, cls="settings")
                        elif col.caption:
                            t.div(col.caption, cls="settings")
        with t.tbody():
            for row in rows:
                with t.tr():
                    t.td(row.name, cls="name")
                    for k, (col, cell) in enumerate(zip(columns, row.cells, strict=True)):
                        if cell is None or isinstance(cell, str):
                            t.td("failed" if cell is None else cell, cls=f"col-{k} missing")
                            continue
                        caption = f"{row.name} · {col.title}" + (f" · {cell.caption}" if cell.caption else "")
                        with t.td(cls=f"col-{k}"):
                            with t.figure():
                                with t.a(href=href(cell.full, out_dir), cls="zoom", data_caption=caption):
                                    t.img(src=href(cell.thumb, out_dir), alt=caption, cls="thumb")
                                if cell.caption:
                                    t.figcaption(cell.caption)


def build_gallery(
    out_dir: PathLike,
    columns: Sequence[Column],
    rows: Sequence[Row],
    metrics: Optional[MetricsTable] = None,
    plots: Sequence[PathLike] = (),
    errors: Sequence[str] = (),
    title: str = "shallowdof comparison",
    notes: Sequence[str] = (),
) -> Path:
    """Write ``out_dir/index.html`` and return its path.

    ``columns`` and each row's ``cells`` are parallel lists; cells point at files anywhere
    under the folder that will be shared (links are made relative to ``out_dir``). ``plots``
    are PNG files shown under the tables; ``errors`` (e.g. "NAME: problem" for images that
    failed) and ``notes`` are listed as text.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = page(title, _JS)
    with doc:
        t.h1(title)
        for note in notes:
            t.p(note, cls="note")
        if errors:
            t.h2(f"{len(errors)} image(s) failed")
            with t.ul(cls="errors"):
                for e in errors:
                    t.li(e)
        if metrics is not None and metrics.rows:
            t.h2("Metrics (click a heading to sort)")
            _metrics_table(metrics)
        if plots:
            t.h2("Training curves")
            with t.div(cls="plots"):
                for p in plots:
                    with t.a(href=href(p, out_dir)):
                        t.img(src=href(p, out_dir), alt=Path(p).stem)
        t.h2("Images")
        with t.fieldset(id="columns"):
            t.legend("Show columns")
            for k, col in enumerate(columns):
                with t.label():
                    t.input_(type="checkbox", cls="coltoggle", checked=True, data_col=str(k))
                    t.span(col.title)
        _image_table(columns, rows, out_dir)
        with t.div(id="lightbox", hidden=True):
            t.img(id="lightbox-img", alt="enlarged image")
            t.p(id="lightbox-cap")
        t.script(raw(_JS))
    path = out_dir / "index.html"
    write_text(path, doc.render())
    return path
