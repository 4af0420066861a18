"""gan.model: presets, one training step, exact state round trip (pools included), overlay,
mask loss on the raw output, the DDP wrapping contract, AMP on CPU."""
import io

import re

import pytest
import torch
from torch import nn

from gan.losses import GANLoss, l1, mask_loss
from gan.model import PAPER_PRESETS, PRESETS, CycleGANModel, ModelConfig, config_from_preset
from gan.pool import ImagePool

TINY = dict(netG="resnet", n_blocks=1, ngf=4, ndf=4, n_layers_D=2, vgg_weights="none")


def batch(n=2, size=16, seed=0, depth=False):
    g = torch.Generator().manual_seed(seed)
    b = {"A": torch.rand(n, 3, size, size, generator=g) * 2 - 1,
         "B": torch.rand(n, 3, size, size, generator=g) * 2 - 1,
         "A_mask": torch.zeros(n, 1, size, size), "B_mask": torch.zeros(n, 1, size, size),
         "A_paths": [f"a{i}.png" for i in range(n)], "B_paths": [f"b{i}.png" for i in range(n)]}
    b["A_mask"][..., size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1.0
    b["B_mask"][..., :, : size // 2] = 1.0
    if depth:
        b["A_depth"] = torch.rand(n, 1, size, size, generator=g) * 2 - 1
        b["B_depth"] = torch.rand(n, 1, size, size, generator=g) * 2 - 1
    return b


def make(preset="cyclegan", seed=0, **kw):
    torch.manual_seed(seed)
    return CycleGANModel(config_from_preset(preset, **{**TINY, **kw}))


def weights(model):
    return {f"{n}.{k}": v.clone() for n, sd in model.networks_state_dict().items() for k, v in sd.items()}


def test_presets_are_the_papers_four_models_and_the_defocus_one():
    assert PAPER_PRESETS == ("cyclegan", "mask_loss", "mask_overlay", "mask_loss_overlay")
    assert set(PRESETS) == {*PAPER_PRESETS, "defocus"}
    for name in PAPER_PRESETS:  # none of the paper's models takes a setting beyond the paper
        cfg = config_from_preset(name)
        assert (cfg.background_lowpass, cfg.netD_input, cfg.discriminator_norm) == (0.0, "image", "instance")
    defocus, headline = config_from_preset("defocus"), config_from_preset("mask_loss_overlay")
    assert defocus.background_lowpass > 0 and defocus.netD_input == "background_detail"
    assert defocus.discriminator_norm == "none" and defocus.uses_masks
    same = {f: getattr(defocus, f) == getattr(headline, f) for f in ("mask_loss", "lambda_mask", "mask_overlay_train",
                                                                     "mask_overlay_test", "lambda_A", "lr")}
    assert all(same.values()), same
    plain = config_from_preset("cyclegan")
    assert (plain.mask_loss, plain.mask_overlay_train, plain.gan_mode, plain.lambda_A, plain.lambda_identity,
            plain.pool_size, plain.lr, plain.beta1) == (False, False, "lsgan", 10.0, 0.5, 50, 2e-4, 0.5)
    both = config_from_preset("mask_loss_overlay", ngf=8)
    assert (both.mask_loss, both.lambda_mask, both.mask_overlay_train, both.mask_overlay_test, both.ngf) == \
        (True, 0.5, True, False, 8)
    overlay = config_from_preset("mask_overlay")
    assert overlay.mask_overlay_train and overlay.mask_overlay_test and not overlay.mask_loss
    with pytest.raises(ValueError, match="unknown preset"):
        config_from_preset("pix2pix")
    assert ModelConfig.from_dict(both.to_dict()) == both
    with pytest.raises(ValueError, match="unknown ModelConfig keys"):
        ModelConfig.from_dict({**both.to_dict(), "dropout": True})


@pytest.mark.parametrize("field, value, choices", [
    ("netG", "resnet_12blocks", "resnet_9blocks, resnet_6blocks, resnet, unet_128, unet_256"),
    ("norm", "group", "instance, batch"), ("upsample", "bilinear", "transpose, resize"),
    ("gan_mode", "wgan", "lsgan, vanilla"), ("amp", "fp8", "none, bf16, fp16"),
    # unused by the plain preset (no mask loss, so no VGG), still refused: a typo must not wait for a later run
    ("vgg_weights", "imagnet", "imagenet, none"),
])
def test_a_setting_outside_its_choices_is_refused_when_the_config_is_made(field, value, choices):
    with pytest.raises(ValueError, match=re.escape(f"{field}: must be one of {choices}, got {value!r}")):
        config_from_preset("cyclegan", **{field: value})


def test_settings_that_only_some_generators_have_are_refused_with_the_others():
    """The config says which settings go together; define_G builds what a checked config asks for."""
    with pytest.raises(ValueError, match="n_blocks: applies to ResNet generators only, not netG 'unet_256'"):
        ModelConfig(netG="unet_256", n_blocks=3)
    with pytest.raises(ValueError, match="full_res_head: applies to U-Net generators only, not netG 'resnet'"):
        ModelConfig(netG="resnet", n_blocks=1, full_res_head=4)
    with pytest.raises(ValueError, match="lambda_gate: supervises the output gate, so it needs output_gate"):
        ModelConfig(lambda_gate=1.0)
    with pytest.raises(ValueError, match="output_gate: blends the input into the output, so it needs input_nc == "
                                         "output_nc"):
        ModelConfig(output_gate=True, input_nc=1, lambda_identity=0)
    assert ModelConfig.from_dict({k: v for k, v in ModelConfig().to_dict().items()
                                  if k not in ("output_gate", "lambda_gate")}) == ModelConfig()  # older files


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_one_step_changes_every_network_and_reports_losses(preset):
    model = make(preset)
    before = weights(model)
    model.set_input(batch())
    model.optimize_parameters()
    after = weights(model)
    for net in ("G_A", "G_B", "D_A", "D_B"):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(net)), net
    losses = model.get_current_losses()
    assert set(losses) == set(model.loss_names)
    assert ("mask_A" in losses) == model.cfg.mask_loss
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    visuals = model.get_current_visuals()
    assert set(visuals) == set(model.visual_names)
    assert all(v.shape == (2, 3, 16, 16) for v in visuals.values())


def test_state_dict_round_trip_continues_exactly():
    """Train, save (through torch.save / weights_only load), restore into a differently
    initialised model, train both on: identical weights, optimisers and pools."""
    model = make("mask_loss_overlay", pool_size=2)
    for i in range(2):  # 4 fakes into a pool of 2: the random swap branch is exercised
        model.set_input(batch(seed=i))
        model.optimize_parameters()
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    restored = make("mask_loss_overlay", seed=123, pool_size=2)
    restored.load_state_dict(torch.load(buf, weights_only=True))
    assert len(restored.fake_B_pool.images) == 2
    for i in range(2, 4):
        for m in (model, restored):
            m.set_input(batch(seed=i))
            m.optimize_parameters()
    a, b = weights(model), weights(restored)
    assert all(torch.equal(a[k], b[k]) for k in a)
    for pa, pb in ((model.fake_A_pool, restored.fake_A_pool), (model.fake_B_pool, restored.fake_B_pool)):
        assert all(torch.equal(x, y) for x, y in zip(pa.images, pb.images))
        assert torch.equal(pa.generator.get_state(), pb.generator.get_state())
    # without the pools' state the continuation differs (the check can fail)
    partial = make("mask_loss_overlay", seed=123, pool_size=2)
    state = model.state_dict()
    state["fake_B_pool"] = ImagePool(2, seed=99).state_dict()
    partial.load_state_dict(state)
    model.set_input(batch(seed=7))
    partial.set_input(batch(seed=7))
    for _ in range(2):
        model.optimize_parameters()
        partial.optimize_parameters()
    assert not torch.equal(model.netD_A.model[0].weight, partial.netD_A.model[0].weight)


def test_image_pool_reference_behaviour():
    pool = ImagePool(3, seed=0)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: returned as given
    returned_old = 0
    for i in range(200):
        x = torch.full((1, 1, 1, 1), 100.0 + i)
        returned_old += int(pool.query(x).item() != x.item())
    assert 70 < returned_old < 130  # about half the time a stored image comes back
    assert len(pool.images) == 3

    def replay(seed):
        p = ImagePool(3, seed=seed)
        p.query(first)
        return [p.query(torch.full((1, 1, 1, 1), 100.0 + i)).item() for i in range(30)]

    assert replay(0) == replay(0)  # the pool's own generator decides: reproducible
    assert replay(0) != replay(1)
    assert torch.equal(ImagePool(0).query(first), first)


def test_overlay_in_training_pastes_the_subject_exactly_and_test_mode_follows_config():
    model = make("mask_loss_overlay")
    b = batch()
    model.set_input(b)
    model.forward()
    v = model.get_current_visuals()
    inside = b["A_mask"].expand(-1, 3, -1, -1).bool()
    assert torch.equal(v["fake_B"][inside], b["A"][inside])
    assert torch.equal(v["rec_A"][inside], b["A"][inside])
    assert not torch.equal(v["idt_B"][inside], b["A"][inside])  # identity outputs are never overlaid
    assert not torch.equal(v["fake_B"][~inside], b["A"][~inside])
    model.eval()  # mask_loss_overlay: overlay in training only
    with torch.no_grad():
        model.forward()
    assert not torch.equal(model.get_current_visuals()["fake_B"][inside], b["A"][inside])


def test_mask_loss_reads_the_raw_generator_output():
    """With the overlay on, the overlaid fake equals the input in the (binary) subject, so a mask
    loss on it would be exactly 0; the model computes it on G(x) itself (eq. 10-12)."""
    model = make("mask_loss_overlay")
    model.set_input(batch())
    model.optimize_parameters()
    losses = model.get_current_losses()
    assert losses["mask_A"] > 0.01 and losses["mask_B"] > 0.01


class CountingWrapper(nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module = module
        self.calls = 0

    def forward(self, *args, **kwargs):
        self.calls += 1
        return self.module(*args, **kwargs)


def test_wrap_networks_one_forward_per_wrapped_module_per_step():
    """DistributedDataParallel needs one forward per backward: each wrapped module is run once
    in a step, and saving still sees the plain networks."""
    model = make("mask_loss")
    wrappers = []
    model.wrap_networks(lambda m: wrappers.append(CountingWrapper(m)) or wrappers[-1])
    assert len(wrappers) == 2
    model.set_input(batch())
    model.optimize_parameters()
    assert [w.calls for w in wrappers] == [1, 1]
    assert set(model.networks_state_dict()["G_A"]) == set(make().netG_A.state_dict())


def test_depth_is_a_fourth_generator_channel():
    model = make(use_depth=True)
    assert model.netG_A.model[1].weight.shape[1] == 4 and model.netD_A.model[0].weight.shape[1] == 3
    model.set_input(batch(depth=True))
    model.optimize_parameters()
    with pytest.raises(ValueError, match="A_depth"):
        model.set_input(batch())


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_amp_step_on_cpu(amp):
    model = make(amp=amp, channels_last=True)
    model.set_input(batch())
    model.optimize_parameters()
    assert all(torch.isfinite(torch.tensor(v)) for v in model.get_current_losses().values())
    assert all(p.dtype == torch.float32 for p in model.netG_A.parameters())
    assert ("scale" in model.state_dict()["scaler"]) == (amp == "fp16")


def test_networks_state_dict_is_reference_layout():
    model = make()
    nets = model.networks_state_dict()
    assert set(nets) == {"G_A", "G_B", "D_A", "D_B"}
    assert "model.1.weight" in nets["G_A"] and "model.0.weight" in nets["D_A"]


@pytest.mark.parametrize("preset", PAPER_PRESETS)
def test_the_papers_presets_compute_the_papers_generator_loss(preset):
    """Each term of G's loss, recomputed from the step's outputs with the reference formulas
    (plain L1 everywhere, discriminators on the images): the settings beyond the paper change
    nothing in its four models."""
    model = make(preset)
    model.set_input(batch())
    model.optimize_parameters()
    cfg, o, gan = model.cfg, model._outputs, GANLoss(model.cfg.gan_mode)
    with torch.no_grad():
        expected = {"G_A": gan(model.netD_A(o["fake_B"]), True), "G_B": gan(model.netD_B(o["fake_A"]), True),
                    "cycle_A": l1(o["rec_A"], model.real_A) * cfg.lambda_A,
                    "cycle_B": l1(o["rec_B"], model.real_B) * cfg.lambda_B,
                    "idt_A": l1(o["idt_A"], model.real_B) * cfg.lambda_B * cfg.lambda_identity,
                    "idt_B": l1(o["idt_B"], model.real_A) * cfg.lambda_A * cfg.lambda_identity}
        if cfg.mask_loss:
            expected["mask_A"] = mask_loss(model.real_A, o["raw_fake_B"], model.mask_A, model.vgg, cfg.lambda_A,
                                           cfg.lambda_mask, cfg.mask_vgg)
        model._generator_loss()  # the same outputs, the discriminators as they are now
    got = model.get_current_losses()
    assert {k: float(v) for k, v in expected.items()} == {k: got[k] for k in expected}


def test_the_defocus_preset_low_passes_the_background_terms_and_judges_the_background_detail():
    model = make("defocus", pool_size=2)
    assert model.netD_A.model[0].in_channels == 6 and model.netD_B.model[0].in_channels == 6
    model.set_input(batch(size=32))
    model.optimize_parameters()
    o, cfg = model._outputs, model.cfg
    with torch.no_grad():
        model._generator_loss()
        plain = l1(o["rec_A"], model.real_A).item() * cfg.lambda_A
    # the cycle term is the low-passed one: smaller than the full-resolution L1 of the same outputs
    assert 0 < model.get_current_losses()["cycle_A"] < plain
    # the pool holds what D_A saw: the background (subject blanked with A's mask) and its detail layer
    stored = model.fake_B_pool.images[0]
    assert stored.shape == (1, 6, 32, 32)
    assert stored[0, :, 8:24, 8:24].abs().max() == 0 and stored[0, :3, 0:4, 0:4].abs().max() > 0
