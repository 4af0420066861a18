"""datasets/io.py: every bad-input case gives one ImageError naming the file; writes (through
plumbing.files) are atomic."""
from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datasets import io
from plumbing import files


def _photo(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth colour gradient with a little noise (JPEG-friendly, deterministic)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 / w, y * 255 / h, (x + y) * 255 / (w + h)], axis=2)
    return np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)


def _assert_error(path: Path, *words: str, reader=io.read_image) -> str:
    with pytest.raises(io.ImageError) as info:
        reader(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: "), msg
    assert "\n" not in msg
    for w in words:
        assert w in msg.lower(), msg
    return msg


# --- bad files -------------------------------------------------------------------------------


def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    _assert_error(p, "empty")


def test_missing_file(tmp_path):
    _assert_error(tmp_path / "nope.png", "no such file")


@pytest.mark.parametrize("fmt,ext", [("JPEG", "jpg"), ("PNG", "png")])
def test_truncated_file(tmp_path, fmt, ext):
    good = tmp_path / f"good.{ext}"
    Image.fromarray(_photo(96, 96)).save(good, format=fmt)
    data = good.read_bytes()
    p = tmp_path / f"truncated.{ext}"
    p.write_bytes(data[: len(data) // 2])
    assert io.read_image(good).shape == (96, 96, 3)
    _assert_error(p, "truncated")


def test_corrupt_bytes_inside_valid_header(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(_photo()).save(good)
    data = bytearray(good.read_bytes())
    rng = np.random.default_rng(1)
    # keep signature + IHDR (first 33 bytes), scramble the compressed pixel data
    data[40:-12] = rng.integers(0, 256, len(data) - 52, dtype=np.uint8).tobytes()
    p = tmp_path / "corrupt.png"
    p.write_bytes(bytes(data))
    _assert_error(p, "corrupt")


def test_random_bytes(tmp_path):
    p = tmp_path / "noise.jpg"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    _assert_error(p, "not a recognised image")


def test_text_file_named_jpg(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("hello, this is not a picture\n")
    _assert_error(p, "text file")


def test_html_page_named_jpg(tmp_path):
    p = tmp_path / "download.jpg"
    p.write_text("<!DOCTYPE html>\n<html><body>403 Forbidden</body></html>\n")
    _assert_error(p, "html")


def test_folder_is_not_an_image(tmp_path):
    _assert_error(tmp_path, "folder")


def test_above_pixel_limit_is_refused_before_decoding(tmp_path):
    p = tmp_path / "big.png"
    Image.fromarray(_photo(40, 50)).save(p)
    assert io.read_image(p, max_pixels=2000).shape == (40, 50, 3)  # exactly at the limit
    with pytest.raises(io.ImageError, match=r"50×40 = .* above the limit") as info:
        io.read_image(p, max_pixels=1999)
    assert str(info.value).startswith(str(p))


def test_decompression_bomb_header(tmp_path):
    """A PNG whose header claims 100 000 × 100 000 pixels (10 GP) is refused without decoding."""
    p = tmp_path / "bomb.png"
    Image.new("L", (8, 8)).save(p)
    data = bytearray(p.read_bytes())
    data[16:24] = (100_000).to_bytes(4, "big") * 2  # IHDR width, height
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # a valid IHDR CRC
    p.write_bytes(bytes(data))
    _assert_error(p, "100000", "decompression bomb")


# --- modes -----------------------------------------------------------------------------------


def test_cmyk_jpeg(tmp_path):
    p = tmp_path / "cmyk.jpg"
    rgb = _photo()
    Image.fromarray(rgb).convert("CMYK").save(p, quality=95)
    out = io.read_image(p)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - rgb).mean() < 8


def test_grayscale(tmp_path):
    p = tmp_path / "gray.png"
    gray = _photo()[..., 0]
    Image.fromarray(gray).save(p)
    out = io.read_image(p)
    assert out.shape == gray.shape + (3,)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)


def test_one_bit(tmp_path):
    p = tmp_path / "bw.png"
    bits = np.zeros((10, 12), bool)
    bits[2:5, 3:9] = True
    Image.fromarray(bits).save(p)
    out = io.read_image(p)
    assert out.shape == (10, 12, 3)
    np.testing.assert_array_equal(out[..., 1], np.where(bits, 255, 0))


def test_palette_with_transparency(tmp_path):
    p = tmp_path / "pal.png"
    px = np.zeros((10, 20), np.uint8)
    px[:, 10:] = 1
    pal = Image.fromarray(px, "P")
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.save(p, transparency=0)
    rgb = io.read_image(p)
    np.testing.assert_array_equal(rgb[0, 15], [0, 0, 255])
    np.testing.assert_array_equal(rgb[0, 5], [255, 0, 0])
    rgb2, alpha = io.read_image_with_alpha(p)
    np.testing.assert_array_equal(rgb2, rgb)
    assert alpha is not None and alpha.dtype == np.float32
    np.testing.assert_array_equal(alpha[:, :10], 0.0)
    np.testing.assert_array_equal(alpha[:, 10:], 1.0)


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    p = tmp_path / "g16.png"
    ramp = np.linspace(0, 65535, 64 * 4).astype(np.uint16).reshape(4, 64)
    Image.fromarray(ramp).save(p)
    assert Image.open(p).mode.startswith("I")
    out = io.read_image(p)
    assert out.dtype == np.uint8 and out.shape == (4, 64, 3)
    expect = np.round(ramp / 257.0).astype(np.uint8)
    np.testing.assert_array_equal(out[..., 0], expect)
    assert out.max() == 255 and out.min() == 0
    assert len(np.unique(out)) > 200  # a clip to 255 would leave only a handful of levels


def test_rgba_alpha_dropped_or_returned(tmp_path):
    p = tmp_path / "rgba.png"
    rgb = _photo(16, 16)
    alpha = np.tile(np.linspace(0, 255, 16).astype(np.uint8), (16, 1))
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(p)
    out = io.read_image(p)
    np.testing.assert_array_equal(out, rgb)
    rgb2, a = io.read_image_with_alpha(p)
    np.testing.assert_array_equal(rgb2, rgb)
    np.testing.assert_allclose(a, alpha / 255.0, atol=1e-6)
    plain = tmp_path / "plain.png"
    Image.fromarray(rgb).save(plain)
    assert io.read_image_with_alpha(plain)[1] is None


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_exif_rotated_jpeg(tmp_path, orientation):
    """Stored landscape 64×32 with a red top-left corner; viewers rotate it by the EXIF tag."""
    stored = np.full((32, 64, 3), 128, np.uint8)
    stored[:8, :8] = [255, 0, 0]
    im = Image.fromarray(stored)
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = tmp_path / f"rot{orientation}.jpg"
    im.save(p, exif=exif, quality=95)
    out = io.read_image(p)
    if orientation in (6, 8):
        assert out.shape == (64, 32, 3)
    else:
        assert out.shape == (32, 64, 3)
    # where the red stored top-left corner ends up as displayed
    corner = {6: (0, 31), 8: (63, 0), 3: (31, 63)}[orientation]
    y, x = corner
    assert out[y, x, 0] > 200 and out[y, x, 1] < 60, out[y, x]
    assert out[0, 0, 0] < 180  # the stored corner moved away from the displayed top-left


# --- depth -----------------------------------------------------------------------------------


def test_depth_npy_and_png_round_trip(tmp_path):
    depth = np.linspace(0.5, 9.5, 24 * 32, dtype=np.float32).reshape(24, 32)
    io.write_depth(tmp_path / "d.npy", depth)
    np.testing.assert_array_equal(io.read_depth(tmp_path / "d.npy", (24, 32)), depth)
    io.write_depth(tmp_path / "d.png", depth)
    assert Image.open(tmp_path / "d.png").mode.startswith("I")
    back = io.read_depth(tmp_path / "d.png", (24, 32, 3))
    np.testing.assert_allclose(back, depth, atol=0.0006)  # millimetre quantisation


def test_mismatched_depth(tmp_path):
    p = tmp_path / "depth.npy"
    np.save(p, np.ones((480, 640), np.float32))
    msg = _assert_error(p, reader=lambda q: io.read_depth(q, expected_shape=(512, 512, 3)))
    assert msg == f"{p}: depth map 640×480 does not match image 512×512"


def test_eight_bit_depth_png_refused(tmp_path):
    p = tmp_path / "depth8.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(p)
    _assert_error(p, "8-bit", reader=io.read_depth)


def test_bad_depth_arrays(tmp_path):
    p = tmp_path / "nan.npy"
    np.save(p, np.array([[1.0, np.nan]], np.float32))
    _assert_error(p, "nan", reader=io.read_depth)
    q = tmp_path / "rgb.npy"
    np.save(q, np.ones((4, 4, 3), np.float32))
    _assert_error(q, "2-d", reader=io.read_depth)
    r = tmp_path / "depth.txt"
    r.write_text("1 2 3")
    _assert_error(r, "unknown depth format", reader=io.read_depth)


# --- listing ---------------------------------------------------------------------------------


def test_list_images(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "deep").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ["z.JPG", "a.png", "b/c.jpeg", "b/deep/d.webp", "notes.txt", ".hidden/x.png", ".tmp.png"]:
        (tmp_path / name).write_bytes(b"x")
    got = io.list_images(tmp_path)
    assert got == sorted([tmp_path / "a.png", tmp_path / "b/c.jpeg", tmp_path / "b/deep/d.webp", tmp_path / "z.JPG"])
    # explicit files are kept (so a wrong file gets a clear read error), duplicates removed
    assert io.list_images([tmp_path / "notes.txt", tmp_path / "a.png", tmp_path / "a.png"]) == [
        tmp_path / "a.png",
        tmp_path / "notes.txt",
    ]
    with pytest.raises(io.ImageError, match="no such file or folder"):
        io.list_images([tmp_path / "missing"])


# --- atomic writes ---------------------------------------------------------------------------


def test_write_read_round_trip(tmp_path):
    rgb = _photo()
    io.write_image(tmp_path / "out" / "x.png", rgb)
    np.testing.assert_array_equal(io.read_image(tmp_path / "out" / "x.png"), rgb)
    mask = np.linspace(0, 1, rgb.shape[0] * rgb.shape[1], dtype=np.float32).reshape(rgb.shape[:2])
    io.write_mask(tmp_path / "m.png", mask)
    assert Image.open(tmp_path / "m.png").mode == "L"
    np.testing.assert_allclose(io.read_mask(tmp_path / "m.png", rgb.shape), mask, atol=0.5 / 255 + 1e-6)
    gray = rgb[..., 0]
    io.write_image(tmp_path / "g.png", gray)
    assert Image.open(tmp_path / "g.png").mode == "L"
    np.testing.assert_array_equal(io.read_image(tmp_path / "g.png")[..., 2], gray)
    files.write_json(tmp_path / "c.json", {"p": tmp_path, "v": np.float32(0.5)})
    assert json.loads((tmp_path / "c.json").read_text()) == {"p": str(tmp_path), "v": 0.5}
    files.append_jsonl(tmp_path / "log.jsonl", {"a": 1})
    files.append_jsonl(tmp_path / "log.jsonl", {"a": 2})
    assert [json.loads(line)["a"] for line in (tmp_path / "log.jsonl").read_text().splitlines()] == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "g.png", "log.jsonl", "m.png", "out"]


def test_failing_write_leaves_no_partial_file_and_keeps_target(tmp_path):
    target = tmp_path / "result.png"
    io.write_image(target, _photo(seed=1))
    before = target.read_bytes()

    class Boom(RuntimeError):
        pass

    with pytest.raises(Boom):
        with files.atomic_path(target) as tmp:
            tmp.write_bytes(b"half a png")
            assert tmp.parent == target.parent and tmp.suffix == ".png"
            raise Boom()
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["result.png"]

    # a writer failing inside the encoder: no new file appears at all
    new = tmp_path / "new.png"
    with pytest.raises(TypeError):
        io.write_image(new, np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError):
        io.write_image(tmp_path / "x.jpg", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(TypeError):
        files.write_json(tmp_path / "c.json", {"x": object()})
    assert [p.name for p in tmp_path.iterdir()] == ["result.png"]


def test_failing_encoder_mid_write(tmp_path, monkeypatch):
    """Pillow writes some bytes and then fails: the target keeps its old content."""
    target = tmp_path / "r.png"
    io.write_image(target, _photo(seed=2))
    before = target.read_bytes()

    real_save = Image.Image.save

    def half_save(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)
        Path(fp).write_bytes(Path(fp).read_bytes()[:30])
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", half_save)
    with pytest.raises(OSError, match="disk full"):
        io.write_image(target, _photo(seed=3))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.png"]


def test_a_batch_syncs_every_file_before_any_rename_and_each_folder_once(tmp_path, monkeypatch):
    """write_images: each file's data reaches the disk before the first rename (a crash at any point
    leaves no truncated file under a final name), and each folder is fsynced once, after the renames."""
    import os

    events: list[tuple[str, int]] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.fstat(fd).st_ino)), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("rename", os.stat(a).st_ino)), real_replace(a, b))[1])
    images = {tmp_path / "a" / f"{i}.jpg": _photo(seed=i) for i in range(3)} | {tmp_path / "b" / "3.png": _photo(seed=3)}
    io.write_images(list(images.items()))
    kinds = [kind for kind, _ in events]
    assert kinds == ["fsync"] * 4 + ["rename"] * 4 + ["fsync"] * 2, kinds
    assert {ino for _, ino in events[:4]} == {ino for _, ino in events[4:8]}  # the renamed files were the synced ones
    assert {ino for _, ino in events[8:]} == {(tmp_path / "a").stat().st_ino, (tmp_path / "b").stat().st_ino}
    for path, image in images.items():
        tolerance = 0 if path.suffix == ".png" else 6
        assert np.abs(io.read_image(path).astype(int) - image).mean() <= tolerance
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["0.jpg", "1.jpg", "2.jpg", "3.png"]


