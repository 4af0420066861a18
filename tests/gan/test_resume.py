"""Exact resume: a training process killed with SIGKILL and resumed ends with the very weights of
an uninterrupted run (CPU, fixed seed, deterministic algorithms); and checkpoints that do not fit
are refused with a clear error.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from datasets.synthetic import write_unaligned_dataset
from gan import train as T
from gan.cli import train_cyclegan as P
from gan.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parents[2]
TINY = ["--netG", "resnet", "--n-blocks", "1", "--ngf", "4", "--ndf", "4", "--n-layers-D", "2",
        "--vgg-weights", "none", "--load-size", "36", "--crop-size", "32", "--num-workers", "0",
        "--deterministic", "true", "--quiet", "--display", "none"]
# 6 images, batch 1: 6 iterations per epoch, 4 epochs (lr decays over the last 3) = 24 iterations.
# Checkpoints every 5 iterations and none at epoch ends: every checkpoint is mid-epoch.
SCHEDULE = ["--n-epochs", "1", "--n-epochs-decay", "3", "--save-every", "5", "--save-every-epochs", "0",
            "--keep-last", "3", "--log-every", "2", "--preset", "mask_loss_overlay", "--seed", "7"]
TOTAL = 24


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("unaligned")
    write_unaligned_dataset(root, n_train=6, n_test=1, size=(40, 40), seed=5)
    return root


def _command(data: Path, runs: Path, name: str, *extra: str) -> list[str]:
    return [sys.executable, "scripts/train_cyclegan.py", "--dataroot", str(data), "--runs-dir", str(runs),
            "--name", name, *TINY, *SCHEDULE, *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def _final_state(run: Path) -> dict:
    return torch.load(T.checkpoint_path(run, TOTAL), weights_only=True)


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path, data):
    runs = tmp_path / "runs"
    # the uninterrupted reference runs in this process (one thread, like the subprocesses)
    straight = T.train(P.parse_args(_command(data, runs, "straight")[2:]))
    assert straight.iteration == TOTAL

    proc = subprocess.Popen(_command(data, runs, "killed"), cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    killed_run = runs / "killed"
    deadline = time.monotonic() + 240
    try:
        while not T.checkpoint_path(killed_run, 10).exists():
            assert proc.poll() is None, "training ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint in time"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    latest = T.list_checkpoints(killed_run)[-1]
    snapshot = torch.load(latest, weights_only=True)
    assert 10 <= snapshot["iter"] < TOTAL, "killed too late: nothing left to resume"
    assert snapshot["epoch_iter"] > 0  # the resume starts in the middle of an epoch

    resumed = subprocess.run(_command(data, runs, "killed", "--resume", "--quiet", "false"), cwd=REPO, env=_env(), capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming {latest}" in resumed.stderr

    a, b = _final_state(runs / "straight"), _final_state(killed_run)
    assert (a["epoch"], a["iter"]) == (b["epoch"], b["iter"]) == (4, TOTAL)
    for net in ("netG_A", "netG_B", "netD_A", "netD_B"):
        for key, tensor in a["model"][net].items():
            assert torch.equal(tensor, b["model"][net][key]), f"{net}.{key} differs after resume"
    for opt in ("optimizer_G", "optimizer_D"):
        for idx, st in a["model"][opt]["state"].items():
            assert torch.equal(st["exp_avg_sq"], b["model"][opt]["state"][idx]["exp_avg_sq"])
    for pool in ("fake_A_pool", "fake_B_pool"):
        assert all(torch.equal(x, y) for x, y in zip(a["model"][pool]["images"], b["model"][pool]["images"]))
    assert a["schedulers"] == b["schedulers"]


def test_resume_refuses_a_checkpoint_of_another_architecture(tmp_path, data):
    base = P.parse_args(["--dataroot", str(data), "--runs-dir", str(tmp_path), "--name", "r", *TINY,
                         "--max-steps", "2"])
    T.train(base)
    wider = P.parse_args(["--dataroot", str(data), "--runs-dir", str(tmp_path), "--name", "r", *TINY,
                          "--ngf", "8", "--n-blocks", "2", "--resume"])
    with pytest.raises(T.CheckpointError, match=r"ckpt_00000002\.pt: checkpoint from another architecture: "
                                                r"ngf=4 in the checkpoint but 8 here; n_blocks=1 .* but 2 here"):
        T.train(wider)
    # a file that is no checkpoint at all, and a run without checkpoints
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(T.CheckpointError, match="junk.pt: not a readable checkpoint"):
        load_checkpoint(junk)
    empty = P.parse_args(["--dataroot", str(data), "--runs-dir", str(tmp_path), "--name", "none", *TINY, "--resume"])
    with pytest.raises(T.CheckpointError, match="the run has no checkpoint"):
        T.train(empty)


def test_resume_with_another_world_size_warns_once_and_continues(tmp_path, data, caplog):
    """A checkpoint of a 2-process run resumed by one process: one warning says what differs from an
    uninterrupted run (rank 0's pools and random state, other batches for the rest of the epoch)."""
    args = ["--dataroot", str(data), "--runs-dir", str(tmp_path), "--name", "r", *TINY]
    T.train(P.parse_args([*args, "--max-steps", "3"]))
    path = T.checkpoint_path(tmp_path / "r", 3)
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["epoch_iter"] == 3 and ckpt["world_size"] == 1
    ckpt["world_size"] = 2
    torch.save(ckpt, path)
    with caplog.at_level("WARNING", logger="gan.train"):
        resumed = T.train(P.parse_args([*args, "--resume", "--max-steps", "5"]))
    assert resumed.iteration == 5
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"{path}: saved with 2 processes, resumed with 1: every process continues from rank 0's "
                        "image pools and random state and the rest of epoch 0 gets other batches"]
    assert T.world_size_change(ckpt, 2) is None
