"""The CycleGAN learns on synthetic portraits (datasets.synthetic): a short fixed-seed CPU run.

Domain A: all-in-focus scenes; domain B: shallow-DoF renders of other scenes (unpaired). A
small model (ResNet generator with 2 blocks, ngf 16, PatchGAN with 2 layers, ndf 16; batch 1,
32-pixel crops of 56-pixel images, 600 steps, the paper's lr and loss weights) is trained per
preset and judged on 8 held-out A scenes at 56 pixels:

- fake_B has far less high-frequency energy (Laplacian) in the background than real_A, while
  the untrained generator's output keeps most of it (the blur is learned, not a property of
  the network), and the cycle loss falls;
- the mask_loss preset keeps the subject closer to the input than the plain preset: lower L1
  inside the mask, both on the pixels and on 4×4-averaged pixels (colour and shape without
  the scenes' per-pixel noise, which a network this small cannot reproduce in 600 steps);
- the defocus preset's discriminator (background and detail layer, no normalisation) learns to
  reward a defocus of the background over a soft copy, where the paper's PatchGAN barely does;
- a mask-supervised output gate learns where the subject is, on scenes it sees without masks.

Measured here (torch 2.14.1 CPU, 1 thread, about 70 s + 90 s of CPU): background HF ratio
0.11 for both presets (untrained generator 0.76); subject L1 0.266 (mask_loss) vs 0.285
(plain), i.e. 0.93×; 4×4-averaged 0.168 vs 0.186, i.e. 0.90× (AMD EPYC; on an Intel Xeon 0.94× and
0.91×; stopped at 400 steps the Intel run gave 0.96× pooled, so the run keeps its 600). The assertions
below leave room for other CPUs' floating-point paths. The VGG19 of the mask loss uses random
weights (``vgg_weights="none"``, no download in tests): random conv features are still a fixed
multi-scale description of the cut-out, so the perceptual term stays a valid constraint.
"""
import itertools
from typing import Iterator

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from datasets.synthetic import write_unaligned_dataset
from datasets.unaligned import UnalignedDataset
from gan.losses import gaussian_lowpass
from gan.model import CycleGANModel, config_from_preset

STEPS = 600
EVAL_AT = (400, 450, 500, 550, 600)  # metrics averaged over these steps: less noise than one snapshot
SMALL = dict(netG="resnet", n_blocks=2, ngf=16, ndf=16, n_layers_D=2, vgg_weights="none")
LAPLACE = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)


def background_hf(images: torch.Tensor, masks: torch.Tensor) -> float:
    """Mean squared Laplacian of the grey image over the background (mask 0)."""
    lap = F.conv2d(images.mean(1, keepdim=True), LAPLACE)
    weight = (1.0 - masks)[..., 1:-1, 1:-1]
    return float((lap ** 2 * weight).sum() / weight.sum())


def subject_l1(a: torch.Tensor, b: torch.Tensor, masks: torch.Tensor, pool: int = 1) -> float:
    """Mean |a − b| over the subject (pixels, or pool×pool blocks lying wholly inside it)."""
    if pool > 1:
        a, b = F.avg_pool2d(a, pool), F.avg_pool2d(b, pool)
        masks = (F.avg_pool2d(masks, pool) > 0.999).float()
    return float(((a - b).abs() * masks).sum() / (3 * masks.sum()))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    write_unaligned_dataset(root, n_train=24, n_test=8, size=(56, 56), seed=0)
    train = UnalignedDataset(root, load_size=56, crop_size=32, seed=0, progress=False)
    test = UnalignedDataset(root, phase="test", load_size=56, crop_size=56, flip=False, serial_batches=True,
                            progress=False)
    batch = {k: torch.stack([test[i][k] for i in range(len(test))]) for k in ("A", "B", "A_mask", "B_mask")}
    return train, batch


def batches(train_set, steps: int, batch_size: int = 1) -> Iterator[dict]:
    """``steps`` batches of ``train_set``, shuffled with seed 0, epoch after epoch (no batch is
    loaded beyond the last one used)."""
    loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))

    def epochs() -> Iterator[dict]:
        while True:
            yield from loader

    return itertools.islice(epochs(), steps)


def translate(model: CycleGANModel, batch: dict) -> torch.Tensor:
    model.eval()
    model.set_input(batch)
    with torch.no_grad():
        model.forward()
    model.train()
    return model.get_current_visuals()["fake_B"]


def train(preset: str, data) -> dict:
    train_set, test_batch = data
    torch.manual_seed(0)
    model = CycleGANModel(config_from_preset(preset, **SMALL))
    real_a, mask_a = test_batch["A"], test_batch["A_mask"]
    result = {"hf_untrained": background_hf(translate(model, test_batch), mask_a) / background_hf(real_a, mask_a),
              "hf": [], "l1": [], "l1_pooled": [], "cycle": []}
    for step, batch in enumerate(batches(train_set, STEPS), 1):
        model.set_input(batch)
        model.optimize_parameters()
        result["cycle"].append(model.get_current_losses()["cycle_A"])
        if step in EVAL_AT:
            fake_b = translate(model, test_batch)
            result["hf"].append(background_hf(fake_b, mask_a) / background_hf(real_a, mask_a))
            result["l1"].append(subject_l1(fake_b, real_a, mask_a))
            result["l1_pooled"].append(subject_l1(fake_b, real_a, mask_a, pool=4))
    return {k: (float(np.mean(v)) if k != "cycle" else v) for k, v in result.items()}