def test_a_failing_batch_writes_none_of_its_files(tmp_path, monkeypatch):
    """An encoder failing on the second image of a batch: no file of the batch appears, an existing
    target keeps its content, no temporary is left; a bad image is refused before any file is made."""
    old = tmp_path / "0.jpg"
    io.write_image(old, _photo(seed=9))
    before = old.read_bytes()
    real_save, calls = Image.Image.save, []

    def second_fails(self, fp, *args, **kwargs):
        calls.append(fp)
        real_save(self, fp, *args, **kwargs)
        if len(calls) == 2:
            Path(fp).write_bytes(Path(fp).read_bytes()[:30])
            raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", second_fails)
    with pytest.raises(OSError, match="disk full"):
        io.write_images([(tmp_path / f"{i}.jpg", _photo(seed=i)) for i in range(3)])
    assert old.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["0.jpg"]
    monkeypatch.undo()
    with pytest.raises(TypeError):
        io.write_images([(tmp_path / "x.jpg", _photo()), (tmp_path / "y.jpg", np.zeros((4, 4, 3), np.float32))])
    with pytest.raises(ValueError, match="same path twice"):
        io.write_images([(tmp_path / "x.jpg", _photo()), (tmp_path / "x.jpg", _photo())])
    assert [p.name for p in tmp_path.iterdir()] == ["0.jpg"]


