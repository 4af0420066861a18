"""Files written whole or not at all, and the JSON / JSONL files every program keeps.

Writing is atomic: every writer goes through :func:`atomic_path`, which writes a temporary file
in the target's folder, fsyncs it and renames it onto the target with :func:`os.replace`. On any
error the temporary file is removed and an existing target is left untouched, so no partial
output is ever visible under the final name. :func:`atomic_paths` does the same for a batch of
files with one folder fsync for all (e.g. curation's thumbnails, through
``datasets.io.write_images``). :func:`remove_stale_temporaries` clears what a killed run left.

JSON: :func:`write_json` (indented, paths / dataclasses / numpy values converted) and
:func:`write_text` write atomically; :func:`append_jsonl` appends one fsynced record to a JSONL
log or manifest and :func:`read_jsonl` reads one back, tolerating the last line a crash cut.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, Union

import numpy as np

log = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def new_file_mode() -> int:
    """The permission bits a new file gets under the user's umask (0o666 & ~umask), as ``open``
    would give; :func:`tempfile.mkstemp` always uses 0o600, so atomic writers chmod to this.
    The umask is read from /proc (thread-safe) where there is one."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success it is fsynced and renamed onto ``path``.

    The temporary name is hidden and keeps the real extension (``.NAME.XXXX.tmp.png``) so that
    writers picking a format from the name still work. On any exception the temporary file is
    removed and an existing ``path`` stays untouched. Parent folders are created.
    """
    with atomic_paths([path]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_paths(paths: Sequence[PathLike]) -> Iterator[list[Path]]:
    """:func:`atomic_path` for a batch of files: yield one temporary per path; on success every
    temporary is fsynced, then all are renamed onto their paths, then each folder is fsynced once.

    The durability barrier is shared: one folder fsync per batch instead of one per file (the
    data of every file still reaches the disk before any rename, so a crash at any point leaves
    each path either as it was or complete, never truncated). On any exception before the renames
    every temporary is removed and no path is touched. The paths must differ.
    """
    paths = [Path(p) for p in paths]
    if len(set(paths)) != len(paths):
        raise ValueError("atomic_paths: the same path twice in one batch")
    tmps: list[Path] = []
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + path.suffix)
            os.close(fd)
            tmps.append(Path(tmp_name))
        yield list(tmps)
        default_mode = new_file_mode()
        for path, tmp in zip(paths, tmps):
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else default_mode)
        for path, tmp in zip(paths, tmps):
            os.replace(tmp, path)
    except BaseException:
        for tmp in tmps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        raise
    for folder in dict.fromkeys(path.parent for path in paths):
        _fsync_dir(folder)


#: The name :func:`atomic_path` gives its temporary files: ``.TARGET.XXXXXXXX.tmp.EXT`` (mkstemp's 8 characters).
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[A-Za-z0-9_]{8}\.tmp(\.[^./]*)?$")


def remove_stale_temporaries(folder: PathLike, is_own: Callable[[str], bool]) -> int:
    """Delete the temporary files a killed run of :func:`atomic_path` left in ``folder`` (not
    recursive) whose target name ``is_own`` accepts; returns how many. Only call it where no
    other process writes the same outputs at the same time."""
    folder = Path(folder)
    removed = 0
    if not folder.is_dir():
        return 0
    for entry in folder.iterdir():
        match = _TEMP_NAME.match(entry.name)
        if match and entry.is_file() and is_own(match["target"]):
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
                removed += 1
    if removed:
        log.info("%s: removed %d temporary file(s) left by an interrupted run", folder, removed)
    return removed


def _json_default(obj: Any) -> Any:
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def write_text(path: PathLike, text: str) -> None:
    """Atomically write UTF-8 text."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def write_json(path: PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (paths, dataclasses and numpy values are converted)."""
    write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def append_jsonl(path: PathLike, record: Any) -> None:
    """Append ``record`` as one JSON line, flushed and fsynced (a crash loses at most this line)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, default=_json_default) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: PathLike, *, repair: bool = False) -> list[dict]:
    """All records of a JSONL file such as a manifest or a log (missing file → []).

    A last line cut by a crash (no trailing newline, not valid JSON) is ignored; with
    ``repair=True`` it is also truncated away so that later appends start on a fresh line.
    Any other invalid line raises ValueError naming the file and line.
    """
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    records = []
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError:
                raise ValueError(f"{path}: line {number} is not valid JSON") from None
    if tail.strip():
        try:
            records.append(json.loads(tail))
            if repair:
                with open(path, "ab") as f:
                    f.write(b"\n")
        except ValueError:
            log.warning("%s: ignoring a partial last line left by an interrupted run", path)
            if repair:
                with open(path, "rb+") as f:
                    f.truncate(len(data) - len(tail))
                    os.fsync(f.fileno())
    return records
