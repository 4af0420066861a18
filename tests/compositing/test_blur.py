"""compositing/cli/blur.py, the program behind scripts/blur.py: depth and focus options, saved
masks, earlier outputs, collisions, --params and --config, the astronaut photo."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from compositing.cli import blur
from datasets import io
from datasets.synthetic import make_scene


H, W = 96, 128


def _laplacian_energy(rgb: np.ndarray, smooth: float = 0.0) -> np.ndarray:
    """(∇²Y)² of the grey image, after a Gaussian of σ = ``smooth`` px when > 0."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    if smooth > 0:
        gray = cv2.GaussianBlur(gray, (0, 0), smooth)
    return cv2.Laplacian(gray, cv2.CV_32F) ** 2


@pytest.fixture(scope="module")
def scene():
    return make_scene(3, size=(H, W), render_dof=False)


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        blur.parse_args(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--method", "--depth", "--focus", "--out", "--save-mask", "--save-depth", "lens", "gaussian"):
        assert flag in out


def _cfg(tmp_path: Path, inputs, **kw) -> blur.BlurConfig:
    return blur.BlurConfig(inputs=[str(i) for i in inputs], out=str(tmp_path / "out"), quiet=True, **kw)


def test_focus_point_moves_the_sharp_plane(tmp_path, scene):
    """Focusing on the far backdrop (true depth, thin lens) leaves it sharper and blurs the subject.
    Grain off: the scene's per-pixel texture noise reads as sensor noise, and the grain would put
    Laplacian energy back on the defocused subject (tests/compositing/test_grain.py covers it)."""
    img, depth = tmp_path / "s.png", tmp_path / "s.npy"
    Image.fromarray(scene.image).save(img)
    np.save(depth, scene.depth)
    far = np.unravel_index(np.argmax(scene.depth), scene.depth.shape)
    subject = scene.mask > 0.99
    results = {}
    for name, focus in [("subject", None), ("far", f"{far[1]},{far[0]}")]:
        cfg = _cfg(tmp_path / name, [img], method="lens", depth=str(depth), focus=focus, params={"grain": False})
        assert blur.run(cfg) == (1, 0)
        results[name] = io.read_image(tmp_path / name / "out" / "s_lens.png")
    far_plane = np.abs(scene.depth - scene.depth.max()) < 1e-3
    e = {k: _laplacian_energy(v) for k, v in results.items()}
    assert e["far"][far_plane].mean() > 2 * e["subject"][far_plane].mean()
    assert e["far"][subject].mean() < 0.5 * e["subject"][subject].mean()
    # outside the image: a per-file error, nothing written
    cfg = _cfg(tmp_path / "bad", [img], method="lens", focus=f"{W + 5},3")
    assert blur.run(cfg) == (0, 1)
    assert not (tmp_path / "bad" / "out" / "s_lens.png").exists()
    assert blur.focus_point("50%,100%", 201, 101) == (100.0, 100.0)


def test_save_mask_and_depth(tmp_path, scene):
    img = tmp_path / "p.png"
    Image.fromarray(scene.image).save(img)
    cfg = _cfg(tmp_path, [img], method="progressive13", save_mask=True, save_depth=True)
    assert blur.run(cfg) == (1, 0)
    out = tmp_path / "out"
    mask = np.asarray(Image.open(out / "p_mask.png"))
    assert mask.shape == (H, W) and mask.dtype == np.uint8
    # the saved mask is the post-processed MediaPipe mask the render used
    from compositing.pipeline import postprocess_mask
    from segdepth.segment import build_segmenter

    expect = postprocess_mask(build_segmenter("mediapipe")(scene.image), scene.image)
    assert np.abs(mask / 255.0 - expect).max() <= 0.5 / 255 + 1e-6
    assert (mask > 127).any()
    depth, unit = io.read_depth_with_unit(out / "p_depth.npz", expected_shape=(H, W))
    assert unit == "relative"  # the prior's depth is saved with its unit
    # the prior puts the subject at the focal plane (depth 1) and the top of the frame behind it
    # (the ground in front of a subject whose lower edge is in the frame is nearer: its ground contact)
    assert np.all(depth[mask > 127] == 1.0) and depth[:8].min() > 1.0
    # a given depth map is what gets saved
    given = tmp_path / "given.npy"
    np.save(given, scene.depth)
    cfg = _cfg(tmp_path / "2", [img], method="progressive13", depth=str(given), save_depth=True)
    assert blur.run(cfg) == (1, 0)
    depth, unit = io.read_depth_with_unit(tmp_path / "2" / "out" / "p_depth.npz")
    np.testing.assert_array_equal(depth, scene.depth)
    assert unit == "m"


def test_depth_folder_names_and_collisions(tmp_path, scene):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(scene.image).save(src / "a.png")
    Image.fromarray(scene.image).save(src / "b.png")
    Image.fromarray(scene.image).save(src / "b.jpg")  # same stem: same output name, both refused
    depths = tmp_path / "depths"
    depths.mkdir()
    np.save(depths / "a.npy", scene.depth)
    np.save(depths / "b.npy", scene.depth)
    cfg = _cfg(tmp_path, [src], method="box", depth=str(depths))
    assert blur.run(cfg) == (1, 2)
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")) == ["a_box.png", "blur_box_config.json"]
    # a depth folder without the image's map
    (depths / "a.npy").unlink()
    assert blur.run(_cfg(tmp_path / "x", [src / "a.png"], method="box", depth=str(depths))) == (0, 1)
    # one depth file for several images is a usage error
    with pytest.raises(ValueError, match="one file"):
        blur.run(_cfg(tmp_path / "y", [src], method="box", depth=str(depths / "b.npy")))


def test_rerun_next_to_inputs_skips_earlier_outputs(tmp_path, scene):
    Image.fromarray(scene.image).save(tmp_path / "a.png")
    Image.fromarray(scene.image).save(tmp_path / "x_box.png")  # a photo with such a name, no source
    cfg = blur.BlurConfig(inputs=[str(tmp_path)], method="box", quiet=True)
    assert blur.run(cfg) == (2, 0)
    assert (tmp_path / "a_box.png").exists() and (tmp_path / "x_box_box.png").exists()
    assert blur.run(cfg) == (2, 0)  # a_box.png and x_box_box.png are not blurred again
    assert not (tmp_path / "a_box_box.png").exists()
    assert not (tmp_path / "x_box_box_box.png").exists()
    # --out inside the input folder: its contents are not inputs on the next run
    cfg = blur.BlurConfig(inputs=[str(tmp_path)], method="gaussian", out=str(tmp_path / "res"), quiet=True)
    assert blur.run(cfg) == (2, 0)
    assert blur.run(cfg) == (2, 0)
    assert sorted(p.name for p in (tmp_path / "res").iterdir() if not p.name.startswith(".")) == [
        "a_gaussian.png", "blur_gaussian_config.json", "x_box_gaussian.png",
    ]
    with pytest.raises(ValueError, match="no images found"):
        blur.run(blur.BlurConfig(inputs=[str(tmp_path / "res")], method="gaussian", out=str(tmp_path / "res"), quiet=True))


def test_params_parsing():
    assert blur.parse_args(["x.png", "--method", "gaussian", "--params", "k=7"]).params == {"k": 7}
    cfg = blur.parse_args(["x.png", "--params", '{"blades": 6}', "strength=0.02", "coc=relative"])
    assert cfg.params == {"blades": 6, "strength": 0.02, "coc": "relative"}



@pytest.mark.parametrize("args,word", [(["--params", "novalue"], "--params"), (["--focus", "1;2"], "--focus"),
                                       (["--method", "nope"], "--method")])
def test_usage_errors(capsys, args, word):
    with pytest.raises(SystemExit) as info:
        blur.parse_args(["x.png", *args])
    assert info.value.code == 2
    assert word in capsys.readouterr().err


@pytest.mark.parametrize("method", ["lens", "gaussian"])
def test_astronaut_subject_sharp_background_blurred(tmp_path, method):
    """skimage's astronaut through MediaPipe + the depth prior. Energy of the Laplacian of the luma
    smoothed with σ = 2 px (structure at the scale the blur removes; the lens's grain, which puts
    the photo's pixel-scale noise back on purpose, hardly reaches it): inside the mask eroded by
    15 px ≥ 90 % is kept; outside the mask dilated by 25 px ≤ 50 % is left. (Measured: lens at
    its default strength 0.006 1.000 / 0.36 (0.14 at 0.01), gaussian 1.000 / 0.15; an unblurred
    background keeps 1.0.)"""
    from skimage import data

    image = data.astronaut()
    img = tmp_path / "astronaut.png"
    io.write_image(img, image)
    cfg = _cfg(tmp_path, [img], method=method, save_mask=True)
    assert blur.run(cfg) == (1, 0)
    out = io.read_image(tmp_path / "out" / f"astronaut_{method}.png")
    mask = np.asarray(Image.open(tmp_path / "out" / "astronaut_mask.png")) > 127
    assert 0.1 < mask.mean() < 0.8  # MediaPipe found the person
    core = cv2.erode(mask.astype(np.uint8), np.ones((31, 31), np.uint8)).astype(bool)
    background = cv2.dilate(mask.astype(np.uint8), np.ones((51, 51), np.uint8)) == 0
    e_in, e_out = _laplacian_energy(image, smooth=2.0), _laplacian_energy(out, smooth=2.0)
    kept_subject = e_out[core].sum() / e_in[core].sum()
    kept_background = e_out[background].sum() / e_in[background].sum()
    print(f"{method}: subject kept {kept_subject:.3f}, background kept {kept_background:.3f}")
    assert kept_subject >= 0.9
    assert kept_background <= 0.5


def test_pixel_limit_and_odd_modes_through_the_cli(tmp_path, scene, capsys):
    """--max-pixels refuses big images by name; CMYK, 16-bit and RGBA inputs are converted and blurred."""
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(scene.image).convert("CMYK").save(src / "cmyk.jpg", quality=95)
    Image.fromarray(np.dstack([scene.image, np.full((H, W), 128, np.uint8)])).save(src / "rgba.png")
    gray16 = (scene.image[..., 1].astype(np.uint16) * 257)
    Image.fromarray(gray16).save(src / "gray16.png")
    assert blur.run(_cfg(tmp_path, [src], method="box")) == (3, 0)
    out16 = io.read_image(tmp_path / "out" / "gray16_box.png")
    # 16-bit grey levels scaled to 8 bits, not clipped to white: a box blur keeps the mean level
    assert abs(out16[..., 0].mean() - scene.image[..., 1].mean()) < 2
    assert np.array_equal(out16[..., 0], out16[..., 2])

    capsys.readouterr()
    assert blur.run(_cfg(tmp_path / "small", [src], method="box", max_pixels=H * W - 1)) == (0, 3)
    err = capsys.readouterr().err
    for name in ("cmyk.jpg", "rgba.png", "gray16.png"):
        assert f"{src / name}: image is {W}×{H}" in err and "above the limit" in err


def test_f_number_changes_the_result_and_the_config_records_the_depth_path(tmp_path):
    """The README's `--params f_number=1.4` acts on a portrait: the prior is made metric from the
    face, so f/1.4 and f/16 differ, and the saved config says so per image."""
    from skimage import data

    photo = tmp_path / "astronaut.png"
    io.write_image(photo, np.ascontiguousarray(data.astronaut()[:, :, :3]))
    outputs = {}
    for n in ("1.4", "16"):
        out = tmp_path / f"f{n}"
        assert blur.main([str(photo), "--out", str(out), "--quiet", "--save-mask", "--params", f"f_number={n}"]) == 0
        outputs[n] = io.read_image(out / "astronaut_lens.png")
        background = io.read_image(out / "astronaut_mask.png")[..., 0] == 0
        config = json.loads((out / "blur_lens_config.json").read_text())
        info = config["images"][str(photo)]
        assert info["depth_source"] == "metric_from_face" and info["params"]["f_number"] == float(n)
        assert info["focal_length_source"] == "default" and len(info["people"]) >= 1
    # detail at 2 px: at the pixel scale the photo's grain, which the lens puts back, counts as detail
    energy = {n: _laplacian_energy(o, smooth=2.0)[background].mean() for n, o in outputs.items()}
    assert energy["1.4"] < 0.5 * energy["16"]


def test_saved_config_reloads_with_config_and_flags_override(tmp_path, scene, capsys):
    """blur_<method>_config.json (with its per-image record) is a --config: the same settings
    again, flags given beside it win, a broken or foreign file is one usage-error line."""
    img = tmp_path / "p.png"
    Image.fromarray(scene.image).save(img)
    first = blur.parse_args([str(img), "--method", "gaussian", "--params", "k=9", "--out", str(tmp_path / "a"),
                             "--save-mask", "--quiet"])
    assert blur.run(first) == (1, 0)
    saved = tmp_path / "a" / "blur_gaussian_config.json"
    assert "images" in json.loads(saved.read_text())  # the record of what was done, beside the settings
    assert blur.parse_args(["--config", str(saved)]) == first
    again = blur.parse_args(["--config", str(saved), "--out", str(tmp_path / "b"), "--params", "k=5"])
    assert again.out == str(tmp_path / "b") and again.params == {"k": 5} and again.save_mask
    assert again.inputs == [str(img)] and again.method == "gaussian"
    off = blur.parse_args(["--config", str(saved), "--no-save-mask", "--no-quiet"])  # a saved true can be undone
    assert not off.save_mask and not off.quiet and off.params == {"k": 9}
    assert blur.run(again) == (1, 0)
    assert not np.array_equal(io.read_image(tmp_path / "a" / "p_gaussian.png"),
                              io.read_image(tmp_path / "b" / "p_gaussian.png"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"method": "gaussian", "sigma": 3}))
    with pytest.raises(SystemExit) as info:
        blur.parse_args(["--config", str(bad)])
    assert info.value.code == 2 and f"{bad}: unknown BlurConfig keys: ['sigma']" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a config whose params do not fit its method
        bad.write_text(json.dumps({"inputs": [str(img)], "method": "gaussian", "params": {"f_number": 2}}))
        blur.parse_args(["--config", str(bad)])
    assert "f_number" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        blur.parse_args([])
    assert "give at least one INPUT" in capsys.readouterr().err
    bad.write_text(json.dumps({"inputs": [str(img)], "segmenter": "sam"}))
    with pytest.raises(SystemExit):
        blur.parse_args(["--config", str(bad)])
    assert f"{bad}: segmenter: must be one of " in capsys.readouterr().err


def test_failure_line_and_status_are_the_batch_policy(tmp_path):
    path = tmp_path / "x.jpg"
    assert blur.failure_line(path, io.ImageError(path, "truncated")) == f"{path}: truncated"
    assert blur.failure_line(path, MemoryError()) == f"{path}: not enough memory for this image"
    assert blur.failure_line(path, ValueError("focus point (9, 9) is outside")) == f"{path}: focus point (9, 9) is outside"
    assert blur.batch_status(0) == 0 and blur.batch_status(2) == 1

