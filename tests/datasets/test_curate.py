"""Curation with known duplicates, near-duplicates, grey and person-less images; the person check on
scikit-image's photos. Photos that must pass the person check are real (datasets/testing/people.py: the astronaut)."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from datasets.curate import CurateConfig, colour_stats, curate, grayscale_reason, split_names
from segdepth.person import WORK_SIDE, person_check_factory
from datasets.testing.people import NO_PERSON, background_only, person_photo, skimage_rgb

PERSON_CHECK = person_check_factory()
SIZE = (256, 256)  # at 128 px the selfie mask often misses the small astronaut; at 256 it finds 79 of seeds 0-39, 100-139


def picture(seed: int, person: bool = True) -> np.ndarray:
    """A distinct photo per seed: the astronaut on a procedural background, or the background alone."""
    return person_photo(seed, SIZE) if person else background_only(seed, SIZE)


def desaturate(image: np.ndarray, chroma: float) -> np.ndarray:
    """``image`` with its Lab a/b scaled to a mean chroma of ``chroma`` (an overcast-looking colour photo)."""
    lab = cv2.cvtColor(image.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    lab[..., 1:] *= chroma / np.hypot(lab[..., 1], lab[..., 2]).mean()
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB) * 255 + 0.5, 0, 255).astype(np.uint8)


def sepia(image: np.ndarray) -> np.ndarray:
    lum = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(float)
    return np.stack([lum, lum * 0.85, lum * 0.65], -1).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int = 95) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


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
KEPT_A = {f"a{i}.png" for i in range(6)} | {"a_lowsat.jpg"}
KEPT_B = {f"b{i}.png" for i in range(6)} | {"b_bmp1.bmp", "b_bmp3.bmp"}


def make_scrape(root: Path) -> dict[str, str]:
    """A scrape folder with known cases; returns {domain/name: sha256} of every file."""
    a, b = root / "raw" / "ordinary", root / "raw" / "shallow"
    for i in range(6):
        save(a / f"a{i}.png", picture(i))
        save(b / f"b{i}.png", picture(100 + i))
    grey = cv2.cvtColor(picture(7), cv2.COLOR_RGB2GRAY)
    save(a / "a_grey.png", np.repeat(grey[..., None], 3, -1))
    save(a / "a_lowsat.jpg", desaturate(picture(14), 2.9), "JPEG", quality=95)  # colour, overcast-like: kept
    save(a / "a_small.png", cv2.resize(picture(8), (40, 30), interpolation=cv2.INTER_AREA))
    buf = io.BytesIO()
    Image.fromarray(picture(9)).save(buf, "JPEG")
    (a / "a_bad.jpg").write_bytes(buf.getvalue()[:300])
    save(a / "a_near.jpg", np.clip(picture(0).astype(int) + 4, 0, 255).astype(np.uint8), "JPEG", quality=80)
    (b / "b_dup.png").write_bytes((a / "a1.png").read_bytes())
    save(b / "b_sepia.png", sepia(picture(10)))
    save(b / "b_noperson.png", picture(11, person=False))
    # BMPs of one size have one file size: b_bmp2 is b_bmp1 re-touched (a duplicate), b_bmp3 another photo
    save(b / "b_bmp1.bmp", picture(12))
    save(b / "b_bmp2.bmp", np.clip(picture(12).astype(int) + 3, 0, 255).astype(np.uint8))
    save(b / "b_bmp3.bmp", picture(13))
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
    settings = dict(raw=str(tmp_path / "scrape"), out=str(tmp_path / "data"), min_side=100,
                    test_size_a=2, test_size_b=3, quiet=True)
    return CurateConfig(**{**settings, **kw})


def all_files(tmp_path: Path) -> dict[str, str]:
    """sha256 of every photo in raw/ and quarantine/, by domain/name."""
    found = {}
    for p in list((tmp_path / "scrape" / "raw").rglob("*.*")) + list((tmp_path / "data" / "quarantine").rglob("*.*")):
        found[f"{p.parent.name}/{p.name}"] = hashlib.sha256(p.read_bytes()).hexdigest()
    return found


def test_colour_rule_flags_grey_and_toned_but_not_low_saturation_colour_photos():
    cfg = CurateConfig(raw="", out="")
    photos = [data.astronaut(), data.coffee(), data.chelsea(), person_photo(3, (256, 256))]
    for photo in photos:
        grey = np.repeat(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)[..., None], 3, -1)
        assert grayscale_reason(*colour_stats(jpeg(grey)), cfg).startswith("mean chroma")
        chroma, spread = colour_stats(jpeg(sepia(photo)))
        assert chroma > 10 and "toned monochrome" in grayscale_reason(chroma, spread, cfg)
        assert grayscale_reason(*colour_stats(jpeg(photo)), cfg) == ""
        # low-saturation colour photos: mean chroma 2.9-4.0 (overcast, low light, grey clothes)
        for chroma in (2.9, 4.0):
            assert grayscale_reason(*colour_stats(jpeg(desaturate(photo, chroma))), cfg) == "", chroma


def test_old_thresholds_would_reject_the_low_saturation_photos():
    """The rule this replaces (mean chroma < 4.0 over a 256-px thumbnail) rejected these colour photos."""
    low = jpeg(desaturate(data.astronaut(), 3.5))
    lab = cv2.cvtColor(low.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    assert np.hypot(lab[..., 1], lab[..., 2]).mean() < 4.0
    assert grayscale_reason(*colour_stats(low), CurateConfig(raw="", out="")) == ""


def test_curate_rejects_known_cases_moves_never_deletes_and_splits(tmp_path):
    before = make_scrape(tmp_path / "scrape")
    cfg = config(tmp_path)
    result = curate(cfg, person_check_factory=PERSON_CHECK)
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
    detail = {f"{r['domain']}/{r['file']}": r["detail"] for r in rejects}
    assert "pHash distance" in detail["ordinary/a_near.jpg"] and "a0.png" in detail["ordinary/a_near.jpg"]
    assert "b_bmp1.bmp, confirmed by pHash distance" in detail["shallow/b_bmp2.bmp"]
    assert detail["ordinary/a_grey.png"].startswith("mean chroma 0.0")
    assert "toned monochrome" in detail["shallow/b_sepia.png"]
    assert detail["shallow/b_noperson.png"].startswith("no face or pose on the person mask: no face")
    # split: sizes, disjoint, exactly the kept images, identical bytes
    names = {s: {p.name for p in (out / s).iterdir()} for s in ("trainA", "testA", "trainB", "testB")}
    assert (len(names["testA"]), len(names["trainA"]), len(names["testB"]), len(names["trainB"])) == (2, 5, 3, 5)
    assert names["testA"] | names["trainA"] == KEPT_A and names["testB"] | names["trainB"] == KEPT_B
    assert not names["testA"] & names["trainA"]
    assert (out / "testA" / sorted(names["testA"])[0]).read_bytes() == \
        (tmp_path / "scrape" / "raw" / "ordinary" / sorted(names["testA"])[0]).read_bytes()
    # Table 1
    rows = {r["domain"]: r for r in csv.DictReader(open(out / "summary.csv", encoding="utf-8"))}
    a, b = rows["ordinary (A)"], rows["shallow (B)"]
    assert (a["scraped"], a["rejected: grayscale"], a["rejected: dup_near"], a["retained"]) == ("11", "1", "1", "7")
    assert (b["scraped"], b["rejected: no_person"], b["rejected: dup_exact"], b["retained"]) == ("12", "1", "1", "8")
    assert "| ordinary (A) | 11 |" in (out / "summary.md").read_text()
    # review page: every caption escaped, thumbnails there
    html = (out / "review.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; ü" in html
    assert html.count("on the mask; person mask") >= len(KEPT_A | KEPT_B)  # the person evidence of each kept photo
    features = {f"{r['domain']}/{r['file']}": r for r in csv.DictReader(open(out / "features.csv", encoding="utf-8"))}
    assert features["ordinary/a0.png"]["person_evidence"] == "face" and float(features["ordinary/a0.png"]["face_score"]) > 0.5
    assert features["shallow/b_noperson.png"]["person_evidence"] == "none"
    assert html.count('type="radio"') == 2 * len(result.items)
    assert len(list((out / "review" / "thumbs").rglob("*.jpg"))) == len(result.items) - 1  # not the unreadable
    decisions = list(csv.DictReader(open(out / "decisions.csv", encoding="utf-8")))
    assert len(decisions) == len(result.items) and all(d["decision"] == "" for d in decisions)


def test_decisions_are_applied_on_rerun(tmp_path):
    before = make_scrape(tmp_path / "scrape")
    cfg = config(tmp_path)
    curate(cfg, person_check_factory=PERSON_CHECK)
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
    result = curate(cfg, person_check_factory=lambda: pytest.fail("features are cached: no person check again"))
    out = Path(cfg.out)
    assert result.problems == 1
    got = {it.key: it.reason for it in result.items if it.reason}
    assert got == {**{k: v for k, v in EXPECTED_REJECTS.items() if k != "ordinary/a_grey.png"},
                   "shallow/b0.png": "manual"}
    assert (tmp_path / "scrape" / "raw" / "ordinary" / "a_grey.png").is_file()
    assert (out / "quarantine" / "manual" / "shallow" / "b0.png").is_file()
    assert not (out / "quarantine" / "grayscale" / "ordinary" / "a_grey.png").exists()
    splits = {s: {p.name for p in (out / s).iterdir()} for s in ("trainA", "testA", "trainB", "testB")}
    assert "a_grey.png" in splits["trainA"] | splits["testA"] and len(splits["trainA"] | splits["testA"]) == 8
    assert "b0.png" not in splits["trainB"] | splits["testB"] and len(splits["trainB"] | splits["testB"]) == 7
    assert all_files(tmp_path) == before
    kept_note = [r for r in csv.DictReader(open(path, encoding="utf-8")) if r["file"] == "a_grey.png"][0]
    assert (kept_note["decision"], kept_note["note"]) == ("keep", "artistic, but colour")
    rows = {r["domain"]: r for r in csv.DictReader(open(out / "summary.csv", encoding="utf-8"))}
    assert rows["shallow (B)"]["rejected: manual"] == "1" and rows["ordinary (A)"]["retained"] == "8"


def test_dry_run_moves_and_writes_nothing(tmp_path):
    before = make_scrape(tmp_path / "scrape")
    result = curate(config(tmp_path, dry_run=True), person_check_factory=PERSON_CHECK)
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


GREY_SKIMAGE = ["camera", "brick", "gravel", "grass", "moon", "page", "text", "clock", "microaneurysms", "cell"]
MONOCHROME = {"coins", "horse", "retina"}  # grey, black-and-white, and red at every lightness (a fundus photo)


def test_skimage_photos_people_kept_everything_else_rejected(tmp_path):
    """The issue's check: with the colour rule off, every scikit-image photo without a person is
    rejected as no_person and the astronaut and the cameraman are kept; with it on, the monochrome
    ones go as grayscale first (the cameraman too: he is black and white). Person photos are kept,
    procedural scenes without their subject rejected."""
    raw = tmp_path / "scrape" / "raw"
    for name in [*NO_PERSON, *GREY_SKIMAGE, "astronaut"]:
        save(raw / "shallow" / f"{name}.jpg", skimage_rgb(name), "JPEG", quality=95)
    for seed in range(3):
        save(raw / "ordinary" / f"person{seed}.jpg", person_photo(seed, (256, 256)), "JPEG", quality=95)
        save(raw / "ordinary" / f"scene{seed}.jpg", background_only(seed), "JPEG", quality=95)
    colour_rule_off = config(tmp_path, min_side=64, dry_run=True, grey_chroma=0, colour_spread=0, tone_ratio=0)
    got = {Path(it.name).stem: it.reason for it in curate(colour_rule_off, PERSON_CHECK).items}
    expected = {**{n: "no_person" for n in [*NO_PERSON, *GREY_SKIMAGE]}, "camera": None, "astronaut": None,
                **{f"person{s}": None for s in range(3)}, **{f"scene{s}": "no_person" for s in range(3)}}
    assert got == expected
    result = curate(config(tmp_path, min_side=64, dry_run=True), person_check_factory=PERSON_CHECK)
    got = {Path(it.name).stem: it.reason for it in result.items}
    assert got == {**expected, **{n: "grayscale" for n in GREY_SKIMAGE + sorted(MONOCHROME)}}
    details = {Path(it.name).stem: it.detail for it in result.items}
    assert "toned monochrome" in details["retina"] and "no face" in details["coffee"]


def test_person_check_is_required_unless_disabled(tmp_path):
    save(tmp_path / "scrape" / "raw" / "ordinary" / "a.png", picture(0))
    with pytest.raises(ValueError, match="person_check_factory"):
        curate(config(tmp_path, dry_run=True))
    assert curate(config(tmp_path, dry_run=True, min_person_fraction=0)).items[0].reason is None


def test_command_line_writes_config_and_reports_bad_decisions(tmp_path, capsys):
    from segdepth.cli.curate import main

    make_scrape(tmp_path / "scrape")
    args = ["--raw", str(tmp_path / "scrape"), "--out", str(tmp_path / "data"), "--min-side", "64",
            "--min-person-fraction", "0", "--test-size-a", "1", "--test-size-b", "1", "--seed", "3"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| ordinary (A) | 11 | 11 |" in printed
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
                    person_check_factory=PERSON_CHECK)
    assert {it.key: it.reason for it in result.items} == {
        "ordinary/iphone.jpg": None, "ordinary/canon.jpg": "exif_model", "ordinary/none.jpg": "exif_model",
        "shallow/canon.jpg": None}
    rows = {f"{r['domain']}/{r['file']}": r for r in csv.DictReader(open(tmp_path / "data" / "features.csv"))}
    assert (rows["ordinary/iphone.jpg"]["model"], rows["ordinary/iphone.jpg"]["f_number"]) == ("iPhone 7", "1.8")
    assert (rows["shallow/canon.jpg"]["f_number"], rows["shallow/canon.jpg"]["focal_length"]) == ("1.4", "3.99")


def test_person_evidence_is_recomputed_when_its_settings_change(tmp_path):
    for i in range(2):
        save(tmp_path / "scrape" / "raw" / "ordinary" / f"p{i}.png", picture(i))
    built = []

    def counting_factory():
        built.append(1)
        return PERSON_CHECK()

    cfg = config(tmp_path, test_size_a=0, test_size_b=0)
    curate(cfg, counting_factory)
    curate(cfg, counting_factory)  # cached: not built again
    assert len(built) == 1
    result = curate(config(tmp_path, test_size_a=0, test_size_b=0, min_on_mask=1.0), counting_factory)
    assert len(built) == 2
    assert all(it.features["person_key"].endswith("mask 1.0") for it in result.items)


def test_a_run_decodes_each_photo_once_and_a_cached_rerun_none(tmp_path, monkeypatch):
    """Features, the person check and the review thumbnail share one reduced decode per photo (every
    decode of datasets.io goes through _decode); the rerun reads the feature cache and the thumbnails."""
    import datasets.io.read as dio

    make_scrape(tmp_path / "scrape")
    big = tmp_path / "scrape" / "raw" / "ordinary" / "a_big.jpg"
    save(big, cv2.resize(picture(20), (1024, 1024), interpolation=cv2.INTER_CUBIC), "JPEG", quality=95)
    decoded: list[str] = []
    real_decode = dio._decode

    def counting(im, path, exif=None):
        upright = real_decode(im, path, exif)
        decoded.append(f"{path.parent.name}/{path.name}")
        assert path.name != "a_big.jpg" or max(im.size) == WORK_SIDE, im.size  # drafted to the person check's size
        return upright

    monkeypatch.setattr(dio, "_decode", counting)
    cfg = config(tmp_path)
    result = curate(cfg, person_check_factory=PERSON_CHECK)
    readable = {it.key for it in result.items if it.reason != "unreadable"}
    assert Counter(decoded) == Counter(readable)  # once each (a_bad.jpg is refused)
    assert len(readable) == len(result.items) - 1
    big_item = next(it for it in result.items if it.name == "a_big.jpg")
    assert (big_item.reason, big_item.features["width"], big_item.features["height"]) == (None, 1024, 1024)
    x0, y0, x1, y1 = big_item.features["person"]["face_box"]
    assert 120 < x1 - x0 < 180  # in the full photo's pixels (the refined detector: 150 px at 1024; 37 in the copy)
    thumbs = {p.name for p in (Path(cfg.out) / "review" / "thumbs").rglob("*.jpg")}
    assert thumbs == {Path(k).name + ".jpg" for k in readable}
    decoded.clear()
    assert {it.key: it.reason for it in curate(cfg, person_check_factory=PERSON_CHECK).items} == \
        {it.key: it.reason for it in result.items}
    assert decoded == []


def _recording(factory, seen: list):
    """A person check factory whose check records (thread, image shape) of every call."""
    import threading

    def build():
        check = factory()

        def call(image, size=None):
            seen.append((threading.get_ident(), image.shape))
            return check(image, size=size)
        return call
    return build


def test_the_person_check_sees_a_256px_copy_and_decides_as_on_the_full_photo(tmp_path):
    """Photos of 1024 px reach the check as read_photo's 256-px copy (a quarter-scale JPEG draft,
    segdepth.person.WORK_SIDE) and get the evidence that the full decode gets."""
    from datasets.io import read_image

    raw = tmp_path / "scrape" / "raw" / "ordinary"
    photos = {**{f"person{s}.jpg": picture(s) for s in (0, 1, 2)}, "scene3.jpg": picture(3, person=False),
              "chelsea.jpg": cv2.resize(skimage_rgb("chelsea"), (451, 300))}
    for name, image in photos.items():
        h, w = image.shape[:2]
        save(raw / name, cv2.resize(image, (1024, round(1024 * h / w)), interpolation=cv2.INTER_CUBIC), "JPEG", quality=95)
    check, seen = PERSON_CHECK(), []
    result = curate(config(tmp_path, dry_run=True), _recording(lambda: check, seen))
    assert len(seen) == 5 and all(max(shape[:2]) == WORK_SIDE == 256 for _, shape in seen), seen
    assert {it.name: it.reason for it in result.items} == {"person0.jpg": None, "person1.jpg": None, "person2.jpg": None,
                                                           "scene3.jpg": "no_person", "chelsea.jpg": "no_person"}
    for it in result.items:
        full, got = check(read_image(it.path)), it.features["person"]
        assert got["evidence"] == full.evidence, (it.name, got["text"], full.describe())
        assert abs(got["mask_fraction"] - full.mask_fraction) < 0.02, (it.name, got["text"], full.describe())
        if full.face_box is not None:  # in the full photo's pixels both ways
            assert np.allclose(got["face_box"], full.face_box, atol=20), (it.name, got["face_box"], full.face_box)
    check.close()


def test_the_feature_pass_gives_a_serial_runs_results_whatever_the_chunks(tmp_path, monkeypatch):
    """A worker thread decodes and writes thumbnails a chunk ahead; the person check runs in the
    calling thread alone, every output is the same with one chunk (a serial run) or chunks of 3,
    and no warning filter of one thread is lost to the other."""
    import shutil
    import threading
    import warnings

    import datasets.curate.run as dc

    outputs, seen = {}, []
    check = PERSON_CHECK()
    for chunk in (1000, 3):
        monkeypatch.setattr(dc, "CHUNK", chunk)
        shutil.rmtree(tmp_path / "scrape", ignore_errors=True)
        shutil.rmtree(tmp_path / "data", ignore_errors=True)
        make_scrape(tmp_path / "scrape")  # the same paths each time: error details name them
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            curate(config(tmp_path), _recording(lambda: check, seen))
        # both threads set warning filters (process-wide): MediaPipe's protobuf note must stay hidden
        assert not [w for w in caught if "GetPrototype" in str(w.message)]
        out = tmp_path / "data"
        outputs[chunk] = {name: (out / name).read_bytes() for name in
                          ("rejects.csv", "features.csv", "decisions.csv", "summary.csv", "split.json")}
        outputs[chunk].update({p.relative_to(out).as_posix(): p.read_bytes() for p in (out / "review").rglob("*.jpg")})
    check.close()
    assert {thread for thread, _ in seen} == {threading.get_ident()}
    assert len(outputs[3]) == len(outputs[1000]) > 20
    assert outputs[3] == outputs[1000]


def test_a_failed_thumbnail_batch_leaves_no_partial_thumbnail_and_a_rerun_completes(tmp_path, monkeypatch):
    """The thumbnails of a chunk are one atomic batch: when an encoder fails in the second chunk, the
    first chunk's thumbnails are complete, the second's absent (no truncated file, no temporary),
    no photo is moved or lost, and the next run writes them all."""
    import datasets.curate.run as dc

    raw = tmp_path / "scrape" / "raw" / "ordinary"
    for i in range(10):
        save(raw / f"a{i}.png", picture(i))
    before = all_files(tmp_path)
    monkeypatch.setattr(dc, "CHUNK", 4)
    real_save, calls = Image.Image.save, []

    def seventh_fails(self, fp, *args, **kwargs):
        calls.append(fp)
        real_save(self, fp, *args, **kwargs)
        if len(calls) == 7:
            Path(fp).write_bytes(Path(fp).read_bytes()[:100])
            raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", seventh_fails)
    check = PERSON_CHECK()
    with pytest.raises(OSError, match="disk full"):
        curate(config(tmp_path), lambda: check)
    monkeypatch.setattr(Image.Image, "save", real_save)
    thumbs = tmp_path / "data" / "review" / "thumbs" / "ordinary"
    assert sorted(p.name for p in thumbs.iterdir()) == [f"a{i}.png.jpg" for i in range(4)]
    from datasets.io import read_image
    assert all(read_image(p).shape == (160, 160, 3) for p in thumbs.iterdir())  # complete files
    assert all_files(tmp_path) == before
    curate(config(tmp_path), lambda: check)
    check.close()
    assert sorted(p.name for p in thumbs.iterdir()) == [f"a{i}.png.jpg" for i in range(10)]


def test_two_photos_of_one_name_get_two_thumbnails(tmp_path):
    """a.jpg and a.png in one domain: each its own thumbnail (one batch cannot write a path twice)."""
    raw = tmp_path / "scrape" / "raw" / "ordinary"
    save(raw / "a.png", picture(0))
    save(raw / "a.jpg", picture(1), "JPEG", quality=95)
    curate(config(tmp_path, min_person_fraction=0))
    thumbs = tmp_path / "data" / "review" / "thumbs" / "ordinary"
    assert sorted(p.name for p in thumbs.iterdir()) == ["a.jpg.jpg", "a.png.jpg"]
    assert (thumbs / "a.jpg.jpg").read_bytes() != (thumbs / "a.png.jpg").read_bytes()
    html = (tmp_path / "data" / "review.html").read_text(encoding="utf-8")
    assert 'src="review/thumbs/ordinary/a.jpg.jpg"' in html and 'src="review/thumbs/ordinary/a.png.jpg"' in html


def test_the_protobuf_note_stays_hidden_when_the_two_threads_filter_blocks_interleave():
    """The order that showed MediaPipe's note once in a run: the worker's block around Image.open
    starts, the calling thread's block around MediaPipe starts, the worker's ends (restoring the
    filters of its start, without the note's). Inside the feature pass's own block the note stays hidden."""
    import contextlib
    import warnings

    from plumbing.cli import without_protobuf_note
    from datasets.curate.run import _warning_filters_for_both_threads

    def shown(outer) -> int:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with outer():
                worker = warnings.catch_warnings()
                worker.__enter__()
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with without_protobuf_note():
                    worker.__exit__(None, None, None)
                    warnings.warn("SymbolDatabase.GetPrototype() is deprecated.", UserWarning)
        return len(caught)

    assert shown(contextlib.nullcontext) == 1  # the race, as it was
    assert shown(_warning_filters_for_both_threads) == 0
