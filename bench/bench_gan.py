"""CycleGAN training speed: iterations per second for every preset, batch size and precision.

Each configuration trains ``gan.model.CycleGANModel`` on in-memory random batches (images
N×3×S×S in [-1, 1], an elliptical subject mask), so only the training step is timed, not data
loading. Presets of one batch size and precision are timed round-robin (one step each per round)
so that background load on a shared machine hits them alike; the table gives the median step.
The baseline is the plain ``cyclegan`` preset (no mask terms) measured in the same run; the
target is a full ``mask_loss_overlay`` step ≤ 1.3× the plain step. On a GPU AMP
(bf16/fp16) should give ≥ 1.8× fp32. "fp32" is PyTorch's default, in which cuDNN convolutions on
an Ampere or newer GPU use TF32 tensor cores; ``fp32-ieee`` turns TF32 off (full fp32 arithmetic).
As in training, cuDNN picks its fastest algorithms (``cudnn.benchmark``).

``--compile MODE`` times the networks under ``torch.compile`` (``reduce-overhead``: CUDA graphs);
the first step, which compiles, is reported apart and not timed. Compiling takes minutes per
model, so for several configurations start one process each with the same ``--lock FILE``: they
compile in parallel and time one at a time.

Full run: paper-sized networks (ResNet-9 generator, ngf = ndf = 64, 70×70 PatchGAN) at 256×256,
batch 1 and 4; fp32, bf16 and fp16 on a GPU; fp32 on the CPU (ask for bf16 with --precisions:
without AVX512-BF16 it is far slower than fp32). On a 2-core CPU this takes about 25 minutes and
17 GB of memory (a batch-4 step is 80-95 s). Quick run (the smoke test): tiny networks at
32×32, batch 1 and 2, fp32. The VGG19 of the mask loss uses random weights here
(``vgg_weights="none"``): the same cost as the ImageNet weights, which may not be on disk.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import resource
import statistics
import sys
import time
from typing import Optional, Sequence

import numpy as np
import torch

from gan.model import PAPER_PRESETS, PRESETS, CycleGANModel, config_from_preset
from gan.train.device import COMPILE_MODES, compile_network, replays_cuda_graphs

BASELINE = "cyclegan"
FULL_PRESET = "mask_loss_overlay"
MAX_RATIO = 1.3
# Nasrullah 2018: 75 epochs (50 + 25 decay) on 2,370 + 2,157 images; an epoch is max(|A|, |B|)
# iterations at batch 1; about 30 hours on a GTX 1080.
PAPER_EPOCHS = 75
PAPER_ITERS_PER_EPOCH = 2370
PAPER_HOURS = 30

TINY = {"netG": "resnet", "n_blocks": 1, "ngf": 8, "ndf": 8, "n_layers_D": 2}
PAPER = {"netG": "resnet_9blocks", "ngf": 64, "ndf": 64, "n_layers_D": 3}
AMP = {"fp32": "none", "fp32-ieee": "none", "bf16": "bf16", "fp16": "fp16"}


def _batch(n: int, size: int, device: torch.device) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    mask = ((yy / 0.8) ** 2 + (xx / 0.45) ** 2 <= 1).float().expand(n, 1, size, size).contiguous()
    return {"A": (torch.rand(n, 3, size, size, generator=g) * 2 - 1).to(device),
            "B": (torch.rand(n, 3, size, size, generator=g) * 2 - 1).to(device),
            "A_mask": mask.to(device), "B_mask": mask.to(device)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def _tf32(enabled: bool):
    """TF32 tensor cores for cuDNN convolutions and matmuls on or off, restored afterwards."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


