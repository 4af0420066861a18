"""Lens blur against exact layered references (datasets.synthetic) and known optics."""
import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio as psnr
from skimage.metrics import structural_similarity as ssim

from compositing import lens
from compositing.lens import LensParams, lens_blur
from compositing.methods import render
from datasets import synthetic


def test_srgb_round_trip_is_exact():
    v = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    np.testing.assert_array_equal(lens.linear_to_srgb8(lens.srgb8_to_linear(v)), v)
    lin = np.linspace(0, 1, 10001, dtype=np.float32).reshape(1, -1)
    exact = synthetic.to_uint8(synthetic.linear_to_srgb(lin))
    assert np.abs(lens.linear_to_srgb8(lin).astype(int) - exact).max() <= 1


def test_renderer_optics_agree_with_the_synthetic_reference():
    """compositing.optics and datasets.synthetic are two implementations of one formula (so that a
    bug in either shows in evaluation): they agree over a grid of lenses, focus distances and depths."""
    from compositing import optics

    depth = np.geomspace(0.3, 200.0, 41)
    for f_mm in (14.0, 35.0, 50.0, 85.0, 200.0):
        for n in (1.2, 2.8, 8.0, 22.0):
            for sensor in (6.2, 23.5, 36.0):
                for focus in (0.5, 1.5, 4.0, 30.0):
                    ours = optics.coc_radius_px(depth, focus, optics.Lens(f_mm, n, sensor), 1000)
                    ref = synthetic.coc_radius_px(depth, focus, synthetic.Lens(f_mm, n, sensor), 1000)
                    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6)
    # a hand-computed value: 50 mm f/2 focused at 2 m, a point at 10 m on a 36 mm sensor 3600 px
    # wide: c = 25 mm · 8/10 · 50/1950 = 0.51282 mm, radius 25.641 px
    assert float(optics.coc_radius_px(10.0, 2.0, optics.Lens(50.0, 2.0, 36.0), 3600)) == pytest.approx(25.641, abs=1e-3)
    with pytest.raises(ValueError, match="beyond the focal length"):
        optics.coc_radius_px(3.0, 0.04, optics.Lens(50.0), 100)


def test_thin_lens_coc_is_the_synthetic_one_and_signed():
    p = LensParams(focal_length_mm=50.0, f_number=2.8, sensor_width_mm=36.0, max_radius_frac=1.0)
    depth = np.array([[0.8, 1.5, 2.0, 10.0, 40.0]], np.float32)
    ours = lens.coc_radius(depth, 2.0, p, 640)
    ref = synthetic.coc_radius_px(depth, 2.0, synthetic.Lens(50.0, 2.8, 36.0), 640)
    np.testing.assert_allclose(np.abs(ours), ref, rtol=1e-6)
    assert ours[0, 0] < 0 and ours[0, 1] < 0 and ours[0, 2] == 0 and ours[0, 3] > 0
    rel = lens.coc_radius(depth, 2.0, LensParams(coc="relative", strength=0.01, max_radius_frac=1.0), 640)
    np.testing.assert_allclose(rel, 6.4 * (depth - 2.0), rtol=1e-6)
    clipped = lens.coc_radius(depth, 2.0, LensParams(coc="relative", strength=1.0, max_radius_frac=0.05), 640)
    assert np.abs(clipped).max() == pytest.approx(32.0)
    with pytest.raises(ValueError):
        lens.coc_radius(depth, 2.0, LensParams(coc="pinhole"), 640)


def _ring(mask, width=6):
    hard = (mask > 0.5).astype(np.uint8)
    se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    return (cv2.dilate(hard, se) > 0) & (mask < 0.01)


def test_no_halo_background_keeps_its_colour_next_to_the_subject():
    h = w = 96
    yy, xx = np.mgrid[0:h, 0:w]
    mask = ((yy - 48) ** 2 + (xx - 48) ** 2 <= 24**2).astype(np.float32)
    image = np.zeros((h, w, 3), np.uint8)
    image[:] = (40, 90, 160)
    image[mask > 0] = (250, 20, 20)
    depth = np.where(mask > 0, 2.0, 20.0).astype(np.float32)
    ring = _ring(mask)
    out = lens_blur(image, mask, depth, 2.0, LensParams())
    assert np.abs(out[ring].astype(int) - (40, 90, 160)).max() <= 2
    np.testing.assert_array_equal(out[mask > 0], image[mask > 0])
    # the uniform Gaussian baseline bleeds the red subject into the same ring
    base = render("gaussian", image, mask, depth, 2.0)
    assert np.abs(base[ring].astype(int) - (40, 90, 160)).max() > 40


