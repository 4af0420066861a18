"""DistributedDataParallel on the CPU (gloo): two processes started by torchrun train a few steps;
afterwards both hold identical weights (different data, synchronised gradients) and only rank 0
wrote a run directory."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from datasets.synthetic import write_unaligned_dataset
from gan.model import CycleGANModel
from gan.cli.train_cyclegan import parse_args

REPO = Path(__file__).resolve().parents[2]
TINY = ["--netG", "resnet", "--n-blocks", "1", "--ngf", "4", "--ndf", "4", "--n-layers-D", "2",
        "--vgg-weights", "none", "--load-size", "36", "--crop-size", "32", "--num-workers", "0", "--quiet",
        "--display", "none", "--n-epochs", "1", "--n-epochs-decay", "0", "--log-every", "1", "--preset", "mask_loss"]

# Each rank trains with its own --runs-dir, so a file written by rank 1 would show up in rank1/.
LAUNCHER = '''
import os, sys, torch
from gan.cli.train_cyclegan import parse_args
from gan.train import train
out, rank = sys.argv[1], int(os.environ["RANK"])
result = train(parse_args(sys.argv[2:] + ["--runs-dir", f"{out}/rank{rank}"]))
torch.save({"nets": result.model.networks_state_dict(), "iteration": result.iteration},
           f"{out}/weights_rank{rank}.pt")
'''


def _torchrun(launcher: Path, out: Path, args: list[str]) -> list[dict]:
    """Run LAUNCHER under torchrun with 2 CPU processes; each rank's final weights and iteration."""
    out.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(launcher), str(out), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return [torch.load(out / f"weights_rank{r}.pt", weights_only=True) for r in (0, 1)]


@pytest.mark.slow
def test_torchrun_two_cpu_processes_stay_in_sync(tmp_path):
    data = tmp_path / "data"
    write_unaligned_dataset(data, n_train=6, n_test=1, size=(40, 40), seed=11)
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER)
    out = tmp_path / "out"
    ranks = _torchrun(launcher, out, ["--dataroot", str(data), *TINY])
    assert ranks[0]["iteration"] == ranks[1]["iteration"] == 3  # 6 images split over 2 processes, batch 1
    torch.manual_seed(0)  # train() seeds 0 before building the model: this is the common initialisation
    init = CycleGANModel(parse_args(["--dataroot", str(data), *TINY]).model_config()).networks_state_dict()
    for net in ("G_A", "G_B", "D_A", "D_B"):
        for key, tensor in ranks[0]["nets"][net].items():
            assert torch.equal(tensor, ranks[1]["nets"][net][key]), f"{net}.{key} differs between ranks"
        assert any(not torch.equal(t, init[net][k]) for k, t in ranks[0]["nets"][net].items()), f"{net} never trained"

    assert not (out / "rank1").exists()  # only rank 0 writes
    run = out / "rank0" / "cyclegan"
    assert (run / "config.json").is_file() and (run / "checkpoints" / "ckpt_00000003.pt").is_file()
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in records] == [1, 2, 3] and all(r["world_size"] == 2 for r in records)
    assert torch.load(run / "checkpoints" / "ckpt_00000003.pt", weights_only=True)["world_size"] == 2


@pytest.mark.slow
def test_torchrun_resume_continues_every_process_exactly(tmp_path):
    """A DDP run stopped mid-epoch and resumed ends with the weights of an uninterrupted run. Each
    process keeps its own image pool (it sees other images); with a pool of one image the
    discriminators see the pooled images from the second step on, so resuming rank 1 with rank
    0's pool, as the checkpoint held before, changes the result."""
    data = tmp_path / "data"
    write_unaligned_dataset(data, n_train=6, n_test=1, size=(40, 40), seed=11)
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER)
    args = ["--dataroot", str(data), *TINY, "--n-epochs", "2", "--pool-size", "1", "--deterministic", "true"]
    whole = _torchrun(launcher, tmp_path / "whole", args)
    _torchrun(launcher, tmp_path / "first", args + ["--max-steps", "2"])
    ckpt = tmp_path / "first" / "rank0" / "cyclegan" / "checkpoints" / "ckpt_00000002.pt"
    assert len(torch.load(ckpt, weights_only=True)["rank_states"]) == 2
    resumed = _torchrun(launcher, tmp_path / "resumed", args + ["--resume", str(ckpt)])
    assert whole[0]["iteration"] == resumed[0]["iteration"] == 6
    for net in ("G_A", "G_B", "D_A", "D_B"):
        for key, tensor in whole[0]["nets"][net].items():
            assert torch.equal(tensor, resumed[0]["nets"][net][key]), f"{net}.{key} differs after resuming"
            assert torch.equal(tensor, resumed[1]["nets"][net][key]), f"{net}.{key} differs on rank 1"


def test_each_gpu_process_makes_its_own_gpu_current_before_nccl_starts(monkeypatch):
    """No GPU here, so torch's calls are recorded: NCCL's object collectives (the checkpoints'
    gather_object) run on the current device, which must be cuda:LOCAL_RANK, not every rank's cuda:0."""
    import torch.distributed as dist

    from gan.train.distributed import init_distributed

    calls = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: calls.append(("set_device", device)))
    monkeypatch.setattr(dist, "init_process_group", lambda backend: calls.append(("init", backend)))
    monkeypatch.setattr(dist, "get_rank", lambda: 1)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    d = init_distributed(torch.device("cuda", 1))
    assert calls == [("set_device", torch.device("cuda", 1)), ("init", "nccl")]
    assert (d.rank, d.world_size, d.local_rank) == (1, 2, 1)
    calls.clear()
    init_distributed(torch.device("cpu"))
    assert calls == [("init", "gloo")]  # the CPU path sets no device
