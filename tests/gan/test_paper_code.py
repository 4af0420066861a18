"""The guided presets compute what Nasrullah 2018's own training code computes.

Each test recomputes the paper's formula here, independently of gan.model / gan.losses, on a
tiny fixed batch and compares every affected image and loss to 1e-6:
- overlay: fake = M·x + (1 − M)·G(x); rec = M·x + (1 − M)·G(fake), the REAL image's subject;
  identity outputs G_A(x_B), G_B(x_A) never overlaid;
- masks binary by default (M = [m ≥ 0.5]), soft as a setting;
- the mask loss's VGG term as the paper's text (λ_cyc·λ_mask) or as its code (λ_mask only,
  features mapped 2f − 1, ImageNet normalisation written into ``.data``);
- the paper's data setting: 256×256 images used as they are (no resize, crop or flip).
"""
import copy

import numpy as np
import pytest
import torch

from datasets import synthetic
from datasets.io import read_image
from gan.losses import VGGRelu32, mask_loss
from gan.model import CycleGANModel, config_from_preset
from gan.cli.train_cyclegan import parse_args
from gan.train import build_dataset

TINY = dict(netG="resnet", n_blocks=1, ngf=4, ndf=4, n_layers_D=2, vgg_weights="none")
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
TOL = 1e-6


def soft_batch(n=2, size=16, seed=3):
    """Random images with soft masks: exact 0 and 1 regions and a band of values in between."""
    g = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(-0.5, 1.5, size).clamp(0, 1)
    return {"A": torch.rand(n, 3, size, size, generator=g) * 2 - 1,
            "B": torch.rand(n, 3, size, size, generator=g) * 2 - 1,
            "A_mask": ramp.view(1, 1, 1, size).expand(n, 1, size, size).clone(),
            "B_mask": ramp.view(1, 1, size, 1).expand(n, 1, size, size).clone()}


def paper_vgg_term_code(vgg, real, generated, mask):
    """The paper code's VGG term, literally: features of the masked pair in [0, 1], the ImageNet
    normalisation written into ``.data`` (invisible to autograd), features mapped 2f − 1."""
    def features(x):
        x = (mask * x + 1.0) / 2.0
        x.data = (x.data - MEAN) / STD
        return 2.0 * vgg.features(x) - 1.0
    return (features(generated) - features(real).detach()).abs().mean()


def paper_vgg_term_text(vgg, real, generated, mask):
    """Eq. 10's VGG term: L1 of relu3_2 features of the [0, 1] cut-outs, ImageNet-normalised."""
    cut = lambda x: (mask * (x + 1.0) / 2.0 - MEAN) / STD  # noqa: E731
    return (vgg.features(cut(generated)) - vgg.features(cut(real)).detach()).abs().mean()


def paper_mask_loss(vgg, real, generated, mask, lambda_cyc, lambda_mask, mode):
    pixel = (mask * real - mask * generated).abs().mean()
    if mode == "paper_text":
        return lambda_cyc * lambda_mask * (pixel + paper_vgg_term_text(vgg, real, generated, mask))
    return lambda_cyc * lambda_mask * pixel + lambda_mask * paper_vgg_term_code(vgg, real, generated, mask)


def lsgan(pred, real):
    return ((pred - (1.0 if real else 0.0)) ** 2).mean()


def paper_step(nets, cfg, b, vgg):
    """Images and losses of one training step of the paper's code with the networks ``nets``."""
    A, B = b["A"], b["B"]
    if cfg.masks == "binary":
        MA, MB = (b["A_mask"] >= 0.5).float(), (b["B_mask"] >= 0.5).float()
    else:
        MA, MB = b["A_mask"], b["B_mask"]
    G_A, G_B, D_A, D_B = nets["G_A"], nets["G_B"], nets["D_A"], nets["D_B"]
    raw_fake_B, raw_fake_A = G_A(A), G_B(B)
    fake_B = MA * A + (1 - MA) * raw_fake_B
    fake_A = MB * B + (1 - MB) * raw_fake_A
    rec_A = MA * A + (1 - MA) * G_B(fake_B)
    rec_B = MB * B + (1 - MB) * G_A(fake_A)
    idt_A, idt_B = G_A(B), G_B(A)
    la, lb, li = cfg.lambda_A, cfg.lambda_B, cfg.lambda_identity
    images = {"fake_B": fake_B, "fake_A": fake_A, "rec_A": rec_A, "rec_B": rec_B, "idt_A": idt_A, "idt_B": idt_B}
    losses = {
        "G_A": lsgan(D_A(fake_B), True), "G_B": lsgan(D_B(fake_A), True),
        "cycle_A": la * (rec_A - A).abs().mean(), "cycle_B": lb * (rec_B - B).abs().mean(),
        "idt_A": lb * li * (idt_A - B).abs().mean(), "idt_B": la * li * (idt_B - A).abs().mean(),
        # the image pools return the first query images as they are
        "D_A": 0.5 * (lsgan(D_A(B), True) + lsgan(D_A(fake_B), False)),
        "D_B": 0.5 * (lsgan(D_B(A), True) + lsgan(D_B(fake_A), False)),
        "mask_A": paper_mask_loss(vgg, A, raw_fake_B, MA, la, cfg.lambda_mask, cfg.mask_vgg),
        "mask_B": paper_mask_loss(vgg, B, raw_fake_A, MB, lb, cfg.lambda_mask, cfg.mask_vgg),
    }
    return images, losses


