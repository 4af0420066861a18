"""train_cyclegan checks what it is given: strict config files, run folders that
resume only what they hold, a training set scanned by decoding every file, and a sample page and
loss curves after every run, however short."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datasets.synthetic import write_unaligned_dataset
from datasets.unaligned import DatasetError, UnalignedDataset
from gan import train as T
from gan.cli import train_cyclegan as P

TINY = ["--netG", "resnet", "--n-blocks", "1", "--ngf", "4", "--ndf", "4", "--n-layers-D", "2",
        "--vgg-weights", "none", "--load-size", "36", "--crop-size", "32", "--num-workers", "0", "--quiet"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("unaligned")
    write_unaligned_dataset(root, n_train=3, n_test=1, size=(40, 40), seed=3)
    return root


def _args(data: Path, runs: Path, *extra: str) -> list[str]:
    return ["--dataroot", str(data), "--runs-dir", str(runs), *TINY, *extra]


@pytest.mark.parametrize("content, expect", [
    ('{"bogus": 1}', "unknown TrainConfig keys: ['bogus']"),
    ('{"flip": "no"}', "flip: expected bool, got 'no'"),
    ('{"batch_size": "4"}', "batch_size: expected int, got '4'"),
    ('{"batch_size": 0}', "batch_size: must be between 1 and 65,536, got 0"),
    ('{"model_overrides": {"ngf": 0}}', "ngf: must be between 1 and 1024"),
    ('{"model_overrides": {"no_such": 1}}', "no_such"),
    ('{"name": "../../..", "dataroot": "d"}', "name '../../..' must be one folder name inside runs_dir"),
    ('{"flip": tru', "not valid JSON"),
    ("", "empty config file"),
    ("[1, 2]", "expected a JSON object"),
    (None, "no such config file"),
])
def test_a_bad_config_file_is_one_line_naming_the_file_and_the_key(tmp_path, capsys, content, expect):
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SystemExit) as info:
        P.parse_args(["--config", str(path), "--dataroot", "d"])
    assert info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert str(path) in last and expect in last and "Traceback" not in last


def test_resuming_a_run_that_reached_its_max_steps_says_how_to_continue(tmp_path, data):
    T.train(P.parse_args(_args(data, tmp_path, "--name", "r", "--max-steps", "1", "--display", "none")))
    saved = tmp_path / "r" / "config.json"
    again = P.parse_args(["--config", str(saved), "--resume"])
    with pytest.raises(T.CheckpointError, match=r"already reached max_steps=1 .* larger --max-steps N"):
        T.train(again)
    assert T.train(P.parse_args(["--config", str(saved), "--resume", "--max-steps", "2"])).iteration == 2
    assert P.parse_args(["--config", str(saved), "--max-steps", "all"]).max_steps == 0  # the whole schedule


def test_resuming_with_another_preset_is_refused_and_writes_nothing(tmp_path, data):
    T.train(P.parse_args(_args(data, tmp_path, "--name", "r", "--max-steps", "1", "--display", "none")))
    before = sorted(p.name for p in (tmp_path / "r").rglob("*"))
    cfg = P.parse_args(_args(data, tmp_path, "--name", "r", "--max-steps", "2", "--preset", "mask_loss", "--resume"))
    with pytest.raises(T.CheckpointError, match="trained with preset 'cyclegan', not 'mask_loss'.*another --name"):
        T.train(cfg)
    assert sorted(p.name for p in (tmp_path / "r").rglob("*")) == before


def test_a_short_run_leaves_a_sample_page_and_visible_loss_curves(tmp_path, data):
    T.train(P.parse_args(_args(data, tmp_path, "--name", "s", "--max-steps", "1")))  # display_every 400
    run = tmp_path / "s"
    page = (run / "web" / "index.html").read_text(encoding="utf-8")
    assert "iter00000001_real_A.png" in page and (run / "web" / "images" / "iter00000001_real_A.png").is_file()
    curves = np.asarray(Image.open(run / "loss_curves.png").convert("RGB")).astype(int)
    blue = (abs(curves[..., 0] - 31) < 30) & (abs(curves[..., 1] - 119) < 30) & (abs(curves[..., 2] - 180) < 30)
    assert blue.sum() > 5  # the one record is drawn (matplotlib's first colour), not an empty frame


def test_the_scan_decodes_every_file_so_a_truncated_jpeg_is_found_before_training(tmp_path):
    for domain in ("trainA", "trainB"):
        (tmp_path / domain).mkdir()
        for i in range(2):
            rgb = np.random.default_rng(i).integers(0, 255, (48, 48, 3), np.uint8)
            Image.fromarray(rgb).save(tmp_path / domain / f"{i}.jpg", quality=90)
    whole = (tmp_path / "trainA" / "1.jpg").read_bytes()
    (tmp_path / "trainA" / "1.jpg").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DatasetError, match=r"1\.jpg: truncated image file"):
        UnalignedDataset(tmp_path, load_size=36, crop_size=32, require_masks=False, progress=False)


def test_the_parser_and_the_config_check_use_the_same_bounds(tmp_path, data):
    cfg = P.parse_args(_args(data, tmp_path))
    with pytest.raises(ValueError, match="log_every: must be at least 1, got 0"):
        dataclasses.replace(cfg, log_every=0).check()
    with pytest.raises(ValueError, match="crop_size 64 is larger than load_size 36"):
        T.train(dataclasses.replace(cfg, crop_size=64))
    assert not (tmp_path / cfg.name).exists()
    json.dumps(dataclasses.asdict(cfg))  # still a plain JSON-ready config
