"""Learning tests: short fixed-seed CPU runs on synthetic scenes (exact ground truth) must lower
the loss and beat stated bounds on held-out scenes, through the real training loop."""
import json

import numpy as np
import pytest

from datasets.depth import DepthDataset
from datasets.depth import synthetic_samples as depth_samples
from segdepth.metrics import depth_metrics
from segdepth.train import DepthTrainConfig, SegTrainConfig, fit

HELD_OUT = {"n": 12, "shape": [64, 64], "seed": 5000}  # seeds never seen in training


def _train_losses(run_dir):
    return [json.loads(line)["train"]["loss"] for line in (run_dir / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_unet_learns_to_segment_synthetic_portraits(tmp_path):
    cfg = SegTrainConfig(run_dir=str(tmp_path / "unet"), model="unet", weights="none", arch_kwargs={"base": 8, "depth": 3},
                         data={"n": 48, "shape": [64, 64], "seed": 0}, val_data=HELD_OUT, buckets=[[64, 64]],
                         epochs=6, batch_size=8, lr=3e-3, rotate_deg=10.0, quiet=True, seed=0)
    summary = fit(cfg)
    losses = _train_losses(tmp_path / "unet")
    assert losses[-1] < 0.7 * losses[0]
    # Baseline: calling every pixel "person" scores IoU = the person fraction (about 0.3 here).
    from datasets.segmentation import synthetic_samples

    fraction = np.mean([s.load()[1].mean() for s in synthetic_samples(**HELD_OUT)])
    assert summary["val"]["iou"] > 0.65 > fraction + 0.2
    assert summary["val"]["pixel_acc"] > 0.85


@pytest.mark.slow
def test_dense_depth_learns_synthetic_depth(tmp_path):
    cfg = DepthTrainConfig(run_dir=str(tmp_path / "depth"), weights="none",
                           arch_kwargs={"decoder_channels": [32, 32, 16, 16, 8, 8]},
                           data={"n": 48, "shape": [64, 64], "seed": 0}, val_data=HELD_OUT, size=[64, 64],
                           epochs=15, batch_size=8, lr=3e-3, quiet=True, seed=0)
    summary = fit(cfg)
    losses = _train_losses(tmp_path / "depth")
    assert losses[-1] < 0.7 * losses[0]
    # Baseline: the mean training depth everywhere (clipped to the 10 m range, as evaluated).
    train = DepthDataset(depth_samples(48, (64, 64), 0))
    mean_depth = float(np.mean([train[i]["depth"].clamp(0.1, 10).mean() for i in range(len(train))]))
    held = DepthDataset(depth_samples(**{**HELD_OUT, "shape": (64, 64)}))
    gt = np.stack([held[i]["depth"][0].numpy() for i in range(len(held))]).clip(0.1, 10)
    baseline = depth_metrics(np.full_like(gt, mean_depth), gt)["abs_rel"]
    assert summary["val"]["abs_rel"] < 0.85
    assert summary["val"]["abs_rel"] < 0.8 * baseline
