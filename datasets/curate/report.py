"""The files a curation run writes besides the dataset itself (datasets.curate runs the rules).

``review.html`` + ``review/thumbs/`` (the manual pass's page, thumbnails of at most THUMB_SIDE px),
``decisions.csv`` (read back on the next run: the manual decisions), ``rejects.csv`` (every reject,
its reason, its evidence and where it was moved), ``features.csv`` (what the rules measured of each
photo) and ``summary.md`` / ``summary.csv`` (Nasrullah 2018, Table 1). Every file is written
atomically (datasets.io); the items are datasets.curate.Item.
"""
from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from plumbing import markdown
from datasets.io import shrink_to, write_images
from plumbing.files import write_text

from .records import Item

log = logging.getLogger(__name__)

THUMB_SIDE = 160
#: The run's decoded copy of the photo at a path (datasets.curate.read_photo's image).
Photo = Callable[[Path], np.ndarray]


# ----------------------------------------------------------------------------- decisions


def read_decisions(path: Path) -> tuple[dict[str, tuple[str, str]], int]:
    """{domain/file: (decision, note)} from the decisions CSV, and the number of bad rows (logged)."""
    if not path.exists():
        return {}, 0
    found, bad = {}, 0
    with open(path, newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.DictReader(f), 2):
            decision = (row.get("decision") or "").strip().lower()
            if decision not in ("", "keep", "reject"):
                log.error("%s: line %d: decision must be keep, reject or empty, not %r", path, n, decision)
                bad += 1
                continue
            found[f"{row.get('domain', '')}/{row.get('file', '')}"] = (decision, row.get("note") or "")
    return found, bad


def write_decisions(path: Path, items: list[Item], decisions: dict[str, tuple[str, str]]) -> None:
    """The decisions CSV: every image, its automatic result and the decision and note given so far."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["domain", "file", "auto", "detail", "decision", "note"])
    for it in items:
        decision, note = decisions.get(it.key, ("", ""))
        w.writerow([it.domain, it.name, it.auto_reason or "keep", it.detail, decision, note])
    write_text(path, buf.getvalue())


# ----------------------------------------------------------------------------- the review page


def thumb_path(out: Path, it: Item) -> Path:
    """``review/thumbs/DOMAIN/NAME.jpg`` with the photo's whole file name (``a.jpg`` and ``a.png`` get two)."""
    return out / "review" / "thumbs" / it.domain / (it.name + ".jpg")


def thumb_fresh(it: Item, dst: Path) -> bool:
    """Whether the thumbnail at ``dst`` is at least as new as the photo."""
    return dst.exists() and dst.stat().st_mtime_ns >= it.path.stat().st_mtime_ns


def write_thumbnails(thumbs: list[tuple[Path, np.ndarray]]) -> None:
    """A JPEG of at most THUMB_SIDE px at each path (JPEG: a tenth of a PNG's encoding time, which
    dominated), all in one atomic batch (datasets.io.write_images: one folder fsync per batch)."""
    write_images([(dst, shrink_to(image, THUMB_SIDE)) for dst, image in thumbs])


def _thumbnail(it: Item, dst: Path, photo: Photo) -> bool:
    """Whether ``it`` has a thumbnail at ``dst``, made now from ``photo(it.path)`` if missing or older
    than the photo."""
    if "error" in it.features:
        return False
    if not thumb_fresh(it, dst):
        write_thumbnails([(dst, photo(it.path))])
    return True


_EXPORT_JS = """
function exportDecisions() {
  const rows = [["domain", "file", "decision", "note"]];
  document.querySelectorAll("tr[data-key]").forEach(function (tr) {
    const chosen = tr.querySelector("input[type=radio]:checked");
    const note = tr.querySelector("input[type=text]").value;
    const auto = tr.dataset.auto === "keep" ? "keep" : "reject";
    const decision = chosen && chosen.value !== auto ? chosen.value : "";
    rows.push([tr.dataset.domain, tr.dataset.file, decision, note]);
  });
  const csv = rows.map(r => r.map(v => '"' + String(v).replace(/"/g, '""') + '"').join(",")).join("\\n") + "\\n";
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([csv], {type: "text/csv"}));
  a.download = "decisions.csv";
  a.click();
}
"""


