"""plumbing.cli.BoolFlag: ``--X`` / ``--no-X`` that also takes the older ``--X true|false``."""
from __future__ import annotations

import argparse

import pytest

from plumbing.cli import BoolFlag, HelpFormatter


def parser(**kwargs) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="prog", formatter_class=HelpFormatter, **kwargs)
    p.add_argument("--flip", action=BoolFlag, help="random flips")
    p.add_argument("--size", type=int)
    return p


@pytest.mark.parametrize("argv, expect", [
    (["--flip"], True), (["--no-flip"], False),               # the BooleanOptionalAction spelling
    (["--flip", "false"], False), (["--flip", "true"], True),  # the older spelling keeps working
    (["--flip=no"], False), (["--flip", "ON"], True), (["--flip", "0"], False),
    (["--flip", "--size", "3"], True),                        # a bare flag before another option
    (["--no-flip", "--flip"], True), (["--flip", "--no-flip"], False),  # the last one given wins
    ([], None),
])
def test_both_spellings_and_the_negative_flag(argv, expect):
    assert parser().parse_args(argv).flip is expect


def test_not_given_keeps_the_default_suppress_included():
    assert parser().parse_args([]).flip is None
    assert "flip" not in vars(parser(argument_default=argparse.SUPPRESS).parse_args([]))


@pytest.mark.parametrize("argv, message", [
    (["--flip", "maybe"], "argument --flip/--no-flip: expected true or false, not 'maybe'"),
    (["--no-flip", "false"], "argument --flip/--no-flip: --no-flip takes no value"),
    (["--no-flip=true"], "argument --flip/--no-flip: --no-flip takes no value"),
])
def test_a_wrong_value_is_argparses_one_line_error(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"prog: error: {message}" and err[0].startswith("usage:")


def test_help_shows_it_as_a_boolean_optional_action():
    text = parser().format_help()
    assert "[--flip | --no-flip]" in text      # usage line
    assert "  --flip, --no-flip  random flips" in text
    assert "BOOL" not in text
