"""ruff (ruff.toml's rules: unused and undefined names, redefinitions, statements that hide
mistakes) finds nothing in the repository; `make test` runs it before pytest too."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    """The ruff command of this environment: the one beside this Python, else on the PATH."""
    here = Path(sys.executable).with_name("ruff")
    found = str(here) if here.exists() else shutil.which("ruff")
    if found is None:
        pytest.fail("ruff is not installed: pip install -e '.[test]'")
    return [found]


def test_ruff_finds_nothing():
    done = subprocess.run([*_ruff(), "check", "--no-cache", "--output-format", "concise", "."], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_catches_a_redefinition_and_an_unused_name(tmp_path):
    """The rules in force catch what they are there for (here in a file outside the repository)."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom math import pi\n\n\ndef f():\n    from math import pi\n    unused = 1\n    return pi\n")
    done = subprocess.run([*_ruff(), "check", "--no-cache", "--config", str(ROOT / "ruff.toml"),
                           "--output-format", "concise", str(bad)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    for code in ("F401", "F811", "F841"):
        assert code in done.stdout, done.stdout