def test_shrink_to_area_averages_to_the_long_side_and_keeps_smaller_images():
    import cv2

    image = _photo(300, 1000)
    small = io.shrink_to(image, 256)
    assert small.shape == (77, 256, 3)  # 300 × 0.256 = 76.8
    np.testing.assert_array_equal(small, cv2.resize(image, (256, 77), interpolation=cv2.INTER_AREA))
    assert io.shrink_to(image, 1000) is image and io.shrink_to(image, 2000) is image
    assert io.shrink_to(_photo(2, 900), 10).shape == (1, 10, 3)  # never a side of 0


# --------------------------------------------------------------------------- photos and masks


def test_mask_path_is_the_sibling_folder_layout(tmp_path):
    root = tmp_path / "ds" / "trainA"
    assert io.mask_path(root / "x.jpg", root) == tmp_path / "ds" / "trainA_masks" / "x.png"
    assert io.mask_path(root / "sub" / "y.JPEG", root) == tmp_path / "ds" / "trainA_masks" / "sub" / "y.png"
    assert io.mask_root(Path("photos/")) == Path("photos_masks")
    assert io.mask_root(Path(".")).name == Path.cwd().name + "_masks"
    with pytest.raises(ValueError):
        io.mask_path(tmp_path / "elsewhere.jpg", root)


