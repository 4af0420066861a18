"""Distributed data parallel training (torchrun): process group, collectives, per-rank state.

``torchrun`` sets WORLD_SIZE / RANK / LOCAL_RANK; without it (one process) every helper here is a
no-op. Every rank calls the collectives at the same points of the loop.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

import torch

from gan.model import CycleGANModel

from .device import compile_network
from .rng import capture_rng_state

if TYPE_CHECKING:
    from .config import TrainConfig


@dataclass
class Dist:
    """This process's place in the run: rank, number of processes, GPU index on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> Dist:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; NCCL on GPU, gloo on CPU. On a GPU the process's
    current device becomes its own (cuda:LOCAL_RANK) first: NCCL's object collectives (the
    checkpoints' ``gather_object``) run on the current device, which is cuda:0 otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def shutdown(d: Dist) -> None:
    """End the process group that :func:`init_distributed` started."""
    if d.enabled:
        import torch.distributed as dist
        dist.destroy_process_group()


def network_wrapper(cfg: "TrainConfig", d: Dist, device: torch.device) -> Callable[[torch.nn.Module], torch.nn.Module]:
    """What ``CycleGANModel.wrap_networks`` puts around each network: DistributedDataParallel
    under DDP, then ``torch.compile`` with ``cfg.compile``."""
    def wrap(net: torch.nn.Module) -> torch.nn.Module:
        if d.enabled:
            from torch.nn.parallel import DistributedDataParallel
            net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
        if cfg.compile:
            net = compile_network(net, cfg.compile_mode)
        return net
    return wrap


def mean_over_ranks(values: dict[str, float], d: Dist, device: torch.device) -> dict[str, float]:
    """Average logged losses over all processes (every rank calls this at the same iterations)."""
    if not d.enabled:
        return values
    import torch.distributed as dist
    names = sorted(values)
    t = torch.tensor([values[k] for k in names], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return {k: float(v) / d.world_size for k, v in zip(names, t.tolist())}


def any_rank(flag: bool, d: Dist, device: torch.device) -> bool:
    """Whether ``flag`` is true on any process."""
    if not d.enabled:
        return flag
    import torch.distributed as dist
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def gather_rank_states(model: CycleGANModel, d: Dist) -> Optional[list[dict[str, Any]]]:
    """Under DDP, every process's image pools and RNG states (they differ: each process sees other
    images), gathered on rank 0 for the checkpoint; None on other ranks and without DDP. Every
    rank must call it at the same point."""
    if not d.enabled:
        return None
    import torch.distributed as dist
    mine = {"rng": capture_rng_state(), "fake_A_pool": model.fake_A_pool.state_dict(),
            "fake_B_pool": model.fake_B_pool.state_dict()}
    gathered: Optional[list[Any]] = [None] * d.world_size if d.is_main else None
    dist.gather_object(mine, gathered, dst=0)
    return gathered


def own_rank_state(ckpt: dict[str, Any], model: CycleGANModel, d: Dist, device: torch.device) -> dict[str, Any]:
    """This process's RNG state from a checkpoint, its image pools loaded into ``model``: its own
    when the checkpoint holds one per process of the same world size, else rank 0's (which
    ``model.load_state_dict`` has already put in place)."""
    rank_states = ckpt.get("rank_states")
    if rank_states is not None and len(rank_states) == d.world_size:
        own = rank_states[d.rank]
        model.fake_A_pool.load_state_dict(own["fake_A_pool"], device)
        model.fake_B_pool.load_state_dict(own["fake_B_pool"], device)
        return own["rng"]
    return ckpt["rng"]


def world_size_change(ckpt: dict[str, Any], world_size: int) -> Optional[str]:
    """What resuming ``ckpt`` with another number of processes than it was saved with changes
    against an uninterrupted run, in one sentence; None when the number is the same."""
    saved = int(ckpt.get("world_size", 1))
    if saved == world_size:
        return None
    changes = ["every process continues from rank 0's image pools and random state"]
    if ckpt.get("epoch_iter", 0):
        changes.append(f"the rest of epoch {int(ckpt['epoch'])} gets other batches")
    return f"saved with {saved} processes, resumed with {world_size}: " + " and ".join(changes)
