"""What every command-line program of shallowdof shares: argument checks, exit codes, Ctrl-C.
(A setting's own flag, with its type, range and choices, is made from the setting's declaration
by :func:`plumbing.fields.add_setting`.)

* :func:`output_folder`: an ``--out`` folder that is an existing file or cannot be written is
  one line before any work, not a traceback after some;
* :func:`call_with_options`: the ``KEY=VALUE`` options of a function (a data source's ``--data``)
  checked against its signature and annotated types (what ``key=value`` parsing cannot promise);
* :func:`parse_key_values`: ``--params key=value …`` / a JSON object, one parser for every program
  (:class:`KeyValues`: the same as an argparse action);
* :class:`BoolFlag`: a boolean ``--X`` / ``--no-X`` that also takes the older spelling ``--X true|false``
  (:func:`parse_bool`), with :class:`HelpFormatter` to list it in ``--help`` as ``--X, --no-X``;
* :data:`EXIT_CODES_EPILOG`: the exit-status table of every program's ``--help``;
* :func:`run_main`: Ctrl-C is one line and exit status 130, never a traceback;
* :func:`add_download_flag` / :func:`downloads_allowed`: pretrained weights reach the network only
  when the user asks by name (``--allow-download``, or the environment variable it sets);
* :func:`quiet_native_logs`: native libraries' own log lines (MediaPipe, TFLite) hidden unless
  logging shows INFO, so ``--quiet`` is quiet.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import inspect
import json
import logging
import os
import sys
import typing
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from plumbing.fields import type_matches


#: Exit statuses of every shallowdof program besides 0 (also in the README).
EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

EXIT_CODES_EPILOG = """exit status:
  0    done
  1    some inputs failed (each named on its own line, the rest were processed)
  2    bad command line, config file or setting (nothing was done)
  130  interrupted (Ctrl-C)"""


def writable_folder_problem(path: Path) -> Optional[str]:
    """Why ``path`` cannot be (or become) a folder this process writes into, or None.

    Walks up to the nearest existing ancestor: a file there, or an ancestor that this process may
    not write (read-only mount, permissions), is the problem. Nothing is created.
    """
    path = Path(path)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        return f"{path}: {'is an existing file' if probe == path else f'{probe} is a file'}, not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{path}: cannot write into {probe} (read-only file system or no permission)"
    return None


def output_folder(text: str) -> str:
    """argparse type of ``--out DIR``: refused (exit 2, one line) when DIR is a file or unwritable."""
    problem = writable_folder_problem(Path(text))
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def output_file(text: str) -> str:
    """argparse type of an output FILE: refused when it is a folder or its folder is unwritable."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path}: is a folder, not a file")
    problem = writable_folder_problem(path.parent if str(path.parent) else Path("."))
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def call_with_options(fn: Callable[..., Any], options: dict[str, Any], option: str) -> Any:
    """``fn(**options)`` for the options a user gave as ``option KEY=VALUE …`` (a training program's
    ``--data``): an unknown or missing key, or a value not of its annotated type, is one ValueError
    naming ``option`` and what ``fn`` takes; ``fn`` checks the values themselves (ValueError)."""
    params = inspect.signature(fn).parameters
    hints = typing.get_type_hints(fn)
    takes = ", ".join(params)
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ValueError(f"{option}: unknown key(s) {', '.join(unknown)}; it takes {takes}")
    missing = [name for name, p in params.items() if p.default is p.empty and name not in options]
    if missing:
        raise ValueError(f"{option}: give {' '.join(f'{name}=…' for name in missing)} (it takes {takes})")
    for name, value in options.items():
        if name in hints and not type_matches(value, hints[name]):
            kind = getattr(hints[name], "__name__", str(hints[name]))
            raise ValueError(f"{option}: {name}={value!r} is not of type {kind}")
    try:
        return fn(**options)
    except ValueError as exc:
        raise ValueError(f"{option}: {exc}") from None


def torch_device(text: str) -> str:
    """argparse type of ``--device``: a torch device string this machine has (``cpu``, ``cuda``,
    ``cuda:1``, ``mps``); ``cuda`` on a machine without one is refused in one line."""
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"not a torch device: {text!r} (e.g. cpu, cuda, cuda:1)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(f"{text!r} asked for, but torch sees no CUDA device (use cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(f"{text!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text!r} asked for, but torch sees no MPS device (use cpu)")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"device type {device.type!r} is not supported here (use cpu or cuda)")
    return text


