"""End-to-end comparison runs on synthetic scenes (evaluation/compare.py, scripts/compare.py)."""
import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from compositing.pipeline import postprocess_mask
from datasets.io import mask_path, read_image, read_mask, write_depth, write_image, write_mask
from datasets.synthetic import make_scene
from evaluation.compare import CompareConfig, run_compare
from evaluation.renderers import GanSpec, Renderer, run_dir_of_checkpoint

ROOT = Path(__file__).resolve().parents[2]
SIZE = (64, 64)
HOSTILE = "<b onmouseover=\"window.__xss=1\">&'é"


def write_photo(folder: Path, name: str, rgb: np.ndarray, mask: np.ndarray) -> None:
    """``folder/name`` and its mask in the layout's mask folder ``folder_masks/``."""
    write_image(folder / name, rgb)
    write_mask(mask_path(folder / name, folder), mask)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """inputs/ (exact masks in inputs_masks/), depth/, truth/ (reference renders), reference/ (+ its
    masks), one corrupt file."""
    root = tmp_path_factory.mktemp("scenes")
    for i, name in enumerate(["s0", "s1", HOSTILE]):
        scene = make_scene(seed=i, size=SIZE)
        write_photo(root / "inputs", f"{name}.png", scene.image, scene.mask)
        write_depth(root / "depth" / f"{name}.npy", scene.depth)
        write_image(root / "truth" / f"{name}.png", scene.dof)
    for i in range(3):
        scene = make_scene(seed=100 + i, size=SIZE)
        write_photo(root / "reference", f"r{i}.png", scene.dof, scene.mask)
    (root / "inputs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


def _blur(image, mask, depth):
    m = mask[..., None]
    return (image * m + cv2.GaussianBlur(image, (0, 0), 1.0) * (1 - m)).round().astype(np.uint8)


def _checker(image, mask, depth):
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    pattern = np.where((yy + xx) % 2 == 0, 8, -8)[..., None] * (1 - mask[..., None])
    return np.clip(_blur(image, mask, depth) + pattern, 0, 255).astype(np.uint8)


def _identity(image, mask, depth):
    return image.copy()


def _fails_on_s1(image, mask, depth):
    if image.mean() == _fails_on_s1.bad_mean:
        raise RuntimeError("out of memory (simulated)")
    return image[:-1]  # wrong shape everywhere else


def _fake_renderers():
    return [Renderer("blur", "fake", {"sigma": 1.0}, _blur), Renderer("checker", "fake", {"amp": 8}, _checker),
            Renderer("identity", "fake", {}, _identity)]


def _ones(image, mask):
    return np.ones(image.shape[:2], np.float32)


def _no_model(*args):
    raise AssertionError("every input has a mask and a depth map: no model may be built")


def _csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_compare_with_fake_renderers(data, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_hub"))  # no LPIPS backbone weights
    cfg = CompareConfig(input=str(data / "inputs"), out=str(tmp_path / "out"), depth=str(data / "depth"),
                        truth=str(data / "truth"), reference=str(data / "reference"), fid_weights="off", quiet=True)
    res = run_compare(cfg, _fake_renderers(), segmenter=_no_model, depth_model=_no_model)
    out = tmp_path / "out"
    # the corrupt file is reported by name and counted; the rest goes on
    assert res.n_images == 4 and res.n_bad == 1 and res.n_render_failures == 0 and not res.ok
    assert len(res.errors) == 1 and "broken.png" in res.errors[0]
    for method in ("blur", "checker", "identity"):
        for name in ("s0", "s1", HOSTILE):
            assert (out / "results" / method / f"{name}.png").is_file()
    assert json.loads((out / "config.json").read_text())["truth"] == str(data / "truth")

    rows = _csv(out / "metrics.csv")
    assert [r["scope"] for r in rows].count("image") == 9
    means = {r["method"]: r for r in rows if r["scope"] == "mean"}
    assert set(means) == {"blur", "checker", "identity"}
    # the metrics tell the fake methods apart the way they should
    assert float(means["identity"]["bg_blur"]) == pytest.approx(1.0)
    assert float(means["blur"]["bg_blur"]) < 0.2
    assert float(means["checker"]["checkerboard"]) > 3 * float(means["blur"]["checkerboard"])
    assert means["identity"]["subject_psnr"] == "inf" and means["blur"]["subject_psnr"] == "inf"
    assert float(means["blur"]["truth_psnr"]) > float(means["checker"]["truth_psnr"])
    # the blurred outputs are closer in blur statistics to real shallow-DoF photos than the inputs are
    assert float(means["blur"]["blur_w1"]) < 0.5 * float(means["identity"]["blur_w1"])
    assert "fid" not in rows[0] and "truth_lpips" not in rows[0]
    assert any(n.startswith("LPIPS not computed") for n in res.notes)
    md = (out / "metrics.md").read_text(encoding="utf-8")
    assert sum(line.startswith("| ") for line in md.splitlines()) == 4 and "blur-distribution" in md

    html = res.gallery.read_text(encoding="utf-8")
    assert res.gallery == out / "gallery" / "index.html"
    assert "broken.png" in html and HOSTILE not in html  # the name only appears escaped
    assert "&lt;b onmouseover=&quot;window.__xss=1&quot;&gt;&amp;'é" in html
    assert len(list((out / "gallery" / "thumbs").rglob("*.jpg"))) == 3 * (4 + 3)


def test_lpips_column_when_weights_exist(data, tmp_path, monkeypatch):
    pytest.importorskip("lpips", reason="the optional lpips package is not installed")
    import torch
    from torchvision.models import AlexNet_Weights, alexnet

    from evaluation.feature_metrics import _hub_checkpoint

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    path = _hub_checkpoint(AlexNet_Weights.IMAGENET1K_V1.url)
    path.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(alexnet(weights=None).state_dict(), path)
    cfg = CompareConfig(input=str(data / "inputs" / "s0.png"), out=str(tmp_path / "o"), depth=str(data / "depth"),
                        truth=str(data / "truth"), quiet=True)
    res = run_compare(cfg, [Renderer("identity", "fake", {}, _identity), Renderer("truth", "fake", {},
                      lambda image, mask, depth: _truth_of_s0(data))], _no_model, _no_model)
    lp = {r["method"]: r["truth_lpips"] for r in res.rows}
    assert lp["truth"] == pytest.approx(0.0, abs=1e-6) and lp["identity"] > 0
    assert "LPIPS vs ground truth" in (tmp_path / "o" / "metrics.md").read_text(encoding="utf-8")


def _truth_of_s0(data):
    from datasets.io import read_image

    return read_image(data / "truth" / "s0.png")


def test_ground_truth_for_some_images_only(data, tmp_path):
    truth = tmp_path / "truth"
    truth.mkdir()
    (truth / "s0.png").write_bytes((data / "truth" / "s0.png").read_bytes())
    cfg = CompareConfig(input=str(data / "inputs"), out=str(tmp_path / "o"), depth=str(data / "depth"),
                        truth=str(truth), quiet=True)
    res = run_compare(cfg, [Renderer("blur", "fake", {}, _blur)], _no_model, _no_model)
    assert res.n_bad == 1  # broken.png only
    with_truth = {r["image"] for r in res.rows if "truth_psnr" in r}
    assert with_truth == {"s0"} and len(res.rows) == 3
    assert res.gallery.read_text(encoding="utf-8").count("no ground truth") == 2


def test_render_failures_are_counted(data, tmp_path):
    from datasets.io import read_image

    _fails_on_s1.bad_mean = read_image(data / "inputs" / "s1.png").mean()
    cfg = CompareConfig(input=str(data / "inputs"), out=str(tmp_path / "out"), depth=str(data / "depth"),
                        quiet=True)
    res = run_compare(cfg, [Renderer("flaky", "fake", {}, _fails_on_s1), Renderer("blur", "fake", {}, _blur)],
                      segmenter=_no_model, depth_model=_no_model)
    assert res.n_bad == 1 and res.n_render_failures == 3
    assert any("s1.png: method flaky failed: out of memory" in e for e in res.errors)
    assert any("method flaky failed: returned uint8 (63, 64, 3)" in e for e in res.errors)
    assert not (tmp_path / "out" / "results" / "flaky").exists()
    assert {r["method"] for r in res.rows} == {"blur"}


def test_missing_masks_and_depth_use_the_models(data, tmp_path):
    """Inputs without a mask file or depth get their mask from the segmenter and depth from the depth model."""
    plain = tmp_path / "plain"
    rgb, alpha = read_image(data / "inputs" / "s0.png"), read_mask(data / "inputs_masks" / "s0.png")
    write_image(plain / "s0.jpg", rgb)
    calls = []

    def segmenter(image):
        calls.append("seg")
        return alpha

    def depth_model(image, mask):
        calls.append("depth")  # from the matte the pipeline made of the segmenter's mask, as scripts/blur.py
        np.testing.assert_array_equal(mask, postprocess_mask(alpha, image))
        return np.ones(image.shape[:2], np.float32)

    res = run_compare(CompareConfig(input=str(plain), out=str(tmp_path / "out"), quiet=True),
                      [Renderer("blur", "fake", {}, _blur)], segmenter=segmenter, depth_model=depth_model)
    assert res.ok and calls == ["seg", "depth"]


@pytest.mark.slow
def test_fid_random_weights_and_missing_weights(data, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_hub"))
    base = dict(input=str(data / "inputs"), depth=str(data / "depth"), reference=str(data / "reference"), quiet=True)
    renderers = _fake_renderers()[:1]
    # offline: a clear note naming the weights file, and the other metrics still computed
    res = run_compare(CompareConfig(out=str(tmp_path / "a"), **base), renderers, _no_model, _no_model)
    assert any("inception_v3_google" in n and "FID/KID not computed" in n for n in res.notes)
    assert "fid" not in res.set_metrics["blur"] and not math.isnan(res.set_metrics["blur"]["blur_w1"])
    assert "inception_v3_google" in res.gallery.read_text(encoding="utf-8")
    assert "inception_v3_google" in (tmp_path / "a" / "metrics.md").read_text(encoding="utf-8")
    # explicit random init: the FID/KID path runs end to end
    res = run_compare(CompareConfig(out=str(tmp_path / "b"), fid_weights="none", **base), renderers,
                      _no_model, _no_model)
    fid, kid = res.set_metrics["blur"]["fid"], res.set_metrics["blur"]["kid"]
    assert math.isfinite(fid) and fid > 0 and math.isfinite(kid)
    assert any("randomly initialised" in n for n in res.notes)


def test_loss_plots_from_runs(data, tmp_path):
    run = tmp_path / "runs" / "masked"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"preset": "mask_loss", "mask_overlay_train": False}))
    (run / "log.jsonl").write_text("".join(json.dumps({"iter": i, "cycle_A": 1 / (i + 1), "mask_A": 0.1})
                                           + "\n" for i in range(5)))
    assert run_dir_of_checkpoint(run / "checkpoints" / "latest.pt") == run
    cfg = CompareConfig(input=str(data / "inputs" / "s0.png"), out=str(tmp_path / "out"),
                        depth=str(data / "depth"), runs=[str(run)], quiet=True)
    res = run_compare(cfg, [Renderer("blur", "fake", {}, _blur)], _no_model, _no_model)
    assert res.ok
    for name in ("cycle_loss.png", "mask_loss.png"):
        assert (tmp_path / "out" / "plots" / name).is_file()
        assert f"../plots/{name}" in res.gallery.read_text(encoding="utf-8")


