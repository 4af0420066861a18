"""ONNX export: the exported generator in onnxruntime against eager PyTorch on the CPU.

The generator is the shipped ``scripts/demo_gan.pt`` (U-Net-128, ngf 8, full-resolution head,
resize-convolution), exported by :func:`gan.export.export_onnx` twice: with the residual
upsampling at its training size 256 (what test_cyclegan runs by default) and on the whole image.
Each is timed on photo-sized inputs in PyTorch (eager, ``torch.inference_mode``) and in
onnxruntime's CPU provider with the same number of threads, one call each per round, the two
interleaved so that background load hits them alike; the table gives the median and the speed-up
as the median of the rounds' ratios. The export itself (minutes on a busy 2-core machine) is not
timed. The outputs are checked to agree within 1e-4 at every size. Quick run (the smoke test): a
tiny ResNet generator with random weights at small sizes.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from gan.checkpoint import save_checkpoint
from gan.export import export_onnx, onnx_runner
from gan.infer import FullResolutionGenerator, load_generator
from gan.model import CycleGANModel, config_from_preset

DEMO = Path(__file__).resolve().parents[1] / "scripts" / "demo_gan.pt"
FULL_SIZES = {"resize": [(768, 1024), (1500, 2000)], "whole": [(512, 512), (768, 1024)]}
QUICK_SIZES = {"resize": [(60, 80)], "whole": [(48, 64)]}
ROUNDS, QUICK_ROUNDS = 5, 2


def _tiny_checkpoint(folder: Path) -> Path:
    torch.manual_seed(0)
    cfg = config_from_preset("cyclegan", netG="resnet", n_blocks=1, ngf=4, ndf=4, n_layers_D=2, vgg_weights="none")
    path = folder / "tiny.pt"
    save_checkpoint(path, {"config": {"model": cfg.to_dict(), "train": {"load_size": 40, "crop_size": 32}},
                           "model": CycleGANModel(cfg).state_dict()})
    return path


def _time(fn: Callable[[], np.ndarray]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(quick: bool = False) -> str:
    """Markdown section: seconds per image, eager PyTorch vs onnxruntime, per path and size."""
    threads = torch.get_num_threads()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = _tiny_checkpoint(Path(tmp)) if quick else DEMO
        loaded = load_generator(checkpoint)
        for path_name, size in (("resize", "checkpoint"), ("whole", None)):
            onnx_path = Path(tmp) / f"{path_name}.onnx"
            result = export_onnx(checkpoint, onnx_path, size=size, verify=False)
            eager = FullResolutionGenerator(loaded.generator, result.size).eval()
            ort = onnx_runner(onnx_path, threads)
            for h, w in (QUICK_SIZES if quick else FULL_SIZES)[path_name]:
                x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(h)) * 2 - 1
                xn = x.numpy()
                with torch.inference_mode():
                    want = eager(x).numpy()
                diff = float(np.abs(ort(xn) - want).max())
                t_eager, t_ort, ratios = [], [], []
                for _ in range(QUICK_ROUNDS if quick else ROUNDS):
                    with torch.inference_mode():
                        a = _time(lambda: eager(x))
                    b = _time(lambda: ort(xn))
                    t_eager.append(a)
                    t_ort.append(b)
                    ratios.append(a / b)
                label = f"residual upsampling at {result.size}" if result.size else "whole image"
                rows.append(f"| {label} | {w}×{h} | {statistics.median(t_eager):.3f} | {statistics.median(t_ort):.3f} | "
                            f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f}) | {diff:.1e} |")
    what = ("a tiny random ResNet generator (quick run)" if quick else
            "the shipped scripts/demo_gan.pt (U-Net-128, ngf 8, full-resolution head, resize-convolution)")
    return (f"### ONNX export (CPU)\n\n{what}, exported at opset 18 with dynamic height and width; eager PyTorch "
            f"(inference mode) against onnxruntime's CPU provider, both on {threads} thread(s), "
            f"{QUICK_ROUNDS if quick else ROUNDS} interleaved rounds, median seconds per image; speed-up = median "
            "of the rounds' ratios (range).\n\n"
            "| path | size (W×H) | PyTorch s | onnxruntime s | onnxruntime speed-up | max abs diff |\n"
            "|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a tiny generator at small sizes (smoke test)")
    print(run(ap.parse_args().quick))
