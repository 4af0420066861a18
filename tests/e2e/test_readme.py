"""The README as a newcomer meets it: at most 200 lines, its Python example runs, and its training
block runs as written, end to end.

The Python example (the README's one ``python`` block) is run in an empty folder holding a small
``photo.jpg`` and the shipped ``scripts/demo_gan.pt``, and must write both pictures it names.

The training block's commands are read from README.md itself and run one by one in an empty
folder, each with only size/step overrides appended (and the local fake Flickr's address): the scrape from
datasets/testing/fake_portraits.py (JPEG photos of a real person on the local fake Flickr), killed
once part-way and resumed; curation; prepare_masks; the README's training run with tiny networks;
that run resumed; test_cyclegan; compare with ``--gan`` and ``--reference``. Then the gallery is
opened in headless Chromium (as tests/evaluation/test_gallery_browser.py does) and every method
column and every test photo's row must be there, each photo once. The block itself is pinned: if
a command disappears from the README or its options change, the first test fails. Training,
translating and comparing all four presets on scraped photos is tests/evaluation/test_reproduce.py's
tiny reproduction of the paper.
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from plumbing.files import read_jsonl
from datasets.io import list_photos, mask_path, read_image, read_mask, write_image
from datasets.testing.fake_portraits import portrait_flickr

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## For researchers: train the CycleGAN"
KEY = "e2e-K3Y-0123456789abcdef"
PER_DOMAIN = 6  # photos per domain: 2 test + 4 train each

#: The block as the README has it (comments dropped, continuation lines joined).
PINNED = [
    ["export", "FLICKR_API_KEY=..."],
    [".venv/bin/python", "scripts/scrape_flickr.py", "--out", "data/flickr", "--per-domain", "4000"],
    [".venv/bin/python", "scripts/curate.py", "--raw", "data/flickr", "--out", "data/portraits"],
    [".venv/bin/python", "scripts/prepare_masks.py", "data/portraits"],
    [".venv/bin/python", "scripts/train_cyclegan.py", "--dataroot", "data/portraits", "--name", "dof",
     "--preset", "mask_loss_overlay"],
    [".venv/bin/python", "scripts/train_cyclegan.py", "--config", "runs/dof/config.json", "--resume"],
    [".venv/bin/python", "scripts/test_cyclegan.py", "--checkpoint", "runs/dof", "--input", "data/portraits/testA",
     "--out", "results/dof"],
    [".venv/bin/python", "scripts/compare.py", "--input", "data/portraits/testA", "--methods", "progressive13,lens",
     "--gan", "dof=runs/dof:mask_loss_overlay", "--reference", "data/portraits/testB", "--out", "compare_out"],
]

#: Tiny networks and few steps (about a second per step at 32 pixels on one CPU core).
TINY_TRAIN = ["--netG", "resnet", "--n-blocks", "1", "--ngf", "4", "--ndf", "4", "--n-layers-D", "2",
              "--vgg-weights", "none", "--load-size", "32", "--crop-size", "32", "--num-workers", "0",
              "--max-steps", "3", "--log-every", "1", "--display-every", "2", "--quiet"]


def readme_commands(text: str) -> list[list[str]]:
    """The commands of the first ``bash`` block after SECTION: continuations joined, comments dropped."""
    start = text.index(SECTION)
    block = re.search(r"```bash\n(.*?)```", text[start:], re.S)
    assert block, f"README.md: no bash block under {SECTION!r}"
    joined = re.sub(r"\\\n\s*", " ", block.group(1))
    return [shlex.split(line, comments=True) for line in joined.splitlines() if shlex.split(line, comments=True)]


def command(readme: list[list[str]], script: str, index: int = 0) -> list[str]:
    """The README's ``index``-th command of ``script`` as an argv list run by this interpreter."""
    found = [c for c in readme if len(c) > 1 and c[1] == f"scripts/{script}"]
    assert len(found) > index, f"README.md: no {script} command under {SECTION!r}"
    return [sys.executable, str(ROOT / found[index][1]), *found[index][2:]]


