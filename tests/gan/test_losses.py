"""gan.losses: known answers for the GAN, cycle, mask and overlay terms; VGG truncation and errors."""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan import losses
from gan.losses import GANLoss, VGGRelu32, VGGWeightsError, l1, mask_loss, mask_overlay


@pytest.fixture(scope="module")
def vgg():
    return VGGRelu32("none")


def test_lsgan_known_values():
    crit = GANLoss("lsgan")
    pred = torch.tensor([[0.0, 0.5], [1.0, 2.0]])
    assert crit(pred, True).item() == pytest.approx((1 + 0.25 + 0 + 1) / 4)
    assert crit(pred, False).item() == pytest.approx((0 + 0.25 + 1 + 4) / 4)
    assert crit(torch.ones(3, 1, 4, 4), True).item() == 0.0


def test_vanilla_is_bce_with_logits():
    crit = GANLoss("vanilla")
    pred = torch.tensor([-2.0, 0.0, 3.0])
    assert crit(pred, True).item() == pytest.approx(F.softplus(-pred).mean().item(), rel=1e-6)
    assert crit(pred, False).item() == pytest.approx(F.softplus(pred).mean().item(), rel=1e-6)
    with pytest.raises(ValueError, match="gan_mode"):
        GANLoss("wgan")


def test_l1_identical_is_zero_and_known():
    x = torch.rand(2, 3, 8, 8)
    assert l1(x, x).item() == 0.0
    assert l1(x, x + 0.25).item() == pytest.approx(0.25, abs=1e-6)


def test_mask_loss_zero_cases(vgg):
    torch.manual_seed(0)
    real, fake = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    ones, zeros = torch.ones(2, 1, 32, 32), torch.zeros(2, 1, 32, 32)
    assert mask_loss(real, real, ones, vgg).item() == 0.0          # identical inputs
    assert mask_loss(real, fake, zeros, vgg).item() == 0.0         # empty mask
    # only the subject counts: changing the background leaves the loss unchanged
    half = torch.zeros(2, 1, 32, 32)
    half[..., :, :16] = 1
    other_background = torch.where(half.bool(), fake, -real)
    assert mask_loss(real, fake, half, vgg).item() == pytest.approx(
        mask_loss(real, other_background, half, vgg).item(), rel=1e-6)
    assert mask_loss(real, fake, half, vgg).item() > 0.1


def test_mask_loss_is_pixel_plus_vgg_terms(vgg):
    """Eq. 10-12 spelled out: L1 of the cut-outs plus L1 of their relu3_2 features, computed
    here independently with torchvision-style normalisation of the [0, 1] cut-outs."""
    torch.manual_seed(1)
    real, fake = torch.rand(1, 3, 24, 24) * 2 - 1, torch.rand(1, 3, 24, 24) * 2 - 1
    m = (torch.rand(1, 1, 24, 24) > 0.5).float()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    cut = lambda x: (m * (x + 1) / 2 - mean) / std  # noqa: E731
    expected = (m * real - m * fake).abs().mean() + (vgg.features(cut(real)) - vgg.features(cut(fake))).abs().mean()
    assert mask_loss(real, fake, m, vgg).item() == pytest.approx(expected.item(), rel=1e-5)


def test_vgg_is_truncated_at_relu3_2_frozen_and_gradient_flows_to_input(vgg):
    layers = list(vgg.features)
    assert len(layers) == losses.VGG19_RELU3_2_INDEX + 1
    assert isinstance(layers[-1], nn.ReLU) and isinstance(layers[-2], nn.Conv2d)
    assert layers[-2].in_channels == 256 and layers[-2].out_channels == 256   # conv3_2
    assert sum(isinstance(m, nn.MaxPool2d) for m in layers) == 2
    assert not any(p.requires_grad for p in vgg.parameters())
    assert not vgg.training
    fake = (torch.rand(1, 3, 16, 16) * 2 - 1).requires_grad_()
    mask_loss(torch.zeros(1, 3, 16, 16), fake, torch.ones(1, 1, 16, 16), vgg).backward()
    assert fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in vgg.parameters())


def test_vgg_none_is_the_same_in_every_construction():
    a, b = VGGRelu32("none"), VGGRelu32("none")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_vgg_keys_match_torchvision_features():
    """The truncated extractor takes torchvision's vgg19().features weights key for key."""
    from torchvision.models import vgg19

    full = vgg19().features.state_dict()
    ours = VGGRelu32("none").features.state_dict()
    assert set(ours) == {k for k in full if int(k.split(".")[0]) <= losses.VGG19_RELU3_2_INDEX}
    assert all(full[k].shape == v.shape for k, v in ours.items())


def test_missing_imagenet_weights_give_one_clear_error(tmp_path, monkeypatch):
    """Offline and without the file in the hub folder: one error naming the file and folder."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("<urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(VGGWeightsError) as err:
        VGGRelu32("imagenet")
    msg = str(err.value)
    assert str(Path(tmp_path) / "checkpoints" / "vgg19-dcbb9e9d.pth") in msg
    assert "--vgg-weights none" in msg
    with pytest.raises(ValueError, match="vgg_weights"):
        VGGRelu32("random")


def test_overlay_equation_exact():
    torch.manual_seed(2)
    real, gen = torch.rand(2, 3, 8, 8) * 2 - 1, torch.rand(2, 3, 8, 8) * 2 - 1
    m = torch.rand(2, 1, 8, 8)
    m[0, 0, 0, 0], m[0, 0, 0, 1] = 1.0, 0.0
    out = mask_overlay(real, gen, m)
    assert torch.allclose(out, m * real + (1 - m) * gen, atol=0, rtol=0)
    assert torch.equal(out[0, :, 0, 0], real[0, :, 0, 0])   # subject: the input exactly
    assert torch.equal(out[0, :, 0, 1], gen[0, :, 0, 1])    # background: the generator


def test_imagenet_weights_are_read_from_the_hub_file(tmp_path, monkeypatch):
    """With the file in the torch hub checkpoints folder (here a stand-in holding torchvision's
    key names) the extractor takes its first 14 "features" tensors, without any download."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def no_download(*args, **kwargs):
        raise AssertionError("must not download when the file is there")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    torch.manual_seed(3)
    reference = {f"features.{k}": torch.randn_like(v) for k, v in VGGRelu32("none").features.state_dict().items()}
    reference["features.14.weight"] = torch.zeros(1)           # layers past relu3_2 are ignored
    reference["classifier.0.weight"] = torch.zeros(1)
    (tmp_path / "checkpoints").mkdir()
    torch.save(reference, tmp_path / "checkpoints" / "vgg19-dcbb9e9d.pth")
    vgg = VGGRelu32("imagenet")
    assert torch.equal(vgg.features[12].weight, reference["features.12.weight"])
    assert torch.equal(vgg.features[0].bias, reference["features.0.bias"])
