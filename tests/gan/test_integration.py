"""Train → checkpoint → translate: the training loop's checkpoints load in gan.infer."""
import numpy as np
import torch

from datasets import synthetic
from gan.infer import Translator
from gan.train import TrainConfig, train

TINY = {"netG": "resnet", "n_blocks": 1, "ngf": 4, "ndf": 4, "n_layers_D": 1, "vgg_weights": "none"}


def test_a_training_checkpoint_translates_a_full_size_image(tmp_path):
    torch.manual_seed(0)
    synthetic.write_unaligned_dataset(tmp_path / "data", n_train=2, n_test=1, size=(32, 32), seed=3)
    cfg = TrainConfig(dataroot=str(tmp_path / "data"), name="tiny", runs_dir=str(tmp_path / "runs"),
                      preset="mask_overlay", model_overrides=dict(TINY), load_size=32, crop_size=32,
                      n_epochs=1, n_epochs_decay=0, num_workers=0, max_steps=2, display="none", quiet=True)
    result = train(cfg)
    assert result.last_checkpoint is not None and result.last_checkpoint.is_file()

    scene = synthetic.make_scene(11, (48, 40), render_dof=False)
    translator = Translator.from_checkpoint(result.last_checkpoint, overlay=None)
    assert translator.overlay  # the mask_overlay preset pastes the subject at test time too
    out = translator(scene.image, scene.mask)
    assert out.shape == scene.image.shape and out.dtype == np.uint8
    inside = scene.mask >= 1.0
    assert np.array_equal(out[inside], scene.image[inside])
    assert not np.array_equal(out[~inside], scene.image[~inside])
