"""gan.infer and scripts/test_cyclegan.py: full-resolution output, exact overlay, seamless tiles,
checkpoint formats and clear errors, folder translation with bad files counted."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from datasets.io import mask_path, read_image, write_image, write_mask
from gan.checkpoint import CheckpointError, save_checkpoint
from gan.infer import Translator, translate_folder
from gan.model import CycleGANModel, config_from_preset

REPO = Path(__file__).resolve().parents[2]
TINY = dict(netG="resnet", n_blocks=1, ngf=4, ndf=4, n_layers_D=2, vgg_weights="none")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model and its checkpoint in train_cyclegan's format (gan.checkpoint: a format tag, "config", "model")."""
    torch.manual_seed(0)
    cfg = config_from_preset("mask_overlay", **TINY)
    model = CycleGANModel(cfg)
    path = tmp_path_factory.mktemp("ckpt") / "latest.pt"
    save_checkpoint(path, {"config": cfg.to_dict(), "model": model.state_dict(), "epoch": 3})
    return model, cfg, path


def photo(h=70, w=90, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_full_resolution_output_and_direction(trained):
    model, cfg, path = trained
    image = photo()
    for mode, size in (("resize", 32), ("resize", None), ("tiles", 32)):
        out = Translator.from_checkpoint(path, size=size, mode=mode)(image)
        assert out.shape == image.shape and out.dtype == np.uint8
    # the full-frame translation is exactly the network's output, and BtoA runs G_B
    for direction, net in (("AtoB", model.netG_A), ("BtoA", model.netG_B)):
        t = Translator.from_checkpoint(path, direction=direction, size=None)
        x = torch.from_numpy(image[:68, :88]).permute(2, 0, 1)[None].float() / 127.5 - 1
        with torch.no_grad():
            expected = ((net(x)[0].clamp(-1, 1) + 1) * 127.5).permute(1, 2, 0).numpy()
        assert np.abs(t(image[:68, :88]).astype(float) - expected).max() <= 0.5 + 1e-3


class Identity(nn.Module):
    divisor = 4

    def forward(self, x):
        return x[:, :3]


def test_resize_mode_keeps_full_resolution_detail_where_nothing_changes(trained):
    """Translating at low resolution and adding the upsampled change: a generator that changes
    nothing returns the full-resolution input exactly (upsampling its output would blur it)."""
    _, cfg, _ = trained
    image = photo(80, 120)
    out = Translator(Identity(), cfg, size=24, mode="resize")(image)
    assert np.array_equal(out, image)


def test_overlay_keeps_subject_pixels_exactly(trained):
    _, cfg, path = trained
    image = photo()
    mask = np.zeros(image.shape[:2], np.float32)
    mask[10:50, 20:60] = 1.0
    mask[50:55, 20:60] = 0.5
    on = Translator.from_checkpoint(path, size=32, overlay=None)  # the preset's mask_overlay_test
    assert on.overlay
    out = on(image, mask)
    assert np.array_equal(out[10:50, 20:60], image[10:50, 20:60])
    off = Translator.from_checkpoint(path, size=32, overlay=False)(image, mask)
    assert not np.array_equal(off[10:50, 20:60], image[10:50, 20:60])
    assert np.array_equal(out[mask == 0], off[mask == 0])
    soft = np.rint(0.5 * image[50:55, 20:60].astype(float) + 0.5 * off[50:55, 20:60].astype(float))
    assert np.abs(out[50:55, 20:60] - soft).max() <= 1
    with pytest.raises(ValueError, match="mask"):
        on(image)


class FramedIdentity(nn.Module):
    """Identity plus a bright 3-pixel frame on whatever it is given: the padding artefacts a
    convolutional generator leaves at the edges of a tile, exaggerated."""
    divisor = 4

    def forward(self, x):
        y = x[:, :3].clone()
        y[..., :3, :] += 0.5
        y[..., -3:, :] += 0.5
        y[..., :, :3] += 0.5
        y[..., :, -3:] += 0.5
        return y


def test_tiles_leave_no_seams_on_a_constant_image(trained):
    _, cfg, _ = trained
    image = np.full((100, 150, 3), 100, np.uint8)
    # default overlap 48/4 = 12: each tile's outer 12/4 = 3 pixels facing a neighbour are dropped
    blended = Translator(FramedIdentity(), cfg, size=48, mode="tiles")(image)
    hard = Translator(FramedIdentity(), cfg, size=48, mode="tiles", tile_overlap=0)(image)
    inner = (slice(3, -3), slice(3, -3))  # the image's own border keeps its frame: one tile covers it
    assert np.all(blended[inner] == 100)
    assert (hard[inner] != 100).mean() > 0.1  # hard stitching shows every tile's frame as a seam


def test_tiles_blending_reduces_seams_of_a_real_generator():
    torch.manual_seed(0)
    cfg = config_from_preset("cyclegan", upsample="resize", **TINY)
    net = CycleGANModel(cfg).netG_A
    image = np.full((120, 160, 3), (90, 160, 200), np.uint8)
    inner = (slice(24, -24), slice(24, -24))

    def largest_jump(out):
        out = out.astype(float)[inner]
        return max(np.abs(np.diff(out, axis=0)).max(), np.abs(np.diff(out, axis=1)).max())

    assert largest_jump(Translator(net, cfg, size=None)(image)) == 0  # constant in, constant out
    hard = largest_jump(Translator(net, cfg, size=64, mode="tiles", tile_overlap=0)(image))
    blended = largest_jump(Translator(net, cfg, size=64, mode="tiles", tile_overlap=32)(image))
    assert blended < 0.25 * hard


def test_plain_reference_state_dict_with_config(trained, tmp_path):
    model, cfg, _ = trained
    plain = tmp_path / "latest_net_G_A.pth"
    state = model.networks_state_dict()["G_A"]
    # an old reference checkpoint also carries InstanceNorm running stats: dropped on load
    state = {**state, "model.2.running_mean": torch.zeros(4), "model.2.running_var": torch.ones(4)}
    torch.save(state, plain)
    t = Translator.from_checkpoint(plain, config=cfg, size=None)
    image = photo(64, 64)
    assert np.array_equal(t(image), Translator.from_checkpoint(trained[2], size=None, overlay=False)(image))
    with pytest.raises(CheckpointError, match="no 'config'"):
        Translator.from_checkpoint(plain)


def test_wrong_architecture_is_one_clear_error(trained, tmp_path):
    model, cfg, path = trained
    plain = tmp_path / "g.pth"
    torch.save(model.networks_state_dict()["G_A"], plain)
    wider = config_from_preset("cyclegan", **{**TINY, "ngf": 8})
    with pytest.raises(CheckpointError) as err:
        Translator.from_checkpoint(plain, config=wider)
    msg = str(err.value)
    assert str(plain) in msg and "shape mismatches" in msg and "model.1.weight: file (4, 3, 7, 7) vs model (8, 3, 7, 7)" in msg
    deeper = config_from_preset("cyclegan", **{**TINY, "n_blocks": 3})
    with pytest.raises(CheckpointError, match="missing keys"):
        Translator.from_checkpoint(plain, config=deeper)
    disc = tmp_path / "d.pth"
    torch.save(model.networks_state_dict()["D_A"], disc)
    with pytest.raises(CheckpointError, match=r"d.pth: weights do not fit the generator resnet, n_blocks 1"):
        Translator.from_checkpoint(disc, config=cfg)
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt: not a readable checkpoint"):
        Translator.from_checkpoint(junk)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        Translator.from_checkpoint(tmp_path / "missing.pt")


def write_with_mask(root: Path, rel: str, rgb: np.ndarray, mask: np.ndarray) -> None:
    """The photo ``root/rel`` and its mask in the layout's mask folder ``root_masks/``."""
    write_image(root / rel, rgb)
    write_mask(mask_path(root / rel, root), mask)


def test_translate_folder_names_outputs_after_inputs_and_counts_bad_files(trained, tmp_path, caplog):
    _, _, path = trained
    src, out = tmp_path / "in", tmp_path / "out"
    mask = np.zeros((48, 64), np.float32)
    mask[10:30, 10:30] = 1
    write_with_mask(src, "one.jpg", photo(48, 64, 1), mask)   # a JPEG photo, its mask in in_masks/one.png
    write_with_mask(src, "sub/two.png", photo(48, 64, 2), mask)
    write_image(src / "no_mask.jpg", photo(48, 64, 3))      # overlay needs a mask: fails
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    write_image(src / "dup.jpg", photo(48, 64, 4))  # two photos, one name: both refused
    write_image(src / "dup.png", photo(48, 64, 5))
    ok, failed = translate_folder(Translator.from_checkpoint(path, size=32, overlay=True), src, out, quiet=True)
    assert (ok, failed) == (2, 4)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == ["one.jpg", "sub/two.png"]
    assert f"no_mask.jpg: mask missing: expected {tmp_path / 'in_masks' / 'no_mask.png'}" in caplog.text
    assert f"{src / 'dup.png'}: same name as {src / 'dup.jpg'}" in caplog.text
    assert read_image(out / "one.jpg").shape == (48, 64, 3)  # a JPEG gives a JPEG
    single = tmp_path / "single"
    assert translate_folder(Translator.from_checkpoint(path, size=32), src / "sub" / "two.png", single,
                            quiet=True) == (1, 0)
    assert [p.name for p in single.iterdir()] == ["two.png"]


def test_script_end_to_end_and_exit_status(trained, tmp_path):
    _, _, path = trained
    src = tmp_path / "in"
    write_with_mask(src, "a.png", photo(40, 40), np.ones((40, 40), np.float32))
    run = lambda *args: subprocess.run([sys.executable, "scripts/test_cyclegan.py", *map(str, args)],  # noqa: E731
                                       cwd=REPO, capture_output=True, text=True)
    good = run("--checkpoint", path, "--input", src, "--out", tmp_path / "out", "--size", "16", "--quiet")
    assert good.returncode == 0, good.stderr
    assert np.array_equal(read_image(tmp_path / "out" / "a.png"), photo(40, 40))  # full mask, overlay on
    assert (tmp_path / "out" / "test_config.json").is_file()
    (src / "bad.png").write_bytes(b"")
    bad = run("--checkpoint", path, "--input", src, "--out", tmp_path / "out2", "--no-overlay", "--full-res",
              "--mode", "resize", "--quiet")
    assert bad.returncode == 1 and "bad.png" in bad.stderr and "1 of 2 images failed" in bad.stderr
    wrong = run("--checkpoint", src / "a.png", "--input", src, "--out", tmp_path / "out3")
    assert wrong.returncode == 2 and "a.png: not a readable checkpoint" in wrong.stderr


def test_script_takes_a_run_directory_and_uses_its_latest_checkpoint(trained, tmp_path):
    _, _, path = trained
    run_dir = tmp_path / "runs" / "dof"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "ckpt_00000002.pt").write_bytes(b"an older, unreadable checkpoint")
    latest = run_dir / "checkpoints" / "ckpt_00000010.pt"
    latest.write_bytes(path.read_bytes())
    src = tmp_path / "in"
    write_with_mask(src, "a.png", photo(24, 24), np.ones((24, 24), np.float32))
    for given in (run_dir, run_dir / "checkpoints"):
        out = tmp_path / "out" / given.name
        done = subprocess.run([sys.executable, "scripts/test_cyclegan.py", "--checkpoint", str(given), "--input",
                               str(src), "--out", str(out), "--size", "16", "--quiet"],
                              cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert json.loads((out / "test_config.json").read_text())["checkpoint"] == str(latest)
    empty = subprocess.run([sys.executable, "scripts/test_cyclegan.py", "--checkpoint", str(src), "--input",
                            str(src), "--out", str(tmp_path / "none")], cwd=REPO, capture_output=True, text=True)
    assert empty.returncode == 2 and f"{src}: a directory without checkpoints" in empty.stderr


def test_a_saved_test_config_repeats_the_run_with_config(trained, tmp_path, capsys):
    """test_config.json records what the checkpoint decided (the file, the overlay, the size);
    --config repeats the run exactly, and flags given beside it override the file."""
    from gan.cli.test_cyclegan import main, parse_args

    _, _, path = trained
    src = tmp_path / "in"
    write_with_mask(src, "a.png", photo(40, 48), np.full((40, 48), 0.5, np.float32))
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["--checkpoint", str(path), "--input", str(src), "--out", str(first), "--size", "16",
                 "--mode", "tiles", "--quiet"]) == 0
    saved = first / "test_config.json"
    settings = json.loads(saved.read_text())
    assert (settings["checkpoint"], settings["overlay"], settings["size"]) == (str(path), True, 16)
    assert main(["--config", str(saved), "--out", str(second)]) == 0
    assert np.array_equal(read_image(second / "a.png"), read_image(first / "a.png"))
    assert json.loads((second / "test_config.json").read_text()) == {**settings, "out": str(second)}
    assert parse_args(["--config", str(saved), "--no-overlay"]).overlay is False
    whole = parse_args(["--config", str(saved), "--full-res"])  # replaces the file's size
    assert whole.full_res and whole.size is None
    assert parse_args(["--config", str(first / "test_config.json"), "--size", "24"]).size == 24
    saved.write_text(json.dumps({**settings, "tile": 3}))
    with pytest.raises(SystemExit) as info:
        parse_args(["--config", str(saved)])
    assert info.value.code == 2 and "unknown TestConfig keys: ['tile']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--input", str(src)])
    assert "--checkpoint, --out are required" in capsys.readouterr().err


