"""The repository is self-contained: no tracked file refers to a path outside the checkout, and
every relative link of the documentation (README.md, docs/*.md) reaches a file that is there.

A user's clone has nothing beside it, so a test, benchmark or document that reads or points at
a sibling folder (the team's shared folder, an absolute path on a developer's machine, a
``Path(__file__)`` chain that climbs above the repository root, a Markdown link leaving it)
works for the team and fails for everyone else. The patterns below are assembled so that this
file's own text does not match them; it is scanned like every other file.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_DOT = "[.]"
#: A relative path into the team's sibling folder, ``../`` + ``shared`` (either slash).
SIBLING = re.compile(_DOT + _DOT + r"[/\\]+" + "shared" + r"\b")
#: An absolute path on a developer's machine.
ABSOLUTE = re.compile(r"(?<![\w.~-])/(?:" + "|".join(["work", "home", "root", "mnt", "Users"]) + r")/")
#: ``Path(__file__)`` followed by ``.resolve()`` and a chain of ``.parent`` / ``.parents[N]``.
FILE_CHAIN = re.compile(r"Path\(__file__\)(?:\.resolve\(\)|\.absolute\(\))?((?:\.parents?(?:\[\d+\])?)+)")
#: A relative Markdown link target: ``[text](target)``.
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")


def tracked_text_files() -> list[tuple[str, str]]:
    """(repository path, text) of every tracked file that decodes as UTF-8."""
    try:
        names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"not a git checkout ({exc})")
    files = []
    for name in filter(None, names.decode().split("\0")):
        path = ROOT / name
        if not path.is_file():
            continue
        try:
            files.append((name, path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            continue  # binary (docs/demo.png)
    return files


def levels_up(chain: str) -> int:
    """How many folders ``.parent`` / ``.parents[N]`` steps climb from a file (the file itself = 0)."""
    up = 0
    for step in re.findall(r"\.parents?(?:\[(\d+)\])?", chain):
        up += int(step) + 1 if step else 1
    return up


def outside_references(name: str, text: str) -> list[str]:
    """``name:line: what`` for every reference of ``text`` (tracked file ``name``) to a path outside the repo."""
    found = []
    depth = len(Path(name).parts)  # climbing this many steps from the file reaches the repository root
    for n, line in enumerate(text.splitlines(), 1):
        for pattern, what in ((SIBLING, "relative path into a sibling folder"), (ABSOLUTE, "absolute path")):
            m = pattern.search(line)
            if m:
                found.append(f"{name}:{n}: {what} {m.group(0)!r}")
        for m in FILE_CHAIN.finditer(line):
            if levels_up(m.group(1)) > depth:
                found.append(f"{name}:{n}: Path(__file__) climbs above the repository root: {m.group(0)!r}")
        if name.endswith(".md"):
            for m in MD_LINK.finditer(line):
                target = m.group(1).split("#")[0]
                if not target or re.match(r"[a-z]+:", target):
                    continue  # a URL or an anchor
                resolved = (ROOT / name).parent.joinpath(target).resolve()
                if not resolved.is_relative_to(ROOT):
                    found.append(f"{name}:{n}: link leaves the repository: {target!r}")
    return found


def heading_anchor(heading: str) -> str:
    """The anchor a Markdown renderer (GitHub's rule) gives a heading: lower case, punctuation
    dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def broken_links(name: str, text: str, root: Path = ROOT) -> list[str]:
    """``name:line: what`` for every relative link of Markdown file ``name`` (under ``root``) whose
    file is missing, or whose ``#anchor`` is no heading of the Markdown file it names."""
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        for m in MD_LINK.finditer(line):
            target, _, anchor = m.group(1).partition("#")
            if re.match(r"[a-z]+:", target):
                continue  # a URL
            path = (root / name).parent / target if target else root / name
            if not path.is_file():
                found.append(f"{name}:{n}: no such file {target!r}")
            elif anchor and path.suffix == ".md":
                headings = re.findall(r"(?m)^#+ (.+)$", path.read_text(encoding="utf-8"))
                if anchor not in {heading_anchor(h) for h in headings}:
                    found.append(f"{name}:{n}: no heading #{anchor} in {target or name}")
    return found


def test_every_link_of_the_documentation_reaches_a_file():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) > 3
    problems = [p for page in pages
                for p in broken_links(page.relative_to(ROOT).as_posix(), page.read_text(encoding="utf-8"))]
    assert not problems, "\n".join(problems)


def test_a_broken_link_or_anchor_is_caught(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## Limits and what is overwritten\n")
    good = "[a](docs/a.md) [b](docs/a.md#limits-and-what-is-overwritten) [c](https://example.org/x)"
    assert broken_links("README.md", good, tmp_path) == []
    assert broken_links("README.md", "[a](docs/b.md)", tmp_path) == ["README.md:1: no such file 'docs/b.md'"]
    assert broken_links("README.md", "[a](docs/a.md#limits)", tmp_path) == [
        "README.md:1: no heading #limits in docs/a.md"]
    assert broken_links("docs/a.md", "see [the top](#a-page) and [x](#nope)", tmp_path) == [
        "docs/a.md:1: no heading #nope in docs/a.md"]


def test_no_tracked_file_refers_outside_the_repository():
    files = tracked_text_files()
    assert any(name == "tests/test_repository.py" for name, _ in files)  # the scan covers this file too
    problems = [p for name, text in files for p in outside_references(name, text)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name, text", [
    ("tests/fake.py", "FIXTURES = Path(__file__)" + '.resolve().parents[1].parent / "shared"'),
    ("tests/fake.py", "root = Path(__file__)" + ".parent.parent.parent"),
    ("README.md", "See `" + ".." + "/shared/DESIGN.md` for the architecture."),
    ("README.md", "See [the design](" + ".." + "/DESIGN.md)."),
    ("bench/b.py", "DATA = '" + "/wo" + "rk/shared/realphotos'"),
])
def test_each_kind_of_outside_reference_is_caught(name, text):
    assert outside_references(name, text)


@pytest.mark.parametrize("name, text", [
    ("tests/t.py", "ROOT = Path(__file__).resolve().parents[1]"),
    ("scripts/s.py", "ROOT = Path(__file__).resolve().parent.parent"),
    ("tests/t.py", 'assert href == "../results/a.png"  # a link inside an output folder'),
    ("README.md", "[docs/ARCHITECTURE.md](docs/ARCHITECTURE.md) and [a site](https://example.org/x)"),
    ("tests/t.py", "a shared random crop; the file shared_utils.py"),
])
def test_paths_inside_the_repository_pass(name, text):
    assert not outside_references(name, text)