@pytest.fixture(scope="module")
def runs(data):
    cache: dict = {}

    def get(preset: str) -> dict:
        if preset not in cache:
            cache[preset] = train(preset, data)
        return cache[preset]

    return get


@pytest.mark.slow
def test_cyclegan_learns_to_blur_the_background(runs):
    r = runs("cyclegan")
    assert r["hf_untrained"] > 0.5           # the untrained generator is no blur
    assert r["hf"] < 0.3                      # fake_B: < 30% of real_A's background HF energy
    assert r["hf"] < 0.3 * r["hf_untrained"]
    assert np.mean(r["cycle"][-50:]) < 0.8 * np.mean(r["cycle"][:50])  # and the cycle loss fell


@pytest.mark.slow
def test_mask_loss_keeps_the_subject_closer_than_plain(runs):
    plain, masked = runs("cyclegan"), runs("mask_loss")
    assert masked["hf"] < 0.3                 # it still learns the background blur
    assert masked["l1"] < 0.96 * plain["l1"]
    assert masked["l1_pooled"] < 0.94 * plain["l1_pooled"]


def soft_background(images: torch.Tensor, masks: torch.Tensor, sigma: float) -> torch.Tensor:
    """The background low-passed by a Gaussian of ``sigma`` px, the subject kept."""
    return masks * images + (1.0 - masks) * gaussian_lowpass(images, sigma)


def train_discriminator(preset: str, train_set, steps: int = 400) -> CycleGANModel:
    """D_A of ``preset`` alone, trained (LSGAN, Adam 1e-3, batch 4) to tell the shallow-DoF B scenes
    from soft copies of the A scenes (the background low-passed by σ 0.7 px: the finest detail gone,
    the structure kept, as the real-photo runs' outputs are), each seen through the preset's
    ``discriminator_view``."""
    torch.manual_seed(0)
    model = CycleGANModel(config_from_preset(preset, netG="resnet", n_blocks=1, ngf=4, ndf=16, n_layers_D=2,
                                             vgg_weights="none"))
    d = model.netD_A
    opt = torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.5, 0.999))
    for batch in batches(train_set, steps, batch_size=4):
        real = model.discriminator_view(batch["B"], batch["B_mask"])
        fake = model.discriminator_view(soft_background(batch["A"], batch["A_mask"], 0.7), batch["A_mask"])
        loss = 0.5 * ((d(real) - 1.0).pow(2).mean() + d(fake).pow(2).mean())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def generator_gan_loss(model: CycleGANModel, images: torch.Tensor, masks: torch.Tensor) -> float:
    """G_A's LSGAN loss, mean (D_A(view) − 1)², on ``images``: low when D_A takes them for B."""
    with torch.no_grad():
        return float((model.netD_A(model.discriminator_view(images, masks)) - 1.0).pow(2).mean())


def test_the_defocus_discriminator_learns_to_reward_a_background_defocus(data):
    """Measured here (1 thread): G_A's GAN loss on the soft copies → on the same with the background
    defocused by σ 2 px: defocus preset 0.92 → 0.18, mask_loss_overlay 1.01 → 0.95 (about 20 s for both).
    A PatchGAN with instance norm on the whole image barely feels the blur (on real portraits not
    at all, bench/BENCHMARKS.md); the defocus preset's discriminator turns it into the main signal."""
    train_set, _ = data
    a = torch.stack([train_set[i]["A"] for i in range(len(train_set))])
    m = torch.stack([train_set[i]["A_mask"] for i in range(len(train_set))])
    gain = {}
    for preset in ("mask_loss_overlay", "defocus"):
        model = train_discriminator(preset, train_set)
        copy, defocused = (generator_gan_loss(model, soft_background(a, m, s), m) for s in (0.7, 2.0))
        assert copy > 0.5, preset  # it learned to tell the soft copies from B
        gain[preset] = copy - defocused
    assert gain["defocus"] > 0.4                       # a defocus lowers G's loss by over 0.4
    assert gain["defocus"] > 4 * gain["mask_loss_overlay"]  # at least 4× what it does for the paper's D


def gate_means(model: CycleGANModel, images: torch.Tensor, masks: torch.Tensor) -> tuple[float, float]:
    """G_A's output gate averaged over the subject and over the background of ``images``."""
    with torch.no_grad():
        _, gate = model.netG_A(images, with_gate=True)
    return float((gate * masks).sum() / masks.sum()), float((gate * (1 - masks)).sum() / (1 - masks).sum())


@pytest.mark.slow
def test_the_mask_supervised_output_gate_learns_where_the_subject_is(data):
    """The defocus preset with a supervised output gate (lambda_gate 1), 300 steps, seed 0, on the
    synthetic scenes: on the 8 held-out scenes, translated without their masks, the gate must
    open on the subject and close on the background (measured here: subject 0.92, background
    0.59–0.66 in two runs on 2 threads; at the start both about ½), and its cross-entropy must
    fall below half its first 20 steps' (measured 0.82 → 0.21)."""
    train_set, test_batch = data
    torch.manual_seed(0)
    model = CycleGANModel(config_from_preset("defocus", **SMALL, output_gate=True, lambda_gate=1.0))
    losses: list[float] = []
    for batch in batches(train_set, 300):
        model.set_input(batch)
        model.optimize_parameters()
        losses.append(model.get_current_losses()["gate_A"])
    fg, bg = gate_means(model, test_batch["A"], test_batch["A_mask"])
    assert fg > 0.8 and bg < 0.75 and fg - bg > 0.2
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