def test_a_headed_unet_checkpoint_translates_as_trained(tmp_path):
    torch.manual_seed(1)
    cfg = config_from_preset("mask_loss_overlay", netG="unet_128", ngf=4, ndf=4, n_layers_D=2, vgg_weights="none",
                             upsample="resize", full_res_head=4)
    model = CycleGANModel(cfg)
    path = tmp_path / "headed.pt"
    save_checkpoint(path, {"config": cfg.to_dict(), "model": model.state_dict(), "epoch": 1})
    t = Translator.from_checkpoint(path, size=None, overlay=False)
    image = photo(256, 256)  # twice the divisor: no padding, so the same input reaches the generator
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        expected = model.netG_A.eval()(x)
    got = torch.from_numpy(t(image)).permute(2, 0, 1)[None].float() / 127.5 - 1
    assert (got - expected).abs().max() <= 1.5 / 127.5  # uint8 quantisation
    # the same weights read with a config without the head: one clear error naming what does not fit
    plain = tmp_path / "g.pth"
    torch.save(model.networks_state_dict()["G_A"], plain)
    no_head = config_from_preset("mask_loss_overlay", netG="unet_128", ngf=4, upsample="resize")
    with pytest.raises(CheckpointError, match=r"weights do not fit the generator unet_128, ngf 4.*"
                                              r"4 unexpected keys \(e.g. model.head.mix.1.weight"):
        Translator.from_checkpoint(plain, config=no_head, size=None)