@pytest.mark.parametrize("masks", ["binary", "soft"])
@pytest.mark.parametrize("mask_vgg", ["paper_text", "paper_code"])
def test_one_step_of_mask_loss_overlay_is_the_papers_code(masks, mask_vgg):
    """Every difference from the paper's text at once: overlaid fakes, reconstructions overlaid with the
    real subject, raw identity outputs, binary (or soft) masks, both VGG weightings."""
    torch.manual_seed(0)
    cfg = config_from_preset("mask_loss_overlay", **TINY, masks=masks, mask_vgg=mask_vgg)
    model = CycleGANModel(cfg)
    nets = {k: copy.deepcopy(v) for k, v in
            {"G_A": model.netG_A, "G_B": model.netG_B, "D_A": model.netD_A, "D_B": model.netD_B}.items()}
    b = soft_batch()
    model.set_input(b)
    model.optimize_parameters()  # the losses are those before the step; visuals its forward
    with torch.no_grad():
        images, losses = paper_step(nets, cfg, b, VGGRelu32("none"))
    visuals = model.get_current_visuals()
    for name, expected in images.items():
        assert torch.allclose(visuals[name], expected, atol=TOL, rtol=0), name
    got = model.get_current_losses()
    assert set(got) == set(losses)
    for name, expected in losses.items():
        assert got[name] == pytest.approx(expected.item(), abs=TOL, rel=TOL), name


def test_masks_are_binary_by_default_and_soft_on_request():
    """The threshold is M = [m ≥ 0.5] (8-bit mask value ≥ 128); with soft masks the subject of a
    reconstruction is M·x + (1 − M)·G(fake), never the M²·x of overlaying the overlaid fake."""
    assert config_from_preset("mask_loss_overlay").masks == "binary"
    b = soft_batch()
    b["A_mask"][0, 0, 0, :3] = torch.tensor([127 / 255, 128 / 255, 0.5])
    model = CycleGANModel(config_from_preset("mask_loss_overlay", **TINY))
    model.set_input(b)
    assert set(model.mask_A.unique().tolist()) == {0.0, 1.0}
    assert model.mask_A[0, 0, 0, :3].tolist() == [0.0, 1.0, 1.0]
    soft = CycleGANModel(config_from_preset("mask_loss_overlay", **TINY, masks="soft"))
    soft.set_input(b)
    assert torch.equal(soft.mask_A, b["A_mask"])


@pytest.mark.parametrize("mode", ["paper_text", "paper_code"])
def test_mask_loss_value_and_gradient_follow_each_vgg_weighting(mode):
    """gan.losses.mask_loss against the independent formula: the value and the gradient that
    reaches the generated image (where paper_code's .data normalisation shows)."""
    vgg = VGGRelu32("none")
    g = torch.Generator().manual_seed(5)
    real = torch.rand(1, 3, 24, 24, generator=g) * 2 - 1
    fake = torch.rand(1, 3, 24, 24, generator=g) * 2 - 1
    mask = (torch.rand(1, 1, 24, 24, generator=g) > 0.4).float()
    ours_in, theirs_in = fake.clone().requires_grad_(), fake.clone().requires_grad_()
    ours = mask_loss(real, ours_in, mask, vgg, 10.0, 0.5, mode)
    theirs = paper_mask_loss(vgg, real, theirs_in, mask, 10.0, 0.5, mode)
    ours.backward()
    theirs.backward()
    assert ours.item() == pytest.approx(theirs.item(), abs=TOL, rel=TOL)
    scale = theirs_in.grad.abs().max().item()
    assert (ours_in.grad - theirs_in.grad).abs().max().item() <= TOL * max(1.0, scale)


def test_paper_code_vgg_gradient_is_a_small_fraction_of_paper_text():
    """The issue's '≈ 22×': λ_cyc (10) times ÷std (≈ 4.4) over the 2f − 1 map (2)."""
    vgg = VGGRelu32("none")
    g = torch.Generator().manual_seed(6)
    real, fake = torch.rand(2, 1, 3, 32, 32, generator=g) * 2 - 1
    mask = torch.ones(1, 1, 32, 32)
    grads = {}
    for mode in ("paper_text", "paper_code"):
        x = fake.clone().requires_grad_()
        # the VGG term alone: the pixel term's gradient is the same in both modes at λ_mask = 1
        (mask_loss(real, x, mask, vgg, 10.0, 1.0, mode) - 10.0 * (real - x).abs().mean()).backward()
        grads[mode] = x.grad.norm().item()
    assert 10 < grads["paper_text"] / grads["paper_code"] < 50


def test_paper_data_setting_uses_256_pixel_images_as_they_are(tmp_path):
    """--paper-data: load 256, crop 256, no flip, binary masks; every epoch sees the image itself."""
    synthetic.write_unaligned_dataset(tmp_path, 2, 0, (256, 256), seed=1)
    cfg = parse_args(["--dataroot", str(tmp_path), "--preset", "mask_loss_overlay", "--paper-data"])
    assert (cfg.load_size, cfg.crop_size, cfg.flip) == (256, 256, False)
    model_cfg = cfg.model_config()
    assert model_cfg.masks == "binary"
    ds = build_dataset(cfg, model_cfg, progress=False)
    masks = []
    for epoch in range(4):
        ds.set_epoch(epoch)
        item = ds[epoch % 2]
        for d in "AB":
            expected = torch.from_numpy(read_image(item[f"{d}_paths"]).astype(np.float32)).permute(2, 0, 1) / 127.5 - 1
            assert torch.allclose(item[d], expected, atol=TOL, rtol=0)
        masks.append(item["A_mask"])
    assert torch.equal(masks[0], masks[2]) and torch.equal(masks[1], masks[3])
    with pytest.raises(SystemExit, match="--paper-data fixes"):
        parse_args(["--dataroot", str(tmp_path), "--paper-data", "--crop-size", "128"])
    with pytest.raises(SystemExit, match="--masks soft"):
        parse_args(["--dataroot", str(tmp_path), "--paper-data", "--masks", "soft"])
