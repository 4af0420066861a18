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


def _textured(seed=0, size=48):
    """A background of fine random texture on a smooth gradient, and a centred square subject."""
    g = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(-0.5, 0.5, size).view(1, 1, 1, size).expand(1, 3, size, size)
    image = ramp + 0.3 * torch.randn(1, 3, size, size, generator=g)
    mask = torch.zeros(1, 1, size, size)
    mask[..., size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1.0
    return image, mask


def test_background_lowpass_l1_is_the_plain_l1_at_sigma_0_and_full_resolution_on_the_subject():
    image, mask = _textured()
    other = image.flip(-1)
    assert torch.equal(losses.background_lowpass_l1(other, image, mask, 0.0), l1(other, image))
    # a difference inside the subject costs its full mean (plus what its low-pass spills over the edge)
    changed = image + 0.2 * mask
    subject = 0.2 * mask.mean().item()
    assert l1(changed, image).item() == pytest.approx(subject, rel=1e-5)
    assert subject <= losses.background_lowpass_l1(changed, image, mask, 4.0).item() < 1.5 * subject


def test_background_lowpass_l1_forgives_a_background_defocus_but_not_a_colour_change():
    image, mask = _textured()
    defocused = mask * image + (1 - mask) * losses.gaussian_lowpass(image, 2.0)
    tinted = image + 0.1 * (1 - mask)  # the same background, 0.1 brighter
    full, low = l1(defocused, image).item(), losses.background_lowpass_l1(defocused, image, mask, 4.0).item()
    assert low < 0.15 * full  # the detail a defocus removes is not asked back
    # a change of colour is a change at every scale: the low-passed term keeps most of it
    assert losses.background_lowpass_l1(tinted, image, mask, 4.0).item() > 0.8 * l1(tinted, image).item()


def test_gaussian_lowpass_keeps_constants_removes_noise_and_fits_small_images():
    flat = torch.full((1, 3, 20, 20), 0.3)
    assert torch.allclose(losses.gaussian_lowpass(flat, 4.0), flat)
    noise = torch.randn(1, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    assert losses.gaussian_lowpass(noise, 2.0).std() < 0.2 * noise.std()
    # a kernel wider than the image (σ 4: 25 taps on 8 px) is cut to it instead of failing
    assert losses.gaussian_lowpass(torch.randn(1, 3, 8, 8), 4.0).shape == (1, 3, 8, 8)


def test_background_detail_blanks_the_subject_and_sees_a_defocus():
    image, mask = _textured()
    view = losses.background_detail(image, mask, 2.0)
    assert view.shape == (1, 6, 48, 48)
    assert torch.equal(view[:, :3], image * (1 - mask))
    assert view[:, :, 24, 24].abs().max() == 0  # the subject is blanked in both parts
    defocused = losses.background_detail(losses.gaussian_lowpass(image, 2.0), mask, 2.0)
    # the detail channels of a defocused background hold far less energy; the image channels not
    assert defocused[:, 3:].pow(2).mean() < 0.2 * view[:, 3:].pow(2).mean()
    assert defocused[:, :3].pow(2).mean() > 0.5 * view[:, :3].pow(2).mean()
