"""One declaration per setting: a config dataclass's field carries its help, allowed values and range,
and its command-line flag and every check of its value are made from that declaration.

* :func:`setting`: a dataclass field with its :class:`Setting` (help, choices, range [lo, hi],
  metavar, how ``--help`` shows its default). Choices and range apply to a value, or to each
  number or name of a list or tuple (at any depth: ``[[480, 640], [384, 384]]``);
* :func:`check`: every field of a config holds a value of its annotated type (a config file's
  ``"flip": "no"`` is a string, not a false boolean), within its choices and range; the first one
  that does not is a :class:`SettingError` "KEY: problem";
* :func:`check_types`: only the types, of an object or of a plain dict of settings (a config
  file's values before the flags are applied);
* :func:`add_setting`: the flag of a field, made from its declaration: the type (numbers are
  checked against the same range as a config file's), the choices, the metavar and a help text
  that shows the range and the default.

A value from a flag, from a config file or from a dict in Python is checked by the same rule,
written once, in the field.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

#: An upper bound for counts that have no natural one (sizes, steps, frames): far above any real
#: use, low enough that a typo (an extra few zeros) is an error rather than an hour of waiting.
BIG = 10**9

_SHOWN_CHOICES = 12  # longer lists of allowed values are shown as "first, second … last"


class SettingError(ValueError):
    """A setting that is of the wrong type, not among its choices or out of its range: "KEY: problem"."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def _number(v: Any) -> str:
    """A bound or value as messages show it: 0.001, 2.5, 64, 65,536, 10,000 (also of a float)."""
    if math.isfinite(v) and abs(v) >= 10_000 and v == int(v):
        return f"{int(v):,}"
    return f"{v:g}" if isinstance(v, float) else str(v)


