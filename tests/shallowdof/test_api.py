"""The public Python API (shallowdof/__init__.py): render a photo with a compositor method as the
blur program does, translate an image with a checkpoint as test_cyclegan does, clear errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import shallowdof
from datasets.io import read_image, write_image
from datasets.synthetic import make_scene
from gan.checkpoint import CheckpointError, checkpoint_path, save_checkpoint
from gan.model import CycleGANModel, config_from_preset
from shallowdof.programs import PROGRAMS

TINY = dict(netG="resnet", n_blocks=1, ngf=4, ndf=4, n_layers_D=2, vgg_weights="none")


@pytest.fixture(scope="module")
def scene():
    return make_scene(5, (72, 96), render_dof=False)


def test_the_methods_are_the_compositors_with_their_sources():
    found = shallowdof.methods()
    assert {"lens", "gaussian", "progressive13"} <= set(found) and all(found.values())


def test_render_is_what_the_blur_program_writes_for_the_same_photo(tmp_path, scene):
    """Segmenter's mask (MediaPipe), the given depth, the subject's focus: the same pixels."""
    write_image(tmp_path / "in" / "p.png", scene.image)
    np.save(tmp_path / "p.npy", scene.depth.astype(np.float32))
    for method, params in (("gaussian", {}), ("lens", {"blades": 6})):
        argv = [str(tmp_path / "in"), "--method", method, "--depth", str(tmp_path / "p.npy"), "--out",
                str(tmp_path / method), "--quiet", *(["--params", "blades=6"] if params else [])]
        assert PROGRAMS["blur"].main(argv) == 0
        ours = shallowdof.render(scene.image, method, depth=scene.depth, params=params)
        assert ours.dtype == np.uint8 and ours.shape == scene.image.shape
        assert np.array_equal(ours, read_image(tmp_path / method / f"p_{method}.png")), method


def test_render_keeps_a_given_subject_and_blurs_the_rest(scene):
    out = shallowdof.render(scene.image, "gaussian", mask=scene.mask, depth=scene.depth, refine="none")
    subject, background = scene.mask >= 1.0, scene.mask <= 0.0
    assert np.array_equal(out[subject], scene.image[subject])
    assert np.abs(out[background].astype(int) - scene.image[background]).mean() > 2.0


def test_render_refuses_an_unknown_method_or_parameter_in_one_line(scene):
    with pytest.raises(ValueError, match="no_such_method"):
        shallowdof.render(scene.image, "no_such_method", mask=scene.mask, depth=scene.depth)
    with pytest.raises(ValueError, match=r"k: must be between 1 and 1001, got -3"):
        shallowdof.render(scene.image, "gaussian", mask=scene.mask, depth=scene.depth, params={"k": -3})


def test_translate_is_what_test_cyclegan_writes_with_its_defaults(tmp_path, scene):
    torch.manual_seed(0)
    model = CycleGANModel(config_from_preset("cyclegan", **TINY))
    run = tmp_path / "run"
    save_checkpoint(checkpoint_path(run, 1), {"config": {"model": model.cfg.to_dict(),
                                                         "train": {"load_size": 40, "crop_size": 32}},
                                              "model": model.state_dict()})
    write_image(tmp_path / "in" / "p.png", scene.image)
    argv = ["--checkpoint", str(run), "--input", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--quiet"]
    assert PROGRAMS["test_cyclegan"].main(argv) == 0
    ours = shallowdof.translate(scene.image, run)
    assert ours.shape == scene.image.shape and np.array_equal(ours, read_image(tmp_path / "out" / "p.png"))
    assert not np.array_equal(shallowdof.translate(scene.image, run, direction="BtoA"), ours)  # the other generator
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        shallowdof.translate(scene.image, tmp_path / "missing.pt")
