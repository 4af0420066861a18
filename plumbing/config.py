"""One way to configure a program: a config dataclass, checked strictly, saved with the results.

Every program of shallowdof keeps its settings in a dataclass of the library (not in its script),
each field declared with :func:`plumbing.fields.setting` (help, choices, range). This module is what
they share:

* :func:`from_dict`: ``cls(**data)`` for a config dataclass, strictly: unknown keys (a config of
  another version, a typo in a file), values of the wrong type and values outside their field's
  choices or range are one error naming them;
* :func:`save_config` / :func:`load_config`: the JSON file saved beside a run's results, and read
  back with "PATH: problem" errors;
* :func:`parse_config_args`: argparse with ``--config FILE``: the dataclass's defaults, then the
  file's values, then the flags given on the command line, in that order; then every value is
  checked, by the same rule whether it came from a flag or from the file.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, TypeVar

from plumbing.fields import SettingError, check, check_types
from plumbing.files import read_text, write_json

#: Largest config file read (a saved config is a few kilobytes).
CONFIG_LIMIT = 16 * 2**20

C = TypeVar("C")

CONFIG_HELP = ("start from a saved config.json (a run's or a results folder's); "
               "flags given on the command line override it")

#: How deeply a config file's values may nest (objects and lists): far more than any setting needs,
#: few enough that copying or saving a value never runs out of stack.
MAX_NESTING = 64


def _known_keys(cls: type, data: Any) -> dict[str, Any]:
    """``data`` if it is a dict of ``cls``'s field names, else ValueError naming the unknown keys."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object of {cls.__name__} settings, got {type(data).__name__}")
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {unknown}")
    return data


def from_dict(cls: type[C], data: Any) -> C:
    """``cls(**data)`` for config dataclass ``cls``; ValueError naming unknown keys or a missing
    required key, and :class:`plumbing.fields.SettingError` (a ValueError) naming the first value
    of the wrong type, not among its choices or out of its range."""
    check_types(cls, _known_keys(cls, data))
    try:
        obj = cls(**data)
    except TypeError as exc:  # a required field without a value
        raise ValueError(f"{cls.__name__}: {exc}") from None
    check(obj)
    return obj


def to_dict(config: Any) -> dict[str, Any]:
    """The JSON-ready settings of a config dataclass (the inverse of :func:`from_dict`)."""
    return dataclasses.asdict(config)


def save_config(config: Any, path: str | Path) -> None:
    """Write ``config`` as JSON to ``path`` atomically (a crash leaves the old file or none)."""
    write_json(path, to_dict(config))


def _too_deep(data: Any) -> bool:
    """Whether objects and lists nest more than MAX_NESTING deep in ``data`` (walked without recursion)."""
    level: list[Any] = [data]
    for _ in range(MAX_NESTING + 1):
        level = [v for item in level if isinstance(item, (dict, list))
                 for v in (item.values() if isinstance(item, dict) else item)]
        if not level:
            return False
    return True


def read_config_json(path: str | Path) -> Any:
    """The parsed JSON of a config file; a missing, unreadable, empty or broken file, or one that
    nests deeper than MAX_NESTING, is one ValueError "PATH: problem"."""
    path = Path(path)
    if not os.path.lexists(path):
        raise ValueError(f"{path}: no such config file")
    text = read_text(path, CONFIG_LIMIT)  # FileProblem: a folder, FIFO or device, too large, not UTF-8
    if not text.strip():
        raise ValueError(f"{path}: empty config file")
    too_deep = f"{path}: values nest more than {MAX_NESTING} levels deep"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:  # deeper than the JSON parser's stack
        raise ValueError(too_deep) from None
    if _too_deep(data):
        raise ValueError(too_deep)
    return data


def read_settings(cls: type, path: str | Path, record_keys: Sequence[str] = ()) -> dict[str, Any]:
    """The settings of config file ``path`` for ``cls`` as a plain dict, its keys and the types of
    its values checked (their choices and ranges are checked once the flags are applied: see
    :func:`parse_config_args`); every problem is one ValueError "PATH: problem". ``record_keys``:
    top-level keys that record what the run did (e.g. blur's per-image ``images``), saved beside
    the settings; they are not settings and are dropped."""
    data = read_config_json(path)
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in record_keys}
    try:
        check_types(cls, _known_keys(cls, data))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return data


def load_config(cls: type[C], path: str | Path, record_keys: Sequence[str] = ()) -> C:
    """The config file ``path`` as a ``cls``, strictly (see :func:`from_dict`); every problem is
    one ValueError "PATH: problem". ``record_keys``: see :func:`read_settings`."""
    data = read_settings(cls, path, record_keys)
    try:
        return from_dict(cls, data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--config FILE`` (dest ``config_file``) to ``parser``."""
    parser.add_argument("--config", dest="config_file", metavar="JSON", default=None, help=CONFIG_HELP)


def setting_error_line(parser: argparse.ArgumentParser, exc: SettingError, config_file: Optional[str],
                       from_file: bool, dest: Optional[str] = None) -> str:
    """The one line of a setting's problem: ``FILE: KEY: problem`` for a value that came from the
    config file, ``argument --FLAG: problem`` (as argparse words it) for one that came from the
    flag whose dest is ``dest`` (default: the key), else ``KEY: problem``."""
    if from_file and config_file is not None:
        return f"{config_file}: {exc}"
    flag = next((a.option_strings[0] for a in parser._actions if a.dest == (dest or exc.key) and a.option_strings), None)
    return f"argument {flag}: {exc.problem}" if flag else str(exc)


def parse_config_args(parser: argparse.ArgumentParser, cls: type[C], argv: Optional[Sequence[str]] = None,
                      record_keys: Sequence[str] = (),
                      check_config: Optional[Callable[[C], None]] = None) -> tuple[argparse.Namespace, C]:
    """Parse ``argv`` with ``parser`` (which has :func:`add_config_option`) into ``(args, config)``.

    The config is ``cls``'s defaults, then the values of the ``--config`` file, then the flags given
    on the command line; an argparse dest that names a field of ``cls`` sets that field. Then
    every value is checked against its field's declaration (type, choices, range), and
    ``check_config(config)`` checks what depends on several fields. Any problem is argparse's
    one-line error and exit status 2, naming where the value came from
    (:func:`setting_error_line`). ``record_keys``: see :func:`read_settings`.
    """
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--config", dest="config_file", default=None)
    known, _ = first.parse_known_args(argv)
    names = [f.name for f in dataclasses.fields(cls)]
    base: dict[str, Any] = {}
    if known.config_file is not None:
        try:
            base = read_settings(cls, known.config_file, record_keys)
        except ValueError as exc:
            parser.error(str(exc))
        parser.set_defaults(**base)
    args = parser.parse_args(argv)
    values = {**base, **{k: getattr(args, k) for k in names if hasattr(args, k)}}
    try:
        config = from_dict(cls, values)
        if check_config is not None:
            check_config(config)
    except SettingError as exc:
        from_file = exc.key in base and values.get(exc.key) == base[exc.key]
        parser.error(setting_error_line(parser, exc, known.config_file, from_file))
    except ValueError as exc:
        parser.error(str(exc))
    return args, config