def test_gan_spec_and_names(tmp_path):
    assert GanSpec.parse("m=runs/a/x.pt:mask_loss:overlay") == GanSpec("m", Path("runs/a/x.pt"), "mask_loss", True)
    assert GanSpec.parse("m=C:/w/x.pt:cyclegan") == GanSpec("m", Path("C:/w/x.pt"), "cyclegan", False)
    assert GanSpec.parse("m=x.pt:mask_overlay:no-overlay") == GanSpec("m", Path("x.pt"), "mask_overlay", False)
    for bad in ("m=x.pt", "=x.pt:p", "m/x=a.pt:p", "m=:p"):
        with pytest.raises(ValueError):
            GanSpec.parse(bad)
    with pytest.raises(ValueError):
        Renderer("../up", "fake", {}, _blur)


def test_jpeg_inputs_use_their_mask_files_each_photo_once_and_clashes_are_refused(data, tmp_path):
    """JPEG photos with masks beside them are rendered once each with their own mask; ``a.jpg`` +
    ``a.png`` are both refused naming each other; the mask folders inside --input are not photos."""
    inputs = tmp_path / "in"
    scenes = [make_scene(seed=i, size=SIZE) for i in range(3)]
    for i, scene in enumerate(scenes):
        write_photo(inputs, f"p{i}.jpg", scene.image, scene.mask)
    write_image(inputs / "sub" / "q.jpg", scenes[0].image)
    write_mask(mask_path(inputs / "sub" / "q.jpg", inputs), scenes[0].mask)  # in_masks/sub/q.png
    write_mask(inputs / "sub_masks" / "q.png", scenes[1].mask)  # the masks of in/sub/ by its own name: not a photo
    write_image(inputs / "dup.jpg", scenes[1].image)
    write_image(inputs / "dup.png", scenes[2].image)
    seen = []

    def record(image, mask, depth):
        seen.append(float(mask.mean()))
        return image.copy()

    res = run_compare(CompareConfig(input=str(inputs), out=str(tmp_path / "out"), quiet=True),
                      [Renderer("same", "fake", {}, record)], segmenter=_no_model, depth_model=_ones)
    assert sorted({r["image"] for r in res.rows}) == ["p0", "p1", "p2", "sub/q"]
    assert len(res.rows) == 4 and res.n_images == 6 and res.n_bad == 2
    assert any(f"{inputs / 'dup.jpg'}: same name as {inputs / 'dup.png'}" in e for e in res.errors)
    assert any(f"{inputs / 'dup.png'}: same name as {inputs / 'dup.jpg'}" in e for e in res.errors)
    expected = sorted(float(read_mask(mask_path(p, inputs)).mean()) for p in
                      [inputs / "p0.jpg", inputs / "p1.jpg", inputs / "p2.jpg", inputs / "sub" / "q.jpg"])
    assert sorted(seen) == pytest.approx(expected)  # each photo's own mask file, no segmenter


