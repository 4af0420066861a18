"""`make demo` end to end, at a tiny size: every method and one GAN preset into one gallery."""
import subprocess
import sys
from pathlib import Path

import pytest

from datasets.io import read_image


def _run_demo(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/demo.py", "--out", str(out), "--scenes", "1", "--scene-size", "96",
         "--presets", "mask_overlay", "cyclegan", "--gan-steps", "2", "--gan-size", "128", "--gan-scene-size",
         "128", "--gan-train-scenes", "2", "--quiet"],
        capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parents[2])


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo_out"
    proc = _run_demo(out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ERROR" not in proc.stderr, proc.stderr[-3000:]
    index = (out / "index.html").read_text()
    assert 'href="gallery/index.html"' in index and "mask_overlay" in index
    gallery = (out / "gallery" / "index.html").read_text()
    for method in ("box", "gaussian", "alpha_blend", "progressive3", "progressive13", "buckets", "feather",
                   "lens", "mask_overlay"):
        assert method in gallery
        for name in ("astronaut", "scene_0"):
            assert read_image(out / "results" / method / f"{name}.png").ndim == 3
    # the gallery says plainly what the GAN columns were trained on and for how long
    assert "trained live by this demo, 2 steps per preset" in gallery and "synthetic" in gallery
    assert "trained live by this demo" in index
    assert list((out / "runs" / "cyclegan" / "checkpoints").glob("*.pt"))  # the second, parallel preset
    assert read_image(out / "overview.png").shape == (2 * 192, 5 * 192, 3)
    assert list((out / "runs" / "mask_overlay" / "checkpoints").glob("*.pt"))
    assert "lens" in (out / "metrics.md").read_text()

    # running it again reuses the finished run instead of failing on its existing checkpoints
    checkpoints = sorted((out / "runs" / "mask_overlay" / "checkpoints").glob("*.pt"))
    again = _run_demo(out)
    assert again.returncode == 0 and "ERROR" not in again.stderr, again.stderr[-3000:]
    assert sorted((out / "runs" / "mask_overlay" / "checkpoints").glob("*.pt")) == checkpoints
    assert "preset mask_overlay: reusing" in again.stderr  # the finished run, not retrained
