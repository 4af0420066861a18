"""gan.train: configuration, run directory, schedule, non-finite stop, bad input, AMP.

Tiny networks (1 residual block, 4 filters) on 32-pixel crops of synthetic scenes keep every
training here to a few seconds on the CPU.
"""
from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from datasets.io import mask_path, write_mask
from datasets.synthetic import write_unaligned_dataset
from datasets.unaligned import DatasetError
from gan import model as model_mod
from gan import train as T
from gan.cli import train_cyclegan as P
from gan.model import CycleGANModel
from gan.runlog import LOG_STAT_KEYS

REPO = Path(__file__).resolve().parents[2]
TINY = ["--netG", "resnet", "--n-blocks", "1", "--ngf", "4", "--ndf", "4", "--n-layers-D", "2",
        "--vgg-weights", "none", "--load-size", "36", "--crop-size", "32", "--num-workers", "0",
        "--deterministic", "true", "--quiet"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("unaligned")
    write_unaligned_dataset(root, n_train=6, n_test=1, size=(40, 40), seed=3)
    return root


def tiny_cfg(data: Path, runs: Path, *extra: str) -> T.TrainConfig:
    return P.parse_args(["--dataroot", str(data), "--runs-dir", str(runs), *TINY, *extra])


def test_command_line_overrides_and_config_file_round_trip(tmp_path, data):
    cfg = tiny_cfg(data, tmp_path, "--preset", "mask_loss_overlay", "--lambda-mask", "0.25", "--amp", "bf16",
                   "--channels-last", "--batch-size", "3", "--upsample", "resize")
    assert cfg.batch_size == 3 and cfg.amp == "bf16" and cfg.channels_last is True
    mc = cfg.model_config()
    # the preset's settings, then the overrides, then amp/channels_last from the TrainConfig
    assert (mc.preset, mc.mask_loss, mc.mask_overlay_train, mc.mask_overlay_test) == ("mask_loss_overlay", True, True, False)
    assert (mc.lambda_mask, mc.ngf, mc.n_blocks, mc.upsample, mc.amp, mc.channels_last) == (0.25, 4, 1, "resize", "bf16", True)
    # a saved config.json reproduces the config; flags given beside --config win
    saved = tmp_path / "config.json"
    saved.write_text(json.dumps(dataclasses.asdict(cfg)))
    again = P.parse_args(["--config", str(saved)])
    assert again == cfg
    changed = P.parse_args(["--config", str(saved), "--batch-size", "1", "--ngf", "8"])
    assert changed.batch_size == 1 and changed.model_config().ngf == 8 and changed.model_config().lambda_mask == 0.25
    with pytest.raises(SystemExit):
        P.parse_args(["--dataroot", str(data), "--preset", "no_such_preset"])
    with pytest.raises(SystemExit):
        P.parse_args(["--batch-size", "2"])  # no dataroot


def test_help_lists_presets_model_settings_and_examples():
    text = P.build_parser().format_help()
    for preset in model_mod.PRESETS:
        assert preset in text
    for field in dataclasses.fields(model_mod.ModelConfig):  # every model setting can be overridden
        if field.name not in ("preset", "amp", "channels_last"):
            assert "--" + field.name.replace("_", "-") in text
    assert "--resume" in text and "torchrun" in text and "--config" in text


def test_booleans_are_x_and_no_x_and_the_older_spelling_still_works(tmp_path, data):
    """Every boolean of train_cyclegan is ``--X`` / ``--no-X`` like the other programs; the older
    ``--X true|false`` (README commands) and a bare ``--quiet`` give the same config; a boolean not
    given leaves the preset's value."""
    new = tiny_cfg(data, tmp_path, "--no-flip", "--serial-batches", "--compile", "--no-channels-last",
                   "--preset", "mask_loss_overlay", "--no-mask-overlay-train", "--use-depth")
    old = tiny_cfg(data, tmp_path, "--flip", "false", "--serial-batches", "true", "--compile", "true",
                   "--channels-last", "false", "--preset", "mask_loss_overlay", "--mask-overlay-train",
                   "false", "--use-depth", "true")
    assert new == old
    assert (new.flip, new.serial_batches, new.compile, new.channels_last, new.quiet, new.deterministic) == (
        False, True, True, False, True, True)
    mc = new.model_config()
    assert (mc.mask_overlay_train, mc.use_depth, mc.mask_loss) == (False, True, True)  # mask_loss: the preset's
    assert tiny_cfg(data, tmp_path, "--no-quiet", "--no-deterministic").quiet is False
    assert tiny_cfg(data, tmp_path, "--preset", "mask_loss", "--no-mask-loss").model_config().mask_loss is False
    help_text = P.build_parser().format_help()
    for option in ("flip", "quiet", "deterministic", "serial-batches", "compile", "channels-last", "use-depth",
                   "mask-loss", "mask-overlay-train", "mask-overlay-test"):
        assert f"--{option}, --no-{option}" in help_text and f"[--{option} | --no-{option}]" in help_text
    assert "BOOL" not in help_text


def test_a_wrong_boolean_value_is_one_line(tmp_path, data, capsys):
    with pytest.raises(SystemExit) as exc:
        tiny_cfg(data, tmp_path, "--flip", "sometimes")
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        "error: argument --flip/--no-flip: expected true or false, not 'sometimes'")


