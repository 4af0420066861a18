"""Method registry, render/params plumbing, focus choice, mask post-processing, and every method
on ground truth (synthetic scenes) and on a real portrait (skimage astronaut)."""
import dataclasses
import json

import cv2
import numpy as np
import pytest

from compositing.progressive import gaussian_blur
from compositing.methods import METHODS, build_params, params_to_dict, render
from compositing.pipeline import choose_focus, postprocess_mask, render_photo
from datasets import synthetic
from evaluation import metrics as M

NAMES = ["box", "gaussian", "alpha_blend", "progressive3", "progressive13", "buckets", "feather", "lens"]


def test_registry_names_specs_and_param_round_trip():
    assert sorted(METHODS) == sorted(NAMES)
    for name, spec in METHODS.items():
        assert callable(spec.fn) and dataclasses.is_dataclass(spec.params_type) and len(spec.source) > 10
        params = spec.params_type()
        saved = json.loads(json.dumps(params_to_dict(params)))
        assert build_params(name, saved) == params
    assert build_params("progressive3", {"kernels": [7, 5, 3]}).kernels == (7, 5, 3)
    assert build_params("progressive13", None).kernels == tuple(range(13, 0, -1))


def test_render_errors_are_clear():
    img = np.zeros((16, 16, 3), np.uint8)
    mask = np.zeros((16, 16), np.float32)
    depth = np.ones((16, 16), np.float32)
    with pytest.raises(ValueError, match="unknown method 'bokeh'.*lens"):
        render("bokeh", img, mask, depth, 1.0)
    with pytest.raises(ValueError, match="unknown parameter.*'sigma'.*valid"):
        render("gaussian", img, mask, depth, 1.0, {"sigma": 3})
    with pytest.raises(ValueError, match="mask shape"):
        render("box", img, np.zeros((8, 16), np.float32), depth, 1.0)
    with pytest.raises(ValueError, match="depth shape"):
        render("box", img, mask, np.ones((16, 8), np.float32), 1.0)
    with pytest.raises(ValueError, match="uint8"):
        render("box", img.astype(np.float32), mask, depth, 1.0)


def _laplacian_energy(img, region):
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(cv2.Laplacian(g, cv2.CV_32F))[region].mean())


@pytest.mark.parametrize("seed", [0, 3])
def test_every_method_keeps_the_subject_and_blurs_the_background(seed):
    sc = synthetic.make_scene(seed, (128, 128))
    hard = (sc.mask > 0.5).astype(np.uint8)
    background = cv2.dilate(hard, np.ones((9, 9), np.uint8)) == 0
    for name in NAMES:
        out = render(name, sc.image, sc.mask, sc.depth, sc.focus_depth)
        assert out.shape == sc.image.shape and out.dtype == np.uint8
        erode = METHODS["feather"].params_type().feather_k // 2 + 2 if name == "feather" else 3
        inside = cv2.erode((sc.mask >= 1.0).astype(np.uint8), np.ones((2 * erode + 1,) * 2, np.uint8)) > 0
        assert inside.sum() > 50
        diff = np.abs(out[inside].astype(int) - sc.image[inside]).max()
        assert diff <= 2, (name, diff)
        kept = _laplacian_energy(out, background) / _laplacian_energy(sc.image, background)
        assert kept < 0.6, (name, kept)


def test_real_portrait_subject_sharp_background_soft():
    from skimage import data

    from segdepth.depth import build_depth_model
    from segdepth.segment import build_segmenter

    image = data.astronaut()
    mask = build_segmenter("mediapipe")(image)
    depth = build_depth_model("prior")(image, mask)
    focus = choose_focus(mask, depth)
    inside = cv2.erode((mask > 0.9).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    outside = cv2.dilate((mask > 0.1).astype(np.uint8), np.ones((15, 15), np.uint8)) == 0
    assert inside.sum() > 5000 and outside.sum() > 5000
    for name in NAMES:
        out = render(name, image, mask, depth, focus)
        sharp_kept = _laplacian_energy(out, inside) / _laplacian_energy(image, inside)
        bg_kept = _laplacian_energy(out, outside) / _laplacian_energy(image, outside)
        assert sharp_kept > 0.9, (name, sharp_kept)
        assert bg_kept < 0.6, (name, bg_kept)
    out = render("lens", image, mask, depth, focus)
    assert _laplacian_energy(out, outside) / _laplacian_energy(image, outside) < 0.3


def test_choose_focus_main_person_nearest_large_and_point():
    depth = np.full((100, 200), 10.0, np.float32)
    mask = np.zeros((100, 200), np.float32)
    mask[20:80, 10:70] = 1.0  # largest person, 3600 px at 4 m
    depth[20:80, 10:70] = 4.0
    mask[30:80, 100:150] = 1.0  # 2500 px (≥ half the largest) at 2 m: nearer, so the main one
    depth[30:80, 100:150] = 2.0
    mask[5:10, 180:185] = 1.0  # tiny blob at 1 m: ignored
    depth[5:10, 180:185] = 1.0
    assert choose_focus(mask, depth) == pytest.approx(2.0)
    far_big_only = mask.copy()
    far_big_only[30:80, 100:150] = 0.0
    assert choose_focus(far_big_only, depth) == pytest.approx(4.0)
    # median, not mean: a few outliers inside the person do not move the focus
    depth[20:25, 10:70] = 50.0
    assert choose_focus(far_big_only, depth) == pytest.approx(4.0)
    # a point (x, y): x is the column
    assert choose_focus(mask, depth, focus_xy=(110, 40)) == pytest.approx(2.0)
    assert choose_focus(mask, depth, focus_xy=(195, 95)) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="outside"):
        choose_focus(mask, depth, focus_xy=(200, 10))
    # no person: the median depth of the central third of the frame
    ramp = np.tile(np.linspace(0.0, 9.0, 200, dtype=np.float32), (100, 1))
    assert choose_focus(np.zeros_like(mask), ramp) == pytest.approx(4.5, abs=0.05)


