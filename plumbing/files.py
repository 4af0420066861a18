"""Files read safely, written whole or not at all, and the JSON / JSONL files every program keeps.

Reading: every reader of a file a user hands in goes through :func:`open_regular` (or
:func:`read_bytes` / :func:`read_text` / :func:`read_json` on top of it): only a regular file is
opened, never a folder, FIFO, socket or device (a FIFO would block forever, ``/dev/zero`` never
ends), a symbolic link is followed only to a regular file (a loop is an error), and the file must
be within the size limit the reader gives. Every problem is one :class:`FileProblem`
(``"PATH: problem"``, a ValueError) whose text is one line: control characters in a file name
are escaped (:func:`one_line`). JSON nested too deeply for Python's parser is a ValueError, not
a RecursionError (:func:`loads_json`).

Writing is atomic: every writer goes through :func:`atomic_path`, which writes a temporary file
in the target's folder, fsyncs it and renames it onto the target with :func:`os.replace`. On any
error the temporary file is removed and an existing target is left untouched, so no partial
output is ever visible under the final name. :func:`atomic_paths` does the same for a batch of
files with one folder fsync for all (e.g. curation's thumbnails, through
``datasets.io.write_images``). A temporary's name carries the host and process that write it and
stays within the file system's 255-byte name limit whatever the target's name;
:func:`remove_stale_temporaries` removes only those whose process is gone, so two runs writing
into one folder at once never delete each other's files.

JSON: :func:`write_json` (indented, paths / dataclasses / numpy values converted) and
:func:`write_text` write atomically; :func:`append_jsonl` appends one fsynced record to a JSONL
log or manifest and :func:`read_jsonl` reads one back, tolerating the last line a crash cut.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import json
import logging
import os
import re
import socket
import stat
import tempfile
import unicodedata
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Optional, Sequence, Union

import numpy as np

log = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

#: Size limit of the text files programs read (manifests, logs, CSV and JSON files): far above any
#: real one, and a file of many gigabytes given by mistake is refused instead of filling the memory.
MAX_TEXT_BYTES = 256 * 2**20
#: Size limit of the binary files programs read (photos, depth maps, checkpoints, videos).
MAX_BINARY_BYTES = 16 * 2**30


# ---------------------------------------------------------------------------------------------
# reading

def one_line(text: str) -> str:
    """``text`` with control characters (newline, tab, escape …), line and paragraph separators
    and undecodable bytes written as Python escapes (``\\n``, ``\\x1b``, ``\\u2028``, ``\\udcff``):
    a message naming a file stays one line, and a file name cannot move the cursor or recolour
    the terminal."""
    return "".join(ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs")
                   else ch for ch in text)


class FileProblem(ValueError):
    """A file that cannot be used as it is. ``str(err)`` is ``"PATH: problem"`` on one line
    (:func:`one_line`); ``path`` and ``problem`` are kept apart as well."""

    def __init__(self, path: PathLike, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(one_line(f"{os.fspath(path)}: {problem}"))


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n:,} bytes"


def _open_problem(path: PathLike, exc: OSError) -> str:
    """What an OSError from stat or open says about ``path``, in a user's words."""
    if exc.errno == errno.ENOENT:
        return "a symbolic link to a missing file" if os.path.islink(path) else "no such file"
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop (the link never reaches a file)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENAMETOOLONG:
        return "file name too long"
    return f"cannot open ({exc.strerror or exc})"