@contextlib.contextmanager
def _exclusive(lock_path: Optional[str]):
    """Hold an exclusive flock on ``lock_path`` (no-op without one): parallel bench processes time in turn."""
    if not lock_path:
        yield
        return
    with open(lock_path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _step(model: CycleGANModel, precision: str, cuda_graphs: bool) -> None:
    with _tf32(precision != "fp32-ieee"):
        if cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()
        model.optimize_parameters()


def time_presets(presets: Sequence[str], batch: int, size: int, precision: str, nets: dict, warmup: int,
                 timed: int, device: torch.device, compile_mode: Optional[str] = None,
                 lock: Optional[str] = None) -> dict[str, tuple[float, float, float]]:
    """preset -> (median seconds per training step, peak GPU MiB of a step (NaN on the CPU and under
    CUDA graphs), seconds of the first step, which compiles under ``compile_mode``)."""
    cuda_graphs = bool(compile_mode) and replays_cuda_graphs(compile_mode, device)
    # replayed CUDA graphs use memory pools set aside while recording: a step's peak says nothing
    measure_memory = device.type == "cuda" and not cuda_graphs
    models, peaks, first = {}, {}, {}
    data = _batch(batch, size, device)
    for name in presets:
        torch.manual_seed(0)
        models[name] = CycleGANModel(config_from_preset(name, vgg_weights="none", amp=AMP[precision], **nets), device)
        if compile_mode:  # static shapes: batch sizes timed one after another must not make them dynamic
            models[name].wrap_networks(lambda net: compile_network(net, compile_mode, dynamic=False))
        models[name].set_input(data)
        start = time.perf_counter()
        _step(models[name], precision, cuda_graphs)
        _sync(device)
        first[name] = time.perf_counter() - start
        if compile_mode:  # minutes per model: say where the time goes
            print(f"compiled {name}, {precision}, batch {batch}: first step {first[name]:.0f} s", file=sys.stderr)
    times: dict[str, list[float]] = {name: [] for name in presets}
    with _exclusive(lock):
        for name in presets:
            for _ in range(warmup - 1):  # the first step was the first warm-up step
                _step(models[name], precision, cuda_graphs)
        _sync(device)
        for _ in range(timed):
            for name in presets:
                if measure_memory:  # not under CUDA graphs: the reset would also drop the reserved peak
                    torch.cuda.reset_peak_memory_stats(device)
                start = time.perf_counter()
                _step(models[name], precision, cuda_graphs)
                _sync(device)
                times[name].append(time.perf_counter() - start)
                peaks[name] = torch.cuda.max_memory_allocated(device) / 2**20 if measure_memory else float("nan")
    return {name: (statistics.median(t), peaks[name], first[name]) for name, t in times.items()}


def run(quick: bool = False, *, size: Optional[int] = None, batches: Optional[Sequence[int]] = None,
        precisions: Optional[Sequence[str]] = None, warmup: Optional[int] = None, timed: Optional[int] = None,
        presets: Sequence[str] = PAPER_PRESETS, threads: Optional[int] = None,
        compile_mode: Optional[str] = None, lock: Optional[str] = None) -> str:
    """Markdown section: it/s per preset × batch × precision, ratio to the plain step, paper schedule cost.

    ``threads``: torch CPU threads for the run (default: torch's; quick: 1, as tiny networks gain
    nothing from more and spinning OpenMP threads crawl on a busy machine). ``compile_mode``: a key
    of ``gan.train.device.COMPILE_MODES`` to time compiled networks; ``lock``: see the module docstring."""
    before = torch.get_num_threads(), torch.backends.cudnn.benchmark
    torch.set_num_threads(threads or (1 if quick else before[0]))
    torch.backends.cudnn.benchmark = True  # as in training without --deterministic
    try:
        return _run(quick, size, batches, precisions, warmup, timed, presets, compile_mode, lock)
    finally:
        torch.set_num_threads(before[0])
        torch.backends.cudnn.benchmark = before[1]


def _run(quick: bool, size: Optional[int], batches: Optional[Sequence[int]], precisions: Optional[Sequence[str]],
         warmup: Optional[int], timed: Optional[int], presets: Sequence[str], compile_mode: Optional[str],
         lock: Optional[str]) -> str:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gpu = device.type == "cuda"
    size = size or (32 if quick else 256)
    nets = TINY if quick else PAPER
    batches = tuple(batches or ((1, 2) if quick else (1, 4)))
    # CPU bf16 autocast has no fast kernels without AVX512-BF16/AMX (19× slower than fp32 on this
    # project's CI CPU): on the CPU only when asked for with --precisions
    precisions = list(precisions or (["fp32", "bf16", "fp16"] if gpu else ["fp32"]))
    warmup = warmup if warmup is not None else (1 if quick or not gpu else 5)
    timed = timed if timed is not None else (1 if quick else 2 if not gpu else 20)
    presets = [BASELINE] + [p for p in presets if p != BASELINE]

    results = {}
    for batch in batches:
        for precision in precisions:
            results[batch, precision] = time_presets(presets, batch, size, precision, nets, warmup, timed, device,
                                                     compile_mode, lock)

    where = torch.cuda.get_device_name(device) if gpu else f"CPU, {torch.get_num_threads()} threads"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    net_text = ("quick run: tiny networks (ResNet generator with 1 block, ngf = ndf = 8, 2-layer PatchGAN)" if quick else
                "paper-sized networks (ResNet-9 generator, ngf = ndf = 64, 70×70 PatchGAN)")
    compiled = f"torch.compile mode {compile_mode!r} (the first step compiles; not timed)" if compile_mode else "eager"
    lines = ["### CycleGAN training step" + (f", torch.compile {compile_mode}" if compile_mode else ""), "",
             f"{net_text} at {size}×{size}, random in-memory batches, {where}, {compiled}; {warmup} warm-up and "
             f"{timed} timed step(s) per configuration, presets interleaved, median. 1-minute load average at "
             f"the end: {load:.1f} on {os.cpu_count()} CPUs." +
             (" With so few timed steps, differences of about 10 % between presets are noise." if timed < 5 else ""),
             "",
             "| batch | precision | preset | s/step | it/s | images/s | × plain step | peak GPU MiB | first step s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (batch, precision), res in results.items():
        base = res[BASELINE][0]
        for name in presets:
            sec, peak, first = res[name]
            mem = f"{peak:.0f}" if np.isfinite(peak) else "n/a (CUDA graphs)" if gpu else "n/a (CPU)"
            lines.append(f"| {batch} | {precision} | {name} | {sec:.3f} | {1 / sec:.3f} | {batch / sec:.2f} | "
                         f"{sec / base:.2f} | {mem} | {first:.1f} |")
    lines.append("")
    if FULL_PRESET in presets:
        for (batch, precision), res in results.items():
            ratio = res[FULL_PRESET][0] / res[BASELINE][0]
            verdict = "not checked: the VGG19 of the mask loss dwarfs tiny networks" if quick else \
                "PASS" if ratio <= MAX_RATIO else "FAIL"
            lines.append(f"- {FULL_PRESET} ≤ {MAX_RATIO}× plain, batch {batch} {precision}: {ratio:.2f}×, {verdict}")
    for batch in batches:
        for ref in ("fp32", "fp32-ieee"):
            for precision in (p for p in precisions if ref in precisions and p not in ("fp32", "fp32-ieee")):
                speedup = results[batch, ref][BASELINE][0] / results[batch, precision][BASELINE][0]
                # the target is against PyTorch's default fp32 (TF32 convolutions on Ampere and newer)
                target = f" (target ≥ 1.8×: {'PASS' if speedup >= 1.8 else 'FAIL'})" if gpu and ref == "fp32" else ""
                lines.append(f"- {precision} autocast vs {ref}, plain step, batch {batch}: {speedup:.2f}×{target}")
    if 1 in batches and FULL_PRESET in presets and not quick:
        sec = results[1, precisions[0]][FULL_PRESET][0]
        iters = PAPER_EPOCHS * PAPER_ITERS_PER_EPOCH
        hours = iters * sec / 3600
        lines.append(f"- the paper's schedule ({PAPER_EPOCHS} epochs × {PAPER_ITERS_PER_EPOCH:,} iterations at "
                     f"batch 1 = {iters:,} steps of {FULL_PRESET}, {precisions[0]}) at {size}×{size} would take "
                     f"**{hours:,.1f} h** ({hours / 24:,.1f} days) here at the measured rate; the paper needed about "
                     f"{PAPER_HOURS} h on a GTX 1080.")
    if not gpu:
        lines.append("- GPU figures (AMP vs fp32, peak memory) need a GPU: the latest are in bench/BENCHMARKS_GPU.md.")
        if "bf16" not in precisions:
            lines.append("- bf16 autocast is left out on the CPU (`--precisions fp32 bf16` measures it): a CPU "
                         "without AVX512-BF16/AMX has no fast bf16 kernels.")
    lines.append(f"- peak process memory (RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB.")
    if gpu and compile_mode and replays_cuda_graphs(compile_mode, device):
        # the only memory figure under CUDA graphs (no per-step resets then): one configuration per process reads it per row
        lines.append(f"- peak GPU memory reserved by this process (all its configurations, CUDA-graph pools "
                     f"included): {torch.cuda.max_memory_reserved(device) / 2**20:.0f} MiB.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="CycleGAN training-step benchmark (prints Markdown).")
    parser.add_argument("--quick", action="store_true", help="tiny networks at 32 px")
    parser.add_argument("--size", type=int, help="square training size (default 256, quick 32)")
    parser.add_argument("--batches", type=int, nargs="+",
                        help="batch sizes (default: 1 and 4, quick 1 and 2)")
    parser.add_argument("--precisions", nargs="+", choices=sorted(AMP))
    parser.add_argument("--warmup", type=int)
    parser.add_argument("--timed", type=int)
    parser.add_argument("--presets", nargs="+", choices=sorted(PRESETS), default=list(PAPER_PRESETS))
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's; quick: 1)")
    parser.add_argument("--compile", dest="compile_mode", choices=sorted(COMPILE_MODES),
                        help="time torch.compile'd networks in this mode (reduce-overhead: CUDA graphs)")
    parser.add_argument("--lock", metavar="FILE",
                        help="time only while holding an flock on FILE (parallel processes compile at once, time in turn)")
    a = parser.parse_args()
    print(run(a.quick, size=a.size, batches=a.batches, precisions=a.precisions, warmup=a.warmup, timed=a.timed,
              presets=a.presets, threads=a.threads, compile_mode=a.compile_mode, lock=a.lock))
