"""The local app's work and callbacks (evaluation.app, evaluation.app_ui, evaluation.cli.app) without
a browser: focus from a tap, the controls' parameters, the preview's blur, save ≡ scripts/blur.py
pixel for pixel (and test_cyclegan for a GAN), bad files and checkpoints as one line in the page,
nothing written by a failed save, no connection leaving the machine.

The page in a real browser is tests/evaluation/test_app_browser.py."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from compositing.cli import blur as blur_program
from datasets.io import ImageError, read_image
from evaluation import app as A
from evaluation import app_save as S
from evaluation.cli import app as app_cli
from evaluation.app_ui import PINNED, Callbacks, PageConfig, PreviewFiles, status

ROOT = Path(__file__).resolve().parents[2]
PREVIEW = 256  # half the astronaut: taps and focus points are mapped between two sizes


@pytest.fixture(scope="module")
def models():
    return A.Models()


@pytest.fixture(scope="module")
def photo(models):
    return A.open_astronaut(models, PREVIEW)


def sharpness(image: np.ndarray, box) -> float:
    """Variance of the Laplacian of the grey image inside box (x0, y0, x1, y1): detail left."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    grey = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def face_box(photo):
    x0, y0, x1, y1 = photo.faces[0].box
    return x0 + 0.2 * (x1 - x0), y0 + 0.2 * (y1 - y0), x1 - 0.2 * (x1 - x0), y1 - 0.2 * (y1 - y0)


BACKGROUND_TAP = (225, 40)  # preview pixel on the shuttle, far from the astronaut
BACKGROUND_BOX = (200, 10, 250, 70)


def test_parameters_of_the_controls():
    lens = A.Settings()
    assert A.method_params(lens) == {"strength": lens.strength, "blades": 0, "rotation_deg": 0.0,
                                     "highlight_gain": lens.highlight_gain, "grain": True}
    fn = A.Settings(aperture="f_number", f_number=2.0, focal_length_mm=50.0, blades=6, grain=False)
    assert A.method_params(fn) == {"f_number": 2.0, "focal_length_mm": 50.0, "blades": 6, "rotation_deg": 0.0,
                                   "highlight_gain": lens.highlight_gain, "grain": False}
    assert "focal_length_mm" not in A.method_params(A.Settings(aperture="f_number"))  # the photo's own lens
    assert A.method_params(A.Settings(method="gaussian", k=15)) == {"k": 15}
    assert A.method_params(A.Settings(method="progressive13", k=15)) == {}
    assert A.describe(fn) == "lens · f/2 · 50 mm · 6 blades · no grain"
    assert A.describe(A.Settings(method="box", k=5)) == "box · k 5"
    # every combination the page can make is a valid blur.py config
    for method in blur_program.METHODS:
        blur_program.build_params(method, A.method_params(A.Settings(method=method, k=7)))


def test_tap_focuses_the_face_or_the_point_at_full_resolution(photo):
    session = A.Session(photo)
    assert photo.image.shape[:2] == (512, 512) and photo.preview.shape[:2] == (PREVIEW, PREVIEW)
    fx, fy = photo.faces[0].center
    focus = session.tap(fx + 5, fy - 8)  # inside the face box, off its centre
    assert focus.face == 0
    assert focus.xy == photo.to_full((fx, fy)) and abs(focus.xy[0] - 2 * fx) <= 1.5 and abs(focus.xy[1] - 2 * fy) <= 1.5
    assert focus.tapped == (int(fx + 5) * 2 + 1, int(fy - 8) * 2 + 1)  # the centre of the tapped preview pixel
    focus = session.tap(*BACKGROUND_TAP)
    assert focus.face is None and focus.xy == focus.tapped == (451, 81)
    assert session.tap(-5, 9999).xy == (1, 511)  # a tap outside is clipped to the photo