def _check_stat(path: PathLike, st: os.stat_result, max_bytes: Optional[int]) -> None:
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise FileProblem(path, "is a folder, not a file")
    if not stat.S_ISREG(mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a special file")
        raise FileProblem(path, f"is {kind}, not a regular file")
    if max_bytes is not None and st.st_size > max_bytes:
        raise FileProblem(path, f"is {_size(st.st_size)}, above the limit of {_size(max_bytes)} for this file")


def check_regular(path: PathLike, max_bytes: Optional[int] = None) -> os.stat_result:
    """The ``os.stat`` of ``path`` when it is a regular file (a symbolic link is followed) of at
    most ``max_bytes``; else :class:`FileProblem` (missing, a folder, FIFO, socket or device, a
    link loop, too large). Nothing is opened."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise FileProblem(path, _open_problem(path, exc)) from None
    _check_stat(path, st, max_bytes)
    return st


def open_regular(path: PathLike, max_bytes: Optional[int] = MAX_BINARY_BYTES) -> BinaryIO:
    """``path`` opened for reading in binary mode, only when it is a regular file of at most
    ``max_bytes`` (:func:`check_regular`). It is checked before it is opened (opening some devices
    acts on them) and again once open, on the file actually opened; the open does not wait (a FIFO
    put there in between is refused, not waited on)."""
    check_regular(path, max_bytes)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise FileProblem(path, _open_problem(path, exc)) from None
    try:
        _check_stat(path, os.fstat(fd), max_bytes)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_bytes(path: PathLike, max_bytes: int = MAX_BINARY_BYTES) -> bytes:
    """The content of the regular file ``path`` (:func:`open_regular`), at most ``max_bytes``."""
    with open_regular(path, max_bytes) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew while being read
        raise FileProblem(path, f"is above the limit of {_size(max_bytes)} for this file")
    return data


def read_text(path: PathLike, max_bytes: int = MAX_TEXT_BYTES, encoding: str = "utf-8") -> str:
    """The text of the regular file ``path`` (:func:`read_bytes`); text that is not ``encoding``
    is a :class:`FileProblem` naming the first bad byte."""
    data = read_bytes(path, max_bytes)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FileProblem(path, f"not {encoding} text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def loads_json(text: Union[str, bytes]) -> Any:
    """``json.loads(text)``; JSON nested deeper than Python's parser recurses is a ValueError
    like any other invalid JSON, not a RecursionError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply to read") from None


def read_json(path: PathLike, max_bytes: int = MAX_TEXT_BYTES) -> Any:
    """The JSON value in the regular file ``path``; every problem is one :class:`FileProblem`."""
    text = read_text(path, max_bytes)
    if not text.strip():
        raise FileProblem(path, "empty file")
    try:
        return loads_json(text)
    except json.JSONDecodeError as exc:
        raise FileProblem(path, f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:
        raise FileProblem(path, str(exc)) from None


# ---------------------------------------------------------------------------------------------
# writing


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

    The temporary name is hidden, names the writing process and keeps the real extension
    (:func:`temporary_affixes`: ``.NAME.HOSTPID-XXXXXXXX.tmp.png``) so that writers picking a
    format from the name still work. On any exception the temporary file is removed and an
    existing ``path`` stays untouched. Parent folders are created.
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
            prefix, suffix = temporary_affixes(path)
            fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
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


#: The longest file name (bytes) of the common file systems (ext4, XFS, Btrfs, APFS, NTFS's 255 UTF-16 units).
NAME_MAX = 255
#: This machine, in the names of the temporaries its processes write (a folder shared over the
#: network may hold another machine's, whose processes cannot be looked up here).
_HOST = hashlib.sha1(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:6]
#: A temporary of :func:`atomic_paths`: ``.TARGET.HOSTPID-XXXXXXXX.tmp.EXT`` (TARGET maybe cut short).
_TEMP_NAME = re.compile(r"^\.(?P<target>.*)\.(?P<host>[0-9a-f]{6})(?P<pid>[0-9]+)-[A-Za-z0-9_]{8}\.tmp(\.[^./]*)?$")


def temporary_affixes(path: PathLike) -> tuple[str, str]:
    """(prefix, suffix) of :func:`tempfile.mkstemp` for a temporary of ``path``: ``.NAME.HOSTPID-``
    and ``.tmp.EXT``, with NAME cut short (whole characters) so that the temporary's name, with
    mkstemp's 8 random characters, stays within NAME_MAX bytes whatever the target's name."""
    path = Path(path)
    tag, suffix = f".{_HOST}{os.getpid()}-", ".tmp" + path.suffix
    room = NAME_MAX - len(os.fsencode(f".{tag}{suffix}")) - 8
    name = path.name
    while name and len(os.fsencode(name)) > room:
        name = name[:-1]
    return f".{name}{tag}", suffix


def _writer_gone(host: str, pid: int) -> bool:
    """Whether the process that wrote a temporary is provably gone: it ran on this machine and no
    process has its id now. A process id in use again by another process keeps the file (never
    removed by mistake; left for a later run)."""
    if host != _HOST or os.name != "posix":  # os.kill(pid, 0) is a probe on POSIX only
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: the process exists (another user's)
        return False
    return False


def remove_stale_temporaries(folder: PathLike) -> int:
    """Delete the temporary files of :func:`atomic_paths` in ``folder`` (not recursive) whose writing
    process is gone (a killed run's); returns how many. The temporaries of a run still writing,
    in this process or another, are left alone, so two runs into one folder can run at once."""
    folder = Path(folder)
    removed = 0
    if not folder.is_dir():
        return 0
    with os.scandir(folder) as entries:
        for entry in entries:
            match = _TEMP_NAME.match(entry.name)
            if match and entry.is_file(follow_symlinks=False) and _writer_gone(match["host"], int(match["pid"])):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
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
    if not os.path.lexists(path):
        return []
    data = read_bytes(path, MAX_TEXT_BYTES)
    records = []
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                records.append(loads_json(line))
            except ValueError:
                raise FileProblem(path, f"line {number} is not valid JSON") from None
    if tail.strip():
        try:
            records.append(loads_json(tail))
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