def parse_key_values(items: list[str], option: str = "--params") -> dict[str, Any]:
    """``key=value`` pairs and ``{...}`` JSON objects → one dict; values are JSON where they
    parse (``k=5`` → 5, ``coc=relative`` → "relative"). ValueError names the bad item."""
    out: dict[str, Any] = {}
    for item in items:
        if item.lstrip().startswith("{"):
            try:
                obj = json.loads(item)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{option}: not valid JSON ({exc.msg}): {item!r}") from None
            except RecursionError:
                raise ValueError(f"{option}: not valid JSON (nested too deeply)") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{option}: expected a JSON object, got {item!r}")
            out.update(obj)
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{option}: expected key=value or a JSON object, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
        except RecursionError:
            raise ValueError(f"{option}: {key}: not valid JSON (nested too deeply)") from None
    return out


class KeyValues(argparse.Action):
    """argparse action of ``--params key=value … | JSON``: the pairs parsed by :func:`parse_key_values`
    and merged into the option's current dict (its default, or a ``--config`` file's value), so
    the flags override the file key by key; a bad item is argparse's one-line error."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        items = values if isinstance(values, list) else [values]
        try:
            parsed = parse_key_values(items, option_string or self.dest)
        except ValueError as exc:
            parser.error(str(exc))
        setattr(namespace, self.dest, {**(getattr(namespace, self.dest, None) or {}), **parsed})

def parse_bool(text: str) -> bool:
    """argparse type of a boolean value: true/false, yes/no, on/off, 1/0 (any case)."""
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


class BoolFlag(argparse.BooleanOptionalAction):
    """``--X`` / ``--no-X`` (as :class:`argparse.BooleanOptionalAction`), where ``--X`` also takes
    an optional value, ``--X true|false`` (:func:`parse_bool`): the spelling of older command
    lines and READMEs keeps working. ``--no-X`` takes no value; a wrong value is argparse's
    one-line error. Not given, the option keeps its default (``argparse.SUPPRESS`` included)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.nargs, self.const, self.type, self.metavar = "?", None, parse_bool, "BOOL"

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        negative = bool(option_string and option_string.startswith("--no-"))
        if negative and values is not None:
            raise argparse.ArgumentError(self, f"{option_string} takes no value")
        setattr(namespace, self.dest, False if negative else values is None or values)


def _without_value(action: BoolFlag) -> argparse.Action:
    """A copy of ``action`` that takes no value, as the usage line shows it."""
    shown = copy.copy(action)
    shown.nargs = 0
    return shown


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` layout of the programs that use :class:`BoolFlag`: it is shown as a
    BooleanOptionalAction is, ``[--X | --no-X]`` in the usage line and ``--X, --no-X`` in the
    list (its optional value is the older spelling, not advertised)."""

    def _format_usage(self, usage: Optional[str], actions: Any, groups: Any, prefix: Optional[str]) -> str:
        shown = [_without_value(a) if isinstance(a, BoolFlag) else a for a in actions]
        return super()._format_usage(usage, shown, groups, prefix)

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if isinstance(action, BoolFlag):
            return ", ".join(action.option_strings)
        return super()._format_action_invocation(action)


#: Set (to "1") by ``--allow-download``: the weight loaders may then fetch a missing file.
ALLOW_DOWNLOAD_ENV = "SHALLOWDOF_ALLOW_DOWNLOAD"


def downloads_allowed() -> bool:
    """Whether the user asked by name for missing pretrained weights to be downloaded."""
    return os.environ.get(ALLOW_DOWNLOAD_ENV, "") == "1"


class _AllowDownload(argparse.Action):
    """``--allow-download``: sets ALLOW_DOWNLOAD_ENV for this process (and its workers)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        os.environ[ALLOW_DOWNLOAD_ENV] = "1"


def add_download_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--allow-download`` to a program that loads pretrained weights."""
    parser.add_argument("--allow-download", action=_AllowDownload, default=argparse.SUPPRESS,
                        help="let missing pretrained weights be downloaded into the torch hub cache "
                             f"(otherwise nothing reaches the network; also {ALLOW_DOWNLOAD_ENV}=1)")


def run_main(main: Callable[[], int], name: str) -> int:
    """``main()``'s exit status; Ctrl-C prints one line and gives 130 instead of a traceback.
    Outputs are atomic (plumbing.files.atomic_path), so an interrupt leaves no partial file."""
    try:
        return main()
    except KeyboardInterrupt:
        print(f"{name}: interrupted; finished outputs are kept, nothing is half-written", file=sys.stderr)
        return EXIT_INTERRUPTED


@contextlib.contextmanager
def without_protobuf_note() -> Iterator[None]:
    """Hide protobuf's ``SymbolDatabase.GetPrototype() is deprecated`` UserWarning inside the block:
    MediaPipe 0.10.14's graphs raise it on every run, and it says nothing to a user."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
        yield


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Send what native code writes to file descriptor 2 to /dev/null inside the block, unless the
    root logger shows INFO (a program without ``--quiet``). For the start-up chatter of libraries
    such as MediaPipe and TFLite, which print past Python's logging; Python exceptions still
    propagate normally."""
    if logging.getLogger().isEnabledFor(logging.INFO):
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