def test_postprocess_mask_fills_holes_and_refines_edges():
    h = w = 96
    yy, xx = np.mgrid[0:h, 0:w]
    truth = ((yy - 48) ** 2 + (xx - 48) ** 2 <= 26**2).astype(np.float32)
    image = np.zeros((h, w, 3), np.uint8)
    image[:] = (30, 120, 200)
    image[truth > 0] = (230, 180, 60)
    rough = cv2.GaussianBlur(((yy - 48) ** 2 + (xx - 48) ** 2 <= 30**2).astype(np.float32), (0, 0), 2.5)
    rough = np.clip(rough, 0.0, 1.0)
    rough[44:52, 44:52] = 0.0  # a hole inside the person
    out = postprocess_mask(rough, image, refine="nikam_awate")  # a wide band: the edge moves 4 px
    assert out[48, 48] == 1.0
    assert np.abs(out - truth).mean() < 0.25 * np.abs(rough - truth).mean()  # measured 0.0097 vs 0.085
    only_fill = postprocess_mask(rough, image, refine="none")
    assert only_fill[48, 48] == 1.0
    np.testing.assert_array_equal(only_fill[truth == 0], rough[truth == 0])
    untouched = postprocess_mask(rough, image, fill_holes=False, refine="none")
    np.testing.assert_array_equal(untouched, rough)


@pytest.mark.parametrize("k", [1, 4])  # 128 px: solved at full size; 512 px: solved smaller, upsampled
def test_snap_refinement_removes_the_soft_tail_and_follows_the_photo_edge(k):
    h = w = 128 * k
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.sqrt((yy - 64.0 * k) ** 2 + (xx - 64.0 * k) ** 2) / k  # radius in units of the 128 px case
    truth = (r <= 36).astype(np.float32)
    rng = np.random.default_rng(0)
    image = np.where(truth[..., None] > 0, (230, 180, 60), (30, 120, 200)).astype(np.float32)
    image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    # a segmenter's mask: its 0.5 contour 0.5 % of the size outside the true edge (inside the
    # snap's band), a soft tail 6 % of the size wide
    rough = np.clip(0.5 - (r - 36.5) / 8.0, 0.0, 1.0).astype(np.float32)
    out = postprocess_mask(rough, image)
    assert out[64 * k, 64 * k] == 1.0 and out.dtype == np.float32
    assert np.abs(out - truth).mean() < 0.2 * np.abs(rough - truth).mean()
    assert (out[r > 39] == 0).all()  # no tail beyond the narrow band
    assert (out[r < 34] == 1).all()
    # pixels between 0 and 1 only at the edge itself: the matting's and the outer fringe's (about a
    # pixel each side of the edge, where the bound was 5 % of the rough mask before the fringe)
    soft = (out > 0) & (out < 1)
    assert soft.sum() < 0.08 * (rough > 0).sum() and (np.abs(r[soft] - 36.5) < 2.5).all()
    assert np.abs((out >= 0.5).sum() / truth.sum() - 1.0) < 0.03  # the edge where the photo's is


def test_methods_differ_from_each_other():
    # each registry entry is a different rendering, not an alias; alpha_blend and gaussian
    # differ only where the matte is soft (checked below)
    sc = synthetic.make_scene(1, (96, 96))
    outs = {n: render(n, sc.image, sc.mask, sc.depth, sc.focus_depth) for n in NAMES}
    for a in NAMES:
        for b in NAMES:
            if a < b and {a, b} != {"alpha_blend", "gaussian"}:
                assert np.abs(outs[a].astype(int) - outs[b]).mean() > 0.2, (a, b)


def test_soft_matte_blends_while_hard_mask_pastes():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), np.float32)
    mask[:, 20:44] = 0.4  # a soft region below the 0.5 threshold
    depth = np.ones((64, 64), np.float32)
    blurred = gaussian_blur(image, 21).astype(np.float32)
    soft = render("alpha_blend", image, mask, depth, 1.0).astype(np.float32)
    hard = render("gaussian", image, mask, depth, 1.0).astype(np.float32)
    expect = 0.4 * image.astype(np.float32) + 0.6 * blurred
    assert np.abs(soft[:, 20:44] - expect[:, 20:44]).max() <= 1.0
    assert np.abs(hard[:, 20:44] - blurred[:, 20:44]).max() <= 0.0


