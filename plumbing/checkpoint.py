"""Tagged checkpoints: the one way a file saved with torch is written, read and recognised.

Every checkpoint shallowdof writes is a dict of plain containers and tensors, so that
``torch.load(weights_only=True)`` reads it (no pickled code runs), with a format tag under the
key ``"format"``. Each package keeps its own schema (what the dict holds besides the tag) and
describes its kinds of file with a :class:`CheckpointFormat`; this module writes them atomically
(:func:`save_tagged`), reads them (:func:`read_file`, :func:`load_tagged`) and checks the tag.

Tags are spelled ``shallowdof.PACKAGE.KIND/VERSION`` (``shallowdof.cyclegan.train/1``,
``shallowdof.segdepth.train/1``, ``shallowdof.cyclegan.networks/1``). Files written under an
earlier spelling (``shallowdof-segdepth/1``, ``shallowdof-demo-gan-1``) are read as the same
format: a format lists its earlier names in ``old_names``.

One policy for a file without a tag: it is read only where its format was once written without
one (``untagged``: the version such a file is, with a log note); elsewhere it is refused. Every
problem is one :class:`CheckpointError` whose message is ``"PATH: problem"``.
"""
from __future__ import annotations

import logging
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from plumbing.files import FileProblem, atomic_path, one_line, open_regular

#: Terminal colour codes (torch's messages carry some).
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

log = logging.getLogger(__name__)

#: The key of the format tag in every checkpoint dict.
TAG_KEY = "format"


class CheckpointError(ValueError):
    """A checkpoint or weights file that cannot be used (missing, unreadable, of another format or
    version, of another architecture); the message is one line naming the file and the problem."""


@dataclass(frozen=True)
class CheckpointFormat:
    """One kind of checkpoint file and the tags it is recognised by.

    ``name``: ``shallowdof.PACKAGE.KIND``; ``what``: how an error names the kind ("CycleGAN
    checkpoint"); ``writer``: the program that writes it; ``versions``: the versions this code
    reads, the last one written; ``untagged``: the version a file without a tag is read as (None:
    refused); ``old_names``: earlier spellings of ``name``, followed by ``/`` or ``-`` and the version.
    """

    name: str
    what: str
    writer: str
    versions: tuple[int, ...] = (1,)
    untagged: Optional[int] = None
    old_names: tuple[str, ...] = ()

    @property
    def tag(self) -> str:
        """The tag this code writes: ``NAME/VERSION`` of the newest version."""
        return f"{self.name}/{self.versions[-1]}"

    def _split(self, tag: Any) -> tuple[str, str]:
        """(name, version text) of ``tag``; an earlier spelling of this format's name counts as it."""
        text = str(tag)
        for old in self.old_names:
            if text[:len(old) + 1] in (f"{old}/", f"{old}-"):
                return self.name, text[len(old) + 1:]
        name, _, version = text.rpartition("/")
        return name, version

    def version_of(self, tag: Any, path: str | os.PathLike) -> int:
        """The version of a file's ``tag`` (None: no tag); CheckpointError for a missing tag where
        the format has always been tagged, a tag of another kind of file or an unknown version."""
        if tag is None:
            if self.untagged is None:
                raise CheckpointError(f"{path}: not a {self.what}: no format tag, so not a checkpoint "
                                      f"{self.writer} wrote (it reads {self.tag})")
            log.info("%s: no format tag; read as %s/%d", path, self.name, self.untagged)
            return self.untagged
        name, version = self._split(tag)
        if name != self.name:
            raise CheckpointError(f"{path}: not a {self.what} (format {tag!r}; this code reads {self.tag})")
        if not version.isdigit() or int(version) not in self.versions:
            raise CheckpointError(f"{path}: checkpoint format {tag!r} is not one this version of shallowdof reads "
                                  f"(it reads {', '.join(f'{self.name}/{v}' for v in self.versions)})")
        return int(version)


def save_tagged(path: str | os.PathLike, fmt: CheckpointFormat, state: dict[str, Any]) -> None:
    """Write ``state`` with ``fmt``'s tag, atomically (temporary file + rename; the folder is made
    if needed): a crash leaves the old file or none, never half of one."""
    with atomic_path(path) as tmp:
        torch.save({TAG_KEY: fmt.tag, **state}, tmp)


def _load_problem(path: Path, exc: Exception) -> str:
    """One line for what ``torch.load(weights_only=True)`` raised on ``path``: a refused Python
    object named as such (never torch's advice to load the file without that protection), any
    other failure by its first line, without terminal colour codes."""
    text = _ANSI.sub("", str(exc))
    refused = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if isinstance(exc, pickle.UnpicklingError) and refused:
        return one_line(f"{path}: refused: it holds a Python object ({refused.group(1)}) beyond tensors and plain "
                        "containers, which could run code when loaded; shallowdof reads only its own checkpoints "
                        "and plain state dicts")
    detail = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    first = (detail.group(1) if detail else text.strip().splitlines()[0] if text.strip() else "")[:200]
    return one_line(f"{path}: not a readable checkpoint ({type(exc).__name__}: {first})")


def read_file(path: str | os.PathLike) -> dict[str, Any]:
    """The dict stored in ``path`` (``torch.load(weights_only=True)``, on the CPU), tag unchecked:
    a checkpoint or a plain state dict. Missing, unreadable or not a dict: CheckpointError."""
    path = Path(path)
    if not os.path.lexists(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with open_regular(path) as f:  # not a folder, FIFO or device
            obj = torch.load(f, map_location="cpu", weights_only=True)
    except FileProblem as exc:
        raise CheckpointError(str(exc)) from None
    except Exception as exc:  # torch.load raises many types for a bad file  # noqa: BLE001
        raise CheckpointError(_load_problem(path, exc)) from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: not a checkpoint (found {type(obj).__name__}, expected a dict)")
    return obj


def load_tagged(path: str | os.PathLike, fmt: CheckpointFormat) -> dict[str, Any]:
    """Read a checkpoint of format ``fmt`` (:func:`read_file`) and check its tag
    (:meth:`CheckpointFormat.version_of`); every problem is one CheckpointError."""
    obj = read_file(path)
    fmt.version_of(obj.get(TAG_KEY), path)
    return obj
