"""Where and how fast a training process runs: its device, determinism, ``torch.compile`` modes
and peak memory (training and ``bench/bench_gan.py`` share the compile helpers)."""
from __future__ import annotations

import os
import resource
from typing import Optional

import torch

# torch.compile modes -> whether the mode replays the compiled graphs as CUDA graphs
COMPILE_MODES: dict[str, bool] = {"default": False, "reduce-overhead": True, "max-autotune": True,
                                  "max-autotune-no-cudagraphs": False}


def compile_network(net: torch.nn.Module, mode: str, dynamic: Optional[bool] = None) -> torch.nn.Module:
    """``torch.compile(net)`` in ``mode``, a key of COMPILE_MODES (training and bench_gan alike)."""
    return torch.compile(net, mode=None if mode == "default" else mode, dynamic=dynamic)


def replays_cuda_graphs(mode: str, device: torch.device) -> bool:
    """Whether networks compiled in ``mode`` run as CUDA graphs on ``device``: each training step
    must then begin with ``torch.compiler.cudagraph_mark_step_begin()``."""
    return COMPILE_MODES[mode] and device.type == "cuda"


def pick_device(device: str) -> torch.device:
    """The CPU, or this process's GPU (cuda:LOCAL_RANK under torchrun), for TrainConfig.device
    ``device`` (auto, cpu or cuda)."""
    if device == "cpu" or (device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no CUDA device")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def set_determinism(deterministic: bool) -> None:
    """Deterministic algorithms when ``deterministic`` (bitwise repeatable on the CPU), else
    cuDNN's autotuner."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory so far: the CUDA allocator's on a GPU, the process's resident set on the CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
