"""datasets.unaligned: shapes and ranges, one crop/flip for image+mask+depth, seeding, errors."""
import numpy as np
import pytest
import torch

from datasets.io import mask_path, write_depth, write_image, write_mask
from datasets.unaligned import DatasetError, UnalignedDataset, normalize_depth, transform_planes


def gradient_image(h, w):
    """An image whose pixels encode their coordinates (so crops and flips can be traced)."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), (xx + yy) % 256], -1).astype(np.uint8)


def make_root(tmp_path, n_a=3, n_b=2, size=(40, 60), masks=True, depth=False, ext="png"):
    """trainA/trainB photos (``ext``) with their masks in trainA_masks/, trainB_masks/ (``masks``)."""
    rng = np.random.default_rng(0)
    for domain, n in (("A", n_a), ("B", n_b)):
        folder = tmp_path / f"train{domain}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            rgb = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            mask = (rgb[..., 0] > 127).astype(np.float32)
            path = folder / f"{domain}{i}.{ext}"
            write_image(path, rgb)
            if masks:
                write_mask(mask_path(path, folder), mask)
            if depth:
                write_depth(tmp_path / f"depth{domain}" / f"{domain}{i}.npy",
                            rgb[..., 1].astype(np.float32) + 1.0)
    return tmp_path


def test_item_shapes_ranges_and_mask_follows_image(tmp_path):
    root = make_root(tmp_path, depth=True)
    ds = UnalignedDataset(root, load_size=40, crop_size=32, use_depth=True, progress=False)
    assert len(ds) == 3
    for index in range(6):
        ds.set_epoch(index)
        item = ds[index % 3]
        assert item["A"].shape == (3, 32, 32) and item["A_mask"].shape == (1, 32, 32)
        assert item["A_depth"].shape == (1, 32, 32) and item["B"].shape == (3, 32, 32)
        assert item["A"].min() >= -1 and item["A"].max() <= 1
        assert 0 <= item["A_mask"].min() and item["A_mask"].max() <= 1
        assert -1 <= item["A_depth"].min() and item["A_depth"].max() <= 1
        for d in "AB":  # the mask was made from the red channel: the same crop/flip must keep that
            assert torch.equal(item[d][0] > 0, item[f"{d}_mask"][0] > 0.5)
    assert item["A_paths"].endswith(".png")


def test_same_geometry_for_all_planes_and_flip_happens():
    img = gradient_image(50, 70)
    mask = img[..., 0].astype(np.float32) / 255.0
    depth = img[..., 1].astype(np.float32)
    flips = 0
    for seed in range(20):
        out_img, out_mask, out_depth = transform_planes([img, mask, depth], 50, 32, True,
                                                        np.random.default_rng(seed))
        assert out_img.shape == (32, 32, 3) and out_mask.shape == (32, 32) and out_depth.shape == (32, 32)
        assert np.abs(out_img[..., 0] / 255.0 - out_mask).max() < 1e-6
        assert np.abs(out_img[..., 1] - out_depth).max() < 1e-3
        flips += int(out_img[0, 0, 0] > out_img[0, -1, 0])  # x grows to the right unless flipped
    assert 5 <= flips <= 15


def test_non_square_loads_by_the_shorter_side():
    img = gradient_image(40, 80)
    out = transform_planes([img], 20, 20, False, np.random.default_rng(0))[0]
    assert out.shape == (20, 20, 3)
    # the shorter side (40) went to 20: the full height is kept, x covers half the width
    assert out[0, 0, 1] < 10 and out[-1, 0, 1] > 240
    assert 100 < int(out[0, -1, 0]) - int(out[0, 0, 0]) < 150


def test_seeded_and_epoch_dependent(tmp_path):
    root = make_root(tmp_path)
    a = UnalignedDataset(root, load_size=40, crop_size=24, seed=3, progress=False)
    b = UnalignedDataset(root, load_size=40, crop_size=24, seed=3, progress=False)
    assert torch.equal(a[1]["A"], b[1]["A"]) and a[1]["B_paths"] == b[1]["B_paths"]
    b.set_epoch(1)
    assert not torch.equal(a[1]["A"], b[1]["A"])
    serial = UnalignedDataset(root, load_size=40, crop_size=24, serial_batches=True, progress=False)
    assert [serial[i]["B_paths"][-6:] for i in range(3)] == ["B0.png", "B1.png", "B0.png"]


def test_empty_domain_folder(tmp_path):
    root = make_root(tmp_path)
    for f in (root / "trainB").iterdir():
        f.unlink()
    with pytest.raises(DatasetError, match="trainB: no images"):
        UnalignedDataset(root, load_size=40, crop_size=32, progress=False)
    with pytest.raises(DatasetError, match="no such folder"):
        UnalignedDataset(root, phase="test", load_size=40, crop_size=32, progress=False)


def test_images_smaller_than_the_crop(tmp_path):
    root = make_root(tmp_path, size=(20, 60))
    with pytest.raises(DatasetError, match=r"A0.png: image 60×20 is smaller than the 32-pixel crop"):
        UnalignedDataset(root, load_size=40, crop_size=32, progress=False)


def test_missing_mask_is_an_error_unless_masks_are_optional(tmp_path):
    root = make_root(tmp_path, masks=False)
    with pytest.raises(DatasetError) as err:
        UnalignedDataset(root, load_size=40, crop_size=32, progress=False)
    expected = f"B1.png: mask missing: expected {root / 'trainB_masks' / 'B1.png'} (run scripts/prepare_masks.py {root})"
    assert "5 problem(s)" in str(err.value) and expected in str(err.value)
    ds = UnalignedDataset(root, load_size=40, crop_size=32, require_masks=False, progress=False)
    assert ds[0]["A_mask"].abs().sum() == 0


def test_jpeg_photos_read_their_masks_from_the_mask_folder_each_once(tmp_path):
    """JPEG photos with PNG masks beside them: each photo is one item, the masks are not photos."""
    root = make_root(tmp_path, n_a=4, n_b=7, ext="jpg")
    ds = UnalignedDataset(root, load_size=60, crop_size=32, progress=False)
    assert (len(ds.paths["A"]), len(ds.paths["B"])) == (4, 7)
    assert all(p.suffix == ".jpg" for p in ds.paths["A"] + ds.paths["B"])
    item = ds[0]
    assert 0 < float(item["A_mask"].mean()) < 1  # the mask file's content, not zeros


def test_name_clash_and_wrong_size_mask_are_found_up_front(tmp_path):
    root = make_root(tmp_path)
    write_image(root / "trainA" / "A0.jpg", np.zeros((40, 60, 3), np.uint8))  # beside A0.png
    write_mask(root / "trainB_masks" / "B1.png", np.zeros((10, 12), np.float32))
    with pytest.raises(DatasetError) as err:
        UnalignedDataset(root, load_size=40, crop_size=32, progress=False)
    msg = str(err.value)
    assert "3 problem(s)" in msg
    assert f"{root / 'trainA' / 'A0.jpg'}: same name as {root / 'trainA' / 'A0.png'}" in msg
    assert f"{root / 'trainA' / 'A0.png'}: same name as {root / 'trainA' / 'A0.jpg'}" in msg
    assert "B1.png: mask is 12×10, its image is 60×40" in msg


def test_corrupt_and_truncated_files_found_before_training(tmp_path):
    root = make_root(tmp_path)
    good = (root / "trainA" / "A0.png").read_bytes()
    (root / "trainA" / "A1.png").write_bytes(good[: len(good) // 2])   # truncated
    (root / "trainA" / "A2.png").write_bytes(b"<html>not an image</html>")
    with pytest.raises(DatasetError) as err:
        UnalignedDataset(root, load_size=40, crop_size=32, progress=False)
    msg = str(err.value)
    assert "2 problem(s)" in msg and "A1.png: truncated image file" in msg and "A2.png: not an image" in msg
    assert "A0.png" not in msg


def test_depth_missing_or_of_the_wrong_size(tmp_path):
    root = make_root(tmp_path, depth=True)
    (root / "depthA" / "A0.npy").unlink()
    np.save(root / "depthB" / "B1.npy", np.zeros((10, 10), np.float32))
    with pytest.raises(DatasetError) as err:
        UnalignedDataset(root, load_size=40, crop_size=32, use_depth=True, progress=False)
    msg = str(err.value)
    assert "A0.npy: no such file" in msg and "B1.npy: depth map 10×10 does not match image 60×40" in msg
    UnalignedDataset(root, load_size=40, crop_size=32, use_depth=False, progress=False)  # depth not asked for


def test_every_bad_depth_map_is_named_at_once_before_training(tmp_path):
    """Every depth map is read whole before the first step, as training reads it: NaN, negative
    distances and a wrong shape are all listed in one error, not found one per run."""
    root = make_root(tmp_path, depth=True)
    bad = {"depthA/A0.npy": np.full((40, 60), np.nan, np.float32), "depthA/A1.npy": -np.ones((40, 60), np.float32),
           "depthB/B0.npy": np.ones((4, 60, 2), np.float32)}
    for name, array in bad.items():
        np.save(root / name, array)
    with pytest.raises(DatasetError) as err:
        UnalignedDataset(root, load_size=40, crop_size=32, use_depth=True, progress=False)
    msg = str(err.value)
    assert "3 problem(s)" in msg, msg
    for name, words in (("A0.npy", "NaN"), ("A1.npy", "negative"), ("B0.npy", "2-D")):
        assert any(name in line and words in line for line in msg.splitlines()), (name, msg)


def test_normalize_depth():
    d = np.array([[2.0, 4.0], [6.0, 10.0]], np.float32)
    assert np.allclose(normalize_depth(d), [[-1.0, -0.5], [0.0, 1.0]])
    assert np.array_equal(normalize_depth(np.full((2, 2), 3.0, np.float32)), np.zeros((2, 2), np.float32))


def test_crop_larger_than_load_is_refused(tmp_path):
    with pytest.raises(ValueError, match="crop_size 64 is larger than load_size 32"):
        UnalignedDataset(make_root(tmp_path), load_size=32, crop_size=64, progress=False)


def test_exif_rotated_photos_are_checked_upright(tmp_path):
    """A JPEG stored 60×40 with EXIF orientation 6 is 40×60 as read (datasets.io.upright_size): its
    mask must be 40×60; one of the stored size is refused, naming both sizes."""
    from PIL import Image

    root = make_root(tmp_path, n_a=1, n_b=1)
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = root / "trainA" / "A0.jpg"
    (root / "trainA" / "A0.png").unlink()
    Image.fromarray(np.zeros((40, 60, 3), np.uint8)).save(rotated, exif=exif, quality=95)
    write_mask(mask_path(rotated, root / "trainA"), np.ones((60, 40), np.float32))  # upright
    assert UnalignedDataset(root, load_size=40, crop_size=32, progress=False)[0]["A"].shape == (3, 32, 32)
    write_mask(mask_path(rotated, root / "trainA"), np.ones((40, 60), np.float32))  # as stored
    with pytest.raises(DatasetError, match="A0.png: mask is 60×40, its image is 40×60"):
        UnalignedDataset(root, load_size=40, crop_size=32, progress=False)
