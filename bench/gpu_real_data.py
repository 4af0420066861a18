"""CycleGAN training on real photos from disk: images/s, GPU utilisation, projected paper schedule.

bench_gan.py times the training step on in-memory random tensors; this runs the real thing:
``scripts/train_cyclegan.py`` on a dataset folder (JPEG or PNG photos with their masks),
DataLoader workers decoding from disk, for each batch size in turn, while ``nvidia-smi`` is
sampled once a second. From each run's log.jsonl it reports the steady images/s (log windows
after the first ``--skip-windows``, which hold the compilation), the data-loading time per
iteration and the mean GPU utilisation, and projects the paper's schedule (Nasrullah 2018:
177,750 images at 256², i.e. 75 epochs of 2,370 images) at that speed.

    python bench/gpu_real_data.py --dataroot DATA --out bench_runs          # on a GPU machine
    python bench/gpu_real_data.py --dataroot DATA --out bench_runs --batches 1 4 --steps 3000 \\
        -- --amp bf16 --compile --compile-mode reduce-overhead --num-workers 8

Arguments after ``--`` go to train_cyclegan.py unchanged (defaults: mask_loss_overlay,
paper-size networks, bf16, compiled with CUDA graphs, 8 workers, --vgg-weights none when the
ImageNet VGG19 file is not on the machine). Prints a Markdown table for BENCHMARKS_GPU.md.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

PAPER_IMAGES = 177_750
DEFAULT_TRAIN_ARGS = ["--preset", "mask_loss_overlay", "--amp", "bf16", "--compile", "--compile-mode",
                      "reduce-overhead", "--num-workers", "8", "--vgg-weights", "none"]
ROOT = Path(__file__).resolve().parents[1]


def sample_gpu_utilisation(samples: list[float], stop: threading.Event) -> None:
    """Append nvidia-smi's GPU utilisation (%) once a second until ``stop`` is set."""
    while not stop.wait(1.0):
        out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            samples.append(float(out.stdout.split()[0]))


def steady_speed(log_path: Path, batch: int, skip_windows: int) -> tuple[float, float]:
    """(images/s, data seconds per iteration) over the log windows after the first ``skip_windows``."""
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    steady = records[skip_windows:] or records[-1:]
    seconds = sum(1.0 / r["it_per_s"] for r in steady)  # per iteration, summed over windows
    images_per_s = len(steady) * batch / seconds
    return images_per_s, sum(r["data_time_s"] for r in steady) / len(steady)


def run_one(dataroot: str, out: Path, batch: int, steps: int, log_every: int, skip_windows: int,
            train_args: list[str]) -> dict[str, object]:
    """One training run at ``batch``; its speed figures."""
    name = f"real_b{batch}"
    shutil.rmtree(out / name, ignore_errors=True)
    cmd = [sys.executable, str(ROOT / "scripts" / "train_cyclegan.py"), "--dataroot", dataroot,
           "--runs-dir", str(out), "--name", name, "--batch-size", str(batch), "--max-steps", str(steps),
           "--log-every", str(log_every), "--display", "none", "--quiet", *train_args]
    samples: list[float] = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample_gpu_utilisation, args=(samples, stop), daemon=True)
    if shutil.which("nvidia-smi"):  # none on a CPU machine: the utilisation column says n/a
        sampler.start()
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT)
    wall = time.perf_counter() - started
    stop.set()
    if sampler.is_alive():
        sampler.join()
    if proc.returncode != 0:
        return {"batch": batch, "error": f"train_cyclegan exited with {proc.returncode}"}
    images_per_s, data_time = steady_speed(out / name / "log.jsonl", batch, skip_windows)
    # the sampled utilisation covers start-up and compilation too: keep the last 80 %
    util: Optional[float] = sum(samples[len(samples) // 5:]) / len(samples[len(samples) // 5:]) \
        if len(samples) >= 5 else None
    return {"batch": batch, "images_per_s": images_per_s, "data_time_s": data_time, "gpu_util": util,
            "wall_s": wall, "paper_min": PAPER_IMAGES / images_per_s / 60}


def table(rows: list[dict[str, object]]) -> str:
    """The Markdown table of ``run_one`` results."""
    lines = ["| batch | images/s | data s/it | GPU util % | wall s | paper schedule (min) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['batch']} | {r['error']} | | | | |")
            continue
        util = "n/a" if r["gpu_util"] is None else f"{r['gpu_util']:.0f}"
        lines.append(f"| {r['batch']} | {r['images_per_s']:.1f} | {r['data_time_s']:.4f} | {util} | "
                     f"{r['wall_s']:.0f} | {r['paper_min']:.0f} |")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ours, train_args = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataroot", required=True, help="dataset folder with trainA/ and trainB/ and their masks")
    p.add_argument("--out", default="bench_runs", help="run directories go here (default: %(default)s)")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 4], help="batch sizes (default: 1 4)")
    p.add_argument("--steps", type=int, default=3000, help="iterations per run (default: %(default)s)")
    p.add_argument("--log-every", type=int, default=100, help="iterations per log window (default: %(default)s)")
    p.add_argument("--skip-windows", type=int, default=3,
                   help="first log windows left out of the speed (compilation) (default: %(default)s)")
    a = p.parse_args(ours)
    rows = [run_one(a.dataroot, Path(a.out), b, a.steps, a.log_every, a.skip_windows,
                    train_args or DEFAULT_TRAIN_ARGS) for b in a.batches]
    print(table(rows))
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
