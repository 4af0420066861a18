"""plumbing.markdown: the one Markdown-table writer, on known answers."""
import pytest

from plumbing import markdown


def test_a_table_with_an_empty_header_cell_and_numbers():
    text = markdown.table(["", "iou", "n"], [["ckpt.pt", "0.512", 3], ["seed", "—", 0]])
    assert text == "| | iou | n |\n|---|---|---|\n| ckpt.pt | 0.512 | 3 |\n| seed | — | 0 |"


def test_cells_are_escaped_so_the_columns_stay_put():
    text = markdown.table(["method", "note"], [["lens|blur", "a\\b\nc"]])
    assert text.splitlines()[2] == "| lens\\|blur | a\\\\b c |"
    assert markdown.escape("x|y\nz") == "x\\|y z"


def test_a_header_alone_is_a_table_without_rows():
    assert markdown.table(["a", "b"], []) == "| a | b |\n|---|---|"


def test_a_row_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="2 cells under a header of 3"):
        markdown.table(["a", "b", "c"], [[1, 2]])
