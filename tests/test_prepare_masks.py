"""prepare_masks: RGBA outputs with the segmenter's mask as alpha, resumable, bad files counted."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

from datasets.curate import MaskConfig, prepare_masks
from datasets.io import read_image, read_image_with_alpha
from datasets.synthetic import make_scene
from scripts.prepare_masks import main


class CountingSegmenter:
    """Fake segmenter with a known answer: mask = normalised red channel; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        self.calls += 1
        return image[..., 0].astype(np.float32) / 255.0


def make_tree(root: Path) -> None:
    for i, split in enumerate(("trainA", "trainA", "testB")):
        scene = make_scene(i, (48, 64), render_dof=False)
        (root / split).mkdir(parents=True, exist_ok=True)
        fmt, ext = ("JPEG", "jpg") if split == "trainA" else ("PNG", "png")
        Image.fromarray(scene.image).save(root / split / f"{i}.{ext}", fmt)
    (root / "testB" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "quarantine" / "grayscale").mkdir(parents=True)  # a curated dataset's other folders
    Image.fromarray(make_scene(5, (48, 64), render_dof=False).image).save(root / "quarantine" / "grayscale" / "q.png")


def test_masks_written_as_alpha_and_skipped_when_up_to_date(tmp_path):
    make_tree(tmp_path)
    seg = CountingSegmenter()
    result = prepare_masks(MaskConfig(str(tmp_path), quiet=True, batch_size=2), segmenter=seg)
    assert (result.written, result.skipped, len(result.bad)) == (3, 0, 1)
    assert "broken.jpg" in result.bad[0]
    for src, out in (("trainA/0.jpg", "trainA/0.png"), ("trainA/1.jpg", "trainA/1.png"), ("testB/2.png", "testB/2.png")):
        rgb, alpha = read_image_with_alpha(tmp_path / out)
        assert alpha is not None and rgb.shape == (48, 64, 3)
        expected_rgb = rgb if src == out else read_image(tmp_path / src)
        np.testing.assert_array_equal(rgb, expected_rgb)
        np.testing.assert_allclose(alpha, rgb[..., 0] / 255.0, atol=1 / 255 + 1e-6)
    assert (tmp_path / "trainA" / "0.jpg").is_file()  # the source stays
    assert read_image_with_alpha(tmp_path / "quarantine" / "grayscale" / "q.png")[1] is None  # not visited
    # second run: nothing to do, the .png outputs are not taken for sources
    seg2 = CountingSegmenter()
    again = prepare_masks(MaskConfig(str(tmp_path), quiet=True), segmenter=seg2)
    assert (again.written, again.skipped, seg2.calls) == (0, 3, 0)
    # a changed source is redone, alone
    st = (tmp_path / "trainA" / "1.jpg").stat()
    os.utime(tmp_path / "trainA" / "1.jpg", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = prepare_masks(MaskConfig(str(tmp_path), quiet=True), segmenter=seg2)
    assert (third.written, third.skipped, seg2.calls) == (1, 2, 1)
    # another segmenter name or --force redoes all
    assert prepare_masks(MaskConfig(str(tmp_path), segmenter="other", quiet=True), segmenter=seg2).written == 3
    assert prepare_masks(MaskConfig(str(tmp_path), segmenter="other", force=True, quiet=True),
                         segmenter=seg2).written == 3
    dry = prepare_masks(MaskConfig(str(tmp_path), dry_run=True, quiet=True), segmenter=seg2)
    assert dry.written == 4 and seg2.calls == 7  # dry runs read no image: the broken one counts too


def test_script_with_real_mediapipe_masks_the_astronaut_and_counts_bad_files(tmp_path):
    (tmp_path / "trainB").mkdir()
    astro = cv2.resize(data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA)
    Image.fromarray(astro).save(tmp_path / "trainB" / "astronaut.jpg", quality=95)
    (tmp_path / "trainB" / "empty.png").write_bytes(b"")
    assert main([str(tmp_path), "--quiet"]) == 1
    rgb, alpha = read_image_with_alpha(tmp_path / "trainB" / "astronaut.png")
    person = alpha > 0.5
    assert 0.3 < person.mean() < 0.8
    assert person[12:30, 46:70].mean() > 0.9  # her face
    assert person[5:25, 100:125].mean() < 0.1  # the background top right
    assert main([str(tmp_path), "--quiet"]) == 1  # still one bad file, nothing else to do
    assert main([str(tmp_path / "missing"), "--quiet"]) == 2
