"""Local app latency: the first render of an opened photo and a preview after a control change, at 1 MP and 12 MP.

Input: a portrait with a real face (datasets.testing.people.person_photo: scikit-image's astronaut
on a procedural scene) made at 1155×866 (1 MP) and 4000×3000 (12 MP), sensor-like noise added
(σ = 2.5 code values, as bench_compositing), saved as a JPEG (quality 92) that the app opens.
Timed through the page's callbacks (evaluation.app_ui.Callbacks) as one upload and one control
change run them, without the web framework's transport on 127.0.0.1 and the browser's drawing, after
the one-time warm-up the app runs when it starts (evaluation.app.warm_up: the networks, the
matting's compiled kernels, the grain's tables):

- first render: open the file (decode, EXIF, the preview copy at ``--preview-side`` 1024 px, the
  segmenter's mask and the faces on it) and render the default lens (mask snap, i.e. closed-form
  matting, the depth prior, the lens with the photo's grain), with the page's JPEG previews written;
- preview after a change: each of ``CHANGES`` (strength, blades, rotation, highlight boost, grain,
  the f-number of the virtual lens, a tap that moves the focus, another method) from the last,
  every one a new render (no cached result), with its previews written; the median and the slowest.

Target: a preview ≤ 0.5 s at 12 MP on 2 cores after the first render. A save at full
resolution (the blur program on the whole photo) is timed for reference, without a target.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from compositing.lens import LensParams

TARGET_S = 0.5
SIZES = {"1 MP": (866, 1155), "12 MP": (3000, 4000)}

# (what the user changed, settings after it, a tap in preview pixels or None)
CHANGES = (
    (f"strength {LensParams().strength:g} → 0.012", dict(strength=0.012), None),
    ("6 blades", dict(strength=0.012, blades=6), None),
    ("blade rotation 20°", dict(strength=0.012, blades=6, rotation_deg=20.0), None),
    ("highlight boost 10", dict(strength=0.012, blades=6, rotation_deg=20.0, highlight_gain=10.0), None),
    ("grain off", dict(strength=0.012, blades=6, rotation_deg=20.0, highlight_gain=10.0, grain=False), None),
    ("f-number mode, f/1.8", dict(aperture="f_number", f_number=1.8), None),
    ("f/2.8", dict(aperture="f_number", f_number=2.8), None),
    ("50 mm lens", dict(aperture="f_number", f_number=2.8, focal_length_mm=50.0), None),
    ("tap the background", dict(aperture="f_number", f_number=2.8, focal_length_mm=50.0), (0.9, 0.1)),
    ("method progressive13", dict(method="progressive13"), None),
)


def _photo(folder: Path, name: str, size: tuple[int, int]) -> Path:
    from datasets.testing.people import person_photo

    image = person_photo(3, size)
    noise = np.random.default_rng(0).standard_normal(image.shape[:2], dtype=np.float32) * np.float32(2.5)
    image = cv2.add(image, cv2.merge([noise] * 3), dtype=cv2.CV_8U)
    path = folder / f"{name}.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def _measure(path: Path, folder: Path, quick: bool) -> dict:
    """Seconds of the first render, of each change and of one full-resolution save."""
    from evaluation import app as A
    from evaluation import app_save as S
    from evaluation.app_ui import NO_B, Callbacks, PageConfig

    cb = Callbacks(PageConfig(folder / "saved", folder / "tmp"), A.Models())
    A.warm_up(cb.models)  # outside the timings: the app does it once when it starts
    start = time.perf_counter()
    session, _, ok = cb.open_file(str(path), None)
    assert ok, path
    opened = time.perf_counter() - start
    cb.views(session, A.Settings(), "result", NO_B)
    first = time.perf_counter() - start
    changes, cpu = {}, {}
    for label, settings, tap in CHANGES[:3] if quick else CHANGES:
        start, cpu_start = time.perf_counter(), time.process_time()
        if tap is not None:
            h, w = session.photo.preview.shape[:2]
            session.tap(tap[0] * w, tap[1] * h)
        cb.views(session, A.Settings(**settings), "result", NO_B)
        changes[label], cpu[label] = time.perf_counter() - start, time.process_time() - cpu_start
    start = time.perf_counter()
    S.save(session, A.Settings(), cb.models, folder / "saved")
    saved = time.perf_counter() - start
    preview, size = session.photo.preview.shape[:2], session.photo.image.shape[:2]
    return {"open": opened, "first": first, "changes": changes, "cpu": cpu, "save": saved, "preview": preview, "size": size,
            "faces": len(session.photo.faces)}


def run(quick: bool = False) -> str:
    """Markdown section: first-render and preview latency at 1 MP and 12 MP, against the target."""
    rows = {}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, size in SIZES.items():
            if quick:
                size = (size[0] // 8, size[1] // 8)
            rows[name] = _measure(_photo(folder, name.replace(" ", ""), size), folder / name.replace(" ", ""), quick)
    load_after = os.getloadavg()[0]
    big = rows["12 MP"]
    median_big = statistics.median(big["changes"].values())
    lines = [
        "### Local app latency (1 MP and 12 MP)",
        "",
        f"Through the page's callbacks (evaluation.app_ui), preview at most 1024 px a side; {len(big['changes'])} "
        f"control changes per size, each a new render. 1-minute load average {load_before:.1f} before, "
        f"{load_after:.1f} after, on {os.cpu_count()} CPUs (other work on the machine slows every figure).",
        "",
        "Quick mode (photos an eighth of the size): no verdict on the target." if quick else
        f"Target: a preview ≤ {TARGET_S} s at 12 MP after the first render: "
        f"**{'met' if median_big <= TARGET_S else 'NOT met'}** by the median ({median_big:.2f} s), "
        f"slowest change {max(big['changes'].values()):.2f} s.",
        "",
        "| photo | size | preview | faces | open (s) | first render (s) | change, median (s) | change, slowest (s) "
        "| change, CPU median (s) | save at full size (s) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        times = list(r["changes"].values())
        lines.append(f"| {name} | {r['size'][1]}×{r['size'][0]} | {r['preview'][1]}×{r['preview'][0]} | {r['faces']} "
                     f"| {r['open']:.2f} | {r['first']:.2f} | {statistics.median(times):.2f} | {max(times):.2f} "
                     f"| {statistics.median(r['cpu'].values()):.2f} | {r['save']:.2f} |")
    lines += ["", "| change | " + " | ".join(f"{n}: wall / CPU (s)" for n in rows) + " |", "|---|" + "---:|" * len(rows)]
    for label in big["changes"]:
        lines.append(f"| {label} | " + " | ".join(f"{r['changes'][label]:.2f} / {r['cpu'][label]:.2f}"
                                                 for r in rows.values()) + " |")
    lines += ["", "Open: decode, preview copy, segmenter and faces on the copy. First render: open, then the "
              "mask snap (closed-form matting), the depth prior and the lens, with the previews written as JPEG. "
              "CPU: the process's CPU time over all its threads, which other processes' load barely moves "
              "(on a machine to itself a change takes about this long, or less where two threads share it)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
