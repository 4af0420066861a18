"""Every program that writes photos keeps the photo's own data: a phone JPEG in Display P3 with
camera EXIF (orientation 6, a thumbnail) comes out as a JPEG with the same profile and EXIF,
orientation 1 (the pixels are upright), no thumbnail; --format png gives a PNG that keeps them too,
and a PNG input still gives a PNG."""
from __future__ import annotations

from pathlib import Path

import pytest

from datasets import io
from datasets.synthetic import make_scene
from shallowdof.programs import PROGRAMS
from tests.support.photo_metadata import assert_keeps_photo_metadata, save_phone_photo

H, W = 64, 80  # as stored; upright (orientation 6) the photo is W high and H wide


@pytest.fixture
def phone(tmp_path) -> Path:
    path = tmp_path / "in" / "IMG_0001.jpg"
    save_phone_photo(path, make_scene(3, size=(H, W), render_dof=False).image, orientation=6)
    return path


def test_blur_keeps_the_profile_and_exif_and_follows_the_input_format(tmp_path, phone):
    blur = PROGRAMS["blur"].load()
    io.write_image(tmp_path / "in" / "plain.png", make_scene(4, size=(H, W), render_dof=False).image)
    assert blur.run(blur.parse_args([str(tmp_path / "in"), "--method", "gaussian", "--out", str(tmp_path / "o"),
                                     "--quiet"])) == (2, 0)
    assert_keeps_photo_metadata(tmp_path / "o" / "IMG_0001_gaussian.jpg", (H, W))
    assert (tmp_path / "o" / "plain_gaussian.png").is_file()  # PNG in, PNG out
    assert blur.run(blur.parse_args([str(phone), "--method", "gaussian", "--out", str(tmp_path / "p"),
                                     "--format", "png", "--quiet"])) == (1, 0)
    assert_keeps_photo_metadata(tmp_path / "p" / "IMG_0001_gaussian.png", (H, W), jpeg=False)


def test_compare_keeps_them_on_its_full_size_copies_and_renders(tmp_path, phone):
    from evaluation.compare import CompareConfig, run_compare

    result = run_compare(CompareConfig(input=str(phone.parent), out=str(tmp_path / "cmp"), methods=["gaussian"],
                                       fid_weights="off", quiet=True))
    assert result.ok
    for full in (tmp_path / "cmp" / "results" / "gaussian" / "IMG_0001.jpg", tmp_path / "cmp" / "inputs" / "IMG_0001.jpg"):
        assert_keeps_photo_metadata(full, (H, W))


def test_test_cyclegan_keeps_them_on_its_translations(tmp_path, phone):
    from datasets.synthetic import write_unaligned_dataset
    from gan import train as T
    from gan.cli import train_cyclegan as P
    from gan.infer import Translator, translate_folder

    write_unaligned_dataset(tmp_path / "data", n_train=2, n_test=1, size=(40, 40), seed=3)
    T.train(P.parse_args(["--dataroot", str(tmp_path / "data"), "--runs-dir", str(tmp_path / "runs"), "--name", "t",
                          "--netG", "resnet", "--n-blocks", "1", "--ngf", "4", "--ndf", "4", "--n-layers-D", "2",
                          "--load-size", "36", "--crop-size", "32", "--num-workers", "0", "--max-steps", "1",
                          "--display", "none", "--quiet"]))
    translator = Translator.from_checkpoint(T.list_checkpoints(tmp_path / "runs" / "t")[-1], size=32)
    assert translate_folder(translator, phone.parent, tmp_path / "out", quiet=True) == (1, 0)
    assert_keeps_photo_metadata(tmp_path / "out" / "IMG_0001.jpg", (H, W))


def test_the_apps_save_keeps_them(tmp_path, phone):
    from evaluation import app as A
    from evaluation import app_save as S

    models = A.Models()
    session = A.Session(A.open_photo(phone, models, preview_side=64))
    saved = S.save(session, A.Settings(method="gaussian"), models, tmp_path / "saved")
    assert saved.result.name == "IMG_0001_gaussian.jpg"
    assert_keeps_photo_metadata(saved.result, (H, W))
