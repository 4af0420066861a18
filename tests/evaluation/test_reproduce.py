"""reproduce_paper (evaluation/reproduce/): the paper end to end at ``--scale tiny`` against a local
fake Flickr, then a rerun that skips every stage, a stage that fails (one line, non-zero exit)
and the rerun that resumes there; the paper scale's settings are the paper's.

The tiny run is the project's only test that trains, translates and compares all four presets on
scraped photos (the README's end-to-end test keeps its own single run of the README's block).
"""
from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import time
from pathlib import Path

import pytest

from plumbing.config import load_config
from plumbing.files import read_jsonl
from datasets.cli import scrape_flickr
from datasets.flickr import PAPER_DOMAINS, ScrapeConfig
from datasets.io import list_photos, read_image
from datasets.testing.fake_flickr import FakeFlickr, make_photos
from datasets.testing.fake_portraits import portrait_flickr, portrait_photos
from evaluation.cli import compare, reproduce_paper
from evaluation.reproduce import (CONFIG_FILE, ReproduceConfig, Reproduction, Stage, StageFailed, checks, run_stages,
                                  stages)
from gan.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
from gan.cli import test_cyclegan, train_cyclegan
from gan.model import PAPER_PRESETS, PRESETS
from segdepth.cli import curate

KEY = "rp-S3CRET-key-0123456789abcdef"
STAGES = ["scrape", "curate", "fit", "masks", *(f"{verb} {p}" for p in PAPER_PRESETS for verb in ("train", "translate")),
          "compare"]


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _main(argv: list[str]) -> tuple[int, str, str]:
    """reproduce_paper in this process: (exit status, stdout, stderr); every log line goes after
    stderr's, behind a line ``--- log``."""
    out, err, logs = io.StringIO(), io.StringIO(), _Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(logs)  # the programs' logging.basicConfig then adds nothing
    root.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = reproduce_paper.main(argv)
    finally:
        root.removeHandler(logs)
        root.setLevel(level)
    return status, out.getvalue(), err.getvalue() + "--- log\n" + "\n".join(logs.lines)


def _stage_lines(stdout: str) -> list[tuple[str, str]]:
    """(stage, what happened) of each ``[i/n] stage: ...`` line."""
    found = []
    for line in stdout.splitlines():
        if line.startswith("[") and "] " in line:
            stage, _, rest = line.split("] ", 1)[1].partition(": ")
            found.append((stage, rest))
    return found


def _stamps(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file() and p.name != CONFIG_FILE}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, int, str, str]:
    """The tiny reproduction, scraped from a local fake Flickr with a key from the environment;
    (its folder, exit status, stdout, stderr + log). The server is gone afterwards."""
    work = tmp_path_factory.mktemp("reproduce") / "paper_out"
    with pytest.MonkeyPatch.context() as mp, portrait_flickr(6, api_key=KEY) as fake:
        mp.setenv("FLICKR_API_KEY", KEY)
        status, stdout, log = _main(["--out", str(work), "--scale", "tiny", "--api-url", fake.api_url, "--quiet"])
    return work, status, stdout, log


@pytest.mark.slow
def test_the_tiny_reproduction_runs_every_stage_into_a_gallery_with_every_preset(tiny):
    work, status, stdout, log = tiny
    assert status == 0, log[-3000:]
    assert [s for s, what in _stage_lines(stdout) if what.startswith("running")] == STAGES
    assert [s for s, what in _stage_lines(stdout) if what.startswith("done in")] == STAGES
    tests = sorted(p.stem for p in list_photos(work / "portraits64" / "testA")[0])
    assert len(tests) == 2
    for preset in PAPER_PRESETS:
        ckpt = load_checkpoint(latest_checkpoint(work / "runs" / preset), ("epoch",))
        assert ckpt["epoch"] == 2  # the tiny schedule's 1 + 1 epochs, to the end
        run = train_cyclegan.parse_args(["--config", str(work / "runs" / preset / "config.json")])
        assert (run.load_size, run.crop_size, run.flip, run.model_config().masks) == (64, 64, False, "binary")
        assert sorted(p.stem for p in (work / "results" / preset).glob("*.png")) == tests
        assert all(read_image(p).shape == (64, 64, 3) for p in (work / "results" / preset).glob("*.png"))
    with open(work / "compare" / "metrics.csv", newline="", encoding="utf-8") as f:
        rows = {(r["method"], r["image"]) for r in csv.DictReader(f) if r["scope"] == "image"}
    assert rows == {(m, t) for m in ("box", *PAPER_PRESETS) for t in tests}
    saved = load_config(ReproduceConfig, work / CONFIG_FILE)
    assert (saved.scale, saved.presets, saved.fake_flickr) == ("tiny", list(PAPER_PRESETS), False)


