"""Dataset builder speed: scraper downloads from a local fake Flickr, and curation per 1,000 images.

Downloads: the fake server (tests/fake_flickr.py, 127.0.0.1) answers every image request after
50 ms of added latency; the whole scrape (search pages + verified downloads + manifest) is timed
for 1, 4 and 16 download workers. Curation: 256×256 JPEG (q95) photos of a real person
(tests/people.py, each distinct) through every rule with the real person check (MediaPipe mask,
face detection, and the pose for photos without a face); the first run computes features, the
second reads them from the cache.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from PIL import Image

LATENCY_S = 0.05


def _download_rate(n_photos: int, workers: int, root: Path) -> tuple[float, int]:
    from datasets.flickr import ScrapeConfig, read_manifest, scrape
    from tests.fake_flickr import FakeFlickr, make_photos

    photos = make_photos(n_photos, seed=workers, image_size=(320, 240))
    with FakeFlickr(photos, api_key="bench", image_latency_s=LATENCY_S) as fake:
        cfg = ScrapeConfig(out=str(root / f"w{workers}"), per_domain=n_photos, api_url=fake.api_url,
                           workers=workers, calls_per_hour=10**6, per_page=100, quiet=True,
                           min_upload=1_400_000_000, max_upload=1_700_000_000,
                           domains=[{"name": "shallow", "text": "portrait bokeh"}])
        start = time.perf_counter()
        scrape(cfg, "bench")
        elapsed = time.perf_counter() - start
    got = sum(r["status"] == "ok" for r in read_manifest(Path(cfg.out) / "manifest.jsonl"))
    return elapsed, got


def _make_images(root: Path, n: int) -> None:
    from tests.people import person_photo

    for domain in ("ordinary", "shallow"):
        folder = root / "raw" / domain
        folder.mkdir(parents=True)
        for i in range(n // 2):
            seed = i if domain == "ordinary" else 100_000 + i
            Image.fromarray(person_photo(seed, (256, 256))).save(folder / f"{i}.jpg", quality=95)


def _curation_times(n: int, root: Path, person_check: bool) -> tuple[float, float, float]:
    """(person check load s, first run s, cached rerun s); imports and model load happen before timing."""
    import dominate  # noqa: F401  (import cost is not curation cost)

    from datasets.curate import CurateConfig, curate
    from segdepth.person import person_check_factory

    _make_images(root / "scrape", n)
    cfg = CurateConfig(raw=str(root / "scrape"), out=str(root / "data"), min_side=64, test_size_a=n // 20,
                       test_size_b=n // 20, quiet=True, min_person_fraction=0.05 if person_check else 0.0)
    start = time.perf_counter()
    check = person_check_factory(cfg.segmenter, cfg.min_face_score, cfg.min_on_mask)() if person_check else None
    load = time.perf_counter() - start
    start = time.perf_counter()
    curate(cfg, person_check_factory=lambda: check)
    first = time.perf_counter() - start
    start = time.perf_counter()
    curate(cfg, person_check_factory=lambda: check)
    return load, first, time.perf_counter() - start


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
        load, first, cached = _curation_times(n_curate, Path(tmp) / "curate", person_check=not quick)
    scale = 1000 / n_curate
    if quick:
        what = (f"every rule but the person check (quick mode: no MediaPipe; measured on {n_curate} images "
                f"and scaled ×{scale:.0f} to 1,000)")
    else:
        what = (f"every rule and the person check (MediaPipe mask + face, pose when no face); the models' "
                f"one-time import and load ({load:.1f} s) are not included")
    lines += ["", f"Curation of 256×256 JPEG photos of a person, {what}:", "",
              "| images | first run s | per 1,000 images s | rerun (cached features) s | per 1,000 s |",
              "|---|---|---|---|---|",
              f"| {n_curate} | {first:.2f} | {first * scale:.1f} | {cached:.2f} | {cached * scale:.1f} |", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fake_flickr
    print(run(quick="--full" not in sys.argv))
