"""Grain re-synthesis (compositing.grain) with known noise, and its use by the lens on photos."""
import cv2
import numpy as np
import pytest
from scipy.signal import convolve2d

from compositing import grain, noise
from datasets import synthetic
from compositing.lens import LensParams, lens_blur
from compositing.pipeline import render_photo
from evaluation import metrics as M


def _noise(rng, shape, sigma, width):
    """Gaussian noise of std ``sigma`` correlated by a Gaussian of ``width`` px."""
    n = rng.standard_normal(shape).astype(np.float32)
    if width > 0:
        n = cv2.GaussianBlur(n, (0, 0), width)
    return n * np.float32(sigma / n.std())


def _photo(rng, size, sigma, width, grey=110.0):
    """A flat grey 'photo' with luma noise (R = G = B), textured stripes on its right third."""
    image = np.full((size, size), grey, np.float32) + _noise(rng, (size, size), sigma, width)
    xx = np.arange(size)[None, :].repeat(size, 0)
    image[:, 2 * size // 3:] += 40.0 * np.sin(xx[:, 2 * size // 3:] * 0.9)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)[..., None].repeat(3, axis=2)


@pytest.mark.parametrize("sigma,width", [(6.0, 0.0), (4.0, 0.8)])
def test_estimate_finds_the_noise_level_and_correlation_beside_texture(sigma, width):
    model = grain.estimate_grain(_photo(np.random.default_rng(1), 192, sigma, width))
    assert model.sigma[0] == pytest.approx(sigma, rel=0.15)
    assert model.width[0] == pytest.approx(width, abs=0.25)
    assert max(model.sigma[1:]) < 0.3  # grey noise: no chroma noise


class _NoPixelNoise:
    """A numpy Generator whose ``normal`` draws come out as zeros (the same draws are made, so
    everything else the generator gives is unchanged)."""

    def __init__(self, rng):
        self._rng = rng

    def __getattr__(self, name):
        return getattr(self._rng, name)

    def normal(self, *args, **kwargs):
        return self._rng.normal(*args, **kwargs) * 0.0


@pytest.fixture(scope="module")
def textured_scenes():
    """datasets.synthetic's scenes (seeds 0–7, 256 px) without the per-pixel term of their
    textures: that term is i.i.d. Gaussian per pixel (luma σ ≈ 9–14 code values), noise by any
    statistic, and every estimator (this one, skimage's estimate_sigma) measures it as noise.
    What is left is noise-free texture: gratings of 3–24 px periods on every layer, edges,
    gradients and highlights."""
    texture = synthetic._texture
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(synthetic, "_texture", lambda rng, *a: texture(_NoPixelNoise(rng), *a))
        return [synthetic.make_scene(seed, (256, 256), render_dof=False).image for seed in range(8)]


def _with_noise(image, sigma, width, seed):
    noisy = image.astype(np.float32) + _noise(np.random.default_rng(seed), image.shape[:2], sigma, width)[..., None]
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def test_noise_free_texture_is_not_read_as_noise(textured_scenes):
    # the fit to five filter bands this replaced read the gratings as wide-correlated noise:
    # luma σ 4.8–13.4 on these eight scenes (median 9.3)
    sigma = [grain.estimate_grain(image).sigma[0] for image in textured_scenes]
    assert np.median(sigma) < 0.5
    assert max(sigma) < 2.5


@pytest.mark.parametrize("width", [0.0, 0.8])
@pytest.mark.parametrize("sigma", [2.0, 4.0, 8.0])
def test_noise_level_is_found_under_texture(textured_scenes, sigma, width):
    # median over the eight scenes within 10 %, each within 40 % (the worst: σ = 2 on the scene
    # with the strongest fine gratings); the band fit was +190 % (median) at σ = 2, +25–30 % at 8
    found = np.array([grain.estimate_grain(_with_noise(image, sigma, width, 100 + i)).sigma[0]
                      for i, image in enumerate(textured_scenes)])
    error = found / sigma - 1.0
    assert abs(np.median(error)) < 0.10
    assert np.abs(error).max() < 0.40


def test_real_photo_noise_in_a_plausible_range():
    from skimage import data

    ok, jpeg = cv2.imencode(".jpg", data.astronaut()[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    model = grain.estimate_grain(cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1])
    # a well-exposed NASA photo through JPEG q90: about one code value of luma noise, correlated
    # over a pixel as demosaicing and JPEG leave it; chroma under what the grain draws
    assert 0.5 < model.sigma[0] < 2.5
    assert 0.4 <= model.width[0] <= 1.2
    assert max(model.sigma[1:]) < 2.0


@pytest.mark.parametrize("width", [0.0, 1.0])
def test_estimate_finds_chroma_noise(width):
    rng = np.random.default_rng(4)
    y, cr, cb = 120.0 + _noise(rng, (256, 256), 3.0, 0.7), _noise(rng, (256, 256), 2.0, width), _noise(rng, (256, 256), 2.0, width)
    m = grain._YCRCB_TO_RGB
    rgb = np.dstack([y + m[0, 1] * cr, y + m[1, 1] * cr + m[1, 2] * cb, y + m[2, 2] * cb])
    model = grain.estimate_grain(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))
    assert model.sigma[0] == pytest.approx(3.0, rel=0.15)
    assert model.sigma[1] == pytest.approx(2.0, rel=0.15) and model.sigma[2] == pytest.approx(2.0, rel=0.15)
    assert model.width[1] == pytest.approx(width, abs=0.35)


def test_noise_free_photo_gets_no_grain():
    yy, xx = np.mgrid[0:128, 0:128]
    image = np.dstack([(yy + xx) / 2.0, 100 + 0 * yy, 200 - yy / 2.0]).astype(np.uint8)
    assert max(grain.estimate_grain(image).sigma) < 0.6
    blurred = cv2.GaussianBlur(image, (9, 9), 0)
    out = grain.add_grain(blurred, image, np.ones((128, 128), np.float32), seed=0)
    assert np.abs(out.astype(int) - blurred).max() <= 1


def test_clipped_pixels_get_no_grain():
    image = _photo(np.random.default_rng(2), 128, 5.0, 0.0)
    image[:, :40] = 255  # a blown-out sky: the sensor clipped its noise away
    out = grain.add_grain(image.copy(), image, np.ones((128, 128), np.float32), seed=0)
    np.testing.assert_array_equal(out[:, :40], 255)
    assert out[:, 50:80].std() > 4.0
    pixels = np.array([[[0, 9, 9], [5, 5, 5], [128, 60, 200], [250, 128, 128]]], np.uint8)
    weight = grain.apply_headroom(np.full((1, 4), 0.8, np.float32), pixels, 5.0)
    np.testing.assert_allclose(weight, [[0.0, 0.4, 0.8, 0.4]])


@pytest.mark.parametrize("width", [0.0, 0.6, 1.5])
def test_luma_grain_in_strips_equals_the_whole_field(width):
    """The strips are filtered with their neighbours' rows: the sum is the whole field's, bit for
    bit, across strip boundaries (3 strips) and at the image's own edges (reflected)."""
    h, w = 2 * grain.STRIP_ROWS + 37, 45
    rng = np.random.default_rng(5)
    white = rng.integers(0, 256, (h, w), dtype=np.uint8)
    weight = rng.random((h, w), dtype=np.float32)
    base = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    model = grain.GrainModel((6.0, 0.0, 0.0), (width, 0.0, 0.0))
    expected_y = np.rint(grain._field_of(white, width, 6.0) * weight)  # cv2 rounds half to even, as rint
    expected = np.clip(base.astype(np.int32) + expected_y.astype(np.int32)[..., None], 0, 255).astype(np.uint8)
    got = base.copy()
    grain._add_luma_strips(got, white, model, weight)
    np.testing.assert_array_equal(got, expected)
    assert (got != base).mean() > 0.5


def test_synthesized_noise_has_the_model_statistics():
    model = grain.GrainModel((5.0, 2.0, 2.0), (0.8, 1.0, 1.0))
    rgb = grain.synthesize(model, (256, 256), [3])
    ycc_from_rgb = np.array([[0.299, 0.587, 0.114], [0.713 * 0.701, -0.713 * 0.587, -0.713 * 0.114],
                             [-0.564 * 0.299, -0.564 * 0.587, 0.564 * 0.886]], np.float32)
    ycc = rgb.reshape(-1, 3) @ ycc_from_rgb.T
    assert ycc[:, 0].std() == pytest.approx(5.0, rel=0.05)
    assert ycc[:, 1].std() == pytest.approx(2.0, rel=0.1) and ycc[:, 2].std() == pytest.approx(2.0, rel=0.1)
    # correlated, as modelled: a filter's response variance is σ²‖h ∗ g‖² (Laplacian band)
    lap = cv2.Laplacian(np.ascontiguousarray(ycc[:, 0].reshape(256, 256)), cv2.CV_32F, ksize=1)
    kernel = convolve2d(np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float), grain._gaussian(0.8).astype(float))
    expected = 25.0 * float(np.sum(kernel**2))
    assert lap[4:-4, 4:-4].var() == pytest.approx(expected, rel=0.15)
    np.testing.assert_array_equal(rgb, grain.synthesize(model, (256, 256), [3]))
    assert not np.array_equal(rgb, grain.synthesize(model, (256, 256), [4]))


