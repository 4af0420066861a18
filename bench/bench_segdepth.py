"""Segmentation and depth speed: inference ms per 512×512 image for every registered segmenter
and depth model (random weights: ``weights="none"``, the timing does not depend on them) with
MediaPipe selfie segmentation as the reference in the same run, and training images per second
for the U-Net and the dense-depth network.

Input: a synthetic portrait (datasets.synthetic). Each model is built, warmed up once, then run
``repeats`` times; the table gives the median. Models whose weights or code cannot be had
offline (MiDaS via torch.hub) are listed with the reason instead of a time.
"""
from __future__ import annotations

import os
import statistics
import time
from typing import Callable

import torch


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def _train_images_per_s(net: torch.nn.Module, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    net.train()

    def step() -> None:
        loss = loss_fn(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * x.shape[0] / (time.perf_counter() - start)


def run(quick: bool = False) -> str:
    """Markdown section: inference ms and ratio to MediaPipe per model; training images/s."""
    from datasets.synthetic import make_scene
    from segdepth.depth import DEPTH_MODELS, build_depth_model
    from segdepth.segment import SEGMENTERS, build_segmenter
    from segdepth.weights import WeightsError

    size = 64 if quick else 512
    repeats = 1 if quick else 3
    scene = make_scene(3, (size, size), render_dof=False)
    image, mask = scene.image, scene.mask
    # quick: only the cheap models, narrowed, so the smoke test takes seconds
    seg_names = ["mediapipe", "unet"] if quick else list(SEGMENTERS)
    depth_names = ["prior", "dense_depth"] if quick else list(DEPTH_MODELS)
    narrow = {"unet": {"base": 8, "depth": 3}} if quick else {}

    rows: list[tuple[str, str, float | None, str]] = []
    for name in seg_names:
        kwargs = {} if name == "mediapipe" else {"weights": "none", "input_size": size, **narrow.get(name, {})}
        seg = build_segmenter(name, **kwargs)
        rows.append(("segmenter", name, _median_ms(lambda: seg(image), repeats), ""))
        seg = None  # free it before the next network
    for name in depth_names:
        kwargs = {} if name == "prior" else {"weights": "none"}
        if name == "dense_depth":
            kwargs["input_size"] = size
        try:
            model = build_depth_model(name, **kwargs)
        except WeightsError:
            rows.append(("depth", name, None, "not available offline (torch.hub repository / weights missing)"))
            continue
        note = "flip-averaged (2 passes)" if name == "dense_depth" else ""
        rows.append(("depth", name, _median_ms(lambda: model(image, mask), repeats), note))
        model = None  # free it before the next network
    reference = next(ms for kind, name, ms, _ in rows if name == "mediapipe")

    # training throughput on random tensors (segmentation CE; depth Alhashim–Wonka loss)
    from segdepth.depth.dense_depth import make_dense_depth
    from segdepth.losses import DepthLoss
    from segdepth.segment.unet import make_unet

    train_hw = 32 if quick else 256
    batch = 2 if quick else 4
    steps = 1 if quick else 3
    torch.manual_seed(0)
    x = torch.rand(batch, 3, train_hw, train_hw)
    labels = (torch.rand(batch, train_hw, train_hw) > 0.5).long()
    unet = make_unet(**narrow.get("unet", {}))
    seg_ips = _train_images_per_s(unet, torch.nn.functional.cross_entropy, x, labels, steps)
    depth_loss = DepthLoss()
    target = torch.rand(batch, 1, train_hw, train_hw) * 9 + 1
    dd = make_dense_depth()
    depth_ips = _train_images_per_s(dd, lambda out, t: depth_loss(out, t)[0], x, target, steps)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = ["### Segmentation and depth networks", "",
             f"Inference on one {size}×{size} synthetic portrait, random weights, median of {repeats} run(s) "
             f"after a warm-up, torch {torch.__version__} on CPU with {torch.get_num_threads()} threads; "
             f"1-minute load average at the end: {load:.1f} on {os.cpu_count()} CPUs. "
             "Ratio = time / MediaPipe's time in the same run.", "",
             "| kind | model | ms / image | × MediaPipe | note |", "|---|---|---|---|---|"]
    for kind, name, ms, note in rows:
        if ms is None:
            lines.append(f"| {kind} | {name} | — | — | {note} |")
        else:
            lines.append(f"| {kind} | {name} | {ms:.1f} | {ms / reference:.1f} | {note} |")
    lines += ["", f"Training throughput ({batch} × {train_hw}×{train_hw}, Adam, {steps} step(s) after a warm-up):", "",
              "| network | images / s |", "|---|---|",
              f"| unet{' (narrow)' if quick else ''} (cross-entropy) | {seg_ips:.2f} |",
              f"| dense_depth (L1 + gradient + SSIM) | {depth_ips:.2f} |", ""]
    if quick:
        lines.append("Quick run (64 px, narrowed U-Net, subset of models): not representative.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    print(run(quick="--quick" in sys.argv))
