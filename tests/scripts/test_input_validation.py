"""Every program checks what it is given: numeric options, method parameters, output
folders, inputs that collide or are missing, Ctrl-C, stale temporaries, depth units, downloads."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import typing
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from datasets import io
from plumbing import cli
from plumbing.fields import Setting, setting_of
from plumbing.files import temporary_affixes
from plumbing.outputs import RECORD_NAME
from datasets.synthetic import make_scene
from shallowdof.programs import PROGRAMS as TABLE
from tests.support.files import killed_writers_temporary

from .programs import MINIMAL_ARGV, parse

ROOT = Path(__file__).resolve().parents[2]
H, W = 64, 80


def _program(name: str):
    """The module of program NAME, from the one table of programs (its parser and main)."""
    return TABLE[name].load()


def _parse(name: str, parser_only: bool = False) -> Callable[[], Callable]:
    """Program NAME's ``parse_args`` (``parser_only``: its bare parser's, without the checks after parsing)."""
    def get() -> Callable:
        module = _program(name)
        return module.build_parser().parse_args if parser_only else module.parse_args

    return get


# --- every program's numeric options with 0, a negative and an absurd value ---------------------

#: Flags whose 0 is refused although their setting's range holds it: train_cyclegan's --max-steps
#: takes N >= 1 or "all" (the setting's 0); webcam's --hysteresis LOW HIGH needs 0 < LOW <= HIGH < 1.
ZERO_REFUSED = {("train_cyclegan", "--max-steps"), ("webcam", "--hysteresis")}


def _numeric_flags(program: str, tmp: Path) -> list[tuple[str, Setting, str]]:
    """(flag, its setting, how it takes a value) of every option of ``program`` that sets a number
    of its config (or, in train_cyclegan, of the model's), other than a choice among a few."""
    from gan.model import ModelConfig

    classes = [type(parse(program, MINIMAL_ARGV[program](tmp)))] + ([ModelConfig] if program == "train_cyclegan" else [])
    declared = {}
    for cls in classes:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            number = re.search(r"\b(int|float)\b", str(hints[f.name])) or setting_of(f).lo is not None
            if number and not setting_of(f).choices:
                declared[f.name] = declared[f"model.{f.name}"] = (setting_of(f), str(hints[f.name]))
    out = []
    for action in _program(program).build_parser()._actions:
        if action.dest in declared and action.option_strings:
            setting, kind = declared[action.dest]
            spelling = "pair" if action.nargs == 2 else "hw" if "list" in kind else "one"
            out.append((action.option_strings[0], setting, spelling))
    return out


def _option_argv(flag: str, spelling: str, value: str) -> list[str]:
    """``--option VALUE`` (``--hysteresis`` takes two numbers, sizes HxW)."""
    return {"pair": [flag, value, value], "hw": [flag, f"{value}x{value}"], "one": [flag, value]}[spelling]


@pytest.mark.parametrize("program", sorted(TABLE))
def test_every_numeric_option_refuses_zero_negative_and_absurd_values(tmp_path, capsys, program):
    """Each option that sets a number is bounded, and 0, -3 and 10^12 are taken exactly when its
    setting's range holds them; a refusal is an argparse error (exit 2, one 'error:' line naming
    the option, no traceback)."""
    wrong = []
    for flag, setting, spelling in _numeric_flags(program, tmp_path):
        if setting.lo is None or setting.hi is None:
            wrong.append(f"{flag}: no declared range")
            continue
        for value in ("0", "-3", "1000000000000"):
            refused_zero = (program, flag) in ZERO_REFUSED and value == "0"
            allowed = setting.lo <= int(value) <= setting.hi and not refused_zero
            try:
                parse(program, [*MINIMAL_ARGV[program](tmp_path), *_option_argv(flag, spelling, value)])
                if not allowed:
                    wrong.append(f"{flag} {value}: accepted")
                continue
            except SystemExit as stop:
                code = stop.code
            errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
            if allowed or code != 2 or len(errors) != 1 or flag not in errors[0] or "Traceback" in errors[0]:
                wrong.append(f"{flag} {value}: exit {code}, {errors}")
    assert not wrong, "\n".join(wrong)


def test_every_program_of_the_table_is_tried_here(tmp_path):
    assert set(MINIMAL_ARGV) == set(TABLE)
    with_numbers = {program for program in TABLE if _numeric_flags(program, tmp_path)}
    assert with_numbers == set(TABLE) - {"benchmark"}  # benchmark sets no number


def test_every_program_documents_the_exit_codes(capsys):
    """Each program's --help, as its script prints it (the scripts only call the table's
    program: tests/shallowdof/test_programs.py), ends with the exit codes."""
    for name in TABLE:
        with pytest.raises(SystemExit) as info:
            _program(name).main(["--help"])
        out = capsys.readouterr().out
        assert info.value.code == 0, name
        assert "exit status:" in out and "130  interrupted" in out, name
        if name == "compare":
            assert out.count("Compare shallow depth-of-field methods side by side") == 1


# --- blur: method parameters --------------------------------------------------------------------

@pytest.mark.parametrize("method, param, expect", [
    ("gaussian", "k=-3", "k: must be between 1 and 1001, got -3"),
    ("gaussian", "k=100001", "k: must be between 1 and 1001, got 100001"),
    ("lens", "blades=6.5", "blades: expected int, got 6.5"),
    ("lens", "blades=2", "blades: must be one of 0, 3 … 64, got 2"),
    ("lens", "f_number=0", "f_number: must be between 0.5 and 64, got 0"),
    ("lens", "f_number=wide", "f_number: expected float, got 'wide'"),
    ("progressive3", "kernels=[15,0,3]", "kernels: must be between 1 and 1001, got 0"),
])
def test_blur_checks_method_parameters_before_reading_any_image(capsys, method, param, expect):
    blur = _program("blur")
    with pytest.raises(SystemExit) as info:
        blur.parse_args(["no_such_image.png", "--method", method, "--params", param])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert expect in err and f"method {method!r}" in err and "Traceback" not in err


def _photo(path: Path, seed: int = 3) -> Path:
    io.write_image(path, make_scene(seed, size=(H, W), render_dof=False).image)
    return path


def test_blur_warns_about_a_parameter_the_mode_ignores_naming_the_mode(tmp_path, caplog):
    """With the relative depth prior, f_number does not change the output: said once, by mode.
    (Where a face is found the prior becomes metric and f_number acts: relative is asked for here.)"""
    blur = _program("blur")
    photos = [_photo(tmp_path / f"p{i}.png", i) for i in range(2)]
    cfg = blur.BlurConfig(inputs=[str(p) for p in photos], out=str(tmp_path / "out"), method="lens",
                          params={"coc": "relative", "f_number": 16}, quiet=True, segmenter="mediapipe")
    with caplog.at_level("WARNING"):
        assert blur.run(cfg) == (2, 0)
    warnings = [r.getMessage() for r in caplog.records if "no effect" in r.getMessage()]
    assert len(warnings) == 1 and "f_number" in warnings[0] and "coc='relative'" in warnings[0]
    # in metres (a depth file), f_number matters and nothing is said
    caplog.clear()
    depth = tmp_path / "d.npy"
    np.save(depth, make_scene(0, size=(H, W), render_dof=False).depth)
    cfg = blur.BlurConfig(inputs=[str(photos[0])], out=str(tmp_path / "m"), method="lens", depth=str(depth),
                          params={"f_number": 16}, quiet=True)
    with caplog.at_level("WARNING"):
        assert blur.run(cfg) == (1, 0)
    assert not [r for r in caplog.records if "no effect" in r.getMessage()]


# --- blur: inputs and outputs ----------------------------------------------------------------------

def test_blur_two_inputs_with_one_output_name_are_both_named_and_the_rest_goes_on(tmp_path, capsys):
    blur = _program("blur")
    good_png = _photo(tmp_path / "photo.png")
    Image.open(good_png).convert("RGB").save(tmp_path / "photo.jpg", quality=90)
    whole = (tmp_path / "photo.jpg").read_bytes()
    (tmp_path / "photo.jpg").write_bytes(whole[: len(whole) // 2])  # truncated
    other = _photo(tmp_path / "other.png", 4)
    cfg = blur.BlurConfig(inputs=[str(tmp_path / "photo.jpg"), str(good_png), str(other)], out=str(tmp_path / "o"),
                          method="box", quiet=True)
    assert blur.run(cfg) == (1, 2)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "same output" in line]
    assert len(lines) == 2 and all("photo.jpg" in line and "photo.png" in line for line in lines)
    assert "already written" not in err
    assert (tmp_path / "o" / "other_box.png").is_file() and not (tmp_path / "o" / "photo_box.png").exists()


def test_blur_a_missing_input_is_one_failed_item_and_the_good_file_is_processed(tmp_path, capsys):
    blur = _program("blur")
    good = _photo(tmp_path / "good.png")
    cfg = blur.BlurConfig(inputs=[str(good), str(tmp_path / "missing.jpg")], out=str(tmp_path / "o"),
                          method="box", quiet=True)
    assert blur.run(cfg) == (1, 1)
    assert f"{tmp_path / 'missing.jpg'}: no such file or folder" in capsys.readouterr().err
    assert (tmp_path / "o" / "good_box.png").is_file()


def test_ctrl_c_is_one_line_and_exit_130(tmp_path):
    """SIGINT while a batch runs: one line, status 130, no traceback, no temporary file left."""
    src, out = tmp_path / "in", tmp_path / "o"
    src.mkdir()
    for i in range(40):
        io.write_image(src / f"p{i:02d}.png", make_scene(i, size=(192, 256), render_dof=False).image)
    # SIGINT back to its default in the child: a test run started in the background (`make test &`)
    # inherits an ignored SIGINT, and Python then never turns Ctrl-C into KeyboardInterrupt.
    proc = subprocess.Popen([sys.executable, "scripts/blur.py", str(src), "--method", "lens", "--out", str(out),
                             "--quiet"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not list(out.glob("*_lens.png")):
        time.sleep(0.02)
    assert proc.poll() is None, "the batch ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["blur: interrupted; finished outputs are kept, nothing is half-written"]
    assert not [p for p in out.glob(".*") if p.name != RECORD_NAME]  # no temporary left


def test_stale_temporaries_of_a_killed_run_are_removed_on_the_next_run(tmp_path):
    blur = _program("blur")
    good = _photo(tmp_path / "good.png")
    out = tmp_path / "o"
    out.mkdir()
    stale = [killed_writers_temporary(out / name) for name in ("good_box.png", "blur_box_config.json", "notes.txt")]
    live = out / f"{temporary_affixes(out / 'good_box.png')[0]}abcd1234.tmp.png"  # this process's: still writing
    foreign = [out / ".notes.txt.a1b2c3d4.tmp.txt", out / ".hidden.png", live]
    for path in foreign:
        path.write_bytes(b"x")
    assert blur.run(blur.BlurConfig(inputs=[str(good)], out=str(out), method="box", quiet=True)) == (1, 0)
    assert not any(p.exists() for p in stale)  # their process is gone
    assert all(p.exists() for p in foreign)  # not a temporary, or one whose process still runs: left alone


def test_saved_depth_keeps_its_unit_and_is_read_back_the_same_way(tmp_path):
    """--save-depth of the relative prior, handed back with --depth, gives the very same render
    (before, it was read as metres and the thin lens blurred everything)."""
    blur = _program("blur")
    photo = _photo(tmp_path / "p.png")
    relative = {"coc": "relative"}  # the relative prior even where a face would make it metric
    first = blur.BlurConfig(inputs=[str(photo)], out=str(tmp_path / "a"), method="lens", save_depth=True, quiet=True,
                            params=relative)
    assert blur.run(first) == (1, 0)
    saved = tmp_path / "a" / "p_depth.npz"
    assert io.read_depth_with_unit(saved)[1] == "relative"
    again = blur.BlurConfig(inputs=[str(photo)], out=str(tmp_path / "b"), method="lens", depth=str(saved), quiet=True,
                            params=relative)
    assert blur.run(again) == (1, 0)
    assert np.array_equal(io.read_image(tmp_path / "a" / "p_lens.png"), io.read_image(tmp_path / "b" / "p_lens.png"))
    with pytest.raises(ValueError, match="relative depth is written as .npz"):
        io.write_depth(tmp_path / "x.npy", np.ones((4, 4), np.float32), "relative")


def test_quiet_hides_mediapipe_log_lines(tmp_path):
    photo = _photo(tmp_path / "p.png")
    env = {k: v for k, v in os.environ.items() if k not in ("GLOG_minloglevel", "TF_CPP_MIN_LOG_LEVEL")}
    out = subprocess.run([sys.executable, "scripts/blur.py", str(photo), "--method", "box", "--out",
                          str(tmp_path / "o"), "--quiet"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines() == ["1 done, 0 failed"]


def test_the_pixel_limit_message_names_the_flag_and_the_flag_cannot_exceed_pillows_limit(tmp_path):
    photo = _photo(tmp_path / "p.png")
    with pytest.raises(io.ImageError, match="--max-pixels"):
        io.read_image(photo, max_pixels=10)
    assert io.MAX_PIXELS_CEILING == 2 * Image.MAX_IMAGE_PIXELS  # above it, Pillow refuses whatever we say


# --- output folders -----------------------------------------------------------------------------

OUT_PROGRAMS = [
    ("blur", lambda out: ["a.png", "--out", out]),
    ("webcam", lambda out: ["--input", "0", "--output", str(Path(out) / "v.mp4")]),
    ("compare", lambda out: ["--input", "i", "--out", out]),
    ("app", lambda out: ["--out", out]),
    ("test_cyclegan", lambda out: ["--checkpoint", "c", "--input", "i", "--out", out]),
    ("scrape_flickr", lambda out: ["--out", out]),
    ("curate", lambda out: ["--raw", "r", "--out", out]),
    ("prepare_masks", lambda out: [out]),
]


@pytest.mark.parametrize("program, argv", OUT_PROGRAMS, ids=[p for p, _ in OUT_PROGRAMS])
def test_an_output_folder_that_is_a_file_or_read_only_is_one_line(tmp_path, capsys, monkeypatch, program, argv):
    parse = _program(program).parse_args
    a_file = tmp_path / "taken"
    a_file.write_text("a file")
    with pytest.raises(SystemExit) as info:  # webcam: its --output would go into a file
        parse(argv(str(a_file)))
    assert info.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(err) == 1 and str(a_file) in err[0] and "file" in err[0]

    read_only = tmp_path / "ro"
    read_only.mkdir()
    real_access = os.access
    monkeypatch.setattr(cli.os, "access", lambda p, mode: False if Path(p) == read_only else real_access(p, mode))
    with pytest.raises(SystemExit) as info:
        parse(argv(str(read_only / "sub") if program != "prepare_masks" else str(read_only)))
    assert info.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(err) == 1 and "read-only" in err[0] and str(read_only) in err[0]


def test_new_files_follow_the_umask_scraped_photos_included(tmp_path, httpserver):
    from datasets.flickr import Downloader

    buffer = tmp_path / "src.jpg"
    Image.fromarray(make_scene(1, size=(H, W), render_dof=False).image).save(buffer, quality=90)
    httpserver.expect_request("/photo.jpg").respond_with_data(buffer.read_bytes(), content_type="image/jpeg")
    old = os.umask(0o027)
    try:
        io.write_image(tmp_path / "w.png", np.zeros((4, 4, 3), np.uint8))
        got = Downloader().download(httpserver.url_for("/photo.jpg"), tmp_path / "raw", "123")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "w.png").stat().st_mode) == 0o640
    assert stat.S_IMODE(got.path.stat().st_mode) == 0o640  # mkstemp's 0600 no longer leaks through


# --- compare: reference photos counted apart -----------------------------------------------------

def test_compare_counts_bad_reference_photos_apart_from_inputs(tmp_path, capsys):
    compare = _program("compare")
    inputs, reference = tmp_path / "in", tmp_path / "ref"
    inputs.mkdir()
    reference.mkdir()
    scene = make_scene(2, size=(H, W), render_dof=False)
    for folder, name in ((inputs, "a"), (reference, "good")):
        io.write_image(folder / f"{name}.png", scene.image)
        io.write_mask(io.mask_path(folder / f"{name}.png", folder), scene.mask)
    for i in range(3):
        (reference / f"bad{i}.jpg").write_bytes(b"")
    status = compare.main(["--input", str(inputs), "--out", str(tmp_path / "o"), "--methods", "box",
                           "--reference", str(reference), "--fid-weights", "off", "--quiet"])
    assert status == 1
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("1 image(s) × 1 method(s) compared, 0 bad image(s), 3 bad reference image(s), "
                           "0 failed render(s)"), line


# --- test_cyclegan -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    from datasets.synthetic import write_unaligned_dataset
    from gan import train as T
    from gan.cli import train_cyclegan as P

    root = tmp_path_factory.mktemp("gan")
    write_unaligned_dataset(root / "data", n_train=2, n_test=1, size=(40, 40), seed=3)
    T.train(P.parse_args(["--dataroot", str(root / "data"), "--runs-dir", str(root / "runs"), "--name", "t",
                          "--netG", "resnet", "--n-blocks", "1", "--ngf", "4", "--ndf", "4", "--n-layers-D", "2",
                          "--load-size", "36", "--crop-size", "32", "--num-workers", "0", "--max-steps", "1",
                          "--display", "none", "--quiet"]))
    return T.list_checkpoints(root / "runs" / "t")[-1]


def test_test_cyclegan_defaults_to_the_checkpoints_training_size(tmp_path, checkpoint):
    from gan.infer import Translator

    assert Translator.from_checkpoint(checkpoint, size="checkpoint").size == 36  # load size: the training scale
    assert Translator.from_checkpoint(checkpoint, size="checkpoint", mode="tiles").size == 32  # the crop it saw
    src = tmp_path / "in"
    src.mkdir()
    io.write_image(src / "a.png", make_scene(1, size=(48, 56), render_dof=False).image)
    status = _program("test_cyclegan").main(["--checkpoint", str(checkpoint), "--input", str(src), "--out",
                                            str(tmp_path / "o"), "--quiet"])
    assert status == 0
    assert json.loads((tmp_path / "o" / "test_config.json").read_text())["size"] == 36


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (5, 1)])
def test_test_cyclegan_translates_tiny_images(checkpoint, shape):
    """A 1×1 image failed with "Expected more than 1 spatial element" (instance norm)."""
    from gan.infer import Translator

    image = np.full((*shape, 3), 128, np.uint8)
    for size, mode in ((None, "resize"), (8, "resize"), (8, "tiles")):
        assert Translator.from_checkpoint(checkpoint, size=size, mode=mode)(image).shape == (*shape, 3)


# --- training segmentation and depth networks -----------------------------------------------------

def _bomb(path: Path) -> None:
    """A PNG whose header claims 100 000 × 100 000 pixels (refused before decoding)."""
    Image.new("L", (8, 8)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = (100_000).to_bytes(4, "big") * 2
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    path.write_bytes(bytes(data))


def test_segmentation_training_names_every_bad_file_and_writes_nothing(tmp_path, caplog):
    from segdepth.train import main

    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i in range(3):
        scene = make_scene(i, size=(32, 32), render_dof=False)
        io.write_image(images / f"{i}.png", scene.image)
        io.write_image(masks / f"{i}.png", (scene.mask * 255).astype(np.uint8))
    _bomb(images / "1.png")
    whole = (images / "2.png").read_bytes()
    (images / "2.png").write_bytes(whole[: len(whole) // 2])
    run = tmp_path / "run"
    args = ["--run-dir", str(run), "--model", "unet", "--weights", "none", "--arch", "base=4", "depth=2",
            "--dataset", "folders", "--data", f"images_dir={images}", f"masks_dir={masks}", "--buckets", "32x32",
            "--epochs", "1", "--quiet"]
    with caplog.at_level("ERROR"):
        assert main("segmentation", args) == 1
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "2 bad file(s)" in text and f"{images / '1.png'}:" in text and "decompression bomb" in text
    assert f"{images / '2.png'}: truncated" in text
    assert not run.exists()  # no config.json for a run that never started


# --- downloads ------------------------------------------------------------------------------------

@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """TORCH_HOME in an empty folder; every download attempt is recorded and fails."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(cli.ALLOW_DOWNLOAD_ENV, raising=False)
    attempts: list[str] = []

    def download(url, *args, **kwargs):
        attempts.append(url)
        raise ConnectionError("no network in tests")

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    return tmp_path / "torch" / "hub" / "checkpoints", attempts


def test_nothing_is_downloaded_unless_asked_by_name(empty_hub, monkeypatch):
    from gan.losses import VGGRelu32, VGGWeightsError
    from segdepth.segment import build_segmenter
    from segdepth.weights import WeightsError

    folder, attempts = empty_hub
    with pytest.raises(VGGWeightsError) as vgg:
        VGGRelu32("imagenet")
    assert str(folder / "vgg19-dcbb9e9d.pth") in str(vgg.value) and "--allow-download" in str(vgg.value)
    with pytest.raises(WeightsError) as deeplab:
        build_segmenter("deeplabv3_mobilenet")
    assert str(folder) in str(deeplab.value) and "--allow-download" in str(deeplab.value)
    assert attempts == []  # refused before any attempt to reach the network
    # asked for by name (--allow-download sets the variable): the download is attempted
    _program("blur").parse_args(["a.png", "--allow-download"])
    assert os.environ[cli.ALLOW_DOWNLOAD_ENV] == "1"
    with pytest.raises((VGGWeightsError, ConnectionError)):
        VGGRelu32("imagenet")
    assert len(attempts) == 1 and attempts[0].endswith("vgg19-dcbb9e9d.pth")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
@pytest.mark.parametrize("program, parse, argv", [
    ("train_cyclegan", _parse("train_cyclegan"), ["--dataroot", "d", "--device", "cuda"]),
    ("test_cyclegan", _parse("test_cyclegan"),
     ["--checkpoint", "c", "--input", "i", "--out", "o", "--device", "cuda"]),
    ("compare", _parse("compare"), ["--input", "i", "--out", "o", "--device", "cuda:0"]),
    ("train_segmentation", _parse("train_segmentation", parser_only=True), ["--device", "cuda"]),
])
def test_a_cuda_device_on_a_machine_without_one_is_one_line(capsys, program, parse, argv):
    with pytest.raises(SystemExit) as info:
        parse()(argv)
    assert info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "no CUDA device" in errors[0]


def test_depth_training_names_a_truncated_image_and_a_mismatched_depth_and_writes_nothing(tmp_path, caplog):
    from segdepth.train import main

    images, depths = tmp_path / "images", tmp_path / "depths"
    images.mkdir()
    depths.mkdir()
    for i in range(3):
        scene = make_scene(i, size=(32, 32), render_dof=False)
        Image.fromarray(scene.image).save(images / f"{i}.jpg", quality=90)
        np.save(depths / f"{i}.npy", scene.depth if i != 1 else scene.depth[:16])
    whole = (images / "2.jpg").read_bytes()
    (images / "2.jpg").write_bytes(whole[: len(whole) // 2])
    run = tmp_path / "run"
    args = ["--run-dir", str(run), "--weights", "none", "--dataset", "folders", "--data", f"images_dir={images}",
            f"depths_dir={depths}", "--size", "32x32", "--epochs", "1", "--quiet"]
    with caplog.at_level("ERROR"):
        assert main("depth", args) == 1
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "2 bad file(s)" in text and f"{depths / '1.npy'}: depth map 32×16 does not match" in text
    assert f"{images / '2.jpg'}: truncated" in text
    assert not run.exists()
