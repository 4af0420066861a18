"""segdepth.train's command line in the config pattern of plumbing.config: defaults, then
``--config``, then the flags given; ``--resume`` takes only --epochs, --device and --quiet anew."""
import json

import pytest

from plumbing.config import save_config
from segdepth.train import DepthTrainConfig, SegTrainConfig, parse_args


def test_a_saved_config_is_reloaded_and_the_flags_given_override_it(tmp_path):
    saved = SegTrainConfig(run_dir=str(tmp_path / "a"), model="unet", arch_kwargs={"base": 4}, data={"n": 8},
                           buckets=[[32, 32]], flip=False, epochs=3, lr=0.5, quiet=True)
    save_config(saved, tmp_path / "config.json")
    _, same = parse_args("segmentation", ["--config", str(tmp_path / "config.json")])
    assert same == saved
    _, cfg = parse_args("segmentation", ["--config", str(tmp_path / "config.json"), "--run-dir", str(tmp_path / "b"),
                                         "--flip", "--no-quiet", "--data", "n=2", "shape=[16,16]", "--buckets", "16x32"])
    assert cfg.flip and not cfg.quiet and cfg.data == {"n": 2, "shape": [16, 16]} and cfg.buckets == [[16, 32]]
    assert (cfg.run_dir, cfg.lr, cfg.epochs, cfg.arch_kwargs) == (str(tmp_path / "b"), 0.5, 3, {"base": 4})


def test_the_old_spellings_still_work():
    _, seg = parse_args("segmentation", ["--no-flip", "--quiet", "--arch", "base=8"])
    assert (seg.flip, seg.quiet, seg.arch_kwargs) == (False, True, {"base": 8})
    _, depth = parse_args("depth", ["--no-augment", "--eigen-crop", "--size", "64x48"])
    assert (depth.augment, depth.eigen_crop, depth.size) == (False, True, [64, 48])
    assert parse_args("depth", [])[1] == DepthTrainConfig()


def test_resume_takes_only_epochs_device_and_quiet_anew(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    save_config(SegTrainConfig(run_dir=str(run), epochs=2, lr=0.25), run / "config.json")
    args, cfg = parse_args("segmentation", ["--run-dir", str(run), "--resume", "--epochs", "9", "--lr", "0.001"])
    assert args.resume and (cfg.epochs, cfg.lr, cfg.device) == (9, 0.25, "cpu")
    assert parse_args("segmentation", ["--run-dir", str(run), "--resume"])[1].epochs == 2


@pytest.mark.parametrize("content, problem", [
    ({"run_dir": "r", "epoch": 3}, "unknown SegTrainConfig keys: ['epoch']"),
    ({"flip": "no"}, "flip: expected bool, got 'no'"),
])
def test_a_bad_config_file_is_one_line_naming_it(tmp_path, capsys, content, problem):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(content))
    with pytest.raises(SystemExit) as info:
        parse_args("segmentation", ["--config", str(path)])
    assert info.value.code == 2 and f"{path}: {problem}" in capsys.readouterr().err


def test_resume_without_a_run_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        parse_args("depth", ["--run-dir", str(tmp_path / "none"), "--resume"])
    assert info.value.code == 2 and "--resume: " in capsys.readouterr().err
