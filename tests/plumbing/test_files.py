"""plumbing/files.py: JSONL records read back whole, a line cut by a crash ignored or repaired; only
regular files read, within a limit, every problem one line; temporaries within the name limit and
removed only when their writer is gone. (Atomic writes are also tested through the image writers
in tests/datasets/test_io.py.)"""
import json
import os

import pytest

from plumbing import files
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


# --- reading only regular files, within a limit, in one line ----------------------------------

def _opens_in_time(path, **kw) -> str:
    """The FileProblem of opening ``path``, which must come at once (a FIFO must not block)."""
    import threading

    found: list = []

    def attempt() -> None:
        try:
            files.open_regular(path, **kw).close()
            found.append(None)
        except files.FileProblem as exc:
            found.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(10)
    assert found, f"opening {path} blocked"
    assert found[0] is not None, f"{path} was opened"
    return str(found[0])


def test_only_regular_files_are_opened_and_every_refusal_is_one_line(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    (tmp_path / "zero.jpg").symlink_to("/dev/zero")
    (tmp_path / "loop.jpg").symlink_to("loop.jpg")
    (tmp_path / "gone.jpg").symlink_to("nowhere.jpg")
    (tmp_path / "big.bin").write_bytes(b"x" * 2000)
    expected = {"pipe.jpg": "FIFO", "zero.jpg": "device", "loop.jpg": "symbolic link loop",
                "gone.jpg": "symbolic link to a missing file", ".": "is a folder", "big.bin": "above the limit"}
    for name, words in expected.items():
        message = _opens_in_time(tmp_path / name, max_bytes=1000)
        prefix = f"{tmp_path / name}: "
        assert message.startswith(prefix) and words in message[len(prefix):] and "\n" not in message, message
    (tmp_path / "ok.bin").write_bytes(b"data")
    assert files.read_bytes(tmp_path / "ok.bin", 10) == b"data"
    (tmp_path / "bin.txt").write_bytes(b"key\xff\xfe\x00")
    with pytest.raises(files.FileProblem, match=r"bin.txt: not utf-8 text \(byte 0xff at offset 3\)"):
        files.read_text(tmp_path / "bin.txt")


def test_a_control_character_in_a_file_name_does_not_split_its_line(tmp_path):
    name = tmp_path / "evil\nname\x1b[31m.png"
    problem = files.FileProblem(name, "no such file")
    assert "\n" not in str(problem) and "\x1b" not in str(problem)
    assert str(problem) == f"{tmp_path}/evil\\nname\\x1b[31m.png: no such file"
    assert files.one_line("a\u2028b\tc") == "a\\u2028b\\tc"


def test_json_nested_deeper_than_the_parser_recurses_is_a_value_error(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ValueError, match="nested too deeply"):
        files.loads_json(deep)
    (tmp_path / "deep.json").write_text(deep)
    with pytest.raises(files.FileProblem, match="deep.json: JSON nested too deeply"):
        files.read_json(tmp_path / "deep.json")
    (tmp_path / "log.jsonl").write_text('{"a": 1}\n' + deep + "\n")
    with pytest.raises(files.FileProblem, match="log.jsonl: line 2 is not valid JSON"):
        read_jsonl(tmp_path / "log.jsonl")


# --- temporaries: short enough names, removed only when their writer is gone ----------------------

@pytest.mark.parametrize("name", ["x" * 221 + ".png", "é" * 110 + ".png", "a" * 250 + ".jpg"])
def test_a_temporary_fits_the_name_limit_whatever_the_targets_name(tmp_path, name):
    target = tmp_path / name
    assert len(os.fsencode(target.name)) <= files.NAME_MAX
    with files.atomic_path(target) as tmp:
        assert len(os.fsencode(tmp.name)) <= files.NAME_MAX and tmp.suffix == target.suffix
        tmp.write_bytes(b"done")
    assert target.read_bytes() == b"done"
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_only_temporaries_whose_process_is_gone_are_removed(tmp_path):
    from tests.support.files import killed_writers_temporary

    stale = killed_writers_temporary(tmp_path / "a.png")
    with files.atomic_path(tmp_path / "b.png") as mine:  # a write in progress in this process
        mine.write_bytes(b"half")
        assert files.remove_stale_temporaries(tmp_path) == 1
        assert not stale.exists() and mine.exists()
    assert (tmp_path / "b.png").read_bytes() == b"half"