def _script(*args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "compare.py"), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_script_bad_command_lines(tmp_path):
    assert _script("--help").returncode == 0
    (tmp_path / "in").mkdir()
    r = _script("--input", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--methods", "", "--quiet")
    assert r.returncode == 2 and "nothing to compare" in r.stderr
    r = _script("--input", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--methods", "",
                "--gan", f"g={tmp_path}/none.pt:cyclegan")
    assert r.returncode == 2 and "none.pt: no such checkpoint" in r.stderr


@pytest.mark.slow
def test_script_with_compositor_methods(data, tmp_path):
    # the truth is a noise-free optical render (no sensor): the lens is compared without its grain
    r = _script("--input", str(data / "inputs"), "--out", str(tmp_path / "o"), "--methods", "gaussian,lens",
                "--params", "gaussian:k=9", "--params", "lens:grain=false", "--depth", str(data / "depth"),
                "--truth", str(data / "truth"), "--quiet")
    assert r.returncode == 1, r.stderr  # broken.png
    assert "broken.png" in r.stderr and "1 bad image(s), 0 bad reference image(s), 0 failed render(s)" in r.stdout
    means = {row["method"]: row for row in _csv(tmp_path / "o" / "metrics.csv") if row["scope"] == "mean"}
    assert set(means) == {"gaussian", "lens"}
    for m in means.values():
        assert float(m["bg_blur"]) < 0.9 and float(m["subject_ssim"]) > 0.9
    assert float(means["lens"]["truth_psnr"]) > float(means["gaussian"]["truth_psnr"]) - 1.0
    html = (tmp_path / "o" / "gallery" / "index.html").read_text(encoding="utf-8")
    assert "k=9" in html and "f_number=1.8" in html  # the settings actually used are captioned
    config = json.loads((tmp_path / "o" / "config.json").read_text())
    assert config["params"] == {"gaussian": {"k": 9}, "lens": {"grain": False}}
    r = _script("--input", str(data / "inputs"), "--out", str(tmp_path / "o2"), "--methods", "gaussian",
                "--params", "gaussian:sigma=3")
    assert r.returncode == 2 and "sigma" in r.stderr


def test_lens_with_relative_depth_from_the_prior(data, tmp_path):
    """Without depth files the depth prior (relative units) is used, and the lens switches its CoC mode."""
    from evaluation.renderers import compositor_renderer
    from segdepth.depth import build_depth_model

    # the default strength, calibrated at 256 px, barely blurs 64 px; no grain: bg_blur counts the
    # high-frequency energy the grain puts back as detail (this test is about the depth path)
    lens = compositor_renderer("lens", {"strength": 0.02, "grain": False})
    assert lens.prepared_fn is not None and lens.settings["for relative depth"] == "coc=relative"
    cfg = CompareConfig(input=str(data / "inputs" / "s0.png"), out=str(tmp_path / "o"), quiet=True)
    res = run_compare(cfg, [lens], segmenter=_no_model, depth_model=build_depth_model("prior"))
    assert res.ok
    assert res.rows[0]["bg_blur"] < 0.5 and res.rows[0]["subject_ssim"] > 0.9


def test_gan_checkpoint_renderer(data, tmp_path):
    """A tiny untrained CycleGAN checkpoint goes through gan.infer.Translator; overlay keeps the subject.
    --gan takes a checkpoint file or a run directory (its latest checkpoint)."""
    import torch

    from gan.checkpoint import save_checkpoint
    from gan.model import CycleGANModel, config_from_preset

    torch.manual_seed(0)
    model = CycleGANModel(config_from_preset("mask_loss", netG="resnet", n_blocks=1, ngf=4, ndf=4,
                                            n_layers_D=2, vgg_weights="none"))
    run = tmp_path / "runs" / "tiny"
    ckpt = run / "checkpoints" / "ckpt_00000006.pt"
    ckpt.parent.mkdir(parents=True)
    save_checkpoint(ckpt, {"config": model.cfg.to_dict(), "model": model.state_dict()})
    (run / "config.json").write_text(json.dumps({"model": {"preset": "mask_loss", "mask_overlay_train": False}}))
    (run / "log.jsonl").write_text("".join(json.dumps({"epoch": 1, "cycle_A": 2.0 - i / 10, "cycle_B": 1.0,
                                                       "mask_A": 0.5 / (i + 1)}) + "\n" for i in range(6)))
    cfg = CompareConfig(input=str(data / "inputs" / "s0.png"), out=str(tmp_path / "o"), depth=str(data / "depth"),
                        methods=["gaussian"], gan=[f"tiny={ckpt}:mask_loss:overlay", f"raw={run}:mask_loss"],
                        quiet=True)
    res = run_compare(cfg, segmenter=_no_model, depth_model=_no_model)
    assert res.ok, res.errors
    rows = {r["method"]: r for r in res.rows}
    assert set(rows) == {"gaussian", "tiny", "raw"}
    assert rows["tiny"]["subject_psnr"] == math.inf  # overlay pastes the input subject back exactly
    assert rows["raw"]["subject_psnr"] < 30  # an untrained generator changes everything
    assert (tmp_path / "o" / "results" / "tiny" / "s0.png").is_file()
    html = res.gallery.read_text(encoding="utf-8")
    assert "preset=mask_loss, overlay=True, checkpoint=ckpt_00000006.pt" in html
    assert "preset=mask_loss, overlay=False, checkpoint=ckpt_00000006.pt" in html  # found in the run directory
    assert (tmp_path / "o" / "plots" / "mask_loss.png").is_file()  # the run was found beside the checkpoint


def test_metric_failure_is_counted_and_the_render_kept(data, tmp_path, monkeypatch):
    from evaluation import metrics as M

    real = M.compute_image_metrics

    def flaky(image, output, *args, **kwargs):
        if np.array_equal(output, image):
            raise FloatingPointError("simulated")
        return real(image, output, *args, **kwargs)

    monkeypatch.setattr(M, "compute_image_metrics", flaky)
    cfg = CompareConfig(input=str(data / "inputs" / "s0.png"), out=str(tmp_path / "o"), depth=str(data / "depth"),
                        quiet=True)
    res = run_compare(cfg, [Renderer("identity", "fake", {}, _identity), Renderer("blur", "fake", {}, _blur)],
                      _no_model, _no_model)
    assert res.n_render_failures == 1 and "metrics for method identity failed: simulated" in res.errors[0]
    assert (tmp_path / "o" / "results" / "identity" / "s0.png").is_file()
    assert {r["method"]: sorted(r) for r in res.rows}["identity"] == ["image", "method", "seconds"]


def test_published_result_folders_are_extra_columns(data, tmp_path):
    """--results NAME=DIR: a paper's outputs, named like the inputs, measured beside ours."""
    from evaluation.renderers import published_renderer

    published = tmp_path / "paper"
    for i, name in enumerate(("s0", "s1")):  # none for the third input: counted as a failed "render"
        scene = make_scene(seed=i, size=SIZE)
        image, mask = scene.image, scene.mask
        write_image(published / f"{name}.jpg" if name == "s1" else published / f"{name}.png",
                    _blur(image, mask, None))
    cfg = CompareConfig(input=str(data / "inputs"), out=str(tmp_path / "out"), depth=str(data / "depth"),
                        reference=str(data / "reference"), fid_weights="off", quiet=True, results=[f"paper={published}"])
    res = run_compare(cfg, [Renderer("identity", "fake", {}, _identity), published_renderer(f"paper={published}")],
                      segmenter=_no_model, depth_model=_no_model)
    assert res.n_render_failures == 1 and any("no published result" in e and "paper" in e for e in res.errors)
    rows = {(r["method"], r["image"]): r for r in res.rows}
    assert rows[("paper", "s0")]["bg_blur"] < 0.5 and rows[("identity", "s0")]["bg_blur"] == pytest.approx(1.0)
    assert rows[("paper", "s1")]["rim2"] > 0 and rows[("identity", "s0")]["rim2"] == pytest.approx(1.0)
    # the real-photo set metrics: the blurred column is nearer the shallow-DoF references
    sm = res.set_metrics
    assert sm["paper"]["sharpness_w1"] < sm["identity"]["sharpness_w1"]
    assert sm["identity"]["sharpness_gap"] > sm["paper"]["sharpness_gap"]
    assert 0.0 < sm["paper"]["sharpness_w1_p"] <= 1.0
    assert (tmp_path / "out" / "results" / "paper" / "s1.png").is_file()
    with pytest.raises(ValueError, match="NAME=DIR"):
        published_renderer("paper")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        published_renderer(f"paper={tmp_path / 'missing'}")


def test_compositor_methods_render_what_blur_renders(data, tmp_path):
    """One pipeline: a compositor column is the photo pipeline's render of the input (its mask
    post-processed, depth and focus as scripts/blur.py makes them), pixel for pixel."""
    from compositing.pipeline import render_photo
    from evaluation.renderers import compositor_renderer

    cfg = CompareConfig(input=str(data / "inputs" / "s0.png"), out=str(tmp_path / "o"), depth=str(data / "depth"),
                        quiet=True)
    renderers = [compositor_renderer("gaussian", {"k": 9}), compositor_renderer("lens")]
    res = run_compare(cfg, renderers, segmenter=_no_model, depth_model=_no_model)
    assert res.ok
    image, mask = read_image(data / "inputs" / "s0.png"), read_mask(data / "inputs_masks" / "s0.png")
    depth = np.load(data / "depth" / "s0.npy")
    for method, params in (("gaussian", {"k": 9}), ("lens", {})):
        expect = render_photo(method, image, mask, params, depth=depth).output
        np.testing.assert_array_equal(read_image(tmp_path / "o" / "results" / method / "s0.png"), expect)
    # the saved settings are a --config for the next run, flags beside it win
    from evaluation.cli.compare import parse_args

    saved = tmp_path / "o" / "config.json"
    assert parse_args(["--config", str(saved)]) == cfg
    again = parse_args(["--config", str(saved), "--out", str(tmp_path / "o2"), "--params", "lens:strength=0.02",
                        "--methods", "lens"])
    assert again.out == str(tmp_path / "o2") and again.params == {"lens": {"strength": 0.02}}
    assert again.methods == ["lens"] and again.depth == cfg.depth



def test_a_physical_lens_makes_the_prior_metric_from_faces_as_blur_does(tmp_path):
    """With the depth prior and f_number given, the lens column is made metric from the faces
    MediaPipe finds, exactly as scripts/blur.py renders it (with the matte and the faces)."""
    from skimage import data

    from compositing.pipeline import render_photo
    from evaluation.renderers import compositor_renderer
    from segdepth.face import FaceDetector
    from segdepth.segment import build_segmenter

    image = np.ascontiguousarray(data.astronaut()[::2, ::2, :3])
    write_image(tmp_path / "in" / "astronaut.png", image)
    segmenter = build_segmenter("mediapipe")
    lens = compositor_renderer("lens", {"f_number": 2.0})
    assert lens.uses_faces and "metric" in lens.settings["with the depth prior"]
    cfg = CompareConfig(input=str(tmp_path / "in"), out=str(tmp_path / "o"), quiet=True)
    assert run_compare(cfg, [lens], segmenter=segmenter).ok
    expect = render_photo("lens", image, segmenter(image), {"f_number": 2.0}, faces=FaceDetector()(image))
    assert expect.depth_info["depth_source"] == "metric_from_face"
    np.testing.assert_array_equal(read_image(tmp_path / "o" / "results" / "lens" / "astronaut.png"), expect.output)