def write_review(out: Path, items: list[Item], meta: dict[str, dict], decisions: dict[str, tuple[str, str]],
                 photo: Photo) -> Path:
    """OUT/review.html: one row per image (rejects first), thumbnail, reason, keep/reject, note; a
    missing or stale thumbnail is made from ``photo`` (the run's decoded copy of a photo)."""
    import dominate
    from dominate import tags as t

    doc = dominate.document(title="shallowdof curation review")
    with doc.head:
        t.meta(charset="utf-8")
        t.style("body{font-family:sans-serif} td{vertical-align:top;padding:4px;border-bottom:1px solid #ddd}"
                " .reject{background:#fee} img{max-width:160px}")
    ordered = sorted(items, key=lambda it: (it.reason is None, it.reason or "", it.domain, it.name))
    with doc.body:
        t.h1("Curation review")
        t.p("Choose keep or reject per image, then either press the button to download decisions.csv and "
            "put it in the dataset folder, or edit decisions.csv there directly (column decision: keep, "
            "reject or empty = automatic). Run curate again to apply it.")
        t.button("Download decisions.csv", onclick="exportDecisions()")
        with t.table():
            t.tr(t.th("image"), t.th("domain / file"), t.th("title, licence"), t.th("reason"), t.th("person check"),
                 t.th("decision"))
            for n, it in enumerate(ordered):
                m = meta.get(it.key, {})
                thumb = thumb_path(out, it)
                ok = _thumbnail(it, thumb, photo)
                auto = it.auto_reason or "keep"
                with t.tr(cls="reject" if it.reason else "keep", data_key=it.key, data_domain=it.domain,
                          data_file=it.name, data_auto=auto):
                    t.td(t.img(src=thumb.relative_to(out).as_posix(), loading="lazy", alt=it.name) if ok else "—")
                    t.td(it.key)
                    with t.td():
                        t.div(m.get("title", ""))
                        t.div(m.get("license_name", ""))
                        if m.get("page_url"):
                            t.a("photo page", href=m["page_url"])
                    t.td(f"{it.reason or 'keep'}: {it.detail}" if it.detail else (it.reason or "keep"))
                    t.td(it.features.get("person", {}).get("text", "not checked (an earlier rule decided)"))
                    with t.td():
                        for value in ("keep", "reject"):
                            with t.label():
                                t.input_(type="radio", name=f"d{n}", value=value,
                                         checked=(value == "keep") == (it.reason is None))
                                t.span(value)
                        t.input_(type="text", value=decisions.get(it.key, ("", ""))[1], placeholder="note")
        t.script(_EXPORT_JS)
    path = out / "review.html"
    write_text(path, doc.render())
    return path


# ----------------------------------------------------------------------------- CSV and Markdown reports


def write_rejects(out: Path, items: list[Item]) -> None:
    """OUT/rejects.csv: every rejected image, its reason and evidence, and where it is now (under OUT)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["domain", "file", "reason", "detail", "path"])
    for it in items:
        if it.reason:
            w.writerow([it.domain, it.name, it.reason, it.detail, it.path.relative_to(out).as_posix()])
    write_text(out / "rejects.csv", buf.getvalue())


def write_features(out: Path, items: list[Item], meta: dict[str, dict]) -> None:
    """OUT/features.csv: what the rules measured of every image, its EXIF, licence and fate."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["domain", "file", "sha256", "bytes", "width", "height", "phash", "chroma", "colour_spread",
                "person_mask", "face_score", "face_on_mask", "pose_score", "pose_on_mask", "person_evidence",
                "make", "model", "f_number", "focal_length", "license", "status"])
    for it in items:
        f, ex, p = it.features, it.features.get("exif", {}), it.features.get("person", {})
        w.writerow([it.domain, it.name, f.get("sha256"), f.get("bytes"), f.get("width"), f.get("height"),
                    f.get("phash"), _fmt(f.get("chroma")), _fmt(f.get("colour_spread")),
                    _fmt(p.get("mask_fraction")), _fmt(p.get("face_score")), _fmt(p.get("face_mask")),
                    _fmt(p.get("pose_score")), _fmt(p.get("pose_mask")), p.get("evidence", ""),
                    ex.get("Make", ""), ex.get("Model", ""), ex.get("FNumber", ""), ex.get("FocalLength", ""),
                    meta.get(it.key, {}).get("license_name", ""), it.reason or "keep"])
    write_text(out / "features.csv", buf.getvalue())


def table_markdown(rows: list[dict]) -> str:
    """Table 1 rows (one dict per domain, the same keys) as a Markdown table (plumbing.markdown)."""
    keys = list(rows[0])
    return markdown.table(keys, [[r[k] for k in keys] for r in rows]) + "\n"


def write_summary(out: Path, table: list[dict]) -> None:
    """OUT/summary.csv and OUT/summary.md: Table 1 (datasets.curate's rows, one per domain)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(table[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(table)
    write_text(out / "summary.csv", buf.getvalue())
    write_text(out / "summary.md", "### Dataset (cf. Nasrullah 2018, Table 1)\n\n" + table_markdown(table))


def _fmt(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.4f}"