def test_list_photos_skips_mask_folders_and_reports_name_clashes(tmp_path):
    rgb = _photo()
    for rel in ("a.jpg", "a.png", "b.jpg", "sub/c.png", "sub_masks/c.png", "other_masks/d.png"):
        io.write_image(tmp_path / rel, rgb)
    photos, problems = io.list_photos(tmp_path)
    # sub_masks/ is the mask folder of sub/; other_masks/ has no other/ beside it, so it holds photos
    assert [p.relative_to(tmp_path).as_posix() for p in photos] == ["b.jpg", "other_masks/d.png", "sub/c.png"]
    assert problems == [
        f"{tmp_path / 'a.jpg'}: same name as {tmp_path / 'a.png'}: they would share the mask "
        f"{tmp_path.parent / (tmp_path.name + '_masks') / 'a.png'}; rename one of them",
        f"{tmp_path / 'a.png'}: same name as {tmp_path / 'a.jpg'}: they would share the mask "
        f"{tmp_path.parent / (tmp_path.name + '_masks') / 'a.png'}; rename one of them",
    ]
    assert io.list_photos(tmp_path / "b.jpg") == ([tmp_path / "b.jpg"], [])
    with pytest.raises(io.ImageError, match="no such file or folder"):
        io.list_photos(tmp_path / "missing")