def test_focus_on_the_background_blurs_the_face_and_back(photo):
    session, lens = A.Session(photo), A.Settings()
    face = face_box(photo)
    auto = session.render(lens).image
    session.tap(*BACKGROUND_TAP)
    far = session.render(lens).image
    session.tap(*photo.faces[0].center)
    near = session.render(lens).image
    original = sharpness(photo.preview, face)
    assert sharpness(auto, face) > 0.9 * original  # the person is in focus by default
    assert sharpness(far, face) < 0.4 * sharpness(auto, face)  # focused behind: the face is blurred
    assert sharpness(far, BACKGROUND_BOX) > 2 * sharpness(auto, BACKGROUND_BOX)  # and the shuttle sharp
    assert sharpness(near, face) > 0.9 * original
    assert sharpness(near, BACKGROUND_BOX) < 0.6 * sharpness(far, BACKGROUND_BOX)


def test_f_number_blurs_the_background_monotonically_and_names_the_lens(photo):
    session = A.Session(photo)
    detail, notes = [], []
    for f in (1.0, 1.4, 2.0, 2.8, 16.0):
        preview = session.render(A.Settings(aperture="f_number", f_number=f, grain=False))
        detail.append(sharpness(preview.image, BACKGROUND_BOX))
        notes.append(preview.note)
    assert all(a < b for a, b in zip(detail, detail[1:])), detail
    assert detail[-1] == pytest.approx(sharpness(photo.preview, BACKGROUND_BOX), rel=0.02)  # f/16: all sharp
    # without EXIF the camera is the portrait lens, 85 mm (compositing.optics.PORTRAIT_LENS; it was a 28 mm phone's)
    assert notes[1].startswith("Virtual lens: 85 mm f/1.4, full-frame equivalent")
    assert "the portrait lens assumed" in notes[0] and "1 person" in notes[0]
    assert "50 mm f/2" in session.render(A.Settings(aperture="f_number", f_number=2.0, focal_length_mm=50.0)).note


def test_without_a_face_the_f_number_says_it_has_no_effect(tmp_path, models):
    Image.fromarray(skdata.coffee()[::4, ::4]).save(tmp_path / "scene.png")  # a cup, no one in it
    session = A.Session(A.open_photo(tmp_path / "scene.png", models))
    assert session.photo.faces == ()
    wide, narrow = (session.render(A.Settings(aperture="f_number", f_number=f)) for f in (1.0, 16.0))
    assert wide.note.startswith("No face on the person mask") and "relative blur instead" in wide.note
    assert np.array_equal(wide.image, narrow.image)


def _blur_py(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "blur.py"), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_save_is_blur_py_pixel_for_pixel(tmp_path, photo, models):
    session = A.Session(photo)
    session.tap(*BACKGROUND_TAP)
    settings = A.Settings(aperture="f_number", f_number=2.0, blades=6, rotation_deg=15.0, highlight_gain=9.0)
    saved = S.save(session, settings, models, tmp_path / "out")
    assert saved.result == tmp_path / "out" / "astronaut" / "lens" / "astronaut_lens.png"
    source = tmp_path / "out" / "astronaut" / "photo" / "astronaut.png"
    assert np.array_equal(read_image(source), skdata.astronaut())
    config = json.loads(saved.config.read_text())
    assert config["focus"] == "451,81" and config["params"]["f_number"] == 2.0 and config["method"] == "lens"
    assert config["images"][str(source.resolve())]["depth_source"] == "metric_from_face"

    # blur.py given the same settings as flags, on its own copy of the photo
    Image.fromarray(skdata.astronaut()).save(tmp_path / "astronaut.png")
    assert blur_program.main([str(tmp_path / "astronaut.png"), "--method", "lens", "--focus", "451,81",
                              "--params", "f_number=2.0", "blades=6", "rotation_deg=15", "highlight_gain=9",
                              "--out", str(tmp_path / "flags"), "--quiet"]) == 0
    result = read_image(saved.result)
    assert result.shape == (512, 512, 3)
    assert np.array_equal(result, read_image(tmp_path / "flags" / "astronaut_lens.png"))
    # the saved config repeats it, as the user runs it
    r = _blur_py("--config", saved.config, "--out", tmp_path / "again")
    assert r.returncode == 0, r.stderr
    assert np.array_equal(result, read_image(tmp_path / "again" / "astronaut_lens.png"))
    # a second save of another method keeps the first and the single copy of the photo
    second = S.save(session, A.Settings(method="gaussian", k=15, refine="none"), models, tmp_path / "out")
    third = S.save(session, A.Settings(method="gaussian", k=31, refine="none"), models, tmp_path / "out")
    assert second.result.parent.name == "gaussian" and third.result.parent.name == "gaussian-2"
    assert sorted(p.name for p in (tmp_path / "out" / "astronaut" / "photo").iterdir()) == ["astronaut.png"]
    assert blur_program.main([str(tmp_path / "astronaut.png"), "--method", "gaussian", "--params", "k=31",
                              "--focus", "451,81", "--refine", "none", "--out", str(tmp_path / "g"), "--quiet"]) == 0
    assert np.array_equal(read_image(third.result), read_image(tmp_path / "g" / "astronaut_gaussian.png"))


