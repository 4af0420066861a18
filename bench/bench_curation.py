"""Curation accuracy: does each rule reject what it should and keep real portraits?

    python bench/bench_curation.py PHOTOS      # PHOTOS laid out like the team's real photos:
                                               # PHOTOS/ordinary/*.png and PHOTOS/shallow/*.png
    python scripts/benchmark.py --only curation --photos PHOTOS

Every scenario is a fresh scrape folder (``raw/ordinary``, ``raw/shallow``) curated with the
defaults of scripts/curate.py (``--min-side 200``, the MediaPipe person check). The expected
outcome of each photo comes from how it was made, never from the rules:

* ``real``: the photos as JPEG q95. Expected keep, except a photo whose lossless source has equal
  R, G and B everywhere (black-and-white), expected ``grayscale``.
* ``same size``: the same photos as BMP, so every file of a resolution has the same byte count
  (the case where the paper's resolution-and-size rule fires by chance), plus a touched copy
  (+2 grey levels, same size) of every tenth photo: those copies are expected ``dup_res_size``.
* ``copies``: the JPEGs plus, for every fifth photo, a copy resized to 240 px at q80 (expected
  ``dup_near``) and, for every tenth ordinary photo, a byte copy in the shallow domain (``dup_exact``).
* variants of the colour photos, one run each: desaturated to a mean Lab chroma of 2.9 and 4.0
  (overcast and low-light colour photos: keep), grey, sepia, cyanotype and
  split-toned (``grayscale``).
* ``skimage``: scikit-image's bundled photos (no folder needed), scaled up to 256 px where
  smaller. The astronaut and datasets/testing/people.py photos are people (keep); the others and
  procedural scenes without their subject are not (``no_person``, or ``grayscale`` for the ones
  stored as grey images; the retina is a colour photo, so ``grayscale`` for it is a wrong reason).

The report is numbers only: a confusion table (expected × got), per rule its hits, misses and
false rejects, the colour statistics of each variant, and the time per 1,000 photos.
"""
from __future__ import annotations

import csv
import io
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np
from PIL import Image

LABELS = ("keep", "grayscale", "dup_exact", "dup_res_size", "dup_near", "no_person")
Photo = tuple[str, str, bytes, str]  # (domain, file name, encoded bytes, expected label)


def _encode(image: np.ndarray, fmt: str, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return buf.getvalue()


def load_photos(folder: Path) -> list[tuple[str, str, np.ndarray, bool]]:
    """(domain, stem, RGB image, black-and-white) for PHOTOS/ordinary and PHOTOS/shallow."""
    found = []
    for domain in ("ordinary", "shallow"):
        for path in sorted((folder / domain).glob("*.png")):
            rgb = np.asarray(Image.open(path).convert("RGB"))
            bw = int(np.abs(np.diff(rgb.astype(int), axis=-1)).max()) <= 2
            found.append((domain, path.stem, rgb, bw))
    return found


def _lab_scale(image: np.ndarray, chroma: float) -> np.ndarray:
    lab = cv2.cvtColor(image.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    lab[..., 1:] *= chroma / max(float(np.hypot(lab[..., 1], lab[..., 2]).mean()), 1e-6)
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB) * 255 + 0.5, 0, 255).astype(np.uint8)


def _tone(image: np.ndarray, stops: list[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    """Grey level mapped through colour ``stops`` (position in [0, 1], RGB), piecewise linearly."""
    g = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    xs = [p for p, _ in stops]
    return np.stack([np.interp(g, xs, [c[k] for _, c in stops]) for k in range(3)], -1).astype(np.uint8)


VARIANTS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "desaturated to chroma 2.9": (lambda im: _lab_scale(im, 2.9), "keep"),
    "desaturated to chroma 4.0": (lambda im: _lab_scale(im, 4.0), "keep"),
    "grey": (lambda im: np.repeat(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)[..., None], 3, -1), "grayscale"),
    "sepia": (lambda im: _tone(im, [(0, (40, 26, 13)), (1, (255, 240, 200))]), "grayscale"),
    "cyanotype": (lambda im: _tone(im, [(0, (0, 30, 70)), (1, (220, 240, 255))]), "grayscale"),
    "split-toned": (lambda im: _tone(im, [(0, (20, 40, 90)), (0.5, (128, 128, 128)), (1, (255, 225, 180))]),
                    "grayscale"),
}