@pytest.mark.filterwarnings("ignore:Detected call of")
def test_schedule_constant_then_linear_decay_to_zero():
    model = CycleGANModel(model_mod.config_from_preset("cyclegan", netG="resnet", n_blocks=1, ngf=4, ndf=4,
                                                       n_layers_D=1, lr=1e-3))
    cfg = T.TrainConfig(n_epochs=3, n_epochs_decay=4)
    schedulers = T.make_schedulers(model, cfg)
    lrs = []
    for _ in range(cfg.n_epochs + cfg.n_epochs_decay):
        lrs.append(model.optimizer_G.param_groups[0]["lr"])
        assert model.optimizer_D.param_groups[0]["lr"] == lrs[-1]
        for s in schedulers:
            s.step()
    np.testing.assert_allclose(lrs, 1e-3 * np.array([1, 1, 1, 4 / 5, 3 / 5, 2 / 5, 1 / 5]), rtol=1e-9)
    assert model.optimizer_G.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-15)


def test_training_writes_the_run_directory(tmp_path, data):
    cfg = tiny_cfg(data, tmp_path, "--name", "run<1>", "--n-epochs", "1", "--n-epochs-decay", "1",
                   "--log-every", "3", "--save-every", "4", "--keep-last", "2", "--display", "html",
                   "--display-every", "4")
    result = T.train(cfg)
    run = tmp_path / "run<1>"
    assert result.run_dir == run and result.iteration == 12 and result.epoch == 2

    assert T.TrainConfig.from_dict(json.loads((run / "config.json").read_text())) == cfg

    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in records] == [3, 6, 9, 12]
    model_losses = set(result.model.loss_names)
    for r in records:
        assert model_losses <= set(r) and all(math.isfinite(r[k]) for k in model_losses)
        assert set(r) == model_losses | set(LOG_STAT_KEYS)  # every other key of a record is a loss
        assert r["it_per_s"] > 0 and r["sec_per_kimg"] > 0 and r["data_time_s"] >= 0 and r["peak_mem_mb"] > 50
    assert records[-1]["lr"] == pytest.approx(2e-4 / 2)  # epoch 1 = first decay epoch of 1

    # last K checkpoints, each a complete snapshot that loads with weights_only=True
    ckpts = T.list_checkpoints(run)
    assert [p.name for p in ckpts] == ["ckpt_00000008.pt", "ckpt_00000012.pt"]
    ckpt = torch.load(ckpts[-1], weights_only=True)
    assert (ckpt["epoch"], ckpt["epoch_iter"], ckpt["iter"]) == (2, 0, 12)
    assert ckpt["config"]["model"]["ngf"] == 4 and ckpt["config"]["train"]["name"] == "run<1>"
    assert set(ckpt["model"]) >= {"netG_A", "netG_B", "netD_A", "netD_B", "optimizer_G", "optimizer_D", "scaler",
                                  "fake_A_pool", "fake_B_pool"}
    assert len(ckpt["model"]["fake_A_pool"]["images"]) == 12
    assert [s["last_epoch"] for s in ckpt["schedulers"]] == [2, 2]
    assert set(ckpt["rng"]) >= {"python", "numpy", "torch"}
    for name, tensor in ckpt["model"]["netG_A"].items():
        assert torch.equal(tensor, result.model.netG_A.state_dict()[name])
    assert not list((run / "checkpoints").glob(".*"))  # no temporary files left

    png = Image.open(run / "loss_curves.png")
    assert png.format == "PNG" and png.size[0] > 300

    page = (run / "web" / "index.html").read_text()
    assert "run&lt;1&gt;" in page and "run<1>" not in page  # the run name is escaped
    assert "iteration 12" in page and "iteration 8" in page
    for src in [s.split('"')[0] for s in page.split('src="')[1:]]:
        assert (run / "web" / src).is_file()
    assert len(list((run / "web" / "images").glob("iter00000012_*.png"))) == len(result.model.visual_names)


