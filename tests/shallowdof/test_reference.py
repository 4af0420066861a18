"""docs/cli.md's list of programs is in step with the table of programs and their parsers
(shallowdof/reference.py makes it; ``python -m shallowdof.reference docs/cli.md`` rewrites it)."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from plumbing.cli import EXIT_CODES_EPILOG
from shallowdof import reference
from shallowdof.programs import PROGRAMS

ROOT = Path(__file__).resolve().parents[2]


def test_docs_cli_lists_every_program_as_its_parser_has_it():
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    block = text[text.index(reference.BEGIN):text.index(reference.END) + len(reference.END)]
    assert block == reference.programs_markdown(), "docs/cli.md is stale: run python -m shallowdof.reference docs/cli.md"
    assert [line[4:] for line in block.splitlines() if line.startswith("### ")] == list(PROGRAMS)


def test_an_entry_names_the_options_and_the_programs_own_exit_statuses():
    entry = reference.program_entry("train_cyclegan")
    assert "`--preset`" in entry and "`--max-steps`" in entry and "`--help`" not in entry
    assert entry.endswith("and 3: stopped by a non-finite loss (the last good checkpoint is kept).")
    parser = argparse.ArgumentParser(epilog=EXIT_CODES_EPILOG + "\n  1    some benchmarks failed")
    assert reference.own_exit_statuses(parser) == [("1", "some benchmarks failed")]
    assert len(reference.exit_statuses(parser)) == 5


def test_rewriting_keeps_the_hand_written_prose(tmp_path):
    page = tmp_path / "cli.md"
    page.write_text(f"# Intro\n\nby hand\n\n{reference.BEGIN}\nold\n{reference.END}\n\n## After\n", encoding="utf-8")
    assert reference.main([str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# Intro\n\nby hand\n\n") and text.endswith("\n\n## After\n")
    assert "\nold\n" not in text and "### blur" in text
    page.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(ValueError, match="markers"):
        reference.main([str(page)])
