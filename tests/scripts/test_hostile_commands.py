"""Hostile command lines, answers and user files: one line each instead of a traceback, nothing of
the user's overwritten, messages a user can act on."""
from __future__ import annotations

import csv
import logging
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from datasets import io
from datasets.flickr import Backoff, Domain, FlickrClient, FlickrPermanentError, RetriesExhausted, SearchSlice, scrape
from datasets.synthetic import make_scene
from datasets.testing.fake_flickr import FakeFlickr, make_photos
from plumbing.files import append_jsonl
from shallowdof.programs import PROGRAMS

KEY = "k3y-0123456789abcdef"
H, W = 64, 80


def _program(name: str):
    return PROGRAMS[name].load()


def _scene(path: Path, seed: int = 3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    io.write_image(path, make_scene(seed, size=(H, W), render_dof=False).image)
    return path


def _usage_error(capsys, parse, argv) -> str:
    """The one error line of a command line refused with exit status 2."""
    with pytest.raises(SystemExit) as info:
        parse(argv)
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert info.value.code == 2 and len(errors) == 1, errors
    return errors[0]


# --- the Flickr client and the scraper ----------------------------------------------------------

def _client(url: str) -> FlickrClient:
    return FlickrClient(KEY, url, backoff=Backoff(base_s=0.0, max_retries=1), sleep=lambda s: None,
                        rng=random.Random(0))


def test_an_api_answer_nested_too_deeply_is_one_error_not_a_recursion_error(httpserver):
    httpserver.expect_request("/rest").respond_with_data("[" * 100_000 + "]" * 100_000,
                                                         content_type="application/json")
    with pytest.raises(RetriesExhausted) as err:
        _client(httpserver.url_for("/rest")).call("flickr.photos.search", text="x")
    assert "nested too deeply" in str(err.value) and "\n" not in str(err.value) and KEY not in str(err.value)


def test_a_photo_list_of_strings_or_nulls_is_skipped_with_a_warning(httpserver, caplog):
    good = {"id": "123", "url_l": "https://example.org/123_l.jpg", "width_l": 800, "height_l": 600}
    page = {"stat": "ok", "photos": {"page": 1, "pages": 1, "total": "4", "photo": ["x", None, 7, good]}}
    httpserver.expect_request("/rest").respond_with_json(page)
    got = list(_client(httpserver.url_for("/rest")).iter_records(Domain("d", text="t"), (1,), SearchSlice(0, 10**9)))
    assert [r["id"] for r, _ in got] == ["123"]
    assert "3 entries of a page are not photo records" in caplog.text
    bad_exif = {"stat": "ok", "photo": {"exif": ["Model", None, {"tag": "Model", "raw": {"_content": "X"}}]}}
    httpserver.clear()
    httpserver.expect_request("/rest").respond_with_json(bad_exif)
    assert _client(httpserver.url_for("/rest")).exif("123") == {"Model": "X"}


def test_manifest_records_without_a_photo_id_are_named_and_left_out(tmp_path, caplog):
    out = tmp_path / "out"
    append_jsonl(out / "manifest.jsonl", {"status": "ok", "domain": "shallow", "file": "raw/shallow/1.jpg"})
    append_jsonl(out / "manifest.jsonl", ["not", "a", "record"])
    from datasets.flickr import ScrapeConfig

    with FakeFlickr(make_photos(4), api_key=KEY) as fake:
        cfg = ScrapeConfig(out=str(out), per_domain=2, api_url=fake.api_url, calls_per_hour=100_000, per_page=4,
                           min_upload=1_400_000_000, max_upload=1_700_000_000, quiet=True, dry_run=True,
                           domains=[{"name": "shallow", "text": "portrait"}])
        with caplog.at_level(logging.WARNING):
            summary = scrape(cfg, KEY)
    assert summary.counts["shallow"]["candidates"] == 2
    assert f"{out / 'manifest.jsonl'}: record 1: no photo_id" in caplog.text
    assert f"{out / 'manifest.jsonl'}: record 2: not a JSON object" in caplog.text


@pytest.mark.parametrize("content, words", [
    (None, "device"),                 # --api-key-file /dev/zero: never read until memory runs out
    (b"\x00\xff\xfe" * 10, "not utf-8 text"),
    (b"x" * 10_000, "above the limit"),
    (b"", "the API key file is empty"),
    (b"\n  \n", "the API key file is empty"),
])
def test_a_key_file_that_is_no_key_is_one_line_naming_it(tmp_path, content, words):
    from datasets.cli.scrape_flickr import read_key

    path = Path("/dev/zero") if content is None else tmp_path / "key.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(FlickrPermanentError) as err:
        read_key(path)
    assert str(err.value).startswith(f"{path}: ") and words in str(err.value), str(err.value)
    (tmp_path / "good.txt").write_text(f"{KEY}\nnotes\n")
    assert read_key(tmp_path / "good.txt") == KEY


# --- curation -------------------------------------------------------------------------------------------

def _scrape(root: Path) -> Path:
    for domain, seeds in (("ordinary", (3, 4, 5)), ("shallow", (6, 7, 8))):
        for seed in seeds:
            _scene(root / "raw" / domain / f"p{seed}.png", seed)
            append_jsonl(root / "manifest.jsonl", {"status": "ok", "domain": domain, "photo_id": str(seed),
                                                   "file": f"raw/{domain}/p{seed}.png"})
    return root


def _curate_args(tmp_path: Path, *extra: str) -> list[str]:
    return ["--raw", str(tmp_path / "scrape"), "--out", str(tmp_path / "data"), "--min-side", "32",
            "--min-person-fraction", "0", "--test-size-a", "1", "--test-size-b", "1", "--quiet", *extra]


def test_curate_names_a_manifest_record_without_domain_before_the_feature_pass(tmp_path, monkeypatch, caplog):
    import datasets.curate.run as run

    _scrape(tmp_path / "scrape")
    append_jsonl(tmp_path / "scrape" / "manifest.jsonl", {"status": "ok", "photo_id": "9", "file": "raw/x/p9.png"})
    seen_before_pass: list[str] = []
    real_pass = run._feature_pass
    monkeypatch.setattr(run, "_feature_pass", lambda *a: (seen_before_pass.append(caplog.text), real_pass(*a))[1])
    assert _program("curate").main(_curate_args(tmp_path)) == 1  # the run is complete; the bad record counted
    line = f"{tmp_path / 'scrape' / 'manifest.jsonl'}: record 7: no domain"
    assert line in seen_before_pass[0]
    assert (tmp_path / "data" / "summary.md").is_file()


def test_curate_refuses_a_decisions_folder_in_one_line_before_any_work(tmp_path, caplog):
    _scrape(tmp_path / "scrape")
    (tmp_path / "decisions").mkdir()
    assert _program("curate").main(_curate_args(tmp_path, "--decisions", str(tmp_path / "decisions"))) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [f"{tmp_path / 'decisions'}: is a folder, not a file"]
    assert not (tmp_path / "data" / "review.html").exists()


@pytest.mark.parametrize("encoding, delimiter", [("utf-8-sig", ";"), ("cp1252", ","), ("utf-16", "\t")])
def test_curate_reads_a_decisions_file_as_spreadsheets_save_it_and_keeps_what_the_user_wrote(
        tmp_path, encoding, delimiter):
    """Excel saves CSV with a byte-order mark (and, in many countries, ';'), or in Windows-1252, or
    as UTF-16 "Unicode text": each is read, its decisions applied, and rewritten with the user's
    notes, extra column and rows, in its own encoding."""
    _scrape(tmp_path / "scrape")
    curate = _program("curate")
    assert curate.main(_curate_args(tmp_path)) == 0
    path = tmp_path / "data" / "decisions.csv"
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    for row in rows:
        row["my remarks"] = f"seen {row['file']}"
        if row["file"] == "p6.png":
            row["decision"], row["note"] = "Reject", "café, naïve – not a portrait"
    gone = {"domain": "shallow", "file": "old.png", "auto": "keep", "detail": "", "decision": "reject",
            "note": "removed since", "my remarks": "kept anyway"}
    with open(path, "w", newline="", encoding=encoding) as f:
        writer = csv.DictWriter(f, fieldnames=[k.capitalize() if k == "decision" else k for k in rows[0]],
                                delimiter=delimiter)
        writer.writeheader()
        for row in rows + [gone]:
            writer.writerow({(k.capitalize() if k == "decision" else k): v for k, v in row.items()})
    assert curate.main(_curate_args(tmp_path)) == 0
    assert (tmp_path / "data" / "quarantine" / "manual" / "shallow" / "p6.png").is_file()
    text = path.read_bytes().decode(encoding)
    back = {r["file"]: r for r in csv.DictReader(text.splitlines(), delimiter=delimiter)}
    assert back["p6.png"]["decision"] == "reject" and back["p6.png"]["note"] == "café, naïve – not a portrait"
    assert back["p3.png"]["my remarks"] == "seen p3.png"
    assert back["old.png"]["note"] == "removed since" and back["old.png"]["my remarks"] == "kept anyway"


def test_curate_reports_a_decisions_file_without_its_columns_and_leaves_it_alone(tmp_path, caplog):
    _scrape(tmp_path / "scrape")
    path = tmp_path / "data" / "decisions.csv"
    path.parent.mkdir(parents=True)
    path.write_text("file;verdict\np6.png;reject\n")
    assert _program("curate").main(_curate_args(tmp_path)) == 2
    assert "decisions.csv: no 'domain' or 'decision' column" in caplog.text
    assert path.read_text() == "file;verdict\np6.png;reject\n"


def test_review_page_links_only_web_pages(tmp_path):
    from datasets.curate.records import Item
    from datasets.curate.report import Decisions, write_review

    items = [Item("shallow", name, tmp_path / name, features={"error": "x"}) for name in ("a.jpg", "b.jpg")]
    meta = {"shallow/a.jpg": {"page_url": "javascript:alert(document.cookie)"},
            "shallow/b.jpg": {"page_url": "https://www.flickr.com/photos/x/1"}}
    page = write_review(tmp_path, items, meta, Decisions(), lambda p: np.zeros((4, 4, 3), np.uint8)).read_text()
    assert 'href="https://www.flickr.com/photos/x/1"' in page
    assert 'href="javascript' not in page
    assert "photo page (not a web address, not linked): javascript:alert(document.cookie)" in page


# --- masks, benchmarks, training -----------------------------------------------------------------------

def test_prepare_masks_refuses_a_file_where_the_mask_folder_goes(tmp_path, caplog):
    _scene(tmp_path / "ds" / "a.png")
    (tmp_path / "ds_masks").write_text("not a folder")
    assert _program("prepare_masks").main([str(tmp_path / "ds"), "--quiet"]) == 2
    assert f"{tmp_path / 'ds_masks'}: is a file, not a folder" in caplog.text


def test_benchmark_refuses_a_folder_or_a_foreign_file_as_its_report_before_running(tmp_path, capsys):
    bench = _program("benchmark")
    assert "is a folder, not a file" in _usage_error(capsys, bench.parse_args, ["--out", str(tmp_path)])
    (tmp_path / "notes.md").write_text("my notes\n")
    assert "is not a benchmark report" in _usage_error(capsys, bench.parse_args, ["--out", str(tmp_path / "notes.md")])
    assert (tmp_path / "notes.md").read_text() == "my notes\n"


@pytest.mark.parametrize("data, words", [(["n=4", "shape=[0,0]"], "shape=[0, 0]: must be [H, W]"),
                                         (["n=0"], "n=0: the number of scenes"),
                                         (["bogus=1"], "unknown key(s) bogus"),
                                         (["n=abc"], "n='abc' is not of type int")])
def test_train_segmentation_checks_its_data_options_in_one_line(tmp_path, caplog, data, words):
    argv = ["--run-dir", str(tmp_path / "run"), "--weights", "none", "--dataset", "synthetic", "--data", *data,
            "--epochs", "1", "--quiet"]
    assert _program("train_segmentation").main(argv) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "--data" in errors[0] and words in errors[0], errors
    assert not (tmp_path / "run").exists()


def test_a_checkpoint_that_pickles_code_is_refused_in_one_plain_line(tmp_path, caplog):
    class Evil:
        def __reduce__(self):
            return (print, ("this would run",))

    torch.save({"model": Evil()}, tmp_path / "evil.pt")
    argv = ["--run-dir", str(tmp_path / "run"), "--model", "unet", "--weights", str(tmp_path / "evil.pt"),
            "--dataset", "synthetic", "--data", "n=2", "--epochs", "1", "--quiet"]
    assert _program("train_segmentation").main(argv) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "evil.pt: refused" in errors[0], errors
    assert "\n" not in errors[0] and "\x1b" not in errors[0] and "weights_only" not in errors[0]


def test_a_crop_too_small_for_the_generator_names_the_minimum(capsys, tmp_path):
    train = _program("train_cyclegan")
    line = _usage_error(capsys, train.parse_args, ["--dataroot", str(tmp_path), "--netG", "unet_128",
                                                   "--load-size", "72", "--crop-size", "64"])
    assert "crop_size 64 does not fit generator unet_128" in line and "multiple of 128" in line


# --- outputs never replace inputs or a user's files ------------------------------------------------------

def test_test_cyclegan_refuses_to_write_its_outputs_over_its_inputs(tmp_path, capsys):
    photos = tmp_path / "photos"
    _scene(photos / "a.png")
    before = (photos / "a.png").read_bytes()
    test_cyclegan = _program("test_cyclegan")
    for out in (photos, photos / "results", tmp_path):
        line = _usage_error(capsys, test_cyclegan.parse_args, ["--checkpoint", "c.pt", "--input", str(photos),
                                                               "--out", str(out)])
        assert "--out" in line and "the outputs would replace" in line
    assert (photos / "a.png").read_bytes() == before


def test_webcam_refuses_its_input_as_output_and_an_output_that_is_no_video(tmp_path, capsys):
    webcam = _program("webcam")
    video = tmp_path / "v.mp4"
    video.write_bytes(b"the user's video")
    line = _usage_error(capsys, webcam.parse_args, ["--input", str(video), "--output", str(video)])
    assert "is the input" in line
    line = _usage_error(capsys, webcam.parse_args, ["--input", str(video), "--output", str(tmp_path / "x.txt")])
    assert "x.txt: a video file name ends in .mp4" in line
    assert video.read_bytes() == b"the user's video"


def test_the_demo_does_not_fill_a_folder_of_the_users(tmp_path, capsys):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>my page</h1>")
    assert _program("demo").main(["--out", str(site), "--no-gan", "--scenes", "0", "--quiet"]) == 2
    assert "site: is not empty and was not filled by shallowdof" in capsys.readouterr().err
    assert [p.name for p in site.iterdir()] == ["index.html"] and (site / "index.html").read_text() == "<h1>my page</h1>"


def test_blur_leaves_a_users_file_named_like_its_output_and_does_the_rest(tmp_path, capsys):
    blur = _program("blur")
    _scene(tmp_path / "in" / "a.png", 3)
    _scene(tmp_path / "in" / "b.png", 4)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a_gaussian.png").write_bytes(b"the user's own picture")
    cfg = blur.BlurConfig(inputs=[str(tmp_path / "in")], method="gaussian", out=str(out), quiet=True)
    assert blur.run(cfg) == (1, 1)
    line = [x for x in capsys.readouterr().err.splitlines() if "a_gaussian.png" in x]
    assert len(line) == 1 and "was not written by shallowdof" in line[0]
    assert (out / "a_gaussian.png").read_bytes() == b"the user's own picture"
    assert io.read_image(out / "b_gaussian.png").shape == (H, W, 3)
    assert blur.run(cfg) == (1, 1)  # a rerun replaces its own output, never the user's
    assert (out / "a_gaussian.png").read_bytes() == b"the user's own picture"


# --- messages ------------------------------------------------------------------------------------------

def test_blur_refuses_a_focus_that_is_not_a_number_up_front(capsys):
    blur = _program("blur")
    for focus in ("nan,nan", "inf,3", "50%,nan%"):
        line = _usage_error(capsys, blur.parse_args, ["a.png", "--focus", focus])
        assert "--focus must be two finite numbers" in line


def test_negative_or_missing_depth_is_named_as_a_depth_problem(tmp_path, capsys):
    blur = _program("blur")
    photo = _scene(tmp_path / "p.png")
    np.save(tmp_path / "neg.npy", -np.ones((H, W), np.float32))
    hole = np.full((H, W), 2.0, np.float32)
    hole[30:34, 38:42] = 0.0  # no reading where the focus point is
    np.save(tmp_path / "hole.npy", hole)
    cases = [("neg.npy", [], "neg.npy: depth map has negative values"),
             ("hole.npy", ["--focus", "40,32"], "hole.npy: depth at the focus point 40,32 is 0 m (0 = no reading)")]
    for depth, extra, expected in cases:
        cfg = blur.parse_args([str(photo), "--method", "lens", "--depth", str(tmp_path / depth), "--out",
                               str(tmp_path / "o"), "--quiet", *extra])
        assert blur.run(cfg) == (0, 1)
        err = capsys.readouterr().err
        assert expected in err and "focus distance" not in err, err