def test_a_gated_generator_checkpoint_translates_as_trained_and_names_the_gate(tmp_path):
    torch.manual_seed(2)
    cfg = config_from_preset("defocus", netG="unet_128", ngf=4, ndf=4, n_layers_D=2, vgg_weights="none",
                             upsample="resize", full_res_head=4, output_gate=True)
    model = CycleGANModel(cfg)
    path = tmp_path / "gated.pt"
    save_checkpoint(path, {"config": cfg.to_dict(), "model": model.state_dict(), "epoch": 1})
    t = Translator.from_checkpoint(path, size=None, overlay=False)
    image = photo(256, 256)
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        expected = model.netG_A.eval()(x)
    got = torch.from_numpy(t(image)).permute(2, 0, 1)[None].float() / 127.5 - 1
    assert (got - expected).abs().max() <= 1.5 / 127.5
    plain = tmp_path / "g.pth"
    torch.save(model.networks_state_dict()["G_A"], plain)
    no_gate = config_from_preset("defocus", netG="unet_128", ngf=4, upsample="resize", full_res_head=4)
    with pytest.raises(CheckpointError, match=r"weights do not fit the generator unet_128, full-resolution head 4"):
        Translator.from_checkpoint(plain, config=no_gate, size=None)


DEMO = REPO / "scripts" / "demo_gan.pt"


