"""Curation on small generated images with known duplicates, near-duplicates, grey and person-less ones."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from datasets.curate import CurateConfig, colour_stats, curate, split_names

MAGENTA = np.array([255, 0, 255])


def fake_segmenter(image: np.ndarray) -> np.ndarray:
    """Stand-in person segmenter: the 'person' is whatever is magenta."""
    return (np.abs(image.astype(int) - MAGENTA).max(-1) < 60).astype(np.float32)


def picture(seed: int, size=(96, 80), person: bool = True) -> np.ndarray:
    """A smooth random colour field (distinct pHash per seed) with a magenta 'person' box."""
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(0, 256, (4, 4, 3)).astype(np.uint8), size, interpolation=cv2.INTER_CUBIC)
    if person:
        w, h = size
        x, y = rng.integers(0, w // 2), rng.integers(0, h // 2)
        img[y: y + h // 2, x: x + w // 2] = MAGENTA
    return img


def save(path: Path, img: np.ndarray, fmt: str | None = None, **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, fmt, **kw)


EXPECTED_REJECTS = {
    "ordinary/a_grey.png": "grayscale",
    "ordinary/a_small.png": "too_small",
    "ordinary/a_bad.jpg": "unreadable",
    "ordinary/a_near.jpg": "dup_near",
    "shallow/b_dup.png": "dup_exact",
    "shallow/b_sepia.png": "grayscale",
    "shallow/b_noperson.png": "no_person",
    "shallow/b_bmp2.bmp": "dup_res_size",
}


def make_scrape(root: Path) -> dict[str, str]:
    """A scrape folder with known cases; returns {domain/name: sha256} of every file."""
    a, b = root / "raw" / "ordinary", root / "raw" / "shallow"
    for i in range(6):
        save(a / f"a{i}.png", picture(i))
        save(b / f"b{i}.png", picture(100 + i))
    grey = cv2.cvtColor(picture(7), cv2.COLOR_RGB2GRAY)
    save(a / "a_grey.png", np.repeat(grey[..., None], 3, -1))
    save(a / "a_small.png", picture(8, size=(40, 30)))
    buf = io.BytesIO()
    Image.fromarray(picture(9)).save(buf, "JPEG")
    (a / "a_bad.jpg").write_bytes(buf.getvalue()[:300])
    save(a / "a_near.jpg", np.clip(picture(0).astype(int) + 4, 0, 255).astype(np.uint8), "JPEG", quality=80)
    (b / "b_dup.png").write_bytes((a / "a1.png").read_bytes())
    lum = cv2.cvtColor(picture(10), cv2.COLOR_RGB2GRAY).astype(float)
    save(b / "b_sepia.png", np.stack([lum, lum * 0.85, lum * 0.65], -1).astype(np.uint8))
    save(b / "b_noperson.png", picture(11, person=False))
    save(b / "b_bmp1.bmp", picture(12))
    save(b / "b_bmp2.bmp", picture(13))
    records = []
    for domain in ("ordinary", "shallow"):
        for p in sorted((root / "raw" / domain).iterdir()):
            title = "<script>alert(1)</script> & ü" if p.name == "a0.png" else f"title {p.stem}"
            records.append({"status": "ok", "domain": domain, "photo_id": p.stem, "file": f"raw/{domain}/{p.name}",
                            "title": title, "license_name": "CC BY 2.0",
                            "page_url": f"https://www.flickr.com/photos/x/{p.stem}"})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return {f"{d}/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest()
            for d in ("ordinary", "shallow") for p in (root / "raw" / d).iterdir()}


def config(tmp_path: Path, **kw) -> CurateConfig:
    settings = dict(raw=str(tmp_path / "scrape"), out=str(tmp_path / "data"), min_side=64,
                    test_size_a=2, test_size_b=3, quiet=True)
    return CurateConfig(**{**settings, **kw})


def all_files(tmp_path: Path) -> dict[str, str]:
    """sha256 of every photo in raw/ and quarantine/, by domain/name."""
    found = {}
    for p in list((tmp_path / "scrape" / "raw").rglob("*.*")) + list((tmp_path / "data" / "quarantine").rglob("*.*")):
        found[f"{p.parent.name}/{p.name}"] = hashlib.sha256(p.read_bytes()).hexdigest()
    return found


def test_colour_rule_flags_grey_and_single_tint_but_not_colour_photos():
    grey = np.repeat(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)[..., None], 3, -1)
    lum = grey[..., 0].astype(float)
    sepia = np.stack([lum, lum * 0.85, lum * 0.65], -1).astype(np.uint8)
    cfg = CurateConfig(raw="", out="")
    assert colour_stats(grey)[0] < cfg.grey_chroma
    chroma, spread = colour_stats(sepia)
    assert chroma > cfg.grey_chroma and spread < cfg.tint_spread  # tinted: caught by the hue spread
    for photo in (data.astronaut(), data.coffee(), data.chelsea()):
        chroma, spread = colour_stats(photo)
        assert chroma >= cfg.grey_chroma and spread >= cfg.tint_spread


def test_curate_rejects_known_cases_moves_never_deletes_and_splits(tmp_path):
    before = make_scrape(tmp_path / "scrape")
    cfg = config(tmp_path)
    result = curate(cfg, segmenter_factory=lambda: fake_segmenter)
    out = Path(cfg.out)
    got = {it.key: it.reason for it in result.items if it.reason}
    assert got == EXPECTED_REJECTS
    # moved, with the same bytes, nothing lost
    assert all_files(tmp_path) == before
    for key, reason in EXPECTED_REJECTS.items():
        domain, name = key.split("/")
        assert (out / "quarantine" / reason / domain / name).is_file()
        assert not (tmp_path / "scrape" / "raw" / domain / name).exists()
    rejects = list(csv.DictReader(open(out / "rejects.csv", encoding="utf-8")))
    assert {f"{r['domain']}/{r['file']}": r["reason"] for r in rejects} == EXPECTED_REJECTS
    assert any("pHash distance" in r["detail"] and "a0.png" in r["detail"] for r in rejects)
    # split: sizes, disjoint, exactly the kept images, identical bytes
    kept_a = {f"a{i}.png" for i in range(6)}
    kept_b = {f"b{i}.png" for i in range(6)} | {"b_bmp1.bmp"}
    names = {s: {p.name for p in (out / s).iterdir()} for s in ("trainA", "testA", "trainB", "testB")}
    assert (len(names["testA"]), len(names["trainA"]), len(names["testB"]), len(names["trainB"])) == (2, 4, 3, 4)
    assert names["testA"] | names["trainA"] == kept_a and names["testB"] | names["trainB"] == kept_b
    assert not names["testA"] & names["trainA"]
    assert (out / "testA" / sorted(names["testA"])[0]).read_bytes() == \
        (tmp_path / "scrape" / "raw" / "ordinary" / sorted(names["testA"])[0]).read_bytes()
    # Table 1
    rows = {r["domain"]: r for r in csv.DictReader(open(out / "summary.csv", encoding="utf-8"))}
    a, b = rows["ordinary (A)"], rows["shallow (B)"]
    assert (a["scraped"], a["rejected: grayscale"], a["rejected: dup_near"], a["retained"]) == ("10", "1", "1", "6")
    assert (b["scraped"], b["rejected: no_person"], b["rejected: dup_exact"], b["retained"]) == ("11", "1", "1", "7")
    assert "| ordinary (A) | 10 |" in (out / "summary.md").read_text()
    # review page: every caption escaped, thumbnails there
    html = (out / "review.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; ü" in html
    assert html.count('type="radio"') == 2 * len(result.items)
    assert len(list((out / "review" / "thumbs").rglob("*.png"))) == len(result.items) - 1  # not the unreadable
    decisions = list(csv.DictReader(open(out / "decisions.csv", encoding="utf-8")))
    assert len(decisions) == len(result.items) and all(d["decision"] == "" for d in decisions)


def test_decisions_are_applied_on_rerun(tmp_path):
    before = make_scrape(tmp_path / "scrape")
    cfg = config(tmp_path)
    curate(cfg, segmenter_factory=lambda: fake_segmenter)
    path = Path(cfg.out) / "decisions.csv"
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    for r in rows:
        if r["file"] == "a_grey.png":
            r["decision"], r["note"] = "keep", "artistic, but colour"
        if r["file"] == "b0.png":
            r["decision"] = "reject"
        if r["file"] == "b1.png":
            r["decision"] = "maybe"  # invalid: reported, ignored
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    result = curate(cfg, segmenter_factory=lambda: pytest.fail("features are cached: no segmenting again"))
    out = Path(cfg.out)
    assert result.problems == 1
    got = {it.key: it.reason for it in result.items if it.reason}
    assert got == {**{k: v for k, v in EXPECTED_REJECTS.items() if k != "ordinary/a_grey.png"},
                   "shallow/b0.png": "manual"}
    assert (tmp_path / "scrape" / "raw" / "ordinary" / "a_grey.png").is_file()
    assert (out / "quarantine" / "manual" / "shallow" / "b0.png").is_file()
    assert not (out / "quarantine" / "grayscale" / "ordinary" / "a_grey.png").exists()
    splits = {s: {p.name for p in (out / s).iterdir()} for s in ("trainA", "testA", "trainB", "testB")}
    assert "a_grey.png" in splits["trainA"] | splits["testA"] and len(splits["trainA"] | splits["testA"]) == 7
    assert "b0.png" not in splits["trainB"] | splits["testB"] and len(splits["trainB"] | splits["testB"]) == 6
    assert all_files(tmp_path) == before
    kept_note = [r for r in csv.DictReader(open(path, encoding="utf-8")) if r["file"] == "a_grey.png"][0]
    assert (kept_note["decision"], kept_note["note"]) == ("keep", "artistic, but colour")
    rows = {r["domain"]: r for r in csv.DictReader(open(out / "summary.csv", encoding="utf-8"))}
    assert rows["shallow (B)"]["rejected: manual"] == "1" and rows["ordinary (A)"]["retained"] == "7"


def test_dry_run_moves_and_writes_nothing(tmp_path):
    before = make_scrape(tmp_path / "scrape")
    result = curate(config(tmp_path, dry_run=True), segmenter_factory=lambda: fake_segmenter)
    assert {it.key: it.reason for it in result.items if it.reason} == EXPECTED_REJECTS
    assert not (tmp_path / "data").exists()
    assert {f"{p.parent.name}/{p.name}" for p in (tmp_path / "scrape" / "raw").rglob("*.*")} == set(before)


def test_split_is_deterministic_seeded_and_stable_under_one_addition():
    names = [f"{i}.jpg" for i in range(200)]
    train, test = split_names(names, "ordinary", 20, seed=0)
    assert (train, test) == split_names(list(reversed(names)), "ordinary", 20, seed=0)
    assert len(test) == 20 and set(train) | set(test) == set(names)
    assert split_names(names, "ordinary", 20, seed=1)[1] != test
    train2, test2 = split_names(names + ["new.jpg"], "ordinary", 20, seed=0)
    assert len(set(test) - set(test2)) <= 1


def test_real_mediapipe_keeps_the_portrait_and_rejects_the_rocket(tmp_path):
    # (the selfie model is eager: it calls cats and coins "person"; a rocket launch it does not)
    shallow = tmp_path / "scrape" / "raw" / "shallow"
    save(shallow / "astronaut.png", cv2.resize(data.astronaut(), (192, 192), interpolation=cv2.INTER_AREA))
    save(shallow / "rocket.png", cv2.resize(data.rocket(), (240, 160), interpolation=cv2.INTER_AREA))
    (tmp_path / "scrape" / "raw" / "ordinary").mkdir(parents=True)
    result = curate(config(tmp_path, test_size_b=0, test_size_a=0))  # default segmenter: mediapipe
    reasons = {it.name: it.reason for it in result.items}
    assert reasons == {"astronaut.png": None, "rocket.png": "no_person"}
    person = {it.name: it.features["person"] for it in result.items}
    assert person["astronaut.png"] > 0.3 and person["rocket.png"] < 0.01


def test_command_line_writes_config_and_reports_bad_decisions(tmp_path, capsys):
    from scripts.curate import main

    make_scrape(tmp_path / "scrape")
    args = ["--raw", str(tmp_path / "scrape"), "--out", str(tmp_path / "data"), "--min-side", "64",
            "--min-person-fraction", "0", "--test-size-a", "1", "--test-size-b", "1", "--seed", "3"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| ordinary (A) | 10 | 10 |" in printed
    saved = json.loads((tmp_path / "data" / "curate_config.json").read_text())
    assert (saved["seed"], saved["min_person_fraction"], saved["phash_threshold"]) == (3, 0.0, 6)
    decisions = tmp_path / "data" / "decisions.csv"
    decisions.write_text(decisions.read_text().replace("a0.png,keep,,,", "a0.png,keep,,perhaps,"))
    assert main(args + ["--quiet"]) == 1
    assert main(["--raw", str(tmp_path / "nowhere"), "--out", str(tmp_path / "d2")]) == 2


def test_exif_model_rule_for_domain_a_and_exif_recorded(tmp_path):
    def jpeg_with_exif(path: Path, img: np.ndarray, model: str | None, f_number: float) -> None:
        exif = Image.Exif()
        if model:
            exif[0x010F], exif[0x0110] = "Apple", model
        exif.get_ifd(0x8769)[0x829D] = f_number
        exif.get_ifd(0x8769)[0x920A] = 3.99
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(path, "JPEG", quality=92, exif=exif)

    raw = tmp_path / "scrape" / "raw"
    jpeg_with_exif(raw / "ordinary" / "iphone.jpg", picture(1), "iPhone 7", 1.8)
    jpeg_with_exif(raw / "ordinary" / "canon.jpg", picture(2), "Canon EOS 5D", 2.8)
    jpeg_with_exif(raw / "ordinary" / "none.jpg", picture(3), None, 2.2)
    jpeg_with_exif(raw / "shallow" / "canon.jpg", picture(4), "Canon EOS 5D", 1.4)  # B is not checked
    result = curate(config(tmp_path, exif_model="iPhone 7", test_size_a=0, test_size_b=0),
                    segmenter_factory=lambda: fake_segmenter)
    assert {it.key: it.reason for it in result.items} == {
        "ordinary/iphone.jpg": None, "ordinary/canon.jpg": "exif_model", "ordinary/none.jpg": "exif_model",
        "shallow/canon.jpg": None}
    rows = {f"{r['domain']}/{r['file']}": r for r in csv.DictReader(open(tmp_path / "data" / "features.csv"))}
    assert (rows["ordinary/iphone.jpg"]["model"], rows["ordinary/iphone.jpg"]["f_number"]) == ("iPhone 7", "1.8")
    assert (rows["shallow/canon.jpg"]["f_number"], rows["shallow/canon.jpg"]["focal_length"]) == ("1.4", "3.99")
