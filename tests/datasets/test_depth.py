"""Depth loaders on tiny fixtures in the real formats: NYU labelled .mat (HDF5 layout), PNG pairs
with a CSV index (16-bit mm and DenseDepth's 8-bit), folder pairs; the training view."""
import h5py
import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from datasets.depth import DepthDataset, folder_samples, nyu_csv_samples, nyu_mat_samples, read_depth_png
from datasets.io import ImageError


def _nyu_fixture(path, n=3, h=6, w=8):
    """Images N×H×W×3 and depths N×H×W stored as MATLAB v7.3 does (dims reversed by h5py)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    depths = rng.uniform(0.5, 9.5, (n, h, w)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["images"] = images.transpose(0, 3, 2, 1)  # N×3×W×H
        f["depths"] = depths.transpose(0, 2, 1)  # N×W×H
    return images, depths


def test_nyu_mat_layout_and_eigen_split(tmp_path):
    images, depths = _nyu_fixture(tmp_path / "nyu.mat")
    samples = nyu_mat_samples(tmp_path / "nyu.mat")
    assert len(samples) == 3
    image, depth = samples[1].load()
    assert image.shape == (6, 8, 3) and depth.shape == (6, 8)
    assert np.array_equal(image, images[1]) and np.array_equal(depth, depths[1])
    savemat(tmp_path / "splits.mat", {"trainNdxs": np.array([[1], [3]]), "testNdxs": np.array([[2]])})
    test = nyu_mat_samples(tmp_path / "nyu.mat", tmp_path / "splits.mat", "test")
    assert [s.index for s in test] == [1]
    assert [s.index for s in nyu_mat_samples(tmp_path / "nyu.mat", tmp_path / "splits.mat", "train")] == [0, 2]


def test_nyu_mat_wrong_file(tmp_path):
    with h5py.File(tmp_path / "x.mat", "w") as f:
        f["images"] = np.zeros((2, 3, 4), np.uint8)
        f["depths"] = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ImageError, match="unexpected NYU layout"):
        nyu_mat_samples(tmp_path / "x.mat")
    (tmp_path / "y.mat").write_bytes(b"MATLAB 5.0 not hdf5")
    with pytest.raises(ImageError, match="y.mat: not an NYU"):
        nyu_mat_samples(tmp_path / "y.mat")


def test_csv_pairs_16_and_8_bit(tmp_path):
    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    rgb = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(data / "train" / "1.jpg")
    Image.fromarray(rgb).save(data / "train" / "2.jpg")
    mm = np.full((4, 5), 2500, np.uint16)
    mm[0, 0] = 0
    Image.fromarray(mm).save(data / "train" / "1.png")
    Image.fromarray(np.full((4, 5), 51, np.uint8)).save(data / "train" / "2.png")
    (data / "nyu2_train.csv").write_text("data/train/1.jpg,data/train/1.png\ndata/train/2.jpg,data/train/2.png\n"
                                          "data/train/3.jpg,data/train/3.png\n")
    samples = nyu_csv_samples(data / "nyu2_train.csv", root=tmp_path)
    assert len(samples) == 2  # the missing third pair is skipped
    _, d16 = samples[0].load()
    assert d16[1, 1] == pytest.approx(2.5) and d16[0, 0] == 0.0
    _, d8 = samples[1].load()
    assert d8[0, 0] == pytest.approx(51 / 255 * 10.0)
    assert read_depth_png(data / "train" / "1.png", depth_scale=0.0001)[1, 1] == pytest.approx(0.25)


def test_folder_pairs_and_training_view(tmp_path):
    (tmp_path / "img").mkdir(), (tmp_path / "dep").mkdir()
    rgb = np.zeros((8, 12, 3), np.uint8)
    rgb[:, :6, 0] = 255
    Image.fromarray(rgb).save(tmp_path / "img" / "a.png")
    depth = np.tile(np.linspace(1, 5, 12, dtype=np.float32), (8, 1))
    depth[0, 0] = 0.0
    np.save(tmp_path / "dep" / "a.npy", depth)
    samples = folder_samples(tmp_path / "img", tmp_path / "dep")
    item = DepthDataset(samples)[0]
    assert item["image"].shape == (3, 8, 12) and item["depth"].shape == (1, 8, 12)
    assert not item["valid"][0, 0, 0] and item["valid"].sum() == 8 * 12 - 1
    flipped = 0
    for epoch in range(6):
        data = DepthDataset(samples, augment=True, seed=1)
        data.set_epoch(epoch)
        it = data[0]
        is_flipped = it["depth"][0, 4, 0] > it["depth"][0, 4, -1]
        flipped += int(is_flipped)
        # image and depth flip together: the bright (red or permuted) half stays the near half
        bright = it["image"].amax(0)[4]
        assert (bright[0] > bright[-1]) != bool(is_flipped)
    assert 0 < flipped < 6
    small = DepthDataset(samples, size=(4, 6))[0]
    assert small["depth"].shape == (1, 4, 6)