def range_problem(value: float, lo: Optional[float], hi: Optional[float]) -> Optional[str]:
    """Why the number ``value`` is outside [lo, hi] (either bound may be None), or None. Not a
    finite number is a problem too."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    if lo is not None and hi is not None and hi != BIG and not lo <= value <= hi:
        return f"must be between {_number(lo)} and {_number(hi)}, got {value}"
    if lo is not None and value < lo:
        return f"must be at least {_number(lo)}, got {value}"
    if hi is not None and value > hi:
        return f"must be at most {_number(hi)}, got {value}"
    return None


def show_choices(choices: Sequence[Any]) -> str:
    """Allowed values for a message or a help text: all of them, or ``a, b … z`` when there are many."""
    shown = [str(c) for c in choices]
    return ", ".join(shown) if len(shown) <= _SHOWN_CHOICES else f"{shown[0]}, {shown[1]} … {shown[-1]}"


@dataclass(frozen=True)
class Setting:
    """What a field declares besides its default: ``help`` (the flag's help text), ``choices`` (the
    allowed values; empty: any), ``lo`` / ``hi`` (the range of a number; None: open),
    ``metavar`` (the flag's value in ``--help``) and ``shown_default`` (how ``--help`` shows the
    default: None shows the value, "" nothing)."""

    help: str = ""
    choices: tuple[Any, ...] = ()
    lo: Optional[float] = None
    hi: Optional[float] = None
    metavar: Any = None
    shown_default: Optional[str] = None

    def problem(self, value: Any) -> Optional[str]:
        """Why ``value`` (of the field's type; of a list or tuple each element) is not allowed, or None."""
        if value is None:
            return None
        if isinstance(value, (list, tuple)):
            return next((p for p in map(self.problem, value) if p), None)
        if self.choices and value not in self.choices:
            return f"must be one of {show_choices(self.choices)}, got {value!r}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return range_problem(value, self.lo, self.hi)
        return None

    def range_text(self) -> str:
        """The range as ``--help`` shows it: ``1 … 64``, ``at least 1``, ``at most 5`` or ""."""
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None and hi != BIG:
            return f"{_number(lo)} … {_number(hi)}"
        if lo is not None:
            return f"at least {_number(lo)}"
        return "" if hi is None else f"at most {_number(hi)}"


def setting(default: Any = dataclasses.MISSING, help: str = "", choices: Sequence[Any] = (),
            lo: Optional[float] = None, hi: Optional[float] = None, *,
            default_factory: Any = dataclasses.MISSING, metavar: Any = None,
            shown_default: Optional[str] = None) -> Any:
    """A dataclass field whose :class:`Setting` is ``help``, ``choices``, [lo, hi], ``metavar`` and
    ``shown_default`` (a field without ``default`` and ``default_factory`` is required)."""
    declared = Setting(help, tuple(choices), lo, hi, metavar, shown_default)
    return dataclasses.field(default=default, default_factory=default_factory, metadata={"setting": declared})


def like(cls: type, name: str, **changes: Any) -> Any:
    """A field declared as field ``name`` of ``cls`` (same default and setting), with ``changes``
    to its setting: for a setting that two configs hold (a training run's ``preset`` and the model's)."""
    f = _field(cls, name)
    declared = dataclasses.replace(setting_of(f), **changes)
    return dataclasses.field(default=f.default, default_factory=f.default_factory, metadata={"setting": declared})


def setting_of(f: dataclasses.Field) -> Setting:
    """The :class:`Setting` of a dataclass field (an empty one for a field declared without it)."""
    return f.metadata.get("setting", Setting())


def _field(cls: type, name: str) -> dataclasses.Field:
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f
    raise KeyError(f"{cls.__name__} has no field {name!r}")


# ---------------------------------------------------------------- types


def type_matches(value: Any, kind: Any) -> bool:
    """Whether a JSON-loaded ``value`` is of the annotated type ``kind`` (bool is not an int,
    an int is a float; ``X | None``, ``dict[...]``, ``list[...]`` and ``tuple[...]`` by origin)."""
    if kind is Any:
        return True
    args = typing.get_args(kind)
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return any(type_matches(value, a) for a in args)
    if kind is type(None):
        return value is None
    if origin is not None:
        return isinstance(value, (list, tuple) if origin in (list, tuple) else origin)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _type_name(kind: Any) -> str:
    return getattr(kind, "__name__", str(kind))


def check_types(cls_or_obj: Any, values: Optional[dict[str, Any]] = None) -> None:
    """SettingError naming the first value that is not of its field's annotated type: of the
    dataclass object ``cls_or_obj``, or of ``values`` (a plain dict of some of its settings) for
    the dataclass ``cls_or_obj``. Keys that are not fields are not looked at."""
    cls = cls_or_obj if isinstance(cls_or_obj, type) else type(cls_or_obj)
    hints = typing.get_type_hints(cls)
    if values is None:
        values = {f.name: getattr(cls_or_obj, f.name) for f in dataclasses.fields(cls)}
    for f in dataclasses.fields(cls):
        if f.name in values and not type_matches(values[f.name], hints[f.name]):
            raise SettingError(f.name, f"expected {_type_name(hints[f.name])}, got {values[f.name]!r}")


def check(obj: Any, names: Optional[Sequence[str]] = None) -> None:
    """SettingError naming the first field of dataclass ``obj`` whose value is of the wrong type,
    not one of its choices or outside its range (types first, then values, in field order);
    ``names``: only these fields (a class whose other fields are not settings)."""
    values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if names is None or f.name in names}
    check_types(type(obj), values)
    for f in dataclasses.fields(obj):
        problem = setting_of(f).problem(values[f.name]) if f.name in values else None
        if problem:
            raise SettingError(f.name, problem)


# ---------------------------------------------------------------- flags