@pytest.mark.slow
def test_the_api_key_is_never_written_or_printed(tiny):
    work, _, stdout, log = tiny
    assert KEY not in stdout and KEY not in log
    leaks = [p for p in work.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert not leaks


@pytest.mark.slow
@pytest.mark.browser
def test_the_gallery_shows_every_column_and_every_test_photo_once(tiny, browser):
    work = tiny[0]
    browser.send("Page.enable")
    browser.send("Page.navigate", url=(work / "compare" / "gallery" / "index.html").resolve().as_uri())
    browser.wait_event("Page.loadEventFired")
    columns = browser.js("Array.from(document.querySelectorAll('#gallery thead th')).map(th => "
                         "th.firstElementChild ? th.firstElementChild.textContent : th.textContent)")
    assert columns == ["image", "input", "mask", "depth", "box", *PAPER_PRESETS]
    rows = browser.js("Array.from(document.querySelectorAll('#gallery tbody tr')).map(tr => tr.cells[0].textContent)")
    assert sorted(rows) == sorted(p.stem for p in list_photos(work / "portraits64" / "testA")[0])
    widths = browser.js("""Promise.all(Array.from(document.querySelectorAll('#gallery img')).map(i =>
        i.complete ? i : new Promise(r => { i.onload = () => r(i); i.onerror = () => r(i); })))
        .then(list => list.map(i => i.naturalWidth))""")
    assert len(widths) == 2 * (len(columns) - 1) and all(w > 0 for w in widths)


@pytest.mark.slow
def test_a_rerun_from_the_saved_config_skips_every_stage_and_changes_nothing(tiny):
    work, status = tiny[0], tiny[1]
    assert status == 0
    before = _stamps(work)
    # the fake Flickr is gone: a scrape would fail, and the key is not needed for what is complete
    status, stdout, log = _main(["--config", str(work / CONFIG_FILE)])
    assert status == 0, log[-3000:]
    assert _stage_lines(stdout) == [(s, "complete, skipped") for s in STAGES]
    assert _stamps(work) == before


@pytest.mark.slow
def test_a_failing_stage_is_one_line_and_the_rerun_resumes_at_that_stage(tiny):
    work, status = tiny[0], tiny[1]
    assert status == 0
    # a run stopped in the middle of training mask_loss_overlay: its epoch-1 checkpoint, not the final one
    final = latest_checkpoint(work / "runs" / "mask_loss_overlay")
    assert len(list_checkpoints(work / "runs" / "mask_loss_overlay")) == 2
    final.unlink()
    # and mask_overlay's run folder cannot be made: a file is in the way
    for folder in (work / "runs" / "mask_overlay", work / "results" / "mask_overlay"):
        for p in sorted(folder.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        folder.rmdir()
    (work / "runs" / "mask_overlay").write_text("in the way")
    before = _stamps(work / "compare")

    status, stdout, log = _main(["--config", str(work / CONFIG_FILE)])
    assert status == 2
    stderr = log.split("--- log\n")[0].splitlines()
    ours = [line for line in log.splitlines() if line.startswith("reproduce_paper:")]
    assert len(ours) == 1 and stderr[-1] == ours[0], log[-3000:]
    assert ours[0].startswith("reproduce_paper: stage 'train mask_overlay' failed (exit status 2): ")
    assert "File exists" in ours[0] and str(work / "runs" / "mask_overlay") in ours[0]
    assert "Traceback" not in log
    seen = _stage_lines(stdout)
    assert seen[-1] == ("train mask_overlay", "running (no checkpoint yet)")
    assert seen[:-1] == [(s, "complete, skipped") for s in STAGES[:STAGES.index("train mask_overlay")]]
    assert _stamps(work / "compare") == before  # nothing after the failing stage ran

    (work / "runs" / "mask_overlay").unlink()
    status, stdout, log = _main(["--config", str(work / CONFIG_FILE)])
    assert status == 0, log[-3000:]
    what = {stage: text for stage, text in _stage_lines(stdout) if not text.startswith("done in")}
    assert [s for s in STAGES if what[s] == "complete, skipped"] == STAGES[:STAGES.index("train mask_overlay")]
    assert what["train mask_overlay"] == "running (no checkpoint yet)"
    assert what["train mask_loss_overlay"] == "running (at epoch 1 of 2, resuming from ckpt_00000004.pt)"
    assert what["translate mask_loss_overlay"].endswith("is newer than the translations)")
    assert what["compare"].startswith("running (") and "newer than the comparison" in what["compare"]
    assert load_checkpoint(latest_checkpoint(work / "runs" / "mask_loss_overlay"), ("epoch",))["epoch"] == 2
    assert checks.compare_pending(compare.parse_args(Reproduction(load_config(
        ReproduceConfig, work / CONFIG_FILE)).compare_argv()), ["box", *PAPER_PRESETS], []) is None


# --- without training ---------------------------------------------------------------------------

def test_without_an_api_key_the_scrape_stage_fails_in_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("FLICKR_API_KEY", raising=False)
    status, stdout, log = _main(["--out", str(tmp_path / "out"), "--scale", "tiny", "--api-url",
                                 "http://127.0.0.1:9/services/rest/", "--quiet"])
    assert status == 2
    last = log.split("--- log\n")[0].splitlines()[-1]
    assert last.startswith("reproduce_paper: stage 'scrape' failed (exit status 2): no Flickr API key: set "
                           "FLICKR_API_KEY or pass --api-key-file FILE; fix it and run")
    assert _stage_lines(stdout) == [("scrape", "running (shallow: 0 of 6 photos; ordinary: 0 of 6 photos)")]


def test_missing_vgg_weights_stop_the_run_before_the_first_stage_not_after_hours_of_training(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))  # no hub cache, so no VGG19 file
    monkeypatch.delenv("SHALLOWDOF_ALLOW_DOWNLOAD", raising=False)
    out = tmp_path / "paper"
    status, stdout, log = _main(["--out", str(out), "--presets", "cyclegan,mask_loss", "--quiet"])
    assert status == 1
    last = log.split("--- log\n")[0].splitlines()[-1]
    assert last.startswith("reproduce_paper: stage 'train mask_loss' cannot run (exit status 1): ")
    assert "vgg19-dcbb9e9d.pth" in last and "--allow-download" in last
    assert _stage_lines(stdout) == [] and sorted(p.name for p in out.iterdir()) == [CONFIG_FILE]


def test_the_fake_flickr_scrape_gives_each_domain_its_photos_without_a_key(tmp_path, monkeypatch):
    monkeypatch.delenv("FLICKR_API_KEY", raising=False)
    cfg = ReproduceConfig(out=str(tmp_path / "out"), scale="tiny", fake_flickr=True, per_domain=3, quiet=True)
    reproduction = Reproduction(cfg)
    assert checks.scrape_pending(reproduction.lay.flickr, 3) == "shallow: 0 of 3 photos; ordinary: 0 of 3 photos"
    assert reproduction.scrape() == 0
    assert checks.scrape_pending(reproduction.lay.flickr, 3) is None
    assert sorted(p.parent.name for p in (reproduction.lay.flickr / "raw").rglob("*.jpg")) == ["ordinary"] * 3 + [
        "shallow"] * 3


def test_a_resumed_scrape_keeps_its_first_upload_window(tmp_path, monkeypatch):
    """A photo uploaded after the first scrape does not join the dataset when the scrape resumes."""
    monkeypatch.setenv("FLICKR_API_KEY", KEY)
    photos = portrait_photos(2)
    with FakeFlickr(photos, api_key=KEY) as fake:
        first = Reproduction(ReproduceConfig(out=str(tmp_path), scale="tiny", per_domain=3, api_url=fake.api_url,
                                             quiet=True))
        assert first.scrape() == 0  # Flickr had 2 of the 3 asked for in each domain: a warning, status 0
    window = load_config(ScrapeConfig, first.lay.flickr / scrape_flickr.CONFIG_FILE).max_upload
    newer = make_photos(1, seed=9)[0]
    newer.upload = window + 1
    time.sleep(max(0.0, window + 2 - time.time()))  # so that "now" is past the newer photo's upload
    with FakeFlickr([*photos, newer], api_key=KEY) as fake:
        again = Reproduction(ReproduceConfig(out=str(tmp_path), scale="tiny", per_domain=3, api_url=fake.api_url,
                                             quiet=True))
        assert again.scrape_argv()[-2:] == ["--max-upload", str(window)]
        assert again.scrape() == 0
        assert fake.api_calls  # it did search again, within the first window
    ids = {r["photo_id"] for r in read_jsonl(first.lay.flickr / "manifest.jsonl")}
    assert ids == {p.id for p in photos}


def test_the_paper_scale_runs_every_program_with_the_papers_settings(tmp_path):
    r = Reproduction(ReproduceConfig(out=str(tmp_path / "paper")))
    scrape, _ = scrape_flickr.parse_args(r.scrape_argv())
    assert scrape.per_domain == 4000 and [d["name"] for d in scrape.domains] == [d.name for d in PAPER_DOMAINS]
    cur = curate.parse_args(r.curate_argv())
    assert (cur.test_size_a, cur.test_size_b, cur.min_side) == (100, 100, 256)
    for preset in PAPER_PRESETS:
        run = train_cyclegan.parse_args(r.train_argv(preset))
        model = run.model_config()
        assert (run.load_size, run.crop_size, run.flip, run.batch_size) == (256, 256, False, 1)  # --paper-data
        assert (run.n_epochs, run.n_epochs_decay, run.preset, run.dataroot) == (50, 25, preset, str(r.lay.fitted))
        assert (model.netG, model.ngf, model.ndf, model.n_layers_D, model.masks) == ("resnet_9blocks", 64, 64, 3,
                                                                                      "binary")
        assert model.vgg_weights == "imagenet" and model.mask_overlay_test == PRESETS[preset].get(
            "mask_overlay_test", False)
        test = test_cyclegan.parse_args(r.translate_argv(preset))
        assert test.full_res and test.input == str(r.lay.fitted / "testA")
    cmp = compare.parse_args(r.compare_argv())
    assert cmp.gan == [f"{p}={r.lay.run(p)}:{p}" + (":overlay" if p == "mask_overlay" else "") for p in PAPER_PRESETS]
    assert (cmp.methods, cmp.reference, cmp.fid_weights) == (["box"], str(r.lay.fitted / "testB"), "imagenet")


def test_the_tiny_scale_differs_from_the_paper_only_in_size_schedule_and_networks(tmp_path):
    paper = train_cyclegan.parse_args(Reproduction(ReproduceConfig(out=str(tmp_path))).train_argv("mask_loss"))
    tiny = train_cyclegan.parse_args(Reproduction(ReproduceConfig(out=str(tmp_path), scale="tiny"))
                                     .train_argv("mask_loss"))
    assert (tiny.flip, tiny.model_config().masks, tiny.batch_size) == (paper.flip, "binary", paper.batch_size)
    differ = {k for k in vars(paper) if getattr(paper, k) != getattr(tiny, k)}
    assert differ == {"dataroot", "load_size", "crop_size", "n_epochs", "n_epochs_decay", "num_workers",
                      "model_overrides"}


@pytest.mark.parametrize("argv, words", [
    (["--presets", "cyclegan,bogus"], "presets"),
    (["--presets", "cyclegan,cyclegan"], "presets"),
    (["--results", "no-equals-sign"], "NAME=DIR"),
    (["--results", "mask_loss=published/"], "repeat"),
    (["--methods", "box", "--results", "box=published/"], "repeat"),
    (["--train-args=--load-size 128"], "--paper-data"),
    (["--nproc-per-node", "0"], "--nproc-per-node"),
])
def test_bad_settings_are_one_line_before_any_stage(tmp_path, capsys, argv, words):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        reproduce_paper.parse_args(["--out", str(out), *argv])
    assert info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and words in errors[0], errors
    assert not out.exists()


def _stage(name: str, run, done: list[bool]) -> Stage:
    return Stage(name, lambda: None if done[0] else "to do", run)


@pytest.mark.parametrize("run, status, problem", [
    (lambda: (_ for _ in ()).throw(RuntimeError("CUDA out of memory.\nTried to allocate 2 GiB")), 1,
     "RuntimeError: CUDA out of memory."),
    (lambda: (_ for _ in ()).throw(SystemExit("error: --paper-data fixes --load-size 256")), 2,
     "error: --paper-data fixes --load-size 256"),
    (lambda: logging.getLogger("somewhere").error("photo.jpg: truncated\nmore detail") or 1, 1, "photo.jpg: truncated"),
    (lambda: 0, 1, "it finished, but its outputs are not complete: to do"),  # 0, but the check still says "to do"
])
def test_a_stage_that_fails_in_any_way_is_one_line_with_its_status(run, status, problem):
    lines: list[str] = []
    after = _stage("after", lambda: pytest.fail("a stage after the failing one ran"), [False])
    with pytest.raises(StageFailed) as info:
        run_stages([_stage("first", lambda: 0, [True]), _stage("second", run, [False]), after], lines.append)
    assert (info.value.stage, info.value.status, info.value.problem) == ("second", status, problem)
    assert "\n" not in str(info.value)
    assert lines == ["[1/3] first: complete, skipped", "[2/3] second: running (to do)"]


def test_several_training_processes_go_through_torchrun(tmp_path, monkeypatch):
    calls = []

    class Done:
        returncode = 3

    monkeypatch.setattr(stages.subprocess, "run", lambda command, **kw: calls.append((command, kw)) or Done())
    r = Reproduction(ReproduceConfig(out=str(tmp_path), scale="tiny", nproc_per_node=2))
    assert r.train("cyclegan") == 3
    (command, kw), = calls
    assert command[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--no-python"]
    assert command[-len(r.train_argv("cyclegan")):] == r.train_argv("cyclegan")
    root = str(Path(stages.__file__).resolve().parents[2])
    assert kw["env"]["PYTHONPATH"].split(os.pathsep)[0] == root
