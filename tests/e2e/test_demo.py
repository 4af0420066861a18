"""`make demo` end to end, at a tiny size: every method and two GAN presets into one gallery; the
shipped demo checkpoint and the command that makes it."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from datasets.io import read_image
from gan.checkpoint import NETWORKS_ONLY
from gan.model import PAPER_PRESETS, CycleGANModel
from gan.train import checkpoint_iteration
from evaluation import demo

ROOT = Path(__file__).resolve().parents[2]


def _run_demo(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/demo.py", "--out", str(out), "--scenes", "1", "--scene-size", "96",
         "--presets", "mask_overlay", "cyclegan", "--gan-steps", "2", "--gan-size", "128", "--gan-scene-size",
         "128", "--gan-train-scenes", "2", "--gan-test-scenes", "1", "--quiet", *extra],
        capture_output=True, text=True, timeout=600, cwd=ROOT)


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
    # the gallery says plainly what the GAN columns were trained on and for how long: shipped and live
    shipped = demo.load_demo_checkpoint(demo.DEMO_CHECKPOINT)["trained_on"]
    assert f"shipped checkpoint demo_gan.pt ({shipped['preset']} trained {shipped['steps']} steps" in gallery
    assert "trained live by this demo, 2 steps per preset" in gallery and "synthetic" in gallery
    assert "a toy-scale run on synthetic scenes" in index  # the first page says it in a line, linking the run
    assert 'href="runs/mask_overlay/web/index.html"' in index
    # each preset continued the shipped networks: its run goes on from the shipped step count
    for preset in ("mask_overlay", "cyclegan"):  # the second one trained in parallel
        last = sorted((out / "runs" / preset / "checkpoints").glob("*.pt"))[-1]
        assert checkpoint_iteration(last) == shipped["steps"] + 2
    # tiles at the thumbnails' 256 px (were 192: too small to see the calibrated default blur)
    assert read_image(out / "overview.png").shape == (2 * 256, 5 * 256, 3)
    assert "lens" in (out / "metrics.md").read_text()

    # running it again reuses the finished run instead of failing on its existing checkpoints
    checkpoints = sorted((out / "runs" / "mask_overlay" / "checkpoints").glob("*.pt"))
    again = _run_demo(out)
    assert again.returncode == 0 and "ERROR" not in again.stderr, again.stderr[-3000:]
    assert sorted((out / "runs" / "mask_overlay" / "checkpoints").glob("*.pt")) == checkpoints
    assert "preset mask_overlay: reusing" in again.stderr  # the finished run, not retrained


def test_shipped_checkpoint_is_small_and_fits_every_preset():
    path = demo.DEMO_CHECKPOINT
    assert path.stat().st_size <= 3_000_000
    ckpt = torch.load(path, map_location="cpu", weights_only=True)  # plain tensors and containers only
    assert NETWORKS_ONLY.version_of(ckpt["format"], path) == 1  # its tag, of the earlier spelling, is read
    assert all(t.dtype == torch.float16 for net in ckpt["nets"].values() for t in net.values())
    for preset in PAPER_PRESETS:  # strict loading into each of the demo's presets' networks
        model = CycleGANModel(demo.train_config(demo.DemoConfig(), preset, ROOT, ROOT, demo.LIVE_LR, 1).model_config())
        for name in demo.NETWORKS:
            getattr(model, name).load_state_dict({k: v.float() for k, v in ckpt["nets"][name].items()})


def test_the_command_that_makes_the_shipped_checkpoint_is_documented():
    command = demo.load_demo_checkpoint(demo.DEMO_CHECKPOINT)["trained_on"]["command"]
    assert command.startswith("python scripts/demo.py --make-checkpoint scripts/demo_gan.pt ")
    assert command in (ROOT / "docs" / "gan.md").read_text(encoding="utf-8")
    # and it describes this checkpoint: its steps and scenes are the ones the file was trained with
    steps = int(re.search(r"--checkpoint-steps (\d+)", command).group(1))
    assert steps == demo.load_demo_checkpoint(demo.DEMO_CHECKPOINT)["trained_on"]["steps"]


@pytest.mark.slow
def test_make_checkpoint_is_reproducible(tmp_path):
    """The same command writes the same weights (fixed seed, one thread, deterministic): two tiny
    runs, each a fresh process (about a minute: scene rendering and imports, 3 steps each)."""
    nets = []
    for run in ("a", "b"):
        target = tmp_path / run / "demo_gan.pt"
        proc = subprocess.run(
            [sys.executable, "scripts/demo.py", "--out", str(tmp_path / run), "--make-checkpoint", str(target),
             "--checkpoint-steps", "3", "--checkpoint-scenes", "2", "--gan-scene-size", "128", "--quiet"],
            capture_output=True, text=True, timeout=600, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr[-3000:]
        ckpt = demo.load_demo_checkpoint(target)
        assert ckpt["trained_on"]["steps"] == 3 and ckpt["trained_on"]["scenes"] == 2
        nets.append(ckpt["nets"])
    for name in demo.NETWORKS:
        for key, value in nets[0][name].items():
            assert torch.equal(value, nets[1][name][key]), f"{name}.{key}"


def test_a_missing_or_foreign_checkpoint_is_one_clear_line(tmp_path):
    with pytest.raises(ValueError, match="no such demo checkpoint"):
        demo.load_demo_checkpoint(tmp_path / "missing.pt")
    other = tmp_path / "other.pt"
    torch.save({"model": {}}, other)
    with pytest.raises(ValueError, match=f"{re.escape(str(other))}: not a networks-only CycleGAN file"):
        demo.load_demo_checkpoint(other)
    proc = subprocess.run([sys.executable, "scripts/demo.py", "--out", str(tmp_path / "out"), "--gan-checkpoint",
                           str(other)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2 and "not a networks-only CycleGAN file" in proc.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "out" / "data").exists()  # refused before any work


@pytest.mark.slow
def test_the_demos_gan_keeps_the_subject_and_blurs_the_background(tmp_path):
    """The demo's mask_loss_overlay column as `make demo` makes it (the shipped checkpoint and a live
    continuation, no test-time overlay), on its three synthetic scenes: subject PSNR >= 26 dB,
    background HF ratio <= 0.5, background colour shift <= 4 grey levels. The continuation is 25
    steps here, not the demo's 150, to keep the suite short: measured 28.0 / 0.042 / 2.7 at 25
    steps and 28.1 / 0.055 / 2.7 at 150; the shipped checkpoint alone (2 steps) shifts the
    background's colour by 5.6 levels, so the live steps are what this checks. A generator without
    the full-resolution head scores 21 dB here. About a minute."""
    import csv

    out = tmp_path / "demo_out"
    proc = subprocess.run([sys.executable, "scripts/demo.py", "--out", str(out), "--presets", "mask_loss_overlay",
                           "--gan-steps", "25", "--gan-jobs", "1", "--quiet"],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f)
                if r["scope"] == "image" and r["method"] == "mask_loss_overlay" and r["image"].startswith("scene_")]
    assert len(rows) == 3
    mean = {k: sum(float(r[k]) for r in rows) / 3 for k in ("subject_psnr", "bg_blur", "bg_shift")}
    assert mean["subject_psnr"] >= 26.0, mean
    assert mean["bg_blur"] <= 0.5, mean
    assert mean["bg_shift"] <= 4.0, mean
