"""datasets/fit.py: the paper's square preparation (centre crop + resize), resumable, removing only
its own files whose photo left its split, one line per bad photo."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from datasets.fit import FIT_RECORDS, fit_dataset, fit_square, plan_fit
from datasets.io import read_image, write_image


def _thirds(h: int, w: int) -> np.ndarray:
    """Red left third, green middle third, blue right third (columns), uint8 RGB."""
    image = np.zeros((h, w, 3), np.uint8)
    image[:, : w // 3, 0] = 255
    image[:, w // 3: 2 * w // 3, 1] = 255
    image[:, 2 * w // 3:, 2] = 255
    return image


def test_fit_square_keeps_the_centred_square_of_a_wide_photo():
    out = fit_square(_thirds(90, 270), 30)  # the centred 90×90 square is exactly the green third
    assert out.shape == (30, 30, 3) and out.dtype == np.uint8
    # (the resampling filter reaches one output pixel past the crop, as Pillow's resize with a box does)
    assert out[:, 1:-1, 1].min() >= 250 and out[:, 1:-1][..., [0, 2]].max() <= 5


def test_fit_square_keeps_the_centred_square_of_a_tall_photo():
    tall = np.ascontiguousarray(np.rot90(_thirds(90, 270)))  # 270 high, thirds now top / middle / bottom
    out = fit_square(tall, 45)
    assert out.shape == (45, 45, 3)
    assert out[1:-1, :, 1].min() >= 250 and out[1:-1][..., [0, 2]].max() <= 5


def _dataset(root: Path) -> None:
    for split, seed in (("trainA", 0), ("trainB", 1), ("testA", 2)):
        rng = np.random.default_rng(seed)
        for i in range(2):
            write_image(root / split / f"{split}{i}.jpg", rng.integers(0, 256, (40 + 10 * i, 70, 3), dtype=np.uint8))


def test_every_split_is_fitted_once_and_a_second_run_writes_nothing(tmp_path):
    src, dst = tmp_path / "portraits", tmp_path / "portraits32"
    _dataset(src)
    first = fit_dataset(src, dst, 32, quiet=True)
    assert (first.written, first.skipped, first.bad) == (6, 0, [])
    for split in ("trainA", "trainB", "testA"):
        for i in range(2):
            assert read_image(dst / split / f"{split}{i}.png").shape == (32, 32, 3)
    stamps = {p: p.stat().st_mtime_ns for p in dst.rglob("*.png")}
    assert plan_fit(src, dst, 32).complete
    second = fit_dataset(src, dst, 32, quiet=True)
    assert (second.written, second.skipped) == (0, 6)
    assert {p: p.stat().st_mtime_ns for p in dst.rglob("*.png")} == stamps
    assert not plan_fit(src, dst, 48).complete  # another size: everything again


def test_a_changed_photo_is_fitted_again(tmp_path):
    src, dst = tmp_path / "portraits", tmp_path / "fitted"
    _dataset(src)
    fit_dataset(src, dst, 16, quiet=True)
    write_image(src / "trainA" / "trainA0.jpg", np.full((30, 30, 3), 200, np.uint8))
    plan = plan_fit(src, dst, 16)
    assert [job.key for job in plan.todo] == ["trainA/trainA0.png"]
    fit_dataset(src, dst, 16, quiet=True)
    assert abs(int(read_image(dst / "trainA" / "trainA0.png").mean()) - 200) <= 2


def test_a_photo_that_left_its_split_loses_its_fitted_copy_but_a_file_not_made_here_stays(tmp_path):
    src, dst = tmp_path / "portraits", tmp_path / "fitted"
    _dataset(src)
    fit_dataset(src, dst, 16, quiet=True)
    mine = dst / "trainB" / "someone_elses.png"
    write_image(mine, np.zeros((5, 5, 3), np.uint8))
    (src / "trainB" / "trainB1.jpg").unlink()  # e.g. rejected in curation's review
    assert plan_fit(src, dst, 16).stale == ["trainB/trainB1.png"]
    result = fit_dataset(src, dst, 16, quiet=True)
    assert result.removed == 1 and not (dst / "trainB" / "trainB1.png").exists()
    assert mine.exists() and (dst / "trainB" / "trainB0.png").exists()
    assert plan_fit(src, dst, 16).complete
    assert (dst / FIT_RECORDS).is_file()


def test_a_bad_photo_is_one_line_naming_it_and_the_others_are_fitted(tmp_path, caplog):
    src, dst = tmp_path / "portraits", tmp_path / "fitted"
    _dataset(src)
    bad = src / "testA" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    result = fit_dataset(src, dst, 16, quiet=True)
    assert result.written == 6 and len(result.bad) == 1
    assert result.bad[0].startswith(f"{bad}: ") and "\n" not in result.bad[0]
    assert not (dst / "testA" / "broken.png").exists()
    assert not plan_fit(src, dst, 16).complete  # the bad photo is still to do: the stage is not complete


def test_an_exif_rotated_photo_is_fitted_upright(tmp_path):
    src, dst = tmp_path / "portraits", tmp_path / "fitted"
    (src / "trainA").mkdir(parents=True)
    ramp = np.linspace(0, 255, 180).astype(np.uint8)
    stored = np.repeat(np.repeat(ramp[None, :, None], 60, 0), 3, 2)  # stored 60×180, dark left → bright right
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90° clockwise: 180 high, the stored left edge at the top
    Image.fromarray(stored).save(src / "trainA" / "turned.jpg", exif=exif, quality=95)
    fit_dataset(src, dst, 30, quiet=True)
    out = read_image(dst / "trainA" / "turned.png").astype(float).mean(axis=2)
    # upright, the centred square runs dark at the top to bright at the bottom and is even across
    assert out[-3:].mean() - out[:3].mean() > 60
    assert abs(out[:, -3:].mean() - out[:, :3].mean()) < 5