def test_existing_run_needs_resume(tmp_path, data):
    cfg = tiny_cfg(data, tmp_path, "--max-steps", "1", "--display", "none")
    T.train(cfg)
    with pytest.raises(FileExistsError, match="--resume"):
        T.train(cfg)


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, data, monkeypatch):
    calls = {"n": 0}
    real_l1 = model_mod.background_lowpass_l1

    def l1_turning_nan(*args):  # 4 calls per step (cycle_A, cycle_B, idt_A, idt_B): NaN from step 6 on
        calls["n"] += 1
        out = real_l1(*args)
        return out * float("nan") if calls["n"] > 20 else out

    monkeypatch.setattr(model_mod, "background_lowpass_l1", l1_turning_nan)
    cfg = tiny_cfg(data, tmp_path, "--name", "nan", "--save-every", "4", "--display", "none")
    with pytest.raises(T.NonFiniteLossError) as info:
        T.train(cfg)
    message = str(info.value)
    assert "cycle_A=nan" in message and "iteration 6 " in message and "ckpt_00000004.pt" in message
    ckpts = T.list_checkpoints(tmp_path / "nan")
    assert [p.name for p in ckpts] == ["ckpt_00000004.pt"]
    state = torch.load(ckpts[0], weights_only=True)["model"]
    assert all(torch.isfinite(t).all() for net in ("netG_A", "netG_B") for t in state[net].values())


def _write_png(path: Path, size: int, mask: bool) -> None:
    """A photo ``path`` and, with ``mask``, its all-subject mask in the layout's mask folder."""
    rgb = np.random.default_rng(0).integers(0, 255, (size, size, 3), np.uint8)
    Image.fromarray(rgb).save(path)
    if mask:
        write_mask(mask_path(path, path.parent), np.ones((size, size), np.float32))


@pytest.mark.parametrize("problem", ["empty_domain", "no_masks", "too_small", "corrupt"])
def test_bad_input_is_refused_before_training(tmp_path, problem):
    root = tmp_path / "data"
    for d in ("trainA", "trainB"):
        (root / d).mkdir(parents=True)
        for i in range(2):
            _write_png(root / d / f"{i}.png", 40, mask=True)
    preset = "cyclegan"
    if problem == "empty_domain":
        for p in (root / "trainB").iterdir():
            p.unlink()
        expect = "trainB"
    elif problem == "no_masks":
        (root / "trainA_masks" / "1.png").unlink()
        preset, expect = "mask_loss", r"1.png: mask missing: expected .*trainA_masks/1.png"
    elif problem == "too_small":
        _write_png(root / "trainB" / "0.png", 24, mask=False)
        expect = "0.png: image 24×24 is smaller than the 32-pixel crop"
    else:
        (root / "trainA" / "0.png").write_bytes((root / "trainA" / "1.png").read_bytes()[:300])
        expect = "0.png: truncated image file"
    cfg = tiny_cfg(root, tmp_path / "runs", "--preset", preset)
    with pytest.raises(DatasetError, match=expect):
        T.train(cfg)
    assert not (tmp_path / "runs").exists()  # nothing written: refused before training


