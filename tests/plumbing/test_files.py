"""plumbing/files.py: JSONL records read back whole, a line cut by a crash ignored or repaired.
(Atomic writes are tested through the image writers in tests/datasets/test_io.py.)"""
import json

from plumbing.files import read_jsonl


def test_a_partial_last_line_is_ignored_and_repaired(tmp_path):
    path = tmp_path / "manifest.jsonl"
    path.write_text(json.dumps({"photo_id": "1", "status": "ok"}) + "\n" + '{"photo_id": "2", "sta')
    assert [r["photo_id"] for r in read_jsonl(path)] == ["1"]
    read_jsonl(path, repair=True)
    assert path.read_text().endswith("}\n") and path.read_text().count("\n") == 1
    with open(path, "a") as f:
        f.write(json.dumps({"photo_id": "3"}) + "\n")
    assert [r["photo_id"] for r in read_jsonl(path)] == ["1", "3"]


def test_a_bad_line_before_the_last_is_an_error_naming_the_file_and_line(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"a": 1}\nnot json\n{"a": 3}\n')
    try:
        read_jsonl(path)
    except ValueError as exc:
        assert str(exc) == f"{path}: line 2 is not valid JSON"
    else:
        raise AssertionError("a broken middle line was accepted")
    assert read_jsonl(tmp_path / "missing.jsonl") == []