def run(argv: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode in ok, f"{shlex.join(argv[1:])} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def scrape_killed_once(argv: list[str], work: Path, env: dict[str, str]) -> None:
    """Start the scrape, SIGKILL it once its first photos are on disk, then run it again to the end."""
    raw = work / "data" / "flickr" / "raw"
    proc = subprocess.Popen(argv, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (raw.is_dir() and len([p for p in raw.rglob("*.jpg") if not p.name.startswith(".")]) >= 2):
            assert proc.poll() is None, f"the scrape ended before it could be killed: {proc.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, "no photo downloaded in time"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    before = read_jsonl(work / "data" / "flickr" / "manifest.jsonl")
    assert len(before) < 2 * PER_DOMAIN, "killed too late: nothing left to resume"
    run(argv, work, env)


@pytest.fixture(scope="module")
def readme() -> list[list[str]]:
    return readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def e2e(tmp_path_factory, readme) -> Path:
    """The whole path in an empty folder; returns the folder."""
    work = tmp_path_factory.mktemp("user")
    env = {**os.environ, "FLICKR_API_KEY": KEY, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with portrait_flickr(PER_DOMAIN, api_key=KEY, image_latency_s=0.3) as fake:
        scrape_killed_once(command(readme, "scrape_flickr.py") + [
            "--api-url", fake.api_url, "--per-domain", str(PER_DOMAIN), "--workers", "1", "--quiet"], work, env)
    run(command(readme, "curate.py") + ["--min-side", "64", "--test-size-a", "2", "--test-size-b", "2", "--quiet"],
        work, env)
    run(command(readme, "prepare_masks.py") + ["--quiet"], work, env)
    run(command(readme, "train_cyclegan.py") + TINY_TRAIN, work, env)  # the README's own run: dof, mask_loss_overlay
    run(command(readme, "train_cyclegan.py", 1) + ["--max-steps", "5"], work, env)  # resumed: 2 more steps
    run(command(readme, "test_cyclegan.py") + ["--size", "32", "--quiet"], work, env)
    run(command(readme, "compare.py") + ["--fid-weights", "none", "--thumb-size", "64", "--quiet"], work, env)
    return work


def test_the_readme_fits_on_a_few_screens():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines: move detail into docs/"


def readme_python() -> str:
    """The README's one ``python`` block."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, f"README.md: {len(blocks)} python blocks, expected one"
    return blocks[0]


def test_the_readme_python_example_runs(tmp_path, monkeypatch):
    """On a 96×128 crop of the astronaut: the lens render and the shipped generator's translation
    are written, at the photo's size, and each changes the photo."""
    from skimage import data

    photo = data.astronaut()[:384:4, 64:448:3]
    write_image(tmp_path / "photo.jpg", photo)
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "demo_gan.pt").symlink_to(ROOT / "scripts" / "demo_gan.pt")
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_python(), "README.md", "exec"), {"__name__": "readme"})
    source = read_image(tmp_path / "photo.jpg")
    for name in ("photo_lens.png", "photo_gan.png"):
        out = read_image(tmp_path / name)
        assert out.shape == source.shape, name
        assert np.abs(out.astype(int) - source).mean() > 0.5, f"{name} is the photo unchanged"


def test_the_readme_block_is_the_pinned_one(readme):
    assert readme == PINNED, "README.md's training block changed: update this test and the tested path together"


@pytest.mark.slow
def test_every_stage_of_the_readme_path_on_jpeg_photos(e2e):
    work = e2e
    records = read_jsonl(work / "data" / "flickr" / "manifest.jsonl")
    ids = [r["photo_id"] for r in records]
    assert len(ids) == len(set(ids)) == 2 * PER_DOMAIN and all(r["status"] == "ok" for r in records)
    portraits = work / "data" / "portraits"
    placed = []
    for split in ("trainA", "trainB", "testA", "testB"):
        photos, clashes = list_photos(portraits / split)
        assert len(photos) >= 2 and not clashes, (split, photos, clashes)
        assert len(photos) == 2 or not split.startswith("test")
        placed += [p.name for p in photos]
        for photo in photos:
            assert photo.suffix == ".jpg"  # Flickr's JPEGs, as they came
            mask = read_mask(mask_path(photo, portraits / split), read_image(photo).shape)
            assert 0.05 < (mask > 0.5).mean() < 0.9  # MediaPipe found the person
    # every scraped photo once: in one split, or in quarantine (with the reason in rejects.csv)
    quarantined = [p.name for p in (portraits / "quarantine").rglob("*.jpg")] if (portraits / "quarantine").exists() else []
    assert sorted(placed + quarantined) == sorted(Path(r["file"]).name for r in records)
    assert list((work / "runs" / "dof" / "checkpoints").glob("*.pt"))
    resumed = [r for r in read_jsonl(work / "runs" / "dof" / "log.jsonl") if "iter" in r]
    assert max(r["iter"] for r in resumed) == 5
    results = sorted(p.name for p in (work / "results" / "dof").glob("*.jpg"))  # a JPEG gives a JPEG
    assert results == sorted(p.with_suffix(".jpg").name for p in list_photos(portraits / "testA")[0])


@pytest.mark.slow
@pytest.mark.browser
def test_the_gallery_shows_every_method_and_every_photo_once(e2e, browser):
    work = e2e
    browser.send("Page.enable")
    browser.send("Page.navigate", url=(work / "compare_out" / "gallery" / "index.html").resolve().as_uri())
    browser.wait_event("Page.loadEventFired")
    columns = browser.js("Array.from(document.querySelectorAll('#gallery thead th')).map(th => "
                         "th.firstElementChild ? th.firstElementChild.textContent : th.textContent)")
    assert columns == ["image", "input", "mask", "depth", "progressive13", "lens", "dof"]
    rows = browser.js("Array.from(document.querySelectorAll('#gallery tbody tr')).map(tr => tr.cells[0].textContent)")
    expected = sorted(p.stem for p in list_photos(work / "data" / "portraits" / "testA")[0])
    assert sorted(rows) == expected and len(rows) == len(set(rows)) == 2
    assert browser.js("document.querySelectorAll('#gallery td.missing').length") == 0
    widths = browser.js("""Promise.all(Array.from(document.querySelectorAll('#gallery img')).map(i =>
        i.complete ? i : new Promise(r => { i.onload = () => r(i); i.onerror = () => r(i); })))
        .then(list => list.map(i => i.naturalWidth))""")
    assert len(widths) == 2 * (len(columns) - 1) and all(w > 0 for w in widths)
    methods = browser.js("Array.from(document.querySelectorAll('#metrics tbody tr')).map(r => r.cells[0].textContent)")
    assert sorted(methods) == sorted(["progressive13", "lens", "dof"])
