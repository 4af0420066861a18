"""Files and functions small enough to read: no library module over 500 lines, and no function
over 80 lines unless a comment in it (``# longer than 80 lines: REASON``) says why."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The library's packages (bench/ and tests/ are not library code).
LIBRARY = ("plumbing", "datasets", "segdepth", "compositing", "gan", "evaluation", "shallowdof", "scripts")
MAX_FILE_LINES, MAX_FUNCTION_LINES = 500, 80
REASON = "# longer than 80 lines:"


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int, int]]:
    """(name, first line, length) of every function in ``source`` longer than ``limit`` lines
    whose body has no ``# longer than 80 lines: REASON`` comment."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            body = lines[node.lineno - 1:node.end_lineno]
            if length > limit and not any(line.strip().startswith(REASON) and len(line.strip()) > len(REASON) + 3
                                          for line in body):
                found.append((node.name, node.lineno, length))
    return found


def library_files() -> list[Path]:
    return sorted(p for package in LIBRARY for p in (ROOT / package).rglob("*.py"))


def test_no_library_file_is_over_500_lines():
    files = library_files()
    assert len(files) > 80
    long = [f"{p.relative_to(ROOT)}: {n} lines" for p in files
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES]
    assert not long, "\n".join(long)


def test_no_function_is_over_80_lines_without_a_reason():
    long = [f"{p.relative_to(ROOT)}:{line}: {name} is {n} lines"
            for p in library_files() for name, line, n in long_functions(p.read_text(encoding="utf-8"))]
    assert not long, "\n".join(long)


@pytest.mark.parametrize("body, flagged", [
    ("    x = 1\n" * 85, True),
    ("    # longer than 80 lines: one table of options in --help order\n" + "    x = 1\n" * 85, False),
    ("    # longer than 80 lines:\n" + "    x = 1\n" * 85, True),  # a reason must be given
    ("    x = 1\n" * 70, False),
])
def test_a_long_function_needs_a_written_reason(body, flagged):
    assert bool(long_functions(f"def f():\n{body}")) == flagged