def test_read_mask_for_missing_wrong_size_and_16_bit(tmp_path):
    root = tmp_path / "testA"
    io.write_image(root / "p.jpg", _photo())
    shape = _photo().shape
    with pytest.raises(io.ImageError) as err:
        io.read_mask_for(root / "p.jpg", root, shape, prepare_root=tmp_path)
    assert str(err.value) == (f"{root / 'p.jpg'}: mask missing: expected {tmp_path / 'testA_masks' / 'p.png'} "
                              f"(run scripts/prepare_masks.py {tmp_path})")
    io.write_mask(io.mask_path(root / "p.jpg", root), np.zeros((5, 7), np.float32))
    with pytest.raises(io.ImageError, match=r"testA_masks/p.png: mask is 7×5, its image is \d+×\d+"):
        io.read_mask_for(root / "p.jpg", root, shape)
    deep = np.full(shape[:2], 65535, np.uint16)
    deep[0, 0] = 0
    Image.fromarray(deep).save(io.mask_path(root / "p.jpg", root))
    mask = io.read_mask_for(root / "p.jpg", root, shape)
    assert mask.dtype == np.float32 and mask[0, 0] == 0.0 and mask[1, 1] == 1.0


# --- reduced-size decoding (JPEG draft mode) -------------------------------------------------


