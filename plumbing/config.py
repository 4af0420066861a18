"""One way to configure a program: a config dataclass, checked strictly, saved with the results.

Every program of shallowdof keeps its settings in a dataclass of the library (not in its script).
This module is what they share:

* :func:`from_dict`: ``cls(**data)`` for a config dataclass, strictly: unknown keys (a config of
  another version, a typo in a file) and values of the wrong type are one error naming them;
* :func:`save_config` / :func:`load_config`: the JSON file saved beside a run's results, and read
  back with "PATH: problem" errors;
* :func:`parse_config_args`: argparse with ``--config FILE``: the dataclass's defaults, then the
  file's values, then the flags given on the command line, in that order.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any, Optional, Sequence, TypeVar

from plumbing.cli import check_types
from plumbing.files import write_json

C = TypeVar("C")

CONFIG_HELP = ("start from a saved config.json (a run's or a results folder's); "
               "flags given on the command line override it")


def from_dict(cls: type[C], data: Any) -> C:
    """``cls(**data)`` for config dataclass ``cls``; ValueError naming unknown keys, a missing
    required key or the first value of the wrong type."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object of {cls.__name__} settings, got {type(data).__name__}")
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {unknown}")
    try:
        obj = cls(**data)
    except TypeError as exc:  # a required field without a value
        raise ValueError(f"{cls.__name__}: {exc}") from None
    check_types(obj)
    return obj


def to_dict(config: Any) -> dict[str, Any]:
    """The JSON-ready settings of a config dataclass (the inverse of :func:`from_dict`)."""
    return dataclasses.asdict(config)


def save_config(config: Any, path: str | Path) -> None:
    """Write ``config`` as JSON to ``path`` atomically (a crash leaves the old file or none)."""
    write_json(path, to_dict(config))


def read_config_json(path: str | Path) -> Any:
    """The parsed JSON of a config file; a missing, unreadable, empty or broken file is one
    ValueError "PATH: problem"."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a folder, not a config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the config file ({exc})") from None
    if not text.strip():
        raise ValueError(f"{path}: empty config file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None


def load_config(cls: type[C], path: str | Path, record_keys: Sequence[str] = ()) -> C:
    """The config file ``path`` as a ``cls``, strictly (see :func:`from_dict`); every problem is
    one ValueError "PATH: problem". ``record_keys``: top-level keys that record what the run did
    (e.g. blur's per-image ``images``), saved beside the settings; they are not settings and are
    dropped."""
    data = read_config_json(path)
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in record_keys}
    try:
        return from_dict(cls, data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--config FILE`` (dest ``config_file``) to ``parser``."""
    parser.add_argument("--config", dest="config_file", metavar="JSON", default=None, help=CONFIG_HELP)


def parse_config_args(parser: argparse.ArgumentParser, cls: type[C], argv: Optional[Sequence[str]] = None,
                      record_keys: Sequence[str] = ()) -> tuple[argparse.Namespace, C]:
    """Parse ``argv`` with ``parser`` (which has :func:`add_config_option`) into ``(args, config)``.

    The config is ``cls``'s defaults, then the values of the ``--config`` file, then the flags given
    on the command line; an argparse dest that names a field of ``cls`` sets that field. A bad file
    or value is argparse's one-line error and exit status 2. ``record_keys``: see :func:`load_config`.
    """
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--config", dest="config_file", default=None)
    known, _ = first.parse_known_args(argv)
    names = [f.name for f in dataclasses.fields(cls)]
    base: dict[str, Any] = {}
    if known.config_file is not None:
        try:
            base = to_dict(load_config(cls, known.config_file, record_keys))
        except ValueError as exc:
            parser.error(str(exc))
        parser.set_defaults(**base)
    args = parser.parse_args(argv)
    values = {**base, **{k: getattr(args, k) for k in names if hasattr(args, k)}}
    try:
        return args, from_dict(cls, values)
    except ValueError as exc:
        parser.error(str(exc))
