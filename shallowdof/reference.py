"""The programs' part of docs/cli.md, made from the table of programs and their parsers.

Each program's entry gives its summary (:data:`shallowdof.programs.PROGRAMS`), how to run it,
where its code is, its options (the parser's long flags; ``--help`` explains each) and its exit
statuses (the parser's epilog). docs/cli.md holds the entry list between two marker lines, so the
prose around it is written by hand; tests/shallowdof/test_reference.py checks that the list is in
step with the parsers, and ``python -m shallowdof.reference`` rewrites it::

    python -m shallowdof.reference docs/cli.md
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Optional, Sequence

from plumbing.cli import EXIT_CODES_EPILOG
from plumbing.files import write_text
from shallowdof.programs import PROGRAMS

BEGIN = "<!-- programs: made by `python -m shallowdof.reference docs/cli.md`; do not edit by hand -->"
END = "<!-- end of programs -->"


def exit_statuses(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    """(status, meaning) of each line of the ``exit status:`` table in the parser's epilog."""
    epilog = (parser.epilog or "").split("exit status:", 1)
    return re.findall(r"(?m)^\s+(\d+)\s+(.+?)\s*$", epilog[1]) if len(epilog) == 2 else []


def flags(parser: argparse.ArgumentParser) -> list[str]:
    """Each option's first long flag (its first flag where it has no long one), in parser order;
    positional arguments by their metavar or name, in capitals."""
    names = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if action.option_strings:
            names.append(next((s for s in action.option_strings if s.startswith("--")), action.option_strings[0]))
        else:
            names.append(str(action.metavar or action.dest).upper())
    return names


def own_exit_statuses(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    """The parser's exit statuses that are not every program's (:data:`plumbing.cli.EXIT_CODES_EPILOG`)
    or mean something else for it."""
    common = set(exit_statuses(argparse.ArgumentParser(epilog=EXIT_CODES_EPILOG)))
    return [status for status in exit_statuses(parser) if status not in common]


def program_entry(name: str) -> str:
    """docs/cli.md's entry of program ``name``."""
    program = PROGRAMS[name]
    module = program.load()
    parser = module.build_parser()
    code = module.__name__.replace(".", "/") + ".py"
    own = own_exit_statuses(parser)
    return "\n".join([
        f"### {name}", "", f"{program.summary[0].upper()}{program.summary[1:]}.", "",
        f"`shallowdof {name}` · `python scripts/{name}.py` · code: `{code}`", "",
        "Options: " + ", ".join(f"`{f}`" for f in flags(parser)), "",
        "Exit statuses: the common ones" + ("" if not own else ", and " + "; ".join(
            f"{status}: {meaning}" for status, meaning in own)) + "."])


def programs_markdown() -> str:
    """The generated block: the markers and one entry per program, in the table's order."""
    return "\n\n".join([BEGIN, *(program_entry(name) for name in PROGRAMS), END])


def replace_block(text: str, block: str) -> str:
    """``text`` with its part from BEGIN to END replaced by ``block``; ValueError without the markers."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the markers {BEGIN!r} and {END!r} are not there, in that order")
    return text[:start] + block + text[end + len(END):]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Rewrite the programs' block of the Markdown file named by ``argv`` (default docs/cli.md)."""
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0] if args else "docs/cli.md")
    write_text(path, replace_block(path.read_text(encoding="utf-8"), programs_markdown()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