def test_a_failed_save_leaves_nothing(tmp_path, photo, models, monkeypatch):
    def broken(self, path, out_dir):
        raise MemoryError

    monkeypatch.setattr(S.Blurrer, "__call__", broken)
    with pytest.raises(MemoryError):
        S.save(A.Session(photo), A.Settings(), models, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    line = Callbacks(PageConfig(tmp_path / "out", tmp_path / "tmp"), models).save(A.Session(photo), A.Settings())
    assert "Not saved" in line and "error" in line and not (tmp_path / "out").exists()


def test_two_photos_of_one_name_are_kept_apart(tmp_path, models):
    for seed, folder in ((0, "a"), (1, "b")):
        (tmp_path / folder).mkdir()
        rng = np.random.default_rng(seed)
        Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(tmp_path / folder / "IMG 1.png")
    made: list = []
    first = S.store_photo(tmp_path / "out", A.open_photo(tmp_path / "a" / "IMG 1.png", models), made)
    second = S.store_photo(tmp_path / "out", A.open_photo(tmp_path / "b" / "IMG 1.png", models), made)
    again = S.store_photo(tmp_path / "out", A.open_photo(tmp_path / "a" / "IMG 1.png", models), made)
    assert first == again == tmp_path / "out" / "IMG_1" / "photo" / "IMG_1.png"
    assert second == tmp_path / "out" / "IMG_1-2" / "photo" / "IMG_1.png"


def test_bad_photos_are_one_line_in_the_page_and_change_nothing(tmp_path, photo, models):
    good = tmp_path / "good.jpg"
    Image.fromarray(skdata.astronaut()).save(good, quality=90)
    data = good.read_bytes()
    files = {"truncated.jpg": data[: len(data) // 2], "empty.png": b"", "notes.jpg": b"just some text\n",
             "<img src=x onerror=alert(1)>.png": b"\x89PNG\r\n\x1a\n broken"}
    cb = Callbacks(PageConfig(tmp_path / "out", tmp_path / "tmp", max_pixels=100_000), models)
    session = A.Session(photo)
    for name, content in {**files, "big.jpg": data}.items():
        path = tmp_path / "upload" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        kept, line, ok = cb.open_file(str(path), session)
        assert not ok and kept is session
        assert line.count("\n") == 0 and 'class="app-status error"' in line
        assert "<img" not in line.replace('<div class="app-status error">', "")  # the name is escaped
        assert str(tmp_path) not in line  # the upload's name, not its temporary path
    with pytest.raises(ImageError, match=r"^truncated\.jpg: truncated image file"):
        A.open_photo(tmp_path / "upload" / "truncated.jpg", models)
    with pytest.raises(ImageError, match=r"^big\.jpg: image is 512×512 = 0\.3 MP, above the limit"):
        A.open_photo(tmp_path / "upload" / "big.jpg", models, max_pixels=100_000)
    assert not (tmp_path / "out").exists()


def test_heic_and_exif_rotation_open_upright(tmp_path, models):
    pillow_heif = pytest.importorskip("pillow_heif")
    assert pillow_heif  # registered by datasets.io
    wide = np.ascontiguousarray(skdata.astronaut()[100:300])  # 512 wide, 200 high
    Image.fromarray(wide).save(tmp_path / "phone.heic", quality=90)
    heic = A.open_photo(tmp_path / "phone.heic", models)
    assert heic.image.shape == (200, 512, 3) and heic.suffix == ".heic"
    assert np.abs(heic.image.astype(int) - wide).mean() < 8
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown turned 90° clockwise
    Image.fromarray(wide).save(tmp_path / "turned.jpg", exif=exif, quality=95)
    turned = A.open_photo(tmp_path / "turned.jpg", models)
    assert turned.image.shape == (512, 200, 3) and turned.preview.shape[:2] == (512, 200)


def _tiny_checkpoint(path: Path) -> Path:
    from gan.checkpoint import save_checkpoint
    from gan.model import CycleGANModel, config_from_preset

    torch.manual_seed(0)
    cfg = config_from_preset("mask_overlay", netG="resnet", n_blocks=1, ngf=4, ndf=4, n_layers_D=2,
                             vgg_weights="none")
    save_checkpoint(path, {"config": cfg.to_dict(), "model": CycleGANModel(cfg).state_dict(), "epoch": 1})
    return path


def test_a_gan_checkpoint_is_one_more_method_and_saves_as_test_cyclegan(tmp_path, photo, models):
    cb = Callbacks(PageConfig(tmp_path / "out", tmp_path / "tmp"), models)
    session = A.Session(photo)
    wrong = {"segdepth.pt": {"format": "shallowdof-segdepth/1", "model": {}}, "notes.pt": None}
    for name, content in wrong.items():
        path = tmp_path / "uploads" / name
        path.parent.mkdir(exist_ok=True)
        torch.save(content, path) if content is not None else path.write_text("not a checkpoint")
        kept, line = cb.add_gan(session, str(path), "")
        assert kept is session and 'app-status error' in line and name in line and str(tmp_path) not in line
    assert session.gans == {} and cb.method_names(session) == list(A.METHODS)

    upload = _tiny_checkpoint(tmp_path / "uploads" / "my run.pt")
    _, line = cb.add_gan(session, str(upload), "")
    assert "Added the GAN my_run" in line and cb.method_names(session)[-1] == "my_run"
    gan = A.Settings(method="my_run")
    preview = session.render(gan)
    assert preview.image.shape == photo.preview.shape and preview.note.startswith("GAN my_run")
    side = cb.b_settings(session, A.Settings(), "my_run")
    assert side == A.Settings(method="my_run")

    saved = S.save(session, gan, models, tmp_path / "out")
    out = tmp_path / "out"
    assert saved.result == out / "astronaut" / "my_run" / "astronaut.png"
    assert (out / "astronaut" / "photo_masks" / "astronaut.png").is_file()  # the overlay's mask
    assert (out / "checkpoints" / "my_run.pt").read_bytes() == upload.read_bytes()
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "test_cyclegan.py"), "--config", str(saved.config),
                        "--out", str(tmp_path / "again"), "--quiet"], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(read_image(saved.result), read_image(tmp_path / "again" / "astronaut.png"))