def _element_type(kind: Any) -> Any:
    """The type a flag parses for annotation ``kind``: ``X | None`` gives X, ``list[X]`` and
    ``tuple[X, ...]`` give X (None: not one the flag can parse by itself)."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return _element_type(args[0]) if len(args) == 1 else None
    if typing.get_origin(kind) in (list, tuple):
        return args[0] if args and args[0] in (int, float, str) else None
    return kind if kind in (int, float, str, bool) else None


def _parse_number(kind: type, declared: Setting) -> Callable[[str], Any]:
    noun = "an integer" if kind is int else "a number"
    bounds = declared.range_text()

    def parse(text: str) -> Any:
        try:
            return kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {noun}{f' ({bounds})' if bounds else ''}, got {text!r}") from None

    return parse


def flag_type(declared: Setting, parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type: ``parse(text)``, then the value checked against ``declared`` (choices,
    range), each problem argparse's one-line error naming the flag."""
    def convert(text: str) -> Any:
        value = parse(text)
        problem = declared.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def _shown(value: Any) -> str:
    """A default as ``--help`` shows it ("" for none worth showing)."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None or value == "" or isinstance(value, dict):
        return ""
    if isinstance(value, (list, tuple)):
        scalars = all(isinstance(v, (int, float, str)) for v in value)
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) if scalars else ""
    return _number(value) if isinstance(value, (int, float)) else str(value)


def help_text(declared: Setting, default: Any, shown_default: Optional[str] = None, choices: bool = False) -> str:
    """The help of a flag: the setting's help, then its range (``choices``: its allowed values)
    and its default in brackets, ``%`` escaped for argparse. ``shown_default`` (else the
    setting's) replaces the default's value shown; "" shows none."""
    shown = shown_default if shown_default is not None else declared.shown_default
    shown = _shown(default) if shown is None else shown
    allowed = f"one of {show_choices(declared.choices)}" if choices and declared.choices else ""
    parts = [p for p in (declared.range_text(), allowed, f"default {shown}" if shown else "") if p]
    brackets = f"({'; '.join(parts)})" if parts else ""
    return " ".join(p for p in (declared.help, brackets) if p).replace("%", "%%")


def field_default(f: dataclasses.Field) -> Any:
    """The default of a field (None for a required one)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    return None if f.default_factory is dataclasses.MISSING else f.default_factory()


def add_setting(container: Any, cls: type, name: str, *flags: str, shown_default: Optional[str] = None,
                **kwargs: Any) -> argparse.Action:
    """Add the flag of field ``name`` of config dataclass ``cls`` to an argparse parser or group.

    The flag is ``--name-with-dashes`` unless ``flags`` are given (a positional one without
    dashes), its dest the field. From the field's declaration: a boolean is ``--X`` / ``--no-X``;
    an int or float (or a list of them, with ``nargs``) is parsed and checked against the range;
    a custom ``type=`` in ``kwargs`` parses, and its result is checked the same way; the choices,
    the metavar, the default (unless the container's ``argument_default`` is SUPPRESS) and the help
    text (with range and default; ``shown_default`` replaces the default shown). Other ``kwargs``
    go to ``add_argument`` as they are (``nargs``, ``action``, ``required``, ``help``)."""
    f = _field(cls, name)
    declared = setting_of(f)
    kind = _element_type(typing.get_type_hints(cls)[name])
    flags = flags or ("--" + name.replace("_", "-"),)
    options: dict[str, Any] = {} if not flags[0].startswith("-") else {"dest": name}
    if getattr(container, "argument_default", None) is not argparse.SUPPRESS:
        options["default"] = field_default(f)
    custom = kwargs.pop("type", None)
    if kind is bool and custom is None and "action" not in kwargs:
        options["action"] = argparse.BooleanOptionalAction
    elif custom is not None or kind in (int, float):
        options["type"] = flag_type(declared, custom or _parse_number(kind, declared))
    if declared.choices and custom is None and kind is not bool:
        options["choices"] = declared.choices
    if declared.metavar:
        options["metavar"] = declared.metavar
    # a custom type (one that makes a list) is checked against the choices, which argparse cannot
    # show: the help lists them
    options["help"] = help_text(declared, field_default(f), shown_default, choices=custom is not None) or None
    options.update(kwargs)
    return container.add_argument(*flags, **options)