def test_every_checkpoint_kind_loads_through_the_one_loader(trained, tmp_path):
    """load_generator reads a training checkpoint, a run folder, a networks-only file (fp16, the
    demo's kind) and a plain state dict with its architecture; the generator is the same each time."""
    from gan.checkpoint import NETWORKS, save_weights
    from gan.infer import load_generator

    model, cfg, path = trained
    nets = tmp_path / "nets.pt"
    save_weights(nets, {n: getattr(model, n).state_dict() for n in NETWORKS}, cfg.to_dict(),
                 {"steps": 1, "scene_size": 40, "crop": 32})
    plain = tmp_path / "g.pth"
    torch.save(model.networks_state_dict()["G_B"], plain)
    run = tmp_path / "run"
    save_checkpoint(run / "checkpoints" / "ckpt_00000004.pt", {"config": cfg.to_dict(), "model": model.state_dict()})
    x = torch.from_numpy(photo(24, 24)).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        want = {"AtoB": model.netG_A.eval()(x), "BtoA": model.netG_B.eval()(x)}
    for given, direction, kind, sizes, tol in ((path, "AtoB", "training checkpoint", None, 0.0),
                                               (run, "BtoA", "training checkpoint", None, 0.0),
                                               (nets, "AtoB", "networks-only file", (40, 32), 2e-2),
                                               (plain, "BtoA", "state dict", None, 0.0)):
        loaded = load_generator(given, direction, cfg if given == plain else None)
        assert (loaded.kind, loaded.trained_sizes, loaded.cfg.preset) == (kind, sizes, cfg.preset)
        assert next(loaded.generator.parameters()).dtype == torch.float32
        with torch.no_grad():
            assert (loaded.generator(x) - want[direction]).abs().max() <= tol  # fp16 weights: close, not equal
    with pytest.raises(CheckpointError, match=r"g.pth: no format tag and no 'config' in this file; programs that "
                                              r"translate read shallowdof.cyclegan.train/1 .* shallowdof.cyclegan.networks/1"):
        load_generator(plain)
    torch.save({"format": "shallowdof-segdepth/1", "model": {}}, tmp_path / "seg.pt")
    with pytest.raises(CheckpointError, match=r"seg.pt: not a CycleGAN checkpoint \(format 'shallowdof-segdepth/1'; "
                                              r"programs that translate read .*shallowdof.cyclegan.networks/1"):
        load_generator(tmp_path / "seg.pt")


