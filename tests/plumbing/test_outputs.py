"""plumbing/outputs.py: an output is never an input, and only files shallowdof wrote are replaced."""
from __future__ import annotations

import os

import pytest

from plumbing.files import FileProblem, read_jsonl, write_text
from plumbing.outputs import RECORD_NAME, OutputGuard, claim_folder, overlap_problem


def test_a_file_is_replaced_only_when_the_record_says_shallowdof_wrote_it_unchanged(tmp_path):
    guard = OutputGuard("blur")
    user, ours = tmp_path / "photo_lens.jpg", tmp_path / "other_lens.jpg"
    user.write_bytes(b"the user's own picture")
    assert guard.is_ours(tmp_path / "new.jpg")  # nothing there: free
    with pytest.raises(FileProblem, match="photo_lens.jpg: exists and was not written by shallowdof"):
        guard.check(user)
    write_text(ours, "first render")
    guard.record(ours)
    guard.check(ours)
    assert OutputGuard("blur").is_ours(ours)  # a later run reads the record
    ours.write_text("edited by hand, longer")  # changed since: the user's now
    assert not OutputGuard("blur").is_ours(ours)
    link = tmp_path / "link_lens.jpg"
    link.symlink_to(user)
    assert not guard.is_ours(link)
    assert [r["file"] for r in read_jsonl(tmp_path / RECORD_NAME)] == ["other_lens.jpg"]


def test_another_runs_record_is_read_again_before_a_file_is_refused(tmp_path):
    first, second = OutputGuard("blur"), OutputGuard("blur")
    assert second.is_ours(tmp_path / "a.jpg")  # reads the (empty) record now
    write_text(tmp_path / "a.jpg", "x")
    first.record(tmp_path / "a.jpg")
    assert second.is_ours(tmp_path / "a.jpg")


def test_a_folder_of_the_users_is_not_claimed(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>my page</h1>")
    with pytest.raises(FileProblem, match="site: is not empty and was not filled by shallowdof"):
        claim_folder(site, "demo")
    claim_folder(tmp_path / "new", "demo")
    claim_folder(tmp_path / "new", "compare")  # filled by shallowdof before: fine
    (tmp_path / "empty").mkdir()
    claim_folder(tmp_path / "empty", "demo")
    assert (site / "index.html").read_text() == "<h1>my page</h1>"


def test_an_output_that_is_holds_or_lies_in_an_input_is_refused(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "v.mp4").write_bytes(b"video")
    assert "is the input" in overlap_problem(photos, [photos])
    assert "is the input" in overlap_problem(photos / "v.mp4", [photos / "v.mp4"])
    os.symlink(photos, tmp_path / "alias")
    assert "is the input" in overlap_problem(tmp_path / "alias", [photos])
    assert "inside the input folder" in overlap_problem(photos / "out", [photos])
    assert "a folder holding the input" in overlap_problem(tmp_path, [photos])
    assert overlap_problem(tmp_path / "results", [photos]) is None