def real_scenarios(folder: Path) -> dict[str, list[Photo]]:
    """The scenarios built from a folder of real photos (see the module docstring)."""
    photos = load_photos(folder)
    jpegs = [(d, f"{s}.jpg", _encode(im, "JPEG"), "grayscale" if bw else "keep") for d, s, im, bw in photos]
    same_size = [(d, f"{s}.bmp", _encode(im, "BMP"), "grayscale" if bw else "keep") for d, s, im, bw in photos]
    same_size += [(d, f"{s}_touched.bmp", _encode(np.clip(im.astype(int) + 2, 0, 255).astype(np.uint8), "BMP"),
                   "dup_res_size") for i, (d, s, im, bw) in enumerate(photos) if i % 10 == 0 and not bw]
    copies = list(jpegs)
    for i, (d, s, im, bw) in enumerate(photos):
        if bw:
            continue
        if i % 5 == 0:
            small = cv2.resize(im, (240, 240), interpolation=cv2.INTER_AREA)
            copies.append((d, f"{s}_small.jpg", _encode(small, "JPEG", 80), "dup_near"))
        if i % 10 == 0 and d == "ordinary":
            copies.append(("shallow", f"{s}_copy.jpg", _encode(im, "JPEG"), "dup_exact"))
    scenarios = {"real": jpegs, "same size (BMP)": same_size, "copies": copies}
    colour = [(d, s, im) for d, s, im, bw in photos if not bw]
    for name, (make, label) in VARIANTS.items():
        scenarios[name] = [(d, f"{s}.jpg", _encode(make(im), "JPEG"), label) for d, s, im in colour]
    return scenarios


def skimage_scenario() -> list[Photo]:
    """scikit-image's photos, datasets/testing/people.py photos and person-less procedural scenes."""
    from datasets.testing.people import NO_PERSON, background_only, person_photo, skimage_rgb

    def photo(name: str) -> bytes:  # at least 256 px on the short side, above --min-side
        image = skimage_rgb(name)
        scale = max(1.0, 256 / min(image.shape[:2]))
        if scale > 1:
            image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                               interpolation=cv2.INTER_CUBIC)
        return _encode(image, "JPEG")

    grey = {"brick", "gravel", "grass", "moon", "page", "text", "clock", "microaneurysms", "cell", "coins", "horse"}
    found = [("shallow", f"{n}.jpg", photo(n), "grayscale" if n in grey else "no_person")
             for n in sorted(set(NO_PERSON) | grey)]
    found.append(("shallow", "astronaut.jpg", photo("astronaut"), "keep"))
    for seed in range(10):
        found.append(("ordinary", f"person{seed}.jpg", _encode(person_photo(seed, (256, 256)), "JPEG"), "keep"))
        found.append(("ordinary", f"scene{seed}.jpg", _encode(background_only(seed), "JPEG"), "no_person"))
    return found


def curate_scenario(photos: list[Photo], root: Path, check_factory: Callable) -> tuple[dict, float, Path]:
    """Curate ``photos`` in ``root``; ({domain/name: (expected, got, detail)}, seconds, output folder)."""
    from datasets.curate import CurateConfig, curate

    for domain, name, data, _ in photos:
        path = root / "raw" / domain / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "raw" / "ordinary").mkdir(parents=True, exist_ok=True)
    (root / "raw" / "shallow").mkdir(parents=True, exist_ok=True)
    cfg = CurateConfig(raw=str(root), out=str(root / "out"), min_side=200, test_size_a=5, test_size_b=5, quiet=True)
    start = time.perf_counter()
    result = curate(cfg, check_factory)
    seconds = time.perf_counter() - start
    expected = {f"{d}/{n}": label for d, n, _, label in photos}
    return ({it.key: (expected[it.key], it.reason or "keep", it.detail) for it in result.items},
            seconds, Path(cfg.out))


def _confusion(outcomes: list[tuple[str, str]]) -> list[str]:
    counts = Counter(outcomes)
    got_labels = [g for g in LABELS if any(k[1] == g for k in counts)] + \
        sorted({g for _, g in counts} - set(LABELS))
    lines = ["| expected \\ got | " + " | ".join(got_labels) + " |", "|---|" + "---|" * len(got_labels)]
    for e in LABELS:
        if any(k[0] == e for k in counts):
            lines.append(f"| {e} | " + " | ".join(str(counts[(e, g)]) for g in got_labels) + " |")
    return lines


