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
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from plumbing import markdown
from datasets.io import shrink_to, write_images
from plumbing.files import MAX_TEXT_BYTES, FileProblem, atomic_path, one_line, read_bytes, write_text

from .records import Item

log = logging.getLogger(__name__)

THUMB_SIDE = 160
#: The run's decoded copy of the photo at a path (datasets.curate.read_photo's image).
Photo = Callable[[Path], np.ndarray]


# ----------------------------------------------------------------------------- decisions

#: The columns curation writes into decisions.csv (a user may add others: they are kept).
DECISION_COLUMNS = ("domain", "file", "auto", "detail", "decision", "note")
#: The columns a decisions file needs to be read (what review.html's button exports has them).
_REQUIRED = ("domain", "file", "decision")


@dataclass
class Decisions:
    """The manual decisions as read from the decisions CSV: ``rows`` by ``domain/file`` (every
    column of the user's row, names as written), how the file was written (``encoding``,
    ``delimiter``: a rewrite keeps them), its ``stamp`` when read (a file changed since is not
    rewritten), and ``bad``, the number of rows with an invalid decision (logged)."""

    rows: dict[str, dict[str, str]] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    encoding: str = "utf-8"
    delimiter: str = ","
    stamp: Optional[tuple[int, int]] = None
    bad: int = 0

    def get(self, key: str) -> tuple[str, str]:
        """(decision, note) of ``domain/file``: ``keep``, ``reject`` or ``""``, and the note."""
        row = self.rows.get(key, {})
        return _decision(row), row.get(self.column("note"), "") or ""

    def column(self, name: str) -> str:
        """The user's spelling of the column ``name`` (``Note``, `` note ``), or ``name``."""
        return next((c for c in self.columns if c.strip().lower() == name), name)


def _decision(row: dict[str, str]) -> str:
    return next(((v or "").strip().lower() for k, v in row.items() if k and k.strip().lower() == "decision"), "")


def decode_spreadsheet_text(data: bytes) -> tuple[str, str]:
    """(text, encoding) of a CSV as spreadsheet programs save it: UTF-8 with or without its
    byte-order mark, UTF-16 with one (Excel's "Unicode text"), else Windows-1252 (Excel's and
    LibreOffice's default on Western Windows; every byte Latin-1 has is read as Latin-1)."""
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding), encoding
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _stamp(path: Path) -> Optional[tuple[int, int]]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def read_decisions(path: Path) -> Decisions:
    """The decisions CSV at ``path`` (none: empty :class:`Decisions`), in any encoding and with the
    delimiter (``,`` ``;`` or tab) a spreadsheet program saved it with; column names are matched
    without regard to case or spaces. A file that is not a regular file, or has no ``domain``,
    ``file`` or ``decision`` column, is one FileProblem: it is neither applied nor rewritten."""
    if not os.path.lexists(path):
        return Decisions()
    stamp = _stamp(path)
    text, encoding = decode_spreadsheet_text(read_bytes(path, MAX_TEXT_BYTES))
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = [c for c in reader.fieldnames or [] if c is not None]
    names = {c.strip().lower(): c for c in columns}
    missing = [c for c in _REQUIRED if c not in names]
    if missing:
        raise FileProblem(path, f"no {' or '.join(repr(c) for c in missing)} column (it has {columns}): "
                                "neither applied nor rewritten; fix its first line")
    found = Decisions(columns=columns, encoding=encoding, delimiter=delimiter, stamp=stamp)
    for n, row in enumerate(reader, 2):
        row = {k: v or "" for k, v in row.items() if k is not None}
        if _decision(row) not in ("", "keep", "reject"):
            log.error("%s", one_line(f"{path}: line {n}: decision must be keep, reject or empty, not {_decision(row)!r}"))
            found.bad += 1
            row[names["decision"]] = ""
        found.rows[f"{row[names['domain']].strip()}/{row[names['file']].strip()}"] = row
    return found


def write_decisions(path: Path, items: list[Item], decisions: Decisions) -> None:
    """The decisions CSV: every image, its automatic result and the decision and note given so far,
    in the encoding and with the delimiter the file had. Nothing of the user's is lost: columns
    they added are kept, and so are rows of photos this run does not have. A file changed since
    it was read (an edit during the run) is left as it is, with a warning."""
    if decisions.stamp is not None and _stamp(path) != decisions.stamp:
        log.warning("%s", one_line(f"{path}: changed during the run; not rewritten (run curate again to apply it)"))
        return
    ours = {c.strip().lower() for c in DECISION_COLUMNS}
    extra = [c for c in decisions.columns if c.strip().lower() not in ours]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=decisions.delimiter, lineterminator="\n")
    w.writerow([*DECISION_COLUMNS, *extra])
    seen = set()
    for it in items:
        seen.add(it.key)
        decision, note = decisions.get(it.key)
        row = decisions.rows.get(it.key, {})
        w.writerow([it.domain, it.name, it.auto_reason or "keep", it.detail, decision, note, *(row.get(c, "") for c in extra)])
    for key, row in decisions.rows.items():  # photos this run does not have: the user's rows as they were
        if key not in seen:
            domain, _, name = key.partition("/")
            decision, note = decisions.get(key)
            w.writerow([domain, name, row.get(decisions.column("auto"), ""), row.get(decisions.column("detail"), ""),
                        decision, note, *(row.get(c, "") for c in extra)])
    text = buf.getvalue()
    try:
        data = text.encode(decisions.encoding)
    except UnicodeEncodeError:  # a note the old encoding cannot hold: UTF-8 with its mark, which spreadsheets read
        data = text.encode("utf-8-sig")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


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


def write_review(out: Path, items: list[Item], meta: dict[str, dict], decisions: Decisions,
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
                        page = str(m.get("page_url") or "")
                        if page.lower().startswith(("http://", "https://")):  # a javascript: URL is no link
                            t.a("photo page", href=page)
                        elif page:
                            t.div(f"photo page (not a web address, not linked): {page}")
                    t.td(f"{it.reason or 'keep'}: {it.detail}" if it.detail else (it.reason or "keep"))
                    t.td(it.features.get("person", {}).get("text", "not checked (an earlier rule decided)"))
                    with t.td():
                        for value in ("keep", "reject"):
                            with t.label():
                                t.input_(type="radio", name=f"d{n}", value=value,
                                         checked=(value == "keep") == (it.reason is None))
                                t.span(value)
                        t.input_(type="text", value=decisions.get(it.key)[1], placeholder="note")
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