def test_gan_of_the_command_line_is_a_method_of_every_tab(tmp_path, photo, models):
    gans = app_cli.load_gans([f"dof={_tiny_checkpoint(tmp_path / 'run.pt')}"])
    assert list(gans) == ["dof"] and gans["dof"].translator.overlay  # the preset's test-time overlay
    cb = Callbacks(PageConfig(tmp_path / "out", tmp_path / "tmp", gans=gans), models)
    session, _, ok = cb.open_astronaut(None)
    assert ok and cb.method_names(None)[-1] == cb.method_names(session)[-1] == "dof"
    assert cb.render(session, A.Settings(method="dof"), "result", "lens")[0].side_b[1].startswith("B: lens")
    with pytest.raises(ValueError, match="given twice"):
        app_cli.load_gans([f"a={tmp_path / 'run.pt'}", f"a={tmp_path / 'run.pt'}"])


def test_views_pin_and_preview_files(tmp_path, photo, models):
    cb = Callbacks(PageConfig(tmp_path / "out", tmp_path / "tmp"), models)
    session = A.Session(photo)
    session.tap(*BACKGROUND_TAP)
    assert "Pinned as B" in cb.pin(session, A.Settings(strength=0.02))
    views = cb.views(session, A.Settings(), "mask", PINNED)
    assert views.side_b[1] == "B: lens · strength 0.02 · disk" and views.side_a[1].startswith("A: lens")
    main = np.asarray(Image.open(views.main))
    assert main.shape == (PREVIEW, PREVIEW, 3)
    assert main[10:70, 200:250].mean() < photo.preview[10:70, 200:250].mean() - 30  # the background dimmed
    changed = np.argwhere((A.marked(photo.preview, photo, session.focus) != photo.preview).any(axis=2))
    assert len(changed) > 50 and np.abs(changed - [40, 225]).max() <= 25  # the tapped point is drawn there only
    files = PreviewFiles(tmp_path / "p", keep=3)
    paths = [files.write(photo.preview) for _ in range(5)]
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == sorted(Path(p).name for p in paths[-3:])
    assert status("<b>x</b>", "error") == '<div class="app-status error">⚠ &lt;b&gt;x&lt;/b&gt;</div>'


