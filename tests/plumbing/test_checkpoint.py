"""plumbing.checkpoint: one tag spelling, earlier spellings still read, one policy for untagged
files, one error class, atomic writes, weights_only reads."""
import logging

import pytest
import torch

from plumbing.checkpoint import CheckpointError, CheckpointFormat, load_tagged, read_file, save_tagged

ALWAYS_TAGGED = CheckpointFormat("shallowdof.pkg.train", "pkg checkpoint", "train_pkg", versions=(1, 2),
                                 old_names=("shallowdof-pkg",))
ONCE_UNTAGGED = CheckpointFormat("shallowdof.pkg.weights", "pkg weights file", "train_pkg", untagged=1)


def test_the_newest_version_is_written_atomically_and_read_back(tmp_path):
    path = tmp_path / "run" / "a.pt"
    save_tagged(path, ALWAYS_TAGGED, {"w": torch.ones(2)})
    assert [p.name for p in path.parent.iterdir()] == ["a.pt"]  # no temporary left beside it
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == ALWAYS_TAGGED.tag == "shallowdof.pkg.train/2"
    assert torch.equal(load_tagged(path, ALWAYS_TAGGED)["w"], torch.ones(2))


@pytest.mark.parametrize("tag, version", [("shallowdof.pkg.train/1", 1), ("shallowdof-pkg/2", 2),
                                          ("shallowdof-pkg-1", 1)])
def test_every_spelling_of_a_known_version_is_read(tag, version):
    assert ALWAYS_TAGGED.version_of(tag, "x.pt") == version


@pytest.mark.parametrize("tag, problem", [
    ("shallowdof.other.train/1", "x.pt: not a pkg checkpoint (format 'shallowdof.other.train/1'; this code reads "
                                 "shallowdof.pkg.train/2)"),
    ("shallowdof.pkg.train/3", "x.pt: checkpoint format 'shallowdof.pkg.train/3' is not one this version of "
                               "shallowdof reads (it reads shallowdof.pkg.train/1, shallowdof.pkg.train/2)"),
    ("shallowdof-pkg/x", "x.pt: checkpoint format 'shallowdof-pkg/x' is not one"),
    ("shallowdof-pkgs/1", "x.pt: not a pkg checkpoint"),  # not an earlier spelling, only a similar one
    (7, "x.pt: not a pkg checkpoint (format 7;"),
    (None, "x.pt: not a pkg checkpoint: no format tag, so not a checkpoint train_pkg wrote "
           "(it reads shallowdof.pkg.train/2)"),
])
def test_a_foreign_unknown_or_missing_tag_is_one_line(tag, problem):
    with pytest.raises(CheckpointError) as err:
        ALWAYS_TAGGED.version_of(tag, "x.pt")
    assert str(err.value).startswith(problem) and "\n" not in str(err.value)


def test_an_untagged_file_is_read_only_where_the_format_was_once_written_without_a_tag(tmp_path, caplog):
    path = tmp_path / "bare.pt"
    torch.save({"w": torch.zeros(1)}, path)
    with caplog.at_level(logging.INFO, logger="plumbing.checkpoint"):
        assert set(load_tagged(path, ONCE_UNTAGGED)) == {"w"}
    assert f"{path}: no format tag; read as shallowdof.pkg.weights/1" in caplog.text
    with pytest.raises(CheckpointError, match="no format tag"):
        load_tagged(path, ALWAYS_TAGGED)


def test_missing_unreadable_pickled_and_non_dict_files_are_one_error(tmp_path):
    assert issubclass(CheckpointError, ValueError)  # programs report it as a usage error (exit 2)
    with pytest.raises(CheckpointError, match="gone.pt: no such checkpoint file"):
        read_file(tmp_path / "gone.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt: not a readable checkpoint"):
        read_file(tmp_path / "junk.pt")
    torch.save({"obj": CheckpointFormat("a", "b", "c")}, tmp_path / "code.pt")  # needs unpickling code: refused
    with pytest.raises(CheckpointError, match=r"code.pt: refused: it holds a Python object \(plumbing.checkpoint.CheckpointFormat\)"):
        read_file(tmp_path / "code.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match=r"list.pt: not a checkpoint \(found list, expected a dict\)"):
        read_file(tmp_path / "list.pt")