def _per_rule(outcomes: list[tuple[str, str]]) -> list[str]:
    lines = ["| rule | should reject | rejected by it | missed | false rejects (photo expected otherwise) |",
             "|---|---|---|---|---|"]
    for rule in LABELS[1:]:
        should = sum(e == rule for e, _ in outcomes)
        hit = sum(e == rule and g == rule for e, g in outcomes)
        false = sum(g == rule and e != rule for e, g in outcomes)
        lines.append(f"| {rule} | {should} | {hit} | {should - hit} | {false} |")
    return lines


def _colour_table(folder: Path) -> list[str]:
    from datasets.curate import colour_stats

    photos = load_photos(folder)
    rows = [("real colour photos", [_encode(im, "JPEG") for _, _, im, bw in photos if not bw]),
            ("real black-and-white photos", [_encode(im, "JPEG") for _, _, im, bw in photos if bw])]
    colour = [im for _, _, im, bw in photos if not bw]
    rows += [(name, [_encode(make(im), "JPEG") for im in colour]) for name, (make, _) in VARIANTS.items()]
    lines = ["| photos (JPEG q95) | n | mean chroma | colour spread | spread / chroma |", "|---|---|---|---|---|"]
    for name, encoded in rows:
        if not encoded:
            continue
        stats = np.array([colour_stats(np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))) for b in encoded])
        ratio = stats[:, 1] / np.maximum(stats[:, 0], 1e-9)
        lines.append(f"| {name} | {len(encoded)} | {stats[:, 0].min():.2f}–{stats[:, 0].max():.2f} | "
                     f"{stats[:, 1].min():.2f}–{stats[:, 1].max():.2f} | {ratio.min():.3f}–{ratio.max():.3f} |")
    return lines


def run(quick: bool = False, photos: Optional[Path] = None) -> str:
    """Markdown section: curation accuracy per scenario and rule, on ``photos`` (or scikit-image's alone).

    ``quick`` keeps only the real photos as they are (no BMP, copies or colour variants)."""
    from segdepth.person import person_check_factory

    check = person_check_factory()()  # one set of models for every scenario, loaded before timing
    scenarios: dict[str, list[Photo]] = {}
    if photos is not None:
        if not (photos / "ordinary").is_dir() or not (photos / "shallow").is_dir():
            raise FileNotFoundError(f"{photos}: needs ordinary/ and shallow/ folders of PNG photos")
        built = real_scenarios(photos)
        scenarios.update({"real": built["real"]} if quick else built)
    scenarios["skimage"] = skimage_scenario()
    lines = ["### Curation accuracy", "",
             "Each scenario curated with the defaults (bench/bench_curation.py says how each is made)"
             + ("" if photos is not None else "; no real photos given (--photos), scikit-image's only") + ".", "",
             "| scenario | photos | false rejects | missed rejects | wrong reason | seconds | s per 1,000 |",
             "|---|---|---|---|---|---|---|"]
    everything: list[tuple[str, str]] = []
    evidence_rows = evidence_ok = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, items) in enumerate(scenarios.items()):
            outcome, seconds, out = curate_scenario(items, Path(tmp) / str(n), lambda: check)
            pairs = [(e, g) for e, g, _ in outcome.values()]
            everything += pairs
            false = sum(e == "keep" and g != "keep" for e, g in pairs)
            missed = sum(e != "keep" and g == "keep" for e, g in pairs)
            wrong = sum(e != "keep" and g not in ("keep", e) for e, g in pairs)
            lines.append(f"| {name} | {len(pairs)} | {false} | {missed} | {wrong} | {seconds:.1f} | "
                         f"{seconds * 1000 / len(pairs):.1f} |")
            with open(out / "rejects.csv", newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    evidence_rows += 1
                    evidence_ok += bool(row["reason"] and row["detail"])
    lines += ["", "All scenarios together:", ""] + _confusion(everything) + ["", "Per rule:", ""] + _per_rule(everything)
    lines += ["", f"rejects.csv rows naming a rule and its evidence: {evidence_ok} of {evidence_rows}."]
    if photos is not None:
        lines += ["", "Colour statistics (datasets.curate.colour_stats) of the real photos and their variants; "
                  "the grayscale rule rejects mean chroma < 1.0, colour spread < 0.65, or spread / chroma < 0.12:",
                  ""] + _colour_table(photos)
    check.close()
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(run(photos=Path(sys.argv[1]) if len(sys.argv) > 1 else None))