def test_no_connection_leaves_the_machine():
    assert app_cli.is_local("127.0.0.1") and app_cli.is_local("::1") and app_cli.is_local("localhost")
    assert app_cli.is_local(None) and app_cli.is_local("10.1.2.3", allowed=("10.1.2.3",))
    assert not app_cli.is_local("192.0.2.1") and not app_cli.is_local("api.gradio.app")
    script = textwrap.dedent("""
        import socket, sys
        from evaluation.cli.app import OutboundRefused, refuse_outbound
        refuse_outbound()
        server = socket.create_server(("127.0.0.1", 0))
        socket.create_connection(server.getsockname(), timeout=5).close()  # loopback works
        for attempt in (lambda: socket.create_connection(("192.0.2.1", 80), timeout=5),
                        lambda: socket.getaddrinfo("example.org", 443),
                        lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("192.0.2.1", 53))):
            try:
                attempt()
                sys.exit("a connection left the machine")
            except OutboundRefused:
                pass
        print("refused")
    """)
    r = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "refused", r.stderr
    assert r.stderr.count("refused a connection to") == 3


def test_command_line_checks(tmp_path):
    cfg = app_cli.parse_args(["photo.jpg", "--gan", "dof=runs/dof", "--port", "8123"])
    assert cfg.photo == "photo.jpg" and cfg.gan == ["dof=runs/dof"] and cfg.host == "127.0.0.1"
    for bad in (["--gan", "lens=x.pt"], ["--gan", "no_equals"], ["--port", "0"], ["--max-upload-mb", "0"]):
        with pytest.raises(SystemExit) as exc:
            app_cli.parse_args(bad)
        assert exc.value.code == 2
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "app.py"), "--gan", f"x={tmp_path / 'none.pt'}",
                        "--port", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env={**__import__("os").environ, "TMPDIR": str(tmp_path)})
    assert r.returncode == 2 and "none.pt: no such checkpoint file" in r.stderr, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # its temporary folder is gone
