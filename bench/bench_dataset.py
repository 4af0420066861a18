"""Dataset builder speed: scraper downloads from a local fake Flickr, and curation per 1,000 images.

Downloads: the fake server (datasets/testing/fake_flickr.py, 127.0.0.1) answers every image request after
50 ms of added latency; the whole scrape (search pages + verified downloads + manifest) is timed
for 1, 4 and 16 download workers. Curation: JPEG (q95) photos of a real person at 256, 640 and
1024 px (Flickr's usual long side) through every rule with the real person check (MediaPipe mask,
face detection, and the pose for photos without a face); the first run computes features, the
second reads them from the cache. Reported per size: seconds and CPU seconds (user + system, all
threads) per 1,000 photos. To rerun only this, ``python bench/bench_dataset.py --curation [N]``
(N photos per size, default 1,000). The photos are datasets/testing/people.py's (each distinct) made at 256 px,
scaled up to each size with a little sensor-like noise (σ 2 grey levels), so that a 1024-px file
decodes like a photo rather than a smooth upscale (making them at 1024 px costs 3.6 s each).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

LATENCY_S = 0.05
CURATION_SIDES = (256, 640, 1024)


def _download_rate(n_photos: int, workers: int, root: Path) -> tuple[float, int]:
    from datasets.flickr import ScrapeConfig, scrape
    from plumbing.files import read_jsonl
    from datasets.testing.fake_flickr import FakeFlickr, make_photos

    photos = make_photos(n_photos, seed=workers, image_size=(320, 240))
    with FakeFlickr(photos, api_key="bench", image_latency_s=LATENCY_S) as fake:
        cfg = ScrapeConfig(out=str(root / f"w{workers}"), per_domain=n_photos, api_url=fake.api_url,
                           workers=workers, calls_per_hour=10**6, per_page=100, quiet=True,
                           min_upload=1_400_000_000, max_upload=1_700_000_000,
                           domains=[{"name": "shallow", "text": "portrait bokeh"}])
        start = time.perf_counter()
        scrape(cfg, "bench")
        elapsed = time.perf_counter() - start
    got = sum(r["status"] == "ok" for r in read_jsonl(Path(cfg.out) / "manifest.jsonl"))
    return elapsed, got


def make_images(root: Path, n: int, sides: tuple[int, ...] = CURATION_SIDES) -> None:
    """``root/SIDE/raw/{ordinary,shallow}/*.jpg``: the same ``n`` distinct person photos at each side."""
    from datasets.testing.people import person_photo

    for i in range(n):
        domain, seed = ("ordinary", i) if i % 2 == 0 else ("shallow", 100_000 + i)
        base = person_photo(seed, (256, 256))
        noise = np.random.default_rng(seed)
        for side in sides:
            image = cv2.resize(base, (side, side), interpolation=cv2.INTER_CUBIC) if side != 256 else base
            image = np.clip(image + noise.normal(0, 2, image.shape), 0, 255).astype(np.uint8)
            folder = root / str(side) / "raw" / domain
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{i}.jpg", quality=95)


def _cpu_seconds() -> float:
    """User + system CPU time of this process (all its threads) and its waited-for children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def curation_times(scrape: Path, root: Path, person_check: bool = True) -> tuple[float, float, float, float]:
    """(person check load s, first run s, first run CPU s, cached rerun s) of curating a copy of the
    scrape folder ``scrape`` in ``root``; imports and model load happen before timing."""
    import dominate  # noqa: F401  (import cost is not curation cost)

    from datasets.curate import CurateConfig, curate
    from segdepth.person import person_check_factory

    shutil.copytree(scrape, root / "scrape", copy_function=os.link)  # curate moves rejects out of it
    n = len(list((root / "scrape" / "raw").rglob("*.jpg")))
    cfg = CurateConfig(raw=str(root / "scrape"), out=str(root / "data"), min_side=64, test_size_a=n // 20,
                       test_size_b=n // 20, quiet=True, min_person_fraction=0.05 if person_check else 0.0)
    start = time.perf_counter()
    check = person_check_factory(cfg.segmenter, cfg.min_face_score, cfg.min_on_mask)() if person_check else None
    load = time.perf_counter() - start
    start, cpu = time.perf_counter(), _cpu_seconds()
    curate(cfg, person_check_factory=lambda: check)
    first, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    start = time.perf_counter()
    curate(cfg, person_check_factory=lambda: check)
    return load, first, cpu, time.perf_counter() - start


def run(quick: bool = False) -> str:
    """Markdown section with download throughput (1/4/16 workers) and curation time per 1,000 images."""
    n_photos = 8 if quick else 96
    n_curate = 20 if quick else 1000
    lines = ["### Dataset builder (scraper and curation)", "",
             f"Downloads from the local fake Flickr, {int(LATENCY_S * 1000)} ms added latency per image, "
             f"{n_photos} photos of 320×240 per run (search, stream, verify, rename, manifest).", "",
             "| workers | photos | seconds | images/s | speed-up vs 1 worker |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        base = None
        for workers in (1, 4, 16):
            elapsed, got = _download_rate(n_photos, workers, Path(tmp))
            rate = got / elapsed
            base = base or rate
            lines.append(f"| {workers} | {got} | {elapsed:.2f} | {rate:.1f} | {rate / base:.2f}× |")
        lines += ["", *curation_lines(n_curate, Path(tmp) / "curate", quick)]
    return "\n".join(lines)


def curation_lines(n: int, root: Path, quick: bool) -> list[str]:
    """The curation speed table: ``n`` photos at each of CURATION_SIDES, first run and cached rerun."""
    make_images(root / "photos", n)
    scale = 1000 / n
    rows, loads, load_avg = [], [], [os.getloadavg()[0]]
    for side in CURATION_SIDES:
        load, first, cpu, cached = curation_times(root / "photos" / str(side), root / f"run{side}",
                                                  person_check=not quick)
        loads.append(load)
        load_avg.append(os.getloadavg()[0])
        rows.append(f"| {side}×{side} | {n} | {first:.2f} | {first * scale:.1f} | {cpu * scale:.1f} | {cached:.2f} | "
                    f"{cached * scale:.1f} |")
    if quick:
        what = "every rule but the person check (quick mode: no MediaPipe)"
    else:
        what = (f"every rule and the person check (MediaPipe mask + face, pose when no face); the models' "
                f"one-time import and load ({min(loads):.1f}–{max(loads):.1f} s) are not included")
    return [f"Curation of JPEG photos of a person (q95), {what}; measured on {n} images per size and "
            f"scaled to 1,000, on {os.cpu_count()} CPUs with a 1-minute load average of "
            f"{min(load_avg):.1f}–{max(load_avg):.1f} (above about 1, other jobs share the CPUs and the "
            "seconds grow; the CPU time, user + system of every thread, much less):", "",
            "| size | images | first run s | per 1,000 images s | CPU s per 1,000 | rerun (cached features) s | "
            "per 1,000 s |", "|---|---|---|---|---|---|---|", *rows, ""]


def main(argv: list[str]) -> str:
    """``--curation [N]``: the curation speed table alone (N photos per size); else the whole
    section, small unless ``--full``."""
    if "--curation" in argv:
        rest = argv[argv.index("--curation") + 1:]
        with tempfile.TemporaryDirectory() as tmp:
            return "\n".join(curation_lines(int(rest[0]) if rest else 1000, Path(tmp), quick=False))
    return run(quick="--full" not in argv)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's packages first
    print(main(sys.argv[1:]))
