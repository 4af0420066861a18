"""The shared training loop: run directory, atomic weights_only checkpoints, exact resume,
early stopping, the registries reading our checkpoints, and the command lines."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from segdepth.train import DepthTrainConfig, SegTrainConfig, fit, load_run_config, main

TINY_UNET = {"base": 4, "depth": 2}
TINY_DEPTH = {"decoder_channels": [8, 8, 8, 8, 8, 8]}


def seg_cfg(run_dir, **kw):
    base = dict(run_dir=str(run_dir), model="unet", weights="none", arch_kwargs=TINY_UNET,
                data={"n": 6, "shape": [32, 32], "seed": 0}, val_data={"n": 2, "shape": [32, 32], "seed": 99},
                buckets=[[32, 32]], epochs=2, batch_size=3, lr=1e-3, quiet=True)
    base.update(kw)
    return SegTrainConfig(**base)


def test_run_directory_checkpoints_and_exact_resume(tmp_path):
    summary = fit(seg_cfg(tmp_path / "straight"))
    assert summary["epochs_run"] == 2
    run = tmp_path / "straight"
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert {"iou", "pixel_acc", "boundary_f", "loss"} <= set(records[0]["val"])
    assert records[0]["images_per_s"] > 0
    assert load_run_config(SegTrainConfig, run) == seg_cfg(run)
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["arch"] == "unet" and ckpt["arch_kwargs"] == TINY_UNET and ckpt["epoch"] == 2
    assert (run / "checkpoints" / "best.pt").is_file()
    assert not [p for p in (run / "checkpoints").iterdir() if p.suffix != ".pt"]  # no temp files left

    fit(seg_cfg(tmp_path / "resumed", epochs=1))
    cfg = load_run_config(SegTrainConfig, tmp_path / "resumed")
    cfg.epochs = 2
    fit(cfg, resume=True)
    resumed = torch.load(tmp_path / "resumed" / "checkpoints" / "last.pt", weights_only=True)
    for key, value in ckpt["model"].items():
        assert torch.allclose(resumed["model"][key].float(), value.float(), atol=1e-6), key
    assert len((tmp_path / "resumed" / "log.jsonl").read_text().splitlines()) == 2

    # the checkpoint is a valid weights=PATH for the registry
    from segdepth.segment import build_segmenter

    seg = build_segmenter("unet", weights=str(run / "checkpoints" / "last.pt"), input_size=32)
    assert seg(np.zeros((20, 30, 3), np.uint8)).shape == (20, 30)


def test_early_stopping_and_sgd(tmp_path):
    # lr 0 never improves after the first epoch: stops after 1 + patience epochs
    summary = fit(seg_cfg(tmp_path / "r", epochs=10, patience=2, lr=0.0, optimizer="sgd"))
    assert summary["stopped_early"] and summary["epochs_run"] == 3 and summary["best_epoch"] == 1
    with pytest.raises(ValueError, match="unknown optimizer"):
        fit(seg_cfg(tmp_path / "x", optimizer="rmsprop"))
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        fit(seg_cfg(tmp_path / "never"), resume=True)


def test_depth_run_and_evaluate_command(tmp_path, capsys):
    cfg = DepthTrainConfig(run_dir=str(tmp_path / "d"), weights="none", arch_kwargs=TINY_DEPTH,
                           data={"n": 4, "shape": [32, 32], "seed": 0}, val_data={"n": 2, "shape": [32, 32], "seed": 9},
                           size=[32, 32], epochs=1, batch_size=2, quiet=True)
    summary = fit(cfg)
    assert set(summary["val"]) == {"abs_rel", "rmse", "log10", "delta1", "delta2", "delta3"}
    ckpt = tmp_path / "d" / "checkpoints" / "last.pt"
    status = main("depth", ["--evaluate", str(ckpt), "--dataset", "synthetic", "--data", "n=2", "shape=[32,32]",
                            "--size", "32x32", "--quiet"])
    out = capsys.readouterr().out
    assert status == 0 and "| seed (Pyzh & Gogarev, NYU, 10 epochs) | 0.072 | 0.474 | 0.031" in out
    from segdepth.depth import build_depth_model

    model = build_depth_model("dense_depth", weights=str(ckpt), input_size=32)
    assert model(np.zeros((32, 32, 3), np.uint8)).shape == (32, 32)


def test_scripts_run_from_the_repo_root(tmp_path):
    root = Path(__file__).resolve().parents[2]
    for script in ("train_segmentation.py", "train_depth.py"):
        out = subprocess.run([sys.executable, f"scripts/{script}", "--help"], cwd=root, capture_output=True, text=True)
        assert out.returncode == 0 and "--resume" in out.stdout and "--weights" in out.stdout
    run = tmp_path / "cli"
    args = ["--run-dir", str(run), "--model", "unet", "--weights", "none", "--arch", "base=4", "depth=2",
            "--dataset", "synthetic", "--data", "n=4", "shape=[32,32]", "--buckets", "32x32",
            "--epochs", "1", "--batch-size", "2", "--quiet"]
    assert main("segmentation", args) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["arch_kwargs"] == {"base": 4, "depth": 2} and cfg["buckets"] == [[32, 32]] and cfg["data"]["n"] == 4
    assert main("segmentation", ["--run-dir", str(run), "--resume", "--epochs", "2", "--quiet"]) == 0
    assert len((run / "log.jsonl").read_text().splitlines()) == 2
