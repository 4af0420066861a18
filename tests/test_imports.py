"""Imports go one way: plumbing → datasets → segdepth → compositing → gan → evaluation → shallowdof → scripts.

Every module of the repository is parsed with ``ast`` and every import in it is checked, at module
level and inside functions (a function-local import hides a dependency from a reader but is one all
the same). A package may import itself and any package to its left. bench/ may import every package;
tests/ may import everything, bench/ included (it tests the benchmarks). Nothing else imports bench/
or tests/, with one stated exception: the table of programs (shallowdof/programs.py) loads the
benchmark program, bench/cli/benchmark.py, behind ``make bench``. Inside a package no two modules import each other, directly or round a longer
loop, not even for type annotations only (a loop means the two belong together, or a shared part
belongs in a third module). docs/ARCHITECTURE.md states the same order.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The packages in import order: each may import only itself and the ones before it.
ORDER = ("plumbing", "datasets", "segdepth", "compositing", "gan", "evaluation", "shallowdof", "scripts")
#: Folders beside the packages that may import them but that no package may import.
SIDE = ("bench", "tests")
#: The one module outside SIDE allowed to import a SIDE folder, and which: the table of programs,
#: whose ``benchmark`` entry loads bench/cli/benchmark.py (``make bench``).
BENCH_PROGRAM = ("shallowdof/programs.py", "bench")


def imported_modules(tree: ast.Module, module: tuple[str, ...], is_package: bool,
                     names: bool = False) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every import anywhere in ``tree``, relative ones resolved
    against ``module`` (its dotted parts; ``is_package`` for an ``__init__.py``). ``names``: a
    ``from M import a, b`` gives ``M.a`` and ``M.b`` (``a`` may be a submodule) instead of ``M``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                source = node.module or ""
            else:
                here = list(module if is_package else module[:-1])
                base = here[:len(here) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            found += [(node.lineno, f"{source}.{a.name}") for a in node.names] if names else [(node.lineno, source)]
    return found


def allowed(importer: str, imported: str, path: str) -> bool:
    """Whether top-level folder ``importer`` (of file ``path``) may import top-level folder ``imported``."""
    if importer == imported or importer == "tests":
        return True
    if importer == "bench":
        return imported in ORDER
    if imported in SIDE:
        return (path, imported) == BENCH_PROGRAM
    return ORDER.index(imported) < ORDER.index(importer)


def violations(path: str, source: str) -> list[str]:
    """``path:line: problem`` for every import of ``source`` (repository file ``path``) against the order."""
    parts = Path(path).with_suffix("").parts
    importer, is_package = parts[0], Path(path).name == "__init__.py"
    module = parts[:-1] if is_package else parts
    found = []
    for line, name in imported_modules(ast.parse(source, path), module, is_package):
        imported = name.split(".")[0]
        if imported in ORDER + SIDE and not allowed(importer, imported, path):
            rule = ("only tests/ imports bench/ or tests/" if imported in SIDE
                    else f"imports go {' → '.join(ORDER)}")
            found.append(f"{path}:{line}: {importer} imports {name}; {rule}")
    return found


#: Modules a package may not import although the order allows it, and why.
FORBIDDEN = {
    "compositing": ("datasets.synthetic", "the renderer's optics and kernels are its own (compositing.optics, "
                    "compositing.kernels): the synthetic ground truth is an independent reference, so a bug in one "
                    "shows against the other instead of cancelling out"),
}


def forbidden(path: str, source: str) -> list[str]:
    """``path:line: problem`` for every import of ``source`` (repository file ``path``) that FORBIDDEN rules out."""
    package = Path(path).parts[0]
    if package not in FORBIDDEN:
        return []
    banned, why = FORBIDDEN[package]
    parts = Path(path).with_suffix("").parts
    is_package = Path(path).name == "__init__.py"
    found = []
    for line, name in imported_modules(ast.parse(source, path), parts[:-1] if is_package else parts, is_package,
                                       names=True):
        if name == banned or name.startswith(banned + "."):
            found.append(f"{path}:{line}: {package} imports {name}; {why}")
    return found


def module_name(path: str) -> str:
    """The dotted module of repository file ``path`` (a package's ``__init__.py`` is the package)."""
    parts = Path(path).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Module → the modules of ``sources`` (repository path → source) it imports, anywhere in it.
    ``from P import x`` is an import of ``P.x`` when that is a module of ``sources``, else of ``P``."""
    known = {module_name(path) for path in sources}
    graph: dict[str, set[str]] = {}
    for path, source in sources.items():
        parts = Path(path).with_suffix("").parts
        is_package = Path(path).name == "__init__.py"
        here = parts[:-1] if is_package else parts
        targets = set()
        for _, name in imported_modules(ast.parse(source, path), here, is_package, names=True):
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                targets.add(name)
        for _, name in imported_modules(ast.parse(source, path), here, is_package):  # ``import P.Q`` / ``from P import x``
            if name in known:
                targets.add(name)
        graph[module_name(path)] = targets - {module_name(path)}
    return graph


def import_loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import loops of ``graph``: each set of modules that reach one another, sorted
    (Tarjan's strongly connected components, those of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(loops)


def project_modules() -> list[str]:
    """Repository paths of every Python file in the packages, bench/ and tests/."""
    return sorted(str(p.relative_to(ROOT)) for top in ORDER + SIDE for p in (ROOT / top).rglob("*.py"))


def test_every_import_goes_the_one_way():
    paths = project_modules()
    assert {"plumbing/files.py", "datasets/io/read.py", "tests/test_imports.py"} <= set(paths) and len(paths) > 100
    problems = [p for path in paths for p in violations(path, (ROOT / path).read_text(encoding="utf-8"))]
    assert not problems, "\n".join(problems)


def test_the_renderer_takes_no_optics_from_the_ground_truth():
    paths = [p for p in project_modules() if p.startswith("compositing/")]
    assert "compositing/pipeline.py" in paths and "compositing/optics.py" in paths
    problems = [p for path in paths for p in forbidden(path, (ROOT / path).read_text(encoding="utf-8"))]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source", [
    "from datasets.synthetic import Lens",
    "def prior():\n    from datasets.synthetic import Lens, coc_radius_px\n    return Lens",  # hidden in a function
    "import datasets.synthetic as truth",
    "from datasets import synthetic",
])
def test_each_way_of_taking_the_ground_truths_optics_is_caught(source):
    assert forbidden("compositing/pipeline.py", source)
    assert not forbidden("evaluation/compare.py", source)  # evaluation compares the two, so it may


def test_no_two_modules_import_each_other():
    paths = [p for p in project_modules() if not p.startswith(SIDE)]
    graph = import_graph({p: (ROOT / p).read_text(encoding="utf-8") for p in paths})
    assert "datasets.io.read" in graph["datasets.io.layout"]  # the graph resolves package-relative imports
    loops = import_loops(graph)
    assert not loops, "import loops:\n" + "\n".join(" <-> ".join(loop) for loop in loops)


@pytest.mark.parametrize("sources, loop", [
    ({"datasets/curate/run.py": "from datasets.curate.report import write_review",
      "datasets/curate/report.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .run import Item"},
     ["datasets.curate.report", "datasets.curate.run"]),  # for annotations only, still a loop
    ({"gan/train/a.py": "from . import b", "gan/train/b.py": "def f():\n    from gan.train import c",
      "gan/train/c.py": "import gan.train.a"}, ["gan.train.a", "gan.train.b", "gan.train.c"]),  # round three
])
def test_an_import_loop_is_found(sources, loop):
    assert import_loops(import_graph(sources)) == [loop]


def test_a_one_way_chain_is_no_loop():
    sources = {"gan/train/a.py": "from . import b", "gan/train/b.py": "from .c import x", "gan/train/c.py": "x = 1"}
    assert import_loops(import_graph(sources)) == []


@pytest.mark.parametrize("path, source", [
    ("plumbing/files.py", "from datasets.io import read_image"),  # the foundation imports no project package
    ("plumbing/cli.py", "def f():\n    from gan.model import PRESETS"),
    ("datasets/curate/rules.py", "from segdepth.segment import SEGMENTERS"),
    ("datasets/curate/run.py", "def f():\n    import segdepth.person as p\n    return p"),  # hidden in a function
    ("compositing/lens.py", "class L:\n    def m(self):\n        from gan import model"),
    ("segdepth/segment/unet.py", "from ...compositing import kernels"),  # relative, resolved to compositing
    ("evaluation/report.py", "import scripts.compare"),
    ("gan/train.py", "from tests.support import browser"),
    ("evaluation/compare.py", "from bench import bench_gan"),
    ("bench/bench_gan.py", "from tests.people import person_photo"),
    ("scripts/blur.py", "import bench.bench_compositing"),
    ("scripts/benchmark.py", "from bench import bench_gan"),  # the table loads it, the script only runs the table
    ("evaluation/demo.py", "def f():\n    from shallowdof.programs import PROGRAMS"),  # the facade is above the library
])
def test_each_kind_of_import_against_the_order_is_caught(path, source):
    assert violations(path, source)


@pytest.mark.parametrize("path, source", [
    ("segdepth/masks.py", "from datasets.io import read_image\nfrom plumbing.files import read_jsonl"),
    ("datasets/io/write.py", "from plumbing.files import atomic_path"),
    ("scripts/blur.py", "def main():\n    from compositing.pipeline import render\n    from gan import infer"),
    ("segdepth/segment/unet.py", "from .torch_segmenter import SegArch\nfrom ..tensors import to_tensor"),
    ("gan/__init__.py", "from . import model"),
    ("bench/bench_gan.py", "from gan.model import CycleGANModel\nfrom bench import bench_compositing"),
    ("tests/gan/test_train.py", "from scripts import train_cyclegan\nfrom bench import bench_gan\nfrom tests.support import browser"),
    ("shallowdof/programs.py", "def _benchmark():\n    from bench.cli import benchmark\n    return benchmark"),
    ("shallowdof/__init__.py", "def render():\n    from compositing.pipeline import PhotoPipeline"),
    ("scripts/blur.py", "from shallowdof.programs import run_program"),
    ("datasets/io/read.py", "import numpy\nfrom PIL import Image\nimport segmentation_models_pytorch"),  # not ours
])
def test_imports_that_keep_the_order_pass(path, source):
    assert not violations(path, source)
