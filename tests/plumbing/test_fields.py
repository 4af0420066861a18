"""plumbing.fields: one declaration per setting, from which the flag and every check are made; and
plumbing.config's --config path, which checks a file's values by that declaration as it checks flags."""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Optional

import pytest

from plumbing.config import add_config_option, from_dict, load_config, parse_config_args
from plumbing.fields import BIG, SettingError, add_setting, check, like, setting


@dataclass
class Run:
    name: str = setting("run", "run name")
    mode: str = setting("fast", "how to run", ("fast", "slow"))
    steps: int = setting(10, "steps to take", lo=1, hi=BIG)
    rate: float = setting(0.5, "learning rate", lo=0.0, hi=1.0)
    sizes: list = setting(default_factory=lambda: [[32, 48]], help="HxW pairs", lo=8, hi=4096)
    limit: Optional[int] = setting(None, "stop after this many", lo=1, hi=100)
    flip: bool = setting(True, "random flips")


@dataclass
class Copy:
    mode: str = like(Run, "mode", help="another program's mode")


@pytest.mark.parametrize("values, problem", [
    ({"mode": "medium"}, "mode: must be one of fast, slow, got 'medium'"),
    ({"steps": 0}, "steps: must be at least 1, got 0"),
    ({"steps": BIG + 1}, "steps: must be at most 1,000,000,000, got 1000000001"),
    ({"rate": 1.5}, "rate: must be between 0 and 1, got 1.5"),
    ({"rate": float("nan")}, "rate: must be a finite number, got nan"),
    ({"sizes": [[32, 48], [64, 4]]}, "sizes: must be between 8 and 4096, got 4"),  # each number, at any depth
    ({"limit": 0}, "limit: must be between 1 and 100, got 0"),
    ({"steps": "10"}, "steps: expected int, got '10'"),
    ({"steps": True}, "steps: expected int, got True"),
    ({"flip": "no"}, "flip: expected bool, got 'no'"),
])
def test_check_names_the_first_value_out_of_its_declaration(values, problem):
    with pytest.raises(SettingError) as err:
        check(Run(**values))
    assert str(err.value) == problem and err.value.key == next(iter(values))
    with pytest.raises(SettingError, match=f"^{problem[:12]}"):
        from_dict(Run, values)  # a dict of settings is checked the same way


def test_values_inside_the_declaration_pass_and_a_shared_setting_keeps_its_choices():
    check(Run(mode="slow", steps=BIG, rate=0.0, sizes=[[8, 4096]], limit=None))
    with pytest.raises(SettingError, match="must be one of fast, slow"):
        check(Copy(mode="medium"))


def _parser(**kwargs) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="prog", **kwargs)
    add_config_option(p)
    for name in ("name", "mode", "steps", "rate", "limit", "flip"):
        add_setting(p, Run, name)
    add_setting(p, Run, "sizes", type=lambda text: [[int(v) for v in text.split("x")]])
    return p


@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "argument --steps: must be at least 1, got 0"),
    (["--steps", "many"], "argument --steps: expected an integer (at least 1), got 'many'"),
    (["--rate", "inf"], "argument --rate: must be a finite number, got inf"),
    (["--mode", "medium"], "argument --mode: invalid choice: 'medium' (choose from 'fast', 'slow')"),
    (["--sizes", "4x64"], "argument --sizes: must be between 8 and 4096, got 4"),  # a custom type's result too
])
def test_the_flag_is_checked_by_the_same_declaration(capsys, argv, message):
    with pytest.raises(SystemExit) as stop:
        _parser().parse_args(argv)
    assert stop.value.code == 2 and capsys.readouterr().err.strip().splitlines()[-1] == f"prog: error: {message}"


def test_the_flag_takes_its_default_and_help_from_the_declaration(capsys):
    args = _parser().parse_args(["--no-flip", "--limit", "5"])
    assert (args.name, args.steps, args.rate, args.flip, args.limit) == ("run", 10, 0.5, False, 5)
    _parser().print_help()
    shown = " ".join(capsys.readouterr().out.split())
    assert "--steps STEPS steps to take (at least 1; default 10)" in shown
    assert "--rate RATE learning rate (0 … 1; default 0.5)" in shown
    assert "--flip, --no-flip random flips (default true)" in shown
    assert "--mode {fast,slow} how to run (default fast)" in shown
    assert vars(_parser(argument_default=argparse.SUPPRESS).parse_args([])) == {"config_file": None}  # only flags given


def test_a_config_files_value_is_checked_as_a_flags_and_named_by_the_file(tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"steps": 0, "mode": "fast"}))
    with pytest.raises(SystemExit) as stop:
        parse_config_args(_parser(), Run, ["--config", str(path)])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"prog: error: {path}: steps: must be at least 1, got 0"
    _, cfg = parse_config_args(_parser(), Run, ["--config", str(path), "--steps", "3"])
    assert cfg.steps == 3  # a flag given beside the file replaces its bad value
    with pytest.raises(ValueError, match=f"^{path}: steps: must be at least 1, got 0$"):
        load_config(Run, path)  # a library user loading the file gets the same check


def test_a_check_across_settings_names_the_file_or_the_flag_its_value_came_from(tmp_path, capsys):
    def check_config(cfg: Run) -> None:
        if cfg.limit is not None and cfg.limit > cfg.steps:
            raise SettingError("limit", f"{cfg.limit} is more than steps {cfg.steps}")

    path = tmp_path / "run.json"
    path.write_text(json.dumps({"limit": 50}))
    for argv, line in ((["--config", str(path)], f"{path}: limit: 50 is more than steps 10"),
                       (["--limit", "20"], "argument --limit: 20 is more than steps 10")):
        with pytest.raises(SystemExit):
            parse_config_args(_parser(), Run, argv, check_config=check_config)
        assert capsys.readouterr().err.strip().splitlines()[-1] == f"prog: error: {line}"


@pytest.mark.parametrize("text", ["[" * 100_000, "[" * 100_000 + "]" * 100_000,
                                  json.dumps({"sizes": json.loads("[" * 70 + "]" * 70)})])
def test_a_config_file_nested_without_end_is_one_line(tmp_path, capsys, text):
    """JSON's own parser runs out of stack at about 1,000 levels (a RecursionError); copying or saving
    a value does sooner. Past 64 levels a file is refused whole."""
    path = tmp_path / "deep.json"
    path.write_text(text)
    with pytest.raises(SystemExit):
        parse_config_args(_parser(), Run, ["--config", str(path)])
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        f"prog: error: {path}: values nest more than 64 levels deep"