def test_params_for_depth_switches_the_lens_to_relative_coc_only():
    from compositing.pipeline import params_for_depth

    assert params_for_depth("lens", None, relative=True) == {"coc": "relative"}
    assert params_for_depth("lens", {"coc": "thin_lens"}, relative=True) == {"coc": "thin_lens"}
    assert params_for_depth("lens", {"f_number": 2.0}, relative=False) == {"f_number": 2.0}
    assert params_for_depth("gaussian", {"k": 5}, relative=True) == {"k": 5}


def test_prepare_once_then_render_each_method():
    """prepare() makes the planes once (post-processed matte, depth, focus); render_prepared() of
    each method on them is what the one-call render_photo() gives, and what render() gives on those
    planes with the settings it used (the photo path's defaults: the lens's grain)."""
    from compositing.pipeline import prepare, render_photo, render_prepared

    scene = synthetic.make_scene(5, size=(64, 80), render_dof=False)
    raw = np.clip(scene.mask + 0.2 * (cv2.GaussianBlur(scene.mask, (0, 0), 3) - scene.mask), 0, 1)
    given = prepare(scene.image, raw, scene.depth)
    np.testing.assert_array_equal(given.mask, postprocess_mask(raw, scene.image))
    assert given.depth_source == "given" and not given.relative
    assert given.focus == choose_focus(given.mask, given.depth)
    prior = prepare(scene.image, raw)
    assert prior.depth_source == "prior" and prior.relative and prior.depth.shape == raw.shape
    for method in ("gaussian", "progressive13", "lens"):
        done = render_prepared(method, given, {})
        np.testing.assert_array_equal(done.output, render_photo(method, scene.image, raw, {}, depth=scene.depth).output)
        np.testing.assert_array_equal(done.output, render(method, scene.image, given.mask, given.depth, given.focus,
                                                          done.params or None))
        assert done.params.get("grain") is (True if method == "lens" else None)
        assert done.depth_info == {"depth_source": "given"}
        on_prior = render_prepared(method, prior, {})
        np.testing.assert_array_equal(on_prior.output, render_photo(method, scene.image, raw, {}).output)
        assert on_prior.depth_info == {"depth_source": "relative"}
    # relative depth: relative CoC; metres: the thin lens; the photo's grain either way
    assert render_prepared("lens", prior, {}).params == {"coc": "relative", "grain": True}
    assert render_prepared("lens", given, {}).params == {"grain": True}
    assert render_prepared("lens", given, {"grain": False}).params == {"grain": False}


def test_photo_pipeline_builds_its_models_lazily_and_asks_for_faces_only_on_the_prior():
    from compositing.pipeline import Lazy, PhotoPipeline, wants_faces

    scene = synthetic.make_scene(6, size=(48, 64), render_dof=False)
    calls = []

    def detector(image):
        calls.append("faces")
        return []

    segmenter = Lazy(lambda: calls.append("built") or (lambda image: scene.mask))
    pipe = PhotoPipeline(segmenter, None, refine="none", face_detector=detector)
    assert calls == []  # nothing built before the first photo
    prepared = pipe(scene.image)
    assert calls == ["built", "faces"] and prepared.depth_source == "prior"
    pipe(scene.image, depth=scene.depth)  # a given depth: no faces needed
    assert calls == ["built", "faces"]
    with pytest.raises(ValueError, match="no mask given and no segmenter"):
        PhotoPipeline()(scene.image)
    with pytest.raises(ValueError, match="unknown mask refinement"):
        PhotoPipeline(refine="sharp")
    assert wants_faces("lens", {"f_number": 2}) and wants_faces("lens", {"coc": "thin_lens"})
    assert not wants_faces("lens", {}) and not wants_faces("gaussian", {"f_number": 2})
    assert not wants_faces("lens", {"f_number": 2}, prior=False)


def test_the_ground_a_person_stands_on_is_sharp_at_their_feet():
    """The depth prior's ground contact, through the photo path: textured ground beside a standing
    person's feet keeps its detail, the same ground far above the contact line is defocused."""
    from datasets.synthetic import dead_leaves

    image = dead_leaves(9, (192, 256))
    mask = np.zeros((192, 256), np.float32)
    cv2.ellipse(mask, (128, 40), (14, 18), 0, 0, 360, 1.0, -1)
    mask[55:160, 110:146] = 1.0  # body and legs, feet on row 159
    out = render_photo("lens", image, mask, {"grain": False}, refine="none").output

    def kept(rows: slice) -> float:
        region = (rows, slice(10, 80))  # beside the person, at least 30 px from them
        y_in, y_out = (cv2.Laplacian(M.luminance(x), cv2.CV_32F)[region] for x in (image, out))
        return float(np.mean(y_out ** 2) / np.mean(y_in ** 2))

    assert kept(slice(152, 166)) > 0.6  # the ground at the feet
    assert kept(slice(30, 60)) < 0.2  # the ground (or whatever is there) well above them