def test_script_reports_bad_input_in_one_line_and_exits_1(tmp_path):
    root = tmp_path / "data"
    (root / "trainA").mkdir(parents=True)
    (root / "trainB").mkdir()
    _write_png(root / "trainA" / "0.png", 40, mask=True)
    out = subprocess.run([sys.executable, "scripts/train_cyclegan.py", "--dataroot", str(root), "--runs-dir",
                          str(tmp_path / "runs"), *TINY], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "trainB" in errors[0] and "no images" in errors[0]


def test_bf16_autocast_and_channels_last_train_on_cpu(tmp_path, data):
    torch.manual_seed(0)
    cfg = tiny_cfg(data, tmp_path, "--amp", "bf16", "--channels-last", "--max-steps", "3", "--display", "none",
                   "--log-every", "1")
    init = CycleGANModel(cfg.model_config()).netG_A.state_dict()
    result = T.train(cfg)
    assert result.iteration == 3
    records = [json.loads(line) for line in (tmp_path / cfg.name / "log.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(math.isfinite(r["cycle_A"]) for r in records)
    trained = result.model.netG_A.state_dict()
    assert all(t.dtype == torch.float32 for t in trained.values())  # autocast, weights stay fp32
    assert any(not torch.equal(init[k], trained[k]) for k in init)


@pytest.mark.slow
def test_compiled_training_matches_eager_and_saves_plain_checkpoints(tmp_path, data):
    """--compile (torch.compile, inductor on the CPU) trains the same model: every logged loss of
    three steps equals the eager run's to 1e-5, and the checkpoint holds the networks' own keys, so an
    eager run resumes it. (Weights may differ by ±lr where a gradient is zero in exact arithmetic, such
    as a conv bias before instance norm: Adam's first step moves it by lr × the sign of rounding noise.)"""
    steps = ["--preset", "mask_loss_overlay", "--max-steps", "3", "--log-every", "1"]
    runs = {}
    for flag in ("false", "true"):
        T.train(tiny_cfg(data, tmp_path / flag, "--name", "r", *steps, "--compile", flag))
        runs[flag] = [json.loads(line) for line in (tmp_path / flag / "r" / "log.jsonl").read_text().splitlines()]
    loss_names = [k for k in runs["false"][0] if k in {"D_A", "G_A", "cycle_A", "idt_A", "mask_A", "D_B", "G_B",
                                                       "cycle_B", "idt_B", "mask_B"}]
    assert len(loss_names) == 10 and [r["iter"] for r in runs["true"]] == [1, 2, 3]
    for eager, compiled in zip(runs["false"], runs["true"]):
        for name in loss_names:
            assert compiled[name] == pytest.approx(eager[name], rel=1e-5, abs=1e-6), (eager["iter"], name)
    ckpt = torch.load(T.list_checkpoints(tmp_path / "true" / "r")[-1], weights_only=True)
    assert not any("_orig_mod" in key for net in ("netG_A", "netD_A") for key in ckpt["model"][net])
    resumed = T.train(tiny_cfg(data, tmp_path / "true", "--name", "r", *steps[:2], "--max-steps", "4", "--resume"))
    assert resumed.iteration == 4


def test_compile_mode_reaches_torch_compile_and_unknown_modes_fail_early(tmp_path, data, monkeypatch):
    """--compile-mode is handed to torch.compile (spied here: the real compile is the test above);
    an unknown mode is refused by the command line and, from a config file, before any training."""
    seen = []
    monkeypatch.setattr(torch, "compile", lambda net, mode=None, dynamic=None: seen.append(mode) or net)
    T.train(tiny_cfg(data, tmp_path, "--name", "r", "--max-steps", "1", "--compile", "--compile-mode",
                     "reduce-overhead"))
    assert seen == ["reduce-overhead", "reduce-overhead"]  # the generator pair and the discriminator pair
    seen.clear()
    T.train(tiny_cfg(data, tmp_path, "--name", "d", "--max-steps", "1", "--compile"))
    assert seen == [None, None]  # torch's default mode
    with pytest.raises(SystemExit):
        tiny_cfg(data, tmp_path, "--compile-mode", "fastest")
    cfg = dataclasses.replace(tiny_cfg(data, tmp_path, "--name", "bad", "--compile"), compile_mode="fastest")
    with pytest.raises(ValueError, match="compile_mode: must be one of .*, got 'fastest'"):
        T.train(cfg)
    assert not (tmp_path / "bad").exists()


def test_help_explains_every_model_setting_and_the_command_line_checks_choices(tmp_path, data, capsys):
    """--help gives each model setting's meaning, allowed values and default (per preset where a
    preset sets it); a value outside the choices stops at the command line."""
    with pytest.raises(SystemExit):
        P.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--upsample {transpose,resize} generator upsampling" in text
    assert "--netG {resnet_9blocks,resnet_6blocks,resnet,unet_128,unet_256}" in text
    assert "(0 … 10,000; default by preset: mask_loss_overlay 0.5, defocus 0.5, else 1.0)" in text  # --lambda-mask
    assert "Adam learning rate (1e-12 … 1; default 0.0002)" in text
    assert "model setting" not in text  # no field left with a generic text
    with pytest.raises(SystemExit):
        tiny_cfg(data, tmp_path, "--norm", "group")
    assert "invalid choice: 'group'" in capsys.readouterr().err


def test_the_steps_after_the_last_record_are_logged_when_training_ends(tmp_path, data):
    """A run shorter than --log-every still leaves a record (and its loss curves); so does the tail
    of a longer run."""
    T.train(tiny_cfg(data, tmp_path, "--name", "short", "--max-steps", "4", "--log-every", "100"))
    log = tmp_path / "short" / "log.jsonl"
    assert [json.loads(line)["iter"] for line in log.read_text().splitlines()] == [4]
    assert (tmp_path / "short" / "loss_curves.png").is_file()
    T.train(tiny_cfg(data, tmp_path, "--name", "short", "--max-steps", "7", "--log-every", "3", "--resume"))
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["iter"] for r in records] == [4, 6, 7]
    assert all(math.isfinite(r["cycle_A"]) and r["it_per_s"] > 0 for r in records)
