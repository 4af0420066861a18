"""prepare_masks: one mask file per photo in DIR_masks/, photos and users' files never touched,
name clashes refused naming both, resumable, a second run changes nothing, bad files counted."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from datasets.io import read_image, read_mask
from datasets.synthetic import make_scene
from segdepth.cli.prepare_masks import main, parse_args
from segdepth.masks import MaskConfig, prepare_masks


class CountingSegmenter:
    """Fake segmenter with a known answer: mask = normalised red channel; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        self.calls += 1
        return image[..., 0].astype(np.float32) / 255.0


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``root``: (sha256, mtime_ns) by relative path."""
    return {p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def make_tree(root: Path) -> None:
    for i, split in enumerate(("trainA", "trainA", "testB")):
        scene = make_scene(i, (48, 64), render_dof=False)
        (root / split).mkdir(parents=True, exist_ok=True)
        fmt, ext = ("JPEG", "jpg") if split == "trainA" else ("PNG", "png")
        Image.fromarray(scene.image).save(root / split / f"{i}.{ext}", fmt)
    (root / "testB" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "quarantine" / "grayscale").mkdir(parents=True)  # a curated dataset's other folders
    Image.fromarray(make_scene(5, (48, 64), render_dof=False).image).save(root / "quarantine" / "grayscale" / "q.png")


def cfg(root: Path, **kw) -> MaskConfig:
    return MaskConfig(str(root), quiet=True, **kw)


def test_masks_go_beside_each_split_and_a_second_run_changes_nothing(tmp_path):
    make_tree(tmp_path)
    photos = snapshot(tmp_path)
    seg = CountingSegmenter()
    result = prepare_masks(cfg(tmp_path, batch_size=2), segmenter=seg)
    assert (result.written, result.skipped, result.kept, len(result.bad)) == (3, 0, 0, 1)
    assert "broken.jpg" in result.bad[0]
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k in photos} == photos  # no photo touched, none added
    written = sorted(k for k in after if k not in photos)
    assert written == ["testB_masks/2.png", "testB_masks/masks.jsonl", "testB_masks/masks_config.json",
                       "trainA_masks/0.png", "trainA_masks/1.png", "trainA_masks/masks.jsonl",
                       "trainA_masks/masks_config.json"]
    for photo, mask in (("trainA/0.jpg", "trainA_masks/0.png"), ("testB/2.png", "testB_masks/2.png")):
        with Image.open(tmp_path / mask) as im:
            assert im.mode == "L" and im.size == (64, 48)  # 8-bit grey, the photo's size
        rgb = read_image(tmp_path / photo)
        np.testing.assert_allclose(read_mask(tmp_path / mask), rgb[..., 0] / 255.0, atol=1 / 255 + 1e-6)
    # second run: nothing to do and nothing written, not even the config
    seg2 = CountingSegmenter()
    again = prepare_masks(cfg(tmp_path), segmenter=seg2)
    assert (again.written, again.skipped, seg2.calls) == (0, 3, 0)
    assert snapshot(tmp_path) == after
    # a changed photo is redone, alone
    st = (tmp_path / "trainA" / "1.jpg").stat()
    os.utime(tmp_path / "trainA" / "1.jpg", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = prepare_masks(cfg(tmp_path), segmenter=seg2)
    assert (third.written, third.skipped, seg2.calls) == (1, 2, 1)
    # another segmenter name or --force redoes the masks it wrote
    assert prepare_masks(cfg(tmp_path, segmenter="other"), segmenter=seg2).written == 3
    assert prepare_masks(cfg(tmp_path, segmenter="other", force=True), segmenter=seg2).written == 3
    before_dry = snapshot(tmp_path)
    dry = prepare_masks(cfg(tmp_path, dry_run=True), segmenter=seg2)
    assert dry.written == 4 and seg2.calls == 7 and snapshot(tmp_path) == before_dry  # broken.jpg is not read


def test_a_name_clash_is_an_error_naming_both_and_neither_photo_changes(tmp_path):
    """``same.jpg`` and ``same.png`` are two photos: neither gets a mask and neither is rewritten."""
    folder = tmp_path / "trainA"
    folder.mkdir()
    Image.fromarray(make_scene(1, (40, 40), render_dof=False).image).save(folder / "same.jpg", quality=90)
    Image.fromarray(make_scene(2, (40, 40), render_dof=False).image).save(folder / "same.png")
    Image.fromarray(make_scene(3, (40, 40), render_dof=False).image).save(folder / "other.jpg", quality=90)
    photos = snapshot(tmp_path)
    result = prepare_masks(cfg(tmp_path), segmenter=CountingSegmenter())
    assert result.written == 1 and len(result.bad) == 2
    for line in result.bad:
        assert "same.jpg" in line and "same.png" in line and "trainA_masks/same.png" in line
    assert {k: v for k, v in snapshot(tmp_path).items() if k in photos} == photos
    assert not (tmp_path / "trainA_masks" / "same.png").exists()
    assert (tmp_path / "trainA_masks" / "other.png").is_file()
    assert main([str(tmp_path), "--quiet"]) == 1  # the clash is still reported, as bad files


def test_lone_pngs_are_not_rewritten_16_bit_and_alpha_survive(tmp_path):
    folder = tmp_path / "photos"  # a plain folder: its masks go to photos_masks/ beside it
    folder.mkdir()
    ramp = (np.linspace(0, 65535, 40 * 30).reshape(30, 40)).astype(np.uint16)
    Image.fromarray(ramp).save(folder / "deep.png")
    rgb = make_scene(4, (30, 40), render_dof=False).image
    alpha = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (30, 1))
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(folder / "cutout.png")
    photos = snapshot(tmp_path)
    result = prepare_masks(cfg(folder), segmenter=CountingSegmenter())
    assert (result.written, result.bad) == (2, [])
    assert {k: v for k, v in snapshot(tmp_path).items() if k in photos} == photos
    with Image.open(folder / "deep.png") as im:
        assert im.mode.startswith("I") and np.array_equal(np.asarray(im), ramp)  # still 16-bit
    with Image.open(folder / "cutout.png") as im:
        assert im.mode == "RGBA" and np.array_equal(np.asarray(im)[..., 3], alpha)
    assert read_mask(tmp_path / "photos_masks" / "deep.png").shape == (30, 40)
    np.testing.assert_allclose(read_mask(tmp_path / "photos_masks" / "cutout.png"), rgb[..., 0] / 255, atol=1 / 255)


def test_a_users_own_mask_files_are_left_alone_even_with_force(tmp_path):
    make_tree(tmp_path)
    (tmp_path / "testB" / "broken.jpg").unlink()
    own = tmp_path / "trainA_masks" / "0.png"
    own.parent.mkdir()
    Image.fromarray(np.full((48, 64), 255, np.uint8)).save(own)  # the user's mask, made by hand
    own_bytes = own.read_bytes()
    seg = CountingSegmenter()
    result = prepare_masks(cfg(tmp_path), segmenter=seg)
    assert (result.written, result.kept, seg.calls) == (2, 1, 2)
    assert own.read_bytes() == own_bytes
    # a mask it wrote and the user then edited is the user's too
    edited = tmp_path / "trainA_masks" / "1.png"
    Image.fromarray(np.zeros((48, 64), np.uint8)).save(edited)
    edited_bytes = edited.read_bytes()
    forced = prepare_masks(cfg(tmp_path, force=True), segmenter=seg)
    assert (forced.written, forced.kept) == (1, 2)  # only testB/2.png's, which it owns unchanged
    assert own.read_bytes() == own_bytes and edited.read_bytes() == edited_bytes
    assert main([str(tmp_path), "--quiet", "--force"]) == 0


def test_refuses_a_mask_folder_and_a_missing_folder(tmp_path):
    make_tree(tmp_path)
    prepare_masks(cfg(tmp_path), segmenter=CountingSegmenter())
    with pytest.raises(ValueError, match="mask folder"):
        prepare_masks(cfg(tmp_path / "trainA_masks"), segmenter=CountingSegmenter())
    assert main([str(tmp_path / "trainA_masks"), "--quiet"]) == 2
    assert main([str(tmp_path / "missing"), "--quiet"]) == 2


def test_a_torn_record_line_is_repaired_and_the_run_resumes(tmp_path):
    make_tree(tmp_path)
    prepare_masks(cfg(tmp_path), segmenter=CountingSegmenter())
    record = tmp_path / "trainA_masks" / "masks.jsonl"
    lines = record.read_text().splitlines(keepends=True)
    record.write_text(lines[0] + lines[1][:20])  # a crash in the middle of the last line
    seg = CountingSegmenter()
    result = prepare_masks(cfg(tmp_path), segmenter=seg)
    # the mask of the torn line is no longer known to be its own: it is left alone, not overwritten
    assert (result.written, result.skipped, result.kept, seg.calls) == (0, 2, 1, 0)


def test_script_with_real_mediapipe_masks_the_astronaut_and_counts_bad_files(tmp_path):
    (tmp_path / "trainB").mkdir()
    astro = cv2.resize(data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA)
    Image.fromarray(astro).save(tmp_path / "trainB" / "astronaut.jpg", quality=95)
    (tmp_path / "trainB" / "empty.png").write_bytes(b"")
    assert main([str(tmp_path), "--quiet"]) == 1
    person = read_mask(tmp_path / "trainB_masks" / "astronaut.png") > 0.5
    assert 0.3 < person.mean() < 0.8
    assert person[12:30, 46:70].mean() > 0.9  # her face
    assert person[5:25, 100:125].mean() < 0.1  # the background top right
    assert main([str(tmp_path), "--quiet"]) == 1  # still one bad file, nothing else to do


def test_a_saved_masks_config_is_reloaded_with_config(tmp_path, capsys):
    """masks_config.json is a --config file: its settings come back, the flags given override them,
    and a file with an unknown key is one line naming it."""
    import json

    from plumbing.config import save_config

    saved = MaskConfig(root=str(tmp_path), batch_size=3, workers=1, force=True, quiet=True)
    save_config(saved, tmp_path / "masks_config.json")
    assert parse_args([str(tmp_path), "--config", str(tmp_path / "masks_config.json")]) == saved
    again = parse_args([str(tmp_path), "--config", str(tmp_path / "masks_config.json"), "--no-force", "--workers", "4"])
    assert (again.force, again.workers, again.batch_size, again.quiet) == (False, 4, 3, True)
    (tmp_path / "bad.json").write_text(json.dumps({"root": "x", "batch": 3}))
    with pytest.raises(SystemExit) as info:
        parse_args([str(tmp_path), "--config", str(tmp_path / "bad.json")])
    assert info.value.code == 2 and "bad.json: unknown MaskConfig keys: ['batch']" in capsys.readouterr().err