def test_noise_kept_and_restore_weight():
    assert grain.noise_kept(np.float32(0.2)) == 1.0
    for r in (6.0, 20.0, 100.0):
        assert float(grain.noise_kept(np.float32(r))) == pytest.approx(1.0 / (np.pi * r * r), rel=0.15)
    assert float(grain.restore_weight(np.float32(1.0), np.float32(0.0))) == 0.0
    assert float(grain.restore_weight(np.float32(0.0), np.float32(0.0))) == 1.0
    a, kept = np.float32(0.5), np.float32(0.2)
    # subject noise α², background noise (1 − α)²·kept, grain w²: together the photo's 1
    assert float(a**2 + (1 - a) ** 2 * kept + grain.restore_weight(a, kept) ** 2) == pytest.approx(1.0)


def _scene(sigma, width, size=160):
    rng = np.random.default_rng(7)
    image = _photo(rng, size, sigma, width)
    image[..., 0] = np.clip(image[..., 0].astype(int) + 30, 0, 255)  # a colour, so that chroma is not empty
    mask = np.zeros((size, size), np.float32)
    cv2.circle(mask, (size // 3, size // 2), size // 6, 1.0, -1)
    depth = np.where(mask > 0, 2.0, 20.0).astype(np.float32)
    return image, mask, depth


def test_lens_grain_restores_the_background_noise_and_keeps_the_subject():
    image, mask, depth = _scene(5.0, 0.7)
    plain = lens_blur(image, mask, depth, 2.0, LensParams())
    grainy = lens_blur(image, mask, depth, 2.0, LensParams(grain=True))
    flat = (slice(8, 40), slice(60, 100))  # blurred background, away from subject and stripes
    y = [M.luminance(x)[flat] for x in (image, plain, grainy)]
    assert y[1].std() < 1.5  # the blur wiped the noise out
    assert y[2].std() == pytest.approx(y[0].std(), rel=0.25)  # the grain puts it back
    inside = cv2.erode((mask >= 1).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    np.testing.assert_array_equal(grainy[inside], image[inside])
    assert abs(float(y[2].mean() - y[1].mean())) < 0.5  # zero-mean: no grey-level change
    # the grain's spatial correlation is the photo's: no more checkerboard (period-2) energy
    region = np.zeros(mask.shape, bool)
    region[flat] = True
    assert M.checkerboard_share(grainy, region) == pytest.approx(M.checkerboard_share(image, region), rel=0.35)
    np.testing.assert_array_equal(grainy, lens_blur(image, mask, depth, 2.0, LensParams(grain=True)))
    assert not np.array_equal(grainy, lens_blur(image, mask, depth, 2.0, LensParams(grain=True, seed=1)))


def test_photo_path_adds_grain_unless_turned_off():
    image, mask, _ = _scene(5.0, 0.7)
    # a blur that wipes the noise out at 160 px (the default strength gives about 1 px here)
    on = render_photo("lens", image, mask, {"strength": 0.02})
    off = render_photo("lens", image, mask, {"strength": 0.02, "grain": False})
    assert on.params["grain"] is True and off.params["grain"] is False
    flat = (slice(8, 40), slice(60, 100))
    noise_in = M.luminance(image)[flat].std()
    assert M.luminance(off.output)[flat].std() < 0.6 * noise_in
    assert M.luminance(on.output)[flat].std() == pytest.approx(noise_in, rel=0.25)


def _sky_and_sand(noise_std: float, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A portrait against a smooth sky (top eighth) over sand (the rest: texture that is random
    from pixel to pixel, like gravel in a downscaled photo, of the sky's brightness), with sensor
    noise of ``noise_std`` everywhere."""
    rng = np.random.default_rng(11)
    yy = np.arange(size, dtype=np.float32)[:, None].repeat(size, 1)
    sky = np.dstack([120 + 0.2 * yy, 160 + 0.15 * yy, 215 + 0.05 * yy])  # luma about 155
    sand = np.float32([190, 160, 110]) + 25.0 * rng.standard_normal((size, size, 1)).astype(np.float32)
    image = np.where((yy > 0.12 * size)[..., None], sand, sky) + noise_std * rng.standard_normal((size, size, 3))
    mask = np.zeros((size, size), np.float32)
    cv2.ellipse(mask, (size // 2, size), (size // 6, size // 2), 0, 0, 360, 1.0, -1)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), mask


SKY = (slice(4, 20), slice(8, 70))  # the sky at least 10 px from the sand


def _fine(image: np.ndarray, region: tuple[slice, slice] = SKY) -> float:
    return float(np.sqrt(noise.fine_std(M.luminance(image))[region].mean()))


def test_grain_never_adds_noise_to_a_clean_sky():
    """The sand is texture, not noise, and fills the sky's brightness: read alone it passes for
    noise of std 23 (the patch-PCA estimate reads 17), yet the clean sky (the faint noise of a
    clean photo, 0.8 code values) stays as clean as it was: fine-scale std ≤ 1.1× the input's."""
    image, mask = _sky_and_sand(0.8)
    assert grain.estimate_grain(image).sigma[0] > 10  # what the grain was measured by alone
    out = render_photo("lens", image, mask, {"strength": 0.02}).output
    assert _fine(out) <= 1.1 * _fine(image)


def test_grain_restores_noise_that_the_photo_had():
    """The same scene with sensor noise: the gate opens and the sky's blurred background gets its
    fine-scale noise back, up to (never above) the input's."""
    image, mask = _sky_and_sand(3.0)
    on = render_photo("lens", image, mask, {"strength": 0.02}).output
    off = render_photo("lens", image, mask, {"strength": 0.02, "grain": False}).output
    assert noise.noise_profile(image).confident
    assert _fine(off) < 0.5 * _fine(image)
    assert 0.7 * _fine(image) <= _fine(on) <= 1.1 * _fine(image)


def test_downscaled_and_noise_free_photos_get_no_grain():
    """The gate: no flat region whose noise is measurable and visible, no grain at all."""
    image, _ = _sky_and_sand(0.0)
    clean = np.dstack([np.linspace(30, 220, 256, dtype=np.float32)[None, :].repeat(256, 0)] * 3).astype(np.uint8)
    assert not noise.noise_profile(clean).confident
    noisy, _ = _sky_and_sand(3.0)
    small = cv2.resize(noisy, (64, 64), interpolation=cv2.INTER_AREA)  # its noise averaged away
    assert noise.noise_profile(noisy).confident and not noise.noise_profile(small).confident
    weight = np.ones((64, 64), np.float32)
    np.testing.assert_array_equal(grain.add_grain(small.copy(), small, weight, seed=0), small)
