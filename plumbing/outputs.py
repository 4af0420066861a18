"""What a program may write over: never its input, and only files shallowdof itself wrote.

* :func:`overlap_problem`: an output (file or folder) that is one of the inputs, or lies inside
  an input folder whose files it would replace, is refused before any work (``--input X --out X``
  would overwrite the photos; ``--input v.mp4 --output v.mp4`` the video being read);
* :class:`OutputGuard`: every folder a program writes files into keeps a record,
  ``.shallowdof-outputs.jsonl`` (one line per file written: name, size, modification time,
  program). An existing file is replaced only when the record lists it with the size and
  modification time it has now: a file of the user's (not in the record), or one edited or
  replaced since, is left alone with one ``PATH: problem`` line;
* :func:`claim_folder`: a program that fills a folder of its own (compare, the demo) takes only a
  new or empty folder, or one a shallowdof program filled before (it holds the record).

The record is hidden (its name starts with a dot) and image listings skip it.
"""
from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from plumbing.files import FileProblem, PathLike, append_jsonl, read_jsonl, write_text

#: The record of the files shallowdof wrote in a folder (one JSON object per line).
RECORD_NAME = ".shallowdof-outputs.jsonl"

Stamp = tuple[int, int]  # (size in bytes, modification time in ns)


def _real(path: PathLike) -> Path:
    """``path`` absolute, with every symbolic link resolved (a link loop is left as it is)."""
    return Path(os.path.realpath(path))


def overlap_problem(output: PathLike, inputs: Iterable[PathLike]) -> Optional[str]:
    """Why writing ``output`` would destroy an input, or None: ``output`` is one of ``inputs`` (the
    same file or folder, through links too), lies inside an input folder, or holds one (its outputs,
    named like the inputs, would replace their files, and a rerun would take them for inputs)."""
    out = _real(output)
    for item in inputs:
        given = _real(item)
        if out == given:
            return f"{output}: is the input {item}; the outputs would replace it. Choose another output"
        if given.is_dir() and (out.is_relative_to(given) or given.is_relative_to(out)):
            where = "inside the input folder" if out.is_relative_to(given) else "a folder holding the input"
            return f"{output}: is {where} {item}; the outputs would replace its files. Choose another output"
    return None


def file_stamp(path: PathLike) -> Optional[Stamp]:
    """(size, mtime_ns) of the regular file ``path`` itself (a symbolic link is not followed), or
    None when there is no regular file there."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None


@dataclass
class OutputGuard:
    """The files ``program`` may replace: those the folders' records list, unchanged since (see the
    module docstring). One per run; it keeps the records it has read."""

    program: str
    _records: dict[Path, dict[str, Stamp]] = field(default_factory=dict, repr=False)

    def _recorded(self, folder: Path, reread: bool = False) -> dict[str, Stamp]:
        if reread or folder not in self._records:
            entries = read_jsonl(folder / RECORD_NAME)
            found = {e["file"]: (e["size"], e["mtime_ns"]) for e in entries
                     if isinstance(e, dict) and isinstance(e.get("file"), str)
                     and isinstance(e.get("size"), int) and isinstance(e.get("mtime_ns"), int)}
            if len(entries) > 2 * len(found) + 100:  # mostly rewrites of the same files: keep the last of each
                write_text(folder / RECORD_NAME, "".join(
                    json.dumps({"file": n, "size": s, "mtime_ns": m}) + "\n" for n, (s, m) in found.items()))
            self._records[folder] = found
        return self._records[folder]

    def is_ours(self, path: PathLike) -> bool:
        """Whether ``path`` is absent or a file that a shallowdof program wrote and nobody changed since."""
        path = Path(path)
        if not os.path.lexists(path):
            return True
        stamp = file_stamp(path)
        if stamp is None:
            return False
        folder = path.parent
        if self._recorded(folder).get(path.name) == stamp:
            return True
        return self._recorded(folder, reread=True).get(path.name) == stamp  # another run may have written it

    def check(self, path: PathLike) -> None:
        """:class:`FileProblem` when ``path`` exists and is not a file shallowdof wrote (or was changed since)."""
        if not self.is_ours(path):
            raise FileProblem(path, "exists and was not written by shallowdof (or was changed since): "
                                    f"{self.program} does not replace it; move it away or write elsewhere")

    def record(self, path: PathLike) -> None:
        """Note ``path``, just written, in its folder's record."""
        path = Path(path)
        stamp = file_stamp(path)
        if stamp is None:
            return
        append_jsonl(path.parent / RECORD_NAME, {"file": path.name, "size": stamp[0], "mtime_ns": stamp[1],
                                                 "program": self.program})
        self._recorded(path.parent)[path.name] = stamp


def claim_folder(folder: PathLike, program: str) -> None:
    """Make ``folder`` the output folder of ``program``: refused (:class:`FileProblem`, before any
    work) when it exists, is not empty and holds no record of shallowdof's; else created if needed,
    with a record that says shallowdof filled it."""
    folder = Path(folder)
    record = folder / RECORD_NAME
    if folder.is_dir() and not record.is_file() and any(folder.iterdir()):
        raise FileProblem(folder, f"is not empty and was not filled by shallowdof: {program} writes a folder of "
                                  "its own and would replace files in it; choose a new or empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    if not record.is_file():
        append_jsonl(record, {"folder": program})