def _point_light(size=96, value=255):
    image = np.full((size, size, 3), 20, np.uint8)
    image[size // 2, size // 2] = value
    return image


def test_highlight_becomes_a_bright_disc_of_the_coc_radius():
    size, r = 96, 12.0
    image = _point_light(size)
    mask = np.zeros((size, size), np.float32)
    depth = np.full((size, size), 2.0, np.float32)
    p = LensParams(coc="relative", strength=r / size, max_radius_frac=1.0, highlight_threshold=0.97, highlight_gain=8.0)
    out = lens_blur(image, mask, depth, 1.0, p).astype(np.float32)
    flat = lens_blur(image, mask, depth, 1.0, LensParams(coc="relative", strength=r / size, max_radius_frac=1.0, highlight_gain=1.0))
    lit = out[..., 0] > 22
    # a disc: area ≈ π r², centred, brighter than without the boost
    assert lit.sum() == pytest.approx(np.pi * r * r, rel=0.25)
    ys, xs = np.nonzero(lit)
    assert abs(ys.mean() - size // 2) < 1 and abs(xs.mean() - size // 2) < 1
    assert (ys.max() - ys.min()) / 2 == pytest.approx(r, abs=1.5)
    lin = lens.srgb8_to_linear(np.clip(out, 0, 255).astype(np.uint8))[..., 0]
    lin_flat = lens.srgb8_to_linear(flat)[..., 0]
    bg = lens.srgb8_to_linear(np.full((1, 1, 3), 20, np.uint8))[0, 0, 0]
    assert (lin[size // 2, size // 2] - bg) > 5 * (lin_flat[size // 2, size // 2] - bg)
    # flat top: the disc's inner half is uniform (a disk, not a Gaussian)
    inner = lin[size // 2 - 5:size // 2 + 6, size // 2 - 5:size // 2 + 6]
    assert inner.std() < 0.05 * (inner.mean() - bg)


def test_polygon_aperture_gives_polygon_bokeh():
    size, r = 128, 24.0
    image = _point_light(size)
    mask = np.zeros((size, size), np.float32)
    depth = np.full((size, size), 2.0, np.float32)
    for blades in (5, 6):
        p = LensParams(coc="relative", strength=r / size, max_radius_frac=1.0, blades=blades, rotation_deg=90.0)
        out = lens_blur(image, mask, depth, 1.0, p)
        lit = (out[..., 0] > 22).astype(np.uint8)
        contours, _ = cv2.findContours(lit, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        c = max(contours, key=cv2.contourArea)
        approx = cv2.approxPolyDP(c, 0.03 * cv2.arcLength(c, True), True)
        assert len(approx) == blades
        area = blades / 2 * r * r * np.sin(2 * np.pi / blades)
        assert lit.sum() == pytest.approx(area, rel=0.25)


def _scene_metrics(seeds, size):
    """Mean PSNR, SSIM and ring error (mean abs, code values, in the 6 px ring just outside the
    subject) against the reference render for lens, gaussian and progressive13."""
    out = {m: [] for m in ("lens", "gaussian", "progressive13")}
    for seed in seeds:
        sc = synthetic.make_scene(seed, (size, size))
        ring = _ring(sc.mask)
        for m in out:
            img = render(m, sc.image, sc.mask, sc.depth, sc.focus_depth)
            out[m].append((psnr(sc.dof, img), ssim(sc.dof, img, channel_axis=2),
                           np.abs(sc.dof.astype(float) - img)[ring].mean()))
    return {m: np.mean(v, axis=0) for m, v in out.items()}


def test_lens_is_closest_to_the_reference_render():
    # Measured at 128 px over seeds 0-3 (true mask, depth and focus): lens 33.5 dB / SSIM 0.974 /
    # ring 5.5; gaussian 29.8 / 0.876 / 10.5; progressive13 27.2 / 0.825 / 9.5.
    m = _scene_metrics(range(4), 128)
    lens_, gauss, prog = m["lens"], m["gaussian"], m["progressive13"]
    assert lens_[0] >= gauss[0] + 3.0 and lens_[0] >= prog[0] + 5.0
    assert lens_[1] >= gauss[1] + 0.07 and lens_[1] >= prog[1] + 0.10
    assert lens_[2] <= 0.65 * gauss[2] and lens_[2] <= 0.70 * prog[2]


def test_downscaled_path_matches_full_resolution_path():
    # the 12 MP code path (working resolution below the image's) on a small scene
    sc = synthetic.make_scene(3, (192, 192))
    full = lens_blur(sc.image, sc.mask, sc.depth, sc.focus_depth, LensParams())
    small = lens_blur(sc.image, sc.mask, sc.depth, sc.focus_depth, LensParams(work_pixels=9000))
    assert psnr(full, small) > 32
    assert psnr(sc.dof, small) > psnr(sc.dof, render("gaussian", sc.image, sc.mask, sc.depth, sc.focus_depth)) + 2
    inside = cv2.erode((sc.mask >= 1).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    np.testing.assert_array_equal(small[inside], sc.image[inside])


def test_downscaled_path_keeps_in_focus_background_detail():
    rng = np.random.default_rng(2)
    size = 160
    image = cv2.GaussianBlur(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), (3, 3), 0)
    depth = np.full((size, size), 2.0, np.float32)
    depth[:, 80:] = 20.0
    mask = np.zeros((size, size), np.float32)
    out = lens_blur(image, mask, depth, 2.0, LensParams(work_pixels=4000))
    left, right = (slice(4, -4), slice(4, 60)), (slice(4, -4), slice(110, -4))
    assert np.abs(out[left].astype(int) - image[left]).max() <= 2

    def hf(img, region):
        g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return np.abs(cv2.Laplacian(g, cv2.CV_32F))[region].mean()

    assert hf(out, right) < 0.2 * hf(image, right)


def _layers_reference(layers, focus, size, lens_):
    """Sharp image, exact mask of the visible subject, depth and reference DoF for layers."""
    radii = [float(synthetic.coc_radius_px(layer.depth, focus, lens_, size)) for layer in layers]
    sharp = synthetic.to_uint8(synthetic.linear_to_srgb(synthetic.composite_layers(layers)))
    dof = synthetic.to_uint8(synthetic.linear_to_srgb(synthetic.composite_layers(layers, radii)))
    depth = np.full((size, size), max(layer.depth for layer in layers), np.float32)
    for layer in sorted(layers, key=lambda layer: -layer.depth):
        depth[layer.alpha >= 0.5] = layer.depth
    return sharp, depth, dof


def test_foreground_occluder_blurs_over_the_subject():
    size = 128
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    back = synthetic.Layer(rng.uniform(0.05, 0.5, (size, size, 3)).astype(np.float32),
                           np.ones((size, size), np.float32), 30.0, "backdrop")
    subj_alpha = ((yy - 64) ** 2 / 40**2 + (xx - 64) ** 2 / 30**2 <= 1).astype(np.float32)
    subject = synthetic.Layer(np.full((size, size, 3), (0.6, 0.35, 0.25), np.float32)
                              * (1 + 0.3 * np.sin(xx / 2))[..., None], subj_alpha, 2.0, "subject")
    bar_alpha = ((xx > 20) & (xx < 34)).astype(np.float32)
    bar = synthetic.Layer(np.full((size, size, 3), (0.05, 0.5, 0.1), np.float32), bar_alpha, 1.0, "bar")
    lens_ = synthetic.Lens()
    sharp, depth, dof = _layers_reference([back, subject, bar], 2.0, size, lens_)
    mask = subj_alpha * (1 - bar_alpha)
    out = lens_blur(sharp, mask, depth, 2.0, LensParams())
    gauss = render("gaussian", sharp, mask, depth, 2.0)
    assert psnr(dof, out) > 30
    assert psnr(dof, out) > psnr(dof, gauss) + 5
    # the green bar spreads over the subject's left edge, as in the reference
    r_bar = float(synthetic.coc_radius_px(1.0, 2.0, lens_, size))
    col = int(34 + r_bar / 2)
    assert abs(int(out[64, col, 1]) - int(dof[64, col, 1])) <= 6
    assert int(out[64, col, 1]) > int(sharp[64, col, 1]) + 10


def test_focus_on_the_background_blurs_the_subject():
    size = 128
    layers, _ = synthetic.make_layers(2, (size, size))
    focus = layers[0].depth  # the backdrop
    sharp, depth, dof = _layers_reference(layers, focus, size, synthetic.Lens())
    mask = layers[-1].alpha
    out = lens_blur(sharp, mask, depth, focus, LensParams())
    inside = cv2.erode((mask > 0.5).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0

    def hf(img):
        g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return np.abs(cv2.Laplacian(g, cv2.CV_32F))[inside].mean()

    assert hf(out) < 0.5 * hf(sharp)
    assert psnr(dof, out) > 28


def test_bad_inputs_raise():
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError):
        lens_blur(image, np.zeros((8, 9), np.float32), np.ones((8, 8), np.float32), 1.0, LensParams())
    with pytest.raises(ValueError, match="max_layers: must be between 1 and 64, got 0"):
        render("lens", image, np.zeros((8, 8), np.float32), np.ones((8, 8), np.float32), 1.0, {"max_layers": 0})


def test_soft_edge_composite_blurs_the_background_seen_through_the_matte():
    # a flat subject with a wide soft matte over high-contrast background texture: with the
    # blur-fusion foreground the matte's tail is as blurred as the rest; with "subtract" (the
    # earlier composite, I − (1 − α)·B̃) the tail keeps the input's texture, a sharp rim
    h = w = 128
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.sqrt((yy - 64.0) ** 2 + (xx - 64.0) ** 2)
    alpha = np.clip(0.5 - (r - 36.0) / 8.0, 0.0, 1.0).astype(np.float32)
    bg = rng.integers(0, 256, (h, w, 3)).astype(np.float32)
    image = np.rint(alpha[..., None] * np.array([200.0, 150.0, 90.0]) + (1 - alpha[..., None]) * bg).astype(np.uint8)
    depth = np.where(alpha >= 0.5, 1.0, 2.0).astype(np.float32)
    tail = (alpha > 0.02) & (alpha < 0.5)

    def tail_energy(p: LensParams) -> float:
        out = lens_blur(image, alpha, depth, 1.0, p)
        np.testing.assert_array_equal(out[alpha >= 1.0], image[alpha >= 1.0])
        lap = cv2.Laplacian(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)
        return float((lap[tail] ** 2).mean())

    p = dict(coc="relative", strength=0.03, max_radius_frac=1.0, highlight_gain=1.0)
    fused, subtracted = tail_energy(LensParams(**p)), tail_energy(LensParams(**p, foreground="subtract"))
    assert fused < 0.35 * subtracted
    with pytest.raises(ValueError, match="foreground: must be one of blur_fusion, subtract, got 'magic'"):
        render("lens", image, alpha, depth, 1.0, {"coc": "relative", "foreground": "magic"})


def test_default_strength_is_the_stated_portrait_lens():
    """The relative default is the blur the project's portrait lens (85 mm f/1.8 at 3 m, as the
    README and --help say) gives the depth prior's background, 2–2.5× the subject's distance."""
    from compositing.optics import PORTRAIT_FOCUS_M, PORTRAIT_LENS, coc_radius_px, relative_strength
    from segdepth.depth.metric import DEFAULT_FOCAL_35MM

    assert (PORTRAIT_LENS.focal_length_mm, PORTRAIT_LENS.f_number, PORTRAIT_FOCUS_M) == (85.0, 1.8, 3.0)
    assert LensParams().strength == pytest.approx(relative_strength(), rel=0.05)
    assert (LensParams().focal_length_mm, LensParams().f_number) == (DEFAULT_FOCAL_35MM, PORTRAIT_LENS.f_number)
    # the thin lens itself, for each offset: r = s · width · Δ within 15 %
    for offset in (1.0, 1.5):
        r = float(coc_radius_px(PORTRAIT_FOCUS_M * (1 + offset), PORTRAIT_FOCUS_M, PORTRAIT_LENS, 1000))
        assert r == pytest.approx(LensParams().strength * 1000 * offset, rel=0.15)
