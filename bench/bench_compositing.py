"""Compositor speed: every registered method at 1 MP and 12 MP, lens blur against its targets.

Input: a synthetic portrait (datasets.synthetic, 300×400) upscaled to 1 MP (866×1155) and 12 MP
(3000×4000): bicubic image with sensor-like noise added (σ = 2.5 code values, the median the
grain estimate finds on the team's real portraits, so that the lens's grain has work to do),
bilinear matte, nearest depth in metres, focus on the subject. Each
method runs ``repeats`` times, round-robin over the methods so background load hits them alike;
the table gives the median, and the ratio to progressive13 is the median of the rounds' ratios
(each of two renders seconds apart). Targets: lens ≤ 1.5 s at 12 MP and ≤ 2×
progressive13 in the same run, with the mask snap and the grain of the photo path counted in the lens time.
"""
from __future__ import annotations

import os
import statistics
import time

import cv2
import numpy as np

LENS_MAX_S = 1.5
LENS_MAX_RATIO = 2.0


def _inputs(height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    from datasets.synthetic import make_scene

    scene = make_scene(7, (300, 400), render_dof=False)
    size = (width, height)
    image = cv2.resize(scene.image, size, interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(0).standard_normal(image.shape[:2], dtype=np.float32) * np.float32(2.5)
    image = cv2.add(image, cv2.merge([noise] * 3), dtype=cv2.CV_8U)
    mask = np.clip(cv2.resize(scene.mask, size, interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
    depth = cv2.resize(scene.depth, size, interpolation=cv2.INTER_NEAREST)
    return image, mask, depth, scene.focus_depth


REFINED = "lens + mask snap + grain"
SNAPPED = "lens + mask snap"  # the same without the grain: the lens with refinement alone


def _time_methods(names: list[str], height: int, width: int, repeats: int) -> dict[str, list[float]]:
    """Seconds per method and round (one list each, rounds in order); ``REFINED`` is the lens as
    the photo path runs it: the mask snap
    (compositing.matte.snap_matte, on the matte blurred like a segmenter's soft tail), then the
    lens blur with the photo path's settings (``PHOTO_DEFAULTS``: the photo's grain put back)."""
    from compositing.pipeline import PHOTO_DEFAULTS, postprocess_mask
    from compositing.methods import render

    image, mask, depth, focus = _inputs(height, width)
    soft = cv2.GaussianBlur(mask, (0, 0), 0.004 * width)
    for name in names:  # warm-up: kernels, tables, allocator
        render(name, image[:64, :64], mask[:64, :64], depth[:64, :64], focus)
    postprocess_mask(soft[:128, :128], image[:128, :128])
    render("lens", image[:128, :128], mask[:128, :128], depth[:128, :128], focus, PHOTO_DEFAULTS["lens"])  # grain tables
    times: dict[str, list[float]] = {name: [] for name in [*names, SNAPPED, REFINED]}
    for _ in range(repeats):
        for name in names:
            start = time.perf_counter()
            render(name, image, mask, depth, focus)
            times[name].append(time.perf_counter() - start)
        for name, params in ((SNAPPED, None), (REFINED, PHOTO_DEFAULTS["lens"])):
            start = time.perf_counter()
            render("lens", image, postprocess_mask(soft, image), depth, focus, params)
            times[name].append(time.perf_counter() - start)
    return times


def round_ratios(times: dict[str, list[float]], name: str, baseline: str) -> list[float]:
    """``name`` ÷ ``baseline`` per round: the two ran seconds apart, so load that changes between
    rounds (the shared machine's) cancels in each ratio more than in a ratio of medians."""
    return [a / b for a, b in zip(times[name], times[baseline])]


def run(quick: bool = False) -> str:
    """Markdown section: seconds per method at two sizes, lens/progressive13 ratio, pass/fail."""
    from compositing.methods import METHODS

    names = list(METHODS)
    sizes = [(48, 64, "3 kP"), (96, 128, "12 kP")] if quick else [(866, 1155, "1 MP"), (3000, 4000, "12 MP")]
    repeats = 1 if quick else 7
    rounds = [_time_methods(names, h, w, repeats) for h, w, _ in sizes]
    results = [{name: statistics.median(t) for name, t in r.items()} for r in rounds]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = ["### Compositing methods", "",
             f"Synthetic portrait upscaled to {sizes[0][2]} ({sizes[0][1]}×{sizes[0][0]}) and "
             f"{sizes[1][2]} ({sizes[1][1]}×{sizes[1][0]}); median of {repeats} run(s), seconds, "
             f"methods interleaved in one process; 1-minute load average at the end: {load:.1f} "
             f"on {os.cpu_count()} CPUs (other work on the machine slows every method alike).", "",
             f"| method | {sizes[0][2]} (s) | {sizes[1][2]} (s) | source |", "|---|---|---|---|"]
    for name in names:
        lines.append(f"| {name} | {results[0][name]:.3f} | {results[1][name]:.3f} | {METHODS[name].source} |")
    lines.append(f"| {SNAPPED} | {results[0][SNAPPED]:.3f} | {results[1][SNAPPED]:.3f} | the mask snapped to the "
                 "photo's edges (closed-form matting in a narrow band, compositing.matte.snap_matte), then lens |")
    lines.append(f"| {REFINED} | {results[0][REFINED]:.3f} | {results[1][REFINED]:.3f} | the same with the photo's "
                 "grain put back (compositing.grain): the photo path's default |")
    lens_s, prog_s = results[1][REFINED], results[1]["progressive13"]
    ratios = round_ratios(rounds[1], REFINED, "progressive13")
    ratio = statistics.median(ratios)
    lines += ["", f"{REFINED} / progressive13 at {sizes[1][2]}: **{ratio:.2f}×**, the median of the {repeats} rounds' "
              f"ratios ({min(ratios):.2f}–{max(ratios):.2f}×; medians {REFINED} {lens_s:.3f} s, "
              f"progressive13 {prog_s:.3f} s; lens alone {results[1]['lens']:.3f} s; {SNAPPED} "
              f"{statistics.median(round_ratios(rounds[1], SNAPPED, 'progressive13')):.2f}×)", ""]
    if quick:
        lines.append("Quick run (tiny sizes): the 12 MP targets are not checked.")
    else:
        ok_abs, ok_rel = lens_s <= LENS_MAX_S, ratio <= LENS_MAX_RATIO
        lines += [f"- {REFINED} ≤ {LENS_MAX_S} s at 12 MP: {'PASS' if ok_abs else 'FAIL'} ({lens_s:.3f} s)",
                  f"- {REFINED} ≤ {LENS_MAX_RATIO}× progressive13 at 12 MP: {'PASS' if ok_rel else 'FAIL'} ({ratio:.2f}×)"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    print(run(quick="--quick" in sys.argv))
