"""A ``--config`` file's values are checked as the flags' are, in every program: each setting of each
program's config, given a value of the wrong type, outside its range or not among its choices in a
config file, is one line ``FILE: KEY: problem`` and exit status 2, before any work. A flag given
beside the file still wins, and a file nested without end is one line too."""
from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from plumbing.fields import BIG, setting_of
from shallowdof.programs import PROGRAMS

from .programs import MINIMAL_ARGV, parse

ROOT = Path(__file__).resolve().parents[2]


def _wrong_type(kind: Any) -> Any:
    """A JSON value that is not of the annotated type ``kind``."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return _wrong_type(next(a for a in typing.get_args(kind) if a is not type(None)))
    return {str: 5, int: "x", float: "x", bool: "no", list: "x", tuple: "x", dict: [1]}[typing.get_origin(kind) or kind]


def _first_number_replaced(value: Any, new: float) -> Any:
    """``value`` (a number, or lists of numbers) with its first number replaced by ``new``."""
    if isinstance(value, (list, tuple)):
        out = list(copy.deepcopy(value))
        out[0] = _first_number_replaced(out[0], new)
        return out
    return new


def _bad_values(f: dataclasses.Field, kind: Any, default: Any) -> list[tuple[str, Any]]:
    """(kind of bound, a value that breaks it) for field ``f``: its type, and its range or choices."""
    declared = setting_of(f)
    cases = [("type", _wrong_type(kind))]
    number = default if default is not None else 1
    if declared.lo is not None:
        cases.append(("range", _first_number_replaced(number, declared.lo - 1)))
    elif declared.hi is not None and declared.hi != BIG:
        cases.append(("range", _first_number_replaced(number, declared.hi + 1)))
    if declared.choices:
        missing = "no-such-value" if isinstance(declared.choices[0], str) else max(declared.choices) + 1
        cases.append(("choices", [missing] if isinstance(default, list) else missing))
    return cases


def _cases(program: str, tmp: Path) -> list[tuple[dict, str, str]]:
    """(config file content, the key its error names, the kind of bound) for every setting of the
    program's config, and for train_cyclegan also every model setting (in ``model_overrides``):
    the config the program saves, with that one value changed."""
    base = parse(program, MINIMAL_ARGV[program](tmp))
    cls, given, saved = type(base), _given(program, MINIMAL_ARGV[program](tmp)), dataclasses.asdict(base)
    out = []
    for f in dataclasses.fields(cls):
        for bound, bad in _bad_values(f, typing.get_type_hints(cls)[f.name], getattr(base, f.name)):
            if bound == "type" or f.name not in given:  # a flag given on the command line wins over the file
                out.append(({**saved, f.name: bad}, f.name, bound))
    if program == "train_cyclegan":
        from gan.model import ModelConfig
        from gan.train.config import TRAIN_OWNED_MODEL_FIELDS

        hints, model = typing.get_type_hints(ModelConfig), ModelConfig()
        for f in dataclasses.fields(ModelConfig):
            if f.name not in TRAIN_OWNED_MODEL_FIELDS:
                out += [({**saved, "model_overrides": {f.name: bad}}, f.name, bound)
                        for bound, bad in _bad_values(f, hints[f.name], getattr(model, f.name))]
    return out


def _given(program: str, argv: list[str]) -> set[str]:
    """The dests that ``argv`` sets on the command line itself."""
    parser = PROGRAMS[program].load().build_parser()
    unset = object()
    parser.set_defaults(**{a.dest: unset for a in parser._actions})
    return {k for k, v in vars(parser.parse_args(argv)).items() if v is not unset}


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_every_setting_of_a_config_file_is_checked_naming_the_file_and_the_key(tmp_path, capsys, program):
    cases = _cases(program, tmp_path)
    wrong = []
    for i, (content, key, bound) in enumerate(cases):
        path = tmp_path / f"config{i}.json"
        path.write_text(json.dumps(content))
        argv = [*MINIMAL_ARGV[program](tmp_path), "--config", str(path)]
        try:
            parse(program, argv)
            wrong.append(f"{content}: accepted")
            continue
        except SystemExit as stop:
            code = stop.code
        last = capsys.readouterr().err.strip().splitlines()[-1]
        if code != 2 or f"error: {path}: {key}: " not in last:
            wrong.append(f"{bound} {content}: exit {code}, {last!r}")
    assert not wrong, "\n".join(wrong)
    assert not list(tmp_path.glob("o*")), "a bad config made the program write"


def test_every_kind_of_bound_is_tried_in_every_program_that_has_it(tmp_path):
    bounds = {program: {bound for _, _, bound in _cases(program, tmp_path)} for program in PROGRAMS}
    assert {p for p, b in bounds.items() if "type" in b} == set(PROGRAMS)
    assert {p for p, b in bounds.items() if "range" in b} == set(PROGRAMS) - {"benchmark"}  # no number to set
    # curate's only named choice, its segmenter, is segdepth's, which datasets/ cannot import
    assert {p for p, b in bounds.items() if "choices" in b} == set(PROGRAMS) - {"curate"}


# --- the examples a hostile user tried ------------------------------------------------------------

@pytest.mark.parametrize("program, change, problem", [
    ("prepare_masks", {"batch_size": 0}, "batch_size: must be between 1 and 4096, got 0"),
    ("webcam", {"blur_scale": 0}, "blur_scale: must be between 0.01 and 1, got 0"),
    ("webcam", {"ema_alpha": 5}, "ema_alpha: must be between 0.001 and 1, got 5"),
    ("compare", {"thumb_size": -50}, "thumb_size: must be between 16 and 4096, got -50"),
    ("test_cyclegan", {"size": 2}, "size: must be between 8 and 16,384, got 2"),
    ("scrape_flickr", {"workers": 0}, "workers: must be between 1 and 64, got 0"),
    ("train_segmentation", {"buckets": [[0, 0]]}, "buckets: must be between 8 and 8192, got 0"),
    ("blur", {"method": "gaussian", "params": {"k": -5}},
     "params: method 'gaussian' parameter k: must be between 1 and 1001, got -5"),
])
def test_a_bad_value_in_a_config_file_stops_the_program_before_any_work(tmp_path, capsys, program, change, problem):
    """A saved config with one value changed. Before, these ran: prepare_masks saved batch_size 0
    in its config, compare made 1×1 thumbnails, webcam blurred at scale 0."""
    (tmp_path / "dataset" / "trainA").mkdir(parents=True)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**dataclasses.asdict(parse(program, MINIMAL_ARGV[program](tmp_path))), **change}))
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as stop:
        PROGRAMS[program].main([*MINIMAL_ARGV[program](tmp_path), "--config", str(path)])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(f"error: {path}: {problem}")
    assert sorted(tmp_path.rglob("*")) == before  # nothing written: no config saved, no thumbnails


def test_blur_with_a_negative_pixel_limit_in_its_config_is_a_usage_error(tmp_path):
    """It exited 1 after failing every photo ("-5 pixels"); now 2, one line, before any photo."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"method": "gaussian", "max_pixels": -5}))
    done = subprocess.run([sys.executable, "scripts/blur.py", "--config", str(path), str(tmp_path / "a.png")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == \
        f"blur.py: error: {path}: max_pixels: must be between 1 and 178,956,970, got -5"


def test_a_flag_given_beside_the_file_wins_and_its_error_names_the_flag(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"blur_scale": 0, "ema_alpha": 0.25}))
    argv = [*MINIMAL_ARGV["webcam"](tmp_path), "--config", str(path)]
    cfg = parse("webcam", [*argv, "--blur-scale", "0.5"])  # the flag replaces the file's bad value
    assert (cfg.blur_scale, cfg.ema_alpha) == (0.5, 0.25)
    with pytest.raises(SystemExit):
        parse("webcam", [*argv, "--blur-scale", "0.5", "--hysteresis", "0.8", "0.2"])
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        "error: argument --hysteresis: need 0 < LOW <= HIGH < 1, got 0.8 0.2")


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000,
                                  json.dumps({"params": json.loads("[" * 200 + "]" * 200)})])
def test_a_config_nested_without_end_is_one_line(tmp_path, capsys, text):
    path = tmp_path / "deep.json"
    path.write_text(text)
    with pytest.raises(SystemExit) as stop:
        parse("blur", ["a.png", "--config", str(path)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].endswith(f"error: {path}: values nest more than 64 levels deep")
    assert "Traceback" not in err and "RecursionError" not in err
