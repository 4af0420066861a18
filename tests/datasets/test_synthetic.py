"""Ground-truth scenes: determinism, exactness of mask/depth and of the layered reference render."""
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from datasets import synthetic
from datasets.synthetic import Layer, Lens, coc_radius_px, composite_layers, disk_kernel, make_scene


def test_scene_is_deterministic_and_well_formed():
    a, b = make_scene(7, (96, 128)), make_scene(7, (96, 128))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.dof, b.dof)
    assert a.image.shape == (96, 128, 3) and a.image.dtype == np.uint8
    assert a.mask.shape == (96, 128) and a.mask.dtype == np.float32
    assert 0.0 <= a.mask.min() and a.mask.max() <= 1.0
    assert 0.1 < a.mask.mean() < 0.6, "the subject should fill a portrait-like share of the frame"
    assert not np.array_equal(a.image, make_scene(8, (96, 128)).image)


def test_depth_is_exact_for_the_subject_and_farther_elsewhere():
    s = make_scene(3, (128, 128))
    assert np.all(s.depth[s.mask >= 0.5] == np.float32(s.focus_depth))
    assert np.all(s.depth[s.mask < 0.5] > s.focus_depth + 1.0)
    assert 3 <= len(s.layer_depths) <= 5  # 2–4 background layers + the subject


def test_subject_is_in_focus_and_background_blurred_in_reference_render():
    s = make_scene(5, (160, 160))
    inner = ndimage.binary_erosion(s.mask >= 1.0, iterations=2)
    diff = np.abs(s.dof.astype(int) - s.image.astype(int))
    assert diff[inner].max() <= 1
    outer = ~ndimage.binary_dilation(s.mask > 0, iterations=12)

    def hf(img):
        g = img.astype(np.float32).mean(axis=2)
        return np.abs(ndimage.laplace(g))[outer].mean()

    assert hf(s.dof) < 0.5 * hf(s.image)


def test_coc_matches_a_hand_computed_thin_lens():
    lens = Lens(focal_length_mm=50.0, f_number=2.0, sensor_width_mm=36.0)
    # A = 25 mm; c = 25 · |10000 − 2000| / 10000 · 50 / 1950 = 0.51282 mm; radius = c/2 · 3600/36
    r = float(coc_radius_px(10.0, 2.0, lens, 3600))
    assert r == pytest.approx(0.512820 / 2 * 100, rel=1e-4)
    assert float(coc_radius_px(2.0, 2.0, lens, 3600)) == 0.0
    near, far = coc_radius_px(np.array([1.0, 50.0]), 2.0, lens, 3600)
    assert near > far > 0  # in front of the plane the blur grows faster
    with pytest.raises(ValueError):
        coc_radius_px(3.0, 0.04, lens, 100)


@pytest.mark.parametrize("radius", [1.0, 2.5, 6.0])
def test_disk_kernel_is_normalised_with_the_disk_area(radius):
    k = disk_kernel(radius)
    assert k.sum() == pytest.approx(1.0, abs=1e-5)
    support = (k > 0).sum()
    assert abs(support - np.pi * radius**2) < 2 * np.pi * radius + 4
    assert np.allclose(k, k.T) and np.allclose(k, k[::-1])


def test_layered_render_keeps_constant_colour_and_hides_occluded_content():
    h = w = 48
    far = Layer(np.full((h, w, 3), 0.25, np.float32), np.ones((h, w), np.float32), 10.0, "far")
    alpha = np.zeros((h, w), np.float32)
    alpha[:, :24] = 1.0
    near = Layer(np.full((h, w, 3), 0.8, np.float32), alpha, 2.0, "near")
    out = composite_layers([near, far], radii=[0.0, 5.0])
    assert np.allclose(out[:, :24], 0.8) and np.allclose(out[:, 30:], 0.25, atol=1e-5)
    blurred_near = composite_layers([near, far], radii=[4.0, 0.0])
    assert 0.25 < blurred_near[24, 25, 0] < 0.8  # a blurred foreground spills over what is behind it


def test_write_unaligned_dataset(tmp_path):
    from datasets.io import list_photos, mask_path, read_image, read_mask

    synthetic.write_unaligned_dataset(tmp_path, n_train=3, n_test=2, size=(40, 48), seed=1)
    for folder, n in (("trainA", 3), ("trainB", 3), ("testA", 2), ("testB", 2)):
        files, clashes = list_photos(tmp_path / folder)
        assert len(files) == n and not clashes
        rgb, mask = read_image(files[0]), read_mask(mask_path(files[0], tmp_path / folder))
        assert rgb.shape == (40, 48, 3) and mask.shape == (40, 48) and 0.05 < mask.mean() < 0.8
        with Image.open(files[0]) as im:
            assert im.mode == "RGB"  # the photo carries no alpha: the mask is its own file
    assert len(list((tmp_path / "depthA").glob("*.npy"))) == 5
    a = read_image(tmp_path / "trainA" / "trainA_0000.png")
    b = read_image(tmp_path / "trainB" / "trainB_0000.png")
    assert not np.array_equal(a, b)
