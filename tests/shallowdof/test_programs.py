"""The one table of programs (shallowdof.programs) and the ``shallowdof`` command: every script is
a program of the table and every program has its script; every program's code is
``PACKAGE/cli/NAME.py`` with a parser and a main; ``pip install .`` gives the ``shallowdof``
command, whose ``--help`` lists the table and whose ``shallowdof NAME`` runs program NAME."""
from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datasets.io import read_image, write_image
from datasets.synthetic import make_scene
from shallowdof.__main__ import main as command
from shallowdof.programs import PROGRAMS, run_program

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p.stem for p in (ROOT / "scripts").glob("*.py") if p.stem != "__init__")


def _python(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=env or {**os.environ, "PYTHONPATH": str(ROOT)})


def test_every_script_is_a_program_of_the_table_and_every_program_has_a_script():
    assert SCRIPTS == sorted(PROGRAMS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_only_runs_its_program_from_the_table(name):
    tree = ast.parse((ROOT / "scripts" / f"{name}.py").read_text(encoding="utf-8"))
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Name) and node.func.id == "run_program"]
    assert [ast.literal_eval(call.args[0]) for call in calls] == [name]
    assert not [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_each_program_is_a_cli_module_named_after_it_with_a_parser_and_a_main(name):
    module = PROGRAMS[name].load()
    assert module.__name__.split(".")[1:] == ["cli", name]
    assert isinstance(module.build_parser(), argparse.ArgumentParser)
    assert callable(module.parse_args) and callable(module.main)
    assert PROGRAMS[name].summary and "\n" not in PROGRAMS[name].summary


def test_every_cli_module_is_a_program_of_the_table():
    found = sorted(p.stem for p in ROOT.glob("*/cli/*.py") if p.stem != "__init__")
    assert found == sorted(PROGRAMS)


def test_the_command_lists_every_program_and_refuses_an_unknown_one(capsys):
    assert command(["--help"]) == 0
    listing = capsys.readouterr().out
    for name, program in PROGRAMS.items():
        assert f"  {name}" in listing and program.summary in listing
    assert command(["no_such_program"]) == 2
    assert "no program 'no_such_program'" in capsys.readouterr().err
    assert command([]) == 2  # nothing to run: the listing, on stderr


def test_shallowdof_name_is_the_program_as_its_script_runs_it(tmp_path):
    """``python -m shallowdof blur`` and ``python scripts/blur.py`` write the same pixels; the
    program's --help calls it ``shallowdof blur``."""
    scene = make_scene(3, (64, 80), render_dof=False)
    write_image(tmp_path / "in" / "s.png", scene.image)
    np.save(tmp_path / "s.npy", scene.depth.astype(np.float32))
    args = [str(tmp_path / "in"), "--method", "gaussian", "--depth", str(tmp_path / "s.npy"), "--quiet"]
    by_command = _python("-m", "shallowdof", "blur", *args, "--out", str(tmp_path / "a"))
    by_script = _python("scripts/blur.py", *args, "--out", str(tmp_path / "b"))
    assert by_command.returncode == 0 and by_script.returncode == 0, by_command.stderr + by_script.stderr
    assert np.array_equal(read_image(tmp_path / "a" / "s_gaussian.png"), read_image(tmp_path / "b" / "s_gaussian.png"))
    assert _python("-m", "shallowdof", "blur", "--help").stdout.startswith("usage: shallowdof blur ")


def test_benchmark_outside_a_checkout_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "bench", None)  # as if bench/ were not there
    monkeypatch.delitem(sys.modules, "bench.cli", raising=False)
    monkeypatch.delitem(sys.modules, "bench.cli.benchmark", raising=False)
    assert run_program("benchmark", ["--help"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("benchmark: needs the benchmarks of a source checkout")


def test_pip_install_gives_the_shallowdof_command(tmp_path):
    """``pip install .`` (without dependencies, which the environment has) of a copy of the
    distribution: its ``bin/shallowdof`` lists the programs and runs one."""
    source = tmp_path / "src"
    for name in ("setup.py", "README.md"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    for package in ("plumbing", "datasets", "segdepth", "compositing", "gan", "evaluation", "shallowdof"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "site"
    done = _python("-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-compile",
                   "--target", str(target), str(source), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    env = {**os.environ, "PYTHONPATH": str(target)}
    listing = _python(str(target / "bin" / "shallowdof"), "--help", cwd=tmp_path, env=env)
    assert listing.returncode == 0 and all(f"  {name}" in listing.stdout for name in PROGRAMS), listing.stderr
    helped = _python(str(target / "bin" / "shallowdof"), "compare", "--help", cwd=tmp_path, env=env)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: shallowdof compare "), helped.stderr
    assert str(target) in _python("-c", "import compositing.cli.blur as m; print(m.__file__)", cwd=tmp_path,
                                  env=env).stdout  # the installed copy ran, not the checkout