def test_the_shipped_demo_checkpoint_translates_in_test_cyclegan_and_compare(tmp_path):
    """scripts/demo_gan.pt (networks only, fp16) is read by test_cyclegan and by compare --gan,
    at the scale it was trained at (256-px scenes, 128-px crops)."""
    from evaluation.compare import GanSpec, gan_renderer
    from gan.cli.test_cyclegan import main

    t = Translator.from_checkpoint(DEMO, size="checkpoint")
    assert (t.trained_sizes, t.size, t.cfg.netG, t.overlay) == ((256, 128), 256, "unet_128", False)
    image = photo(96, 80)
    write_image(tmp_path / "in" / "p.png", image)
    assert main(["--checkpoint", str(DEMO), "--input", str(tmp_path / "in" / "p.png"), "--out",
                 str(tmp_path / "out"), "--quiet"]) == 0
    out = read_image(tmp_path / "out" / "p.png")
    assert out.shape == image.shape and np.array_equal(out, t(image))
    assert np.abs(out.astype(int) - image).mean() > 1  # a trained generator, not a copy
    renderer = gan_renderer(GanSpec.parse(f"demo={DEMO}:mask_loss_overlay"))
    assert np.array_equal(renderer.fn(image, np.ones((96, 80), np.float32), None), out)