def _shrunk(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``image`` area-averaged to ``shape`` (H, W, ...)."""
    import cv2

    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA).astype(int)


@pytest.mark.parametrize("orientation", [1, 6, 8, 3])
@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
def test_reduced_decode_is_smaller_and_oriented_and_converted_as_read_image(tmp_path, orientation, mode):
    """A 320×200 JPEG read at ≥ 100 px: the draft decode gives 160×100 (1/2; 1/4 would be 80 px),
    upright and in RGB as read_image gives it, with read_image's full size."""
    stored = _photo(200, 320)
    stored[:40, :40] = [255, 0, 0] if mode != "L" else 255  # a marker at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = tmp_path / f"{mode}{orientation}.jpg"
    pil = Image.fromarray(stored)
    (pil.convert("L") if mode == "L" else pil.convert(mode)).save(p, exif=exif, quality=95)
    full = io.read_image(p)
    small, size = io.read_image_reduced(p, 100)
    assert size == (full.shape[1], full.shape[0])
    assert small.dtype == np.uint8 and small.ndim == 3 and small.shape[2] == 3
    assert small.shape[:2] == (full.shape[0] // 2, full.shape[1] // 2)  # half: the smallest scale ≥ 100 px
    assert np.abs(small.astype(int) - _shrunk(full, small.shape)).mean() < 4  # same picture, same way up
    if mode == "L":
        assert (small[..., 0] == small[..., 1]).all() and (small[..., 1] == small[..., 2]).all()


def test_reduced_decode_keeps_small_jpegs_and_other_formats_whole(tmp_path):
    for name, fmt in (("small.jpg", "JPEG"), ("big.png", "PNG")):
        p = tmp_path / name
        Image.fromarray(_photo(200 if fmt == "PNG" else 60, 320 if fmt == "PNG" else 90)).save(p, fmt)
        image, size = io.read_image_reduced(p, 100)
        np.testing.assert_array_equal(image, io.read_image(p))
        assert size == (image.shape[1], image.shape[0])


def test_reduced_decode_errors_are_read_images(tmp_path):
    """Same "PATH: problem" lines; the pixel limit applies to the full size, before any decoding."""
    big = tmp_path / "big.jpg"
    Image.fromarray(_photo(200, 320)).save(big, quality=95)
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(big.read_bytes()[:2000])
    text = tmp_path / "text.jpg"
    text.write_text("hello")
    for p, limit in ((big, 320 * 200 - 1), (truncated, io.DEFAULT_MAX_PIXELS), (text, io.DEFAULT_MAX_PIXELS),
                     (tmp_path / "missing.jpg", io.DEFAULT_MAX_PIXELS)):
        with pytest.raises(io.ImageError) as full:
            io.read_image(p, max_pixels=limit)
        with pytest.raises(io.ImageError) as reduced:
            io.read_image_reduced(p, 50, max_pixels=limit)
        assert str(reduced.value) == str(full.value)
    with pytest.raises(ValueError, match="long_side"):
        io.read_image_reduced(big, 0)
def test_read_focal_35mm_from_exif(tmp_path):
    from PIL import Image

    from datasets.io import read_focal_35mm

    im = Image.new("RGB", (8, 8))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 26  # FocalLengthIn35mmFilm
    im.save(tmp_path / "phone.jpg", exif=exif)
    im.save(tmp_path / "plain.jpg")
    assert read_focal_35mm(tmp_path / "phone.jpg") == 26.0
    assert read_focal_35mm(tmp_path / "plain.jpg") is None
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    assert read_focal_35mm(tmp_path / "broken.jpg") is None


# --- what native code cannot take, special files, corrupt EXIF, impossible depth -------------------

def test_a_side_above_opencvs_limit_is_refused_before_decoding_whatever_the_pixel_count(tmp_path):
    Image.new("RGB", (40_000, 10)).save(tmp_path / "wide.png")  # 0.4 MP, far below the pixel limit
    Image.new("RGB", (10, io.MAX_SIDE + 1)).save(tmp_path / "tall.png")
    Image.new("RGB", (io.MAX_SIDE, 2)).save(tmp_path / "widest.png")
    for name in ("wide.png", "tall.png"):
        msg = _assert_error(tmp_path / name, "32,766", "opencv")
        _assert_error(tmp_path / name, "32,766", reader=lambda p: io.read_image_reduced(p, 64))
    assert io.read_image(tmp_path / "widest.png").shape == (2, io.MAX_SIDE, 3)
    assert "crop or scale it down" in msg


def test_a_fifo_or_a_device_is_one_error_not_a_hang(tmp_path):
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    (tmp_path / "loop.jpg").symlink_to("loop.jpg")
    for name, words in (("pipe.jpg", "a FIFO (named pipe), not a regular file"),
                        ("zero.png", "a device, not a regular file"), ("loop.jpg", "a symbolic link loop")):
        for reader in (io.read_image, io.read_mask):
            with pytest.raises(io.ImageError) as info:
                reader(tmp_path / name)
            assert words in info.value.problem and str(info.value).startswith(f"{tmp_path / name}: ")
    assert set(io.list_images(tmp_path)) == {tmp_path / n for n in ("pipe.jpg", "zero.png", "loop.jpg")}


def test_a_corrupt_exif_block_is_one_warning_naming_the_file(tmp_path, caplog, recwarn):
    import struct

    ifd = (struct.pack("<H", 2) + struct.pack("<HHII", 0x010F, 2, 40, 5000)  # Make, 40 bytes far past the end
           + struct.pack("<HHI", 0x0112, 3, 1) + struct.pack("<HH", 6, 0) + struct.pack("<I", 0))
    path = tmp_path / "bad_exif.jpg"
    Image.fromarray(_photo()).save(path, exif=b"Exif\0\0II*\0" + struct.pack("<I", 8) + ifd)
    image, info = io.read_photo(path)
    assert image.shape == (48, 64, 3) and info.exif is None  # read as stored, the block not carried on
    assert io.read_focal_35mm(path) is None
    named = [r.getMessage() for r in caplog.records if "EXIF" in r.getMessage()]
    assert named and all(m.startswith(f"{path}: corrupt EXIF data ignored") for m in named), named
    assert not [w for w in recwarn if "PIL" in w.filename], [str(w.message) for w in recwarn]


def test_negative_or_all_zero_metric_depth_is_a_depth_problem(tmp_path):
    np.save(tmp_path / "neg.npy", -np.ones((4, 5), np.float32))
    np.save(tmp_path / "zero.npy", np.zeros((4, 5), np.float32))
    _assert_error(tmp_path / "neg.npy", "negative", "depth", reader=io.read_depth)
    _assert_error(tmp_path / "zero.npy", "no positive value", reader=io.read_depth)
    io.write_depth(tmp_path / "rel.npz", -np.ones((4, 5), np.float32), "relative")  # a relative scale may be anywhere
    assert io.read_depth(tmp_path / "rel.npz").min() == -1


# --- a photo's own data kept on its outputs ------------------------------------------------------------

def test_a_phone_photos_profile_and_exif_are_written_back_with_orientation_one_and_no_thumbnail(tmp_path):
    from tests.support.photo_metadata import assert_keeps_photo_metadata, save_phone_photo

    save_phone_photo(tmp_path / "phone.jpg", _photo(48, 64), orientation=6)
    image, info = io.read_photo(tmp_path / "phone.jpg")
    assert image.shape == (64, 48, 3) and info.format == "JPEG" and info.focal_35mm == 24.0
    for suffix in (".jpg", ".png"):
        io.write_image(tmp_path / f"out{suffix}", image, info)
        assert_keeps_photo_metadata(tmp_path / f"out{suffix}", (48, 64), jpeg=suffix == ".jpg")
    io.write_image(tmp_path / "plain.png", image)  # no info: nothing added
    with Image.open(tmp_path / "plain.png") as im:
        assert "icc_profile" not in im.info and not im.getexif()


def test_the_output_format_follows_the_input_unless_chosen():
    assert io.output_suffix("a/IMG_1.JPG") == ".jpg" and io.output_suffix("b.jpeg") == ".jpg"
    assert io.output_suffix("c.png") == io.output_suffix("d.tiff") == io.output_suffix("e.webp") == ".png"
    assert io.output_suffix("c.png", "jpg") == ".jpg" and io.output_suffix("a.jpg", "png") == ".png"
    with pytest.raises(ValueError, match="format 'gif'"):
        io.output_suffix("a.jpg", "gif")


def test_a_cmyk_or_grey_profile_is_not_put_on_rgb_pixels(tmp_path):
    from PIL import ImageCms

    grey = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    grey = grey[:16] + b"GRAY" + grey[20:]  # a header saying the profile is for grey pixels
    Image.fromarray(_photo()[..., 0]).save(tmp_path / "g.png", icc_profile=grey)
    assert io.read_photo(tmp_path / "g.png")[1].icc_profile is None
