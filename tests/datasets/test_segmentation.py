"""Segmentation loaders on tiny fixtures written in each real format, buckets and augmentation."""
import json

import numpy as np
import pytest
from PIL import Image

from datasets.io import ImageError
from datasets.segmentation import (
    IGNORE, Augment, BucketBatchSampler, SegmentationDataset, augment_pair, decode_supervisely_bitmap,
    eg1800_samples, encode_supervisely_bitmap, folder_samples, nearest_bucket, read_supervisely_label,
    supervisely_samples, voc_samples,
)


def _rgb(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_supervisely_polygon_bitmap_and_neutral(tmp_path):
    ds = tmp_path / "ds1"
    (ds / "img").mkdir(parents=True)
    (ds / "ann").mkdir()
    Image.fromarray(_rgb(20, 30)).save(ds / "img" / "p1.png")
    bmp = np.zeros((4, 5), bool)
    bmp[1:3, 1:4] = True
    ann = {
        "size": {"height": 20, "width": 30},
        "objects": [
            {"classTitle": "person_poly", "geometryType": "polygon",
             "points": {"exterior": [[2, 2], [11, 2], [11, 11], [2, 11]], "interior": [[[5, 5], [7, 5], [7, 7], [5, 7]]]}},
            {"classTitle": "person_bmp", "geometryType": "bitmap", "bitmap": {"data": encode_supervisely_bitmap(bmp), "origin": [20, 10]}},
            {"classTitle": "neutral", "geometryType": "polygon", "points": {"exterior": [[25, 0], [29, 0], [29, 3], [25, 3]], "interior": []}},
        ],
    }
    (ds / "ann" / "p1.png.json").write_text(json.dumps(ann))
    label = read_supervisely_label(ds / "ann" / "p1.png.json")
    assert label.shape == (20, 30)
    assert label[3, 3] == 1 and label[6, 6] == 0 and label[0, 0] == 0  # polygon with a hole
    assert label[11:13, 21:24].tolist() == [[1] * 3] * 2  # bitmap at origin (x 20, y 10) + (1, 1)
    assert label[10, 20] == 0 and label[11, 20] == 0 and label[13, 21] == 0
    assert label[1, 27] == IGNORE
    assert np.count_nonzero(label == 1) == 10 * 10 - 3 * 3 + 6
    samples = supervisely_samples(tmp_path)
    assert len(samples) == 1
    image, lab = samples[0].load()
    assert image.shape == (20, 30, 3) and np.array_equal(lab, label)


def test_supervisely_bitmap_round_trip_and_bad_annotation(tmp_path):
    mask = np.random.default_rng(1).random((7, 9)) > 0.5
    assert np.array_equal(decode_supervisely_bitmap(encode_supervisely_bitmap(mask)), mask)
    bad = tmp_path / "bad.json"
    bad.write_text('{"size": {"height": 4, "width": 4}, "objects": [{"geometryType": "cuboid"}]}')
    with pytest.raises(ImageError, match="bad.json: object 0"):
        read_supervisely_label(bad)


def test_voc_palette_labels(tmp_path):
    root = tmp_path / "VOC2012"
    for d in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / d).mkdir(parents=True)
    Image.fromarray(_rgb(8, 10)).save(root / "JPEGImages" / "2007_000001.jpg")
    idx = np.zeros((8, 10), np.uint8)
    idx[2:5, 2:5] = 15  # person
    idx[6, :] = 7  # car
    idx[2:5, 5] = 255  # void border
    lab = Image.fromarray(idx, mode="P")
    lab.putpalette([0, 0, 0, 128, 0, 0] * 128)
    lab.save(root / "SegmentationClass" / "2007_000001.png")
    (root / "ImageSets/Segmentation/train.txt").write_text("2007_000001\n")
    (s,) = voc_samples(root, "train")
    image, label = s.load()
    assert image.shape == (8, 10, 3)
    assert np.count_nonzero(label == 1) == 9 and label[6, 0] == 0 and label[3, 5] == IGNORE


def test_eg1800_and_folder_pairs(tmp_path):
    root = tmp_path / "EG1800"
    (root / "Images").mkdir(parents=True)
    (root / "Labels").mkdir()
    for name, values in (("00001", (0, 1)), ("00002", (0, 255))):
        Image.fromarray(_rgb(6, 6)).save(root / "Images" / f"{name}.png")
        m = np.full((6, 6), values[0], np.uint8)
        m[:3] = values[1]
        Image.fromarray(m).save(root / "Labels" / f"{name}.png")
    Image.fromarray(_rgb(6, 6)).save(root / "Images" / "00003.png")  # no mask: skipped
    (root / "eg1800_test.txt").write_text("00002.png\n")
    assert [s.image.stem for s in eg1800_samples(root)] == ["00001", "00002"]
    (only,) = eg1800_samples(root, root / "eg1800_test.txt")
    assert only.image.stem == "00002"
    for s in folder_samples(root / "Images", root / "Labels"):
        _, label = s.load()
        assert label[:3].min() == 1 and label[3:].max() == 0
    Image.fromarray(np.zeros((5, 6), np.uint8)).save(root / "Labels" / "00001.png")
    with pytest.raises(ImageError, match="does not match image"):
        folder_samples(root / "Images", root / "Labels")[0].load()


def test_buckets_keep_aspect_and_batches_share_a_shape(tmp_path):
    assert nearest_bucket((300, 600), ((288, 512), (384, 384), (512, 288))) == 0
    assert nearest_bucket((500, 480), ((288, 512), (384, 384), (512, 288))) == 1
    assert nearest_bucket((900, 400), ((288, 512), (384, 384), (512, 288))) == 2
    imgs, masks = tmp_path / "i", tmp_path / "m"
    imgs.mkdir(), masks.mkdir()
    shapes = [(30, 60), (40, 80), (60, 60), (64, 32), (70, 35), (50, 50), (32, 64)]
    for k, (h, w) in enumerate(shapes):
        Image.fromarray(_rgb(h, w, k)).save(imgs / f"{k}.png")
        Image.fromarray(np.ones((h, w), np.uint8)).save(masks / f"{k}.png")
    buckets = ((18, 32), (24, 24), (32, 18))
    data = SegmentationDataset(folder_samples(imgs, masks), buckets, Augment(), seed=3)
    sampler = BucketBatchSampler(data.bucket_of, batch_size=2, seed=3)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(shapes)))
    for batch in batches:
        got = {tuple(data[i]["image"].shape) for i in batch}
        assert len(got) == 1
    assert data[0]["image"].shape == (3, 18, 32) and data[3]["label"].shape == (32, 18)
    assert data[0]["label"].dtype.is_floating_point is False


def test_augmentation_moves_image_and_label_together():
    image = np.zeros((64, 64, 3), np.uint8)
    image[10:40, 20:30] = 255
    label = (image[..., 0] > 0).astype(np.uint8)
    changed = 0
    for seed in range(8):
        im2, lab2 = augment_pair(image, label, Augment(flip=True, rotate_deg=15, jitter=0.2), np.random.default_rng(seed))
        changed += not np.array_equal(lab2, label)
        # wherever the label says person, the (jittered) image is bright, and vice versa
        assert np.mean((im2[..., 0] > 127) == (lab2 == 1)) > 0.97
        assert set(np.unique(lab2)) <= {0, 1}
    assert changed >= 6