def _exif_jpeg(path: Path, upright: np.ndarray, orientation: int = 6) -> None:
    """Store ``upright`` rotated so that a viewer applying EXIF ``orientation`` (6: rotate 90° clockwise
    to view) shows it upright."""
    from PIL import Image

    stored = np.rot90(upright, 1)  # what orientation 6 turns back clockwise
    exif = Image.Exif()
    exif[0x0112] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(stored)).save(path, quality=95, exif=exif)


def test_one_exif_rotated_jpeg_of_any_size_comes_out_upright_at_full_resolution(tmp_path):
    """test_cyclegan on one JPEG, default settings: the output has the upright photo's full size and
    is the residual upsampling at the checkpoint's training size (not the generator run at that
    size, not the photo resized, not the stored sideways pixels)."""
    from gan.cli.test_cyclegan import main

    torch.manual_seed(0)
    cfg = config_from_preset("cyclegan", **TINY)
    model = CycleGANModel(cfg)
    ckpt = tmp_path / "c.pt"
    save_checkpoint(ckpt, {"config": {"model": cfg.to_dict(), "train": {"load_size": 48, "crop_size": 32}},
                           "model": model.state_dict()})
    yy, xx = np.mgrid[0:210, 0:130]
    upright = np.stack([(xx * 2) % 256, (yy * 1.2) % 256, ((xx + yy) * 3) % 256], -1).astype(np.uint8)
    upright[:30, :20] = (255, 0, 0)  # a red top-left corner, upright
    jpeg = tmp_path / "in" / "portrait.jpg"
    _exif_jpeg(jpeg, upright)
    # --format png: a lossless output, compared pixel for pixel below (a JPEG input gives a JPEG by default)
    assert main(["--checkpoint", str(ckpt), "--input", str(jpeg), "--out", str(tmp_path / "out"), "--format", "png",
                 "--quiet"]) == 0
    out = read_image(tmp_path / "out" / "portrait.png")
    photo_read = read_image(jpeg)
    assert photo_read.shape == out.shape == (210, 130, 3)  # the stored pixels are 130 tall, 210 wide
    assert (np.abs(photo_read[:24, :14].astype(int) - (255, 0, 0)) < 40).all()  # upright: red at top left
    assert np.array_equal(out, Translator.from_checkpoint(ckpt, size=48)(photo_read))
    assert not np.array_equal(out, Translator.from_checkpoint(ckpt, size=None)(photo_read))
    saved = json.loads((tmp_path / "out" / "test_config.json").read_text())
    assert (saved["size"], saved["mode"]) == (48, "resize")


def test_the_help_explains_residual_upsampling_and_tiles():
    from gan.cli.test_cyclegan import build_parser

    text = build_parser().format_help()
    for words in ("residual upsampling", "--mode tiles", "overlapping N x N tiles", "EXIF orientation",
                  "scripts/demo_gan.pt", "full (upright) resolution"):
        assert words in text
