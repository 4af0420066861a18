"""scripts/blur.py as a user runs it: a batch with bad files goes on and counts, one-line errors.

The program's logic is tested through the library (compositing/cli/blur.py) in tests/compositing/test_blur.py."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datasets import io
from datasets.synthetic import make_scene
from plumbing.outputs import RECORD_NAME

ROOT = Path(__file__).resolve().parents[2]

H, W = 96, 128


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "blur.py"), *map(str, args)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )



@pytest.fixture(scope="module")
def scene():
    return make_scene(3, size=(H, W), render_dof=False)


def test_batch_with_bad_files_goes_on_and_counts(tmp_path, scene):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(scene.image).save(src / "good.png")
    Image.fromarray(make_scene(4, size=(H, W), render_dof=False).image).save(src / "sub" / "other.jpg", quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90° clockwise
    Image.fromarray(scene.image).save(src / "rotated.jpg", exif=exif, quality=95)
    (src / "empty.jpg").write_bytes(b"")
    good_png = (src / "good.png").read_bytes()
    (src / "truncated.png").write_bytes(good_png[: len(good_png) // 2])
    (src / "notes.jpg").write_text("not an image\n")
    (src / "readme.txt").write_text("ignored: not an image extension\n")
    out = tmp_path / "out"

    r = _run(src, "--method", "gaussian", "--out", out, "--quiet")
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[-1] == "3 done, 3 failed", r.stderr
    for bad, word in [("empty.jpg", "empty"), ("truncated.png", "truncated"), ("notes.jpg", "text")]:
        hits = [line for line in lines if f"{src / bad}:" in line]
        assert len(hits) == 1 and word in hits[0].lower(), (bad, r.stderr)
    assert "Traceback" not in r.stderr

    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != RECORD_NAME)
    assert written == sorted([  # a JPEG gives a JPEG, a PNG a PNG
        "blur_gaussian_config.json", "good_gaussian.png", "rotated_gaussian.jpg", "sub/other_gaussian.jpg",
    ]), written  # nothing for the bad files, no temporary files left
    assert io.read_image(out / "good_gaussian.png").shape == (H, W, 3)
    assert io.read_image(out / "rotated_gaussian.jpg").shape == (W, H, 3)  # EXIF orientation applied
    with Image.open(out / "rotated_gaussian.jpg") as im:
        assert im.getexif()[0x0112] == 1 and im.size == (H, W)  # stored upright, and says so
    config = json.loads((out / "blur_gaussian_config.json").read_text())
    assert config["method"] == "gaussian" and config["inputs"] == [str(src)]


def test_mismatched_depth_is_one_clear_error(tmp_path, scene):
    img = tmp_path / "p.png"
    Image.fromarray(scene.image).save(img)
    depth = tmp_path / "d.npy"
    np.save(depth, np.ones((48, 64), np.float32))
    r = _run(img, "--method", "lens", "--depth", depth, "--out", tmp_path / "o", "--quiet")
    assert r.returncode == 1
    assert f"{depth}: depth map 64×48 does not match image {W}×{H}" in r.stderr
    assert r.stderr.strip().splitlines()[-1] == "0 done, 1 failed"
    assert not (tmp_path / "o" / "p_lens.png").exists()
