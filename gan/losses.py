"""CycleGAN losses and the mask-guided terms of Nasrullah 2018.

Tensors are N×C×H×W images in [-1, 1]; masks are N×1×H×W in [0, 1] (1 = subject).

- ``GANLoss``: LSGAN (Mao et al. 2017, MSE to 1/0; the CycleGAN default) or vanilla
  (BCE with logits) on PatchGAN outputs.
- ``l1``: cycle-consistency (Zhu et al. 2017, eq. 2) and identity losses.
- ``mask_loss``: Nasrullah 2018 eq. 10-12, L1(M⊙x, M⊙G(x)) + L1(φ(M⊙x), φ(M⊙G(x))) with φ the
  VGG19 features up to relu3_2 on ImageNet-normalised inputs, weighted as the paper's text
  (``paper_text``) or as its code (``paper_code``) does it.
- ``mask_overlay``: Nasrullah 2018 eq. 13, M·x + (1 − M)·G(x).
- ``background_lowpass_l1``: the cycle and identity L1 with the background compared only after a
  Gaussian low-pass (the subject at full resolution), so that a defocus is not asked to be undone.
- ``background_detail``: what a discriminator that judges the background's defocus sees.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F
from torchvision.transforms.v2.functional import gaussian_blur

from plumbing.cli import downloads_allowed
from segdepth.tensors import IMAGENET_MEAN, IMAGENET_STD

VGG19_FILE = "vgg19-dcbb9e9d.pth"
GAN_MODES = ("lsgan", "vanilla")
# how the mask loss weights its VGG term (see ``mask_loss``)
MASK_VGG_MODES = ("paper_text", "paper_code")
VGG_WEIGHTS = ("imagenet", "none")  # none: fixed random features, for tests (must be asked for)
# VGG19 "features" up to relu3_2: conv1_1 relu conv1_2 relu pool conv2_1 relu conv2_2 relu pool
# conv3_1 relu conv3_2 relu -> indices 0..13, the same indices as torchvision's vgg19().features.
_VGG19_TO_RELU3_2 = (64, 64, "M", 128, 128, "M", 256, 256)
VGG19_RELU3_2_INDEX = 13
# the detail layer's gain in ``background_detail``: a portrait's std over that of its residual of a
# σ 2 px Gaussian (0.49 / 0.10 on real 256-px portraits), so both reach a discriminator without
# normalisation layers at about the same scale
DETAIL_GAIN = 4.0


class VGGWeightsError(RuntimeError):
    """The pretrained VGG19 weights could not be loaded (offline, corrupt file)."""


class GANLoss(nn.Module):
    """Adversarial loss on raw discriminator outputs: ``"lsgan"`` = mean (D − t)², ``"vanilla"``
    = BCE with logits, with target t = 1 for real and 0 for fake."""

    def __init__(self, gan_mode: str = "lsgan") -> None:
        super().__init__()
        if gan_mode == "lsgan":
            self.loss = nn.MSELoss()
        elif gan_mode == "vanilla":
            self.loss = nn.BCEWithLogitsLoss()
        else:
            raise ValueError(f"unknown gan_mode {gan_mode!r}; choose one of {list(GAN_MODES)}")
        self.gan_mode = gan_mode

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        prediction = prediction.float()
        target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
        return self.loss(prediction, target)


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference in float32 (cycle and identity losses)."""
    return F.l1_loss(a.float(), b.float())


def mask_overlay(real: torch.Tensor, generated: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Nasrullah 2018 eq. 13: M·real + (1 − M)·G(real); the subject is pasted from the input.

    real, generated: N×C×H×W in [-1, 1]; mask: N×1×H×W in [0, 1].
    """
    mask = mask.to(generated.dtype)
    return mask * real.to(generated.dtype) + (1.0 - mask) * generated


def gaussian_lowpass(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of std ``sigma`` px per channel (torchvision's ``gaussian_blur``, kernel
    2⌈3σ⌉ + 1, reflected borders; the kernel is cut to the image on images smaller than it)."""
    size = min(2 * math.ceil(3.0 * sigma) + 1, 2 * min(x.shape[-2:]) - 1)
    return gaussian_blur(x, [size, size], [sigma, sigma])


def background_lowpass_l1(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                          sigma: float) -> torch.Tensor:
    """mean(M·|d| + (1 − M)·|G_σ ∗ d|) with d = output − target, in float32: the L1 of the
    cycle and identity losses (Zhu et al. 2017, eq. 2) with the background compared only at
    scales coarser than σ; ``sigma`` 0 is the plain :func:`l1`.

    Why: a defocus is a low-pass of the background (the thin-lens point-spread function, Potmesil
    & Chakravarty 1981) that destroys the structure finer than its radius. A full-resolution cycle
    A → B → A then asks G_B to restore what G_A must remove, and its cheapest answer is a G_A that
    keeps the detail (or hides it in the output, Chu et al. 2017, "CycleGAN, a master of
    steganography"); the identity loss G_A(B) ≈ B likewise forbids a further blur of B's already
    blurred background. Low-passed at σ at or above the defocus scale (a σ 2 px blur costs
    ~9× less at σ 4), the background's cycle still pins layout and colour, and the detail finer
    than σ is left to the discriminator. The subject, which the lens keeps sharp, stays at full
    resolution. output, target: N×C×H×W; mask: N×1×H×W in [0, 1] (1 = subject).
    """
    if sigma <= 0:
        return l1(output, target)
    d = output.float() - target.float()
    mask = mask.float()
    return (mask * d.abs() + (1.0 - mask) * gaussian_lowpass(d, sigma).abs()).mean()


def background_detail(image: torch.Tensor, mask: torch.Tensor, sigma: float,
                      gain: float = DETAIL_GAIN) -> torch.Tensor:
    """cat[(1 − M)·x, gain·(1 − M)·(x − G_σ ∗ x)]: the background and its detail layer (the
    residual of a σ Gaussian), the subject blanked out; N×2C×H×W.

    What a discriminator that judges defocus sees: the subject is sharp in both domains (and is
    the real input's under the overlay), so blanking it leaves the background, where the domains
    differ; the detail layer puts the structure a defocus removes into channels of their own.
    image: N×C×H×W in [-1, 1]; mask: N×1×H×W in [0, 1] (1 = subject).
    """
    background = 1.0 - mask.to(image.dtype)
    return torch.cat([background * image, gain * background * (image - gaussian_lowpass(image, sigma))], 1)


class VGGRelu32(nn.Module):
    """VGG19 features up to relu3_2, frozen and in eval mode; input N×3×H×W in [-1, 1].

    ``weights="imagenet"`` loads torchvision's ``VGG19_Weights.IMAGENET1K_V1`` (file
    vgg19-dcbb9e9d.pth in the torch hub checkpoints folder; downloaded only with
    ``--allow-download``); when it cannot be had, one ``VGGWeightsError`` says which file to put
    where. ``weights="none"`` gives random features (torchvision's VGG init from a fixed seed,
    the same in every process), which must be asked for explicitly (tests, offline demos).
    """

    def __init__(self, weights: str = "imagenet") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_nc = 3
        for v in _VGG19_TO_RELU3_2:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_nc, int(v), 3, padding=1), nn.ReLU(inplace=True)]
                in_nc = int(v)
        self.features = nn.Sequential(*layers)
        if weights == "imagenet":
            self.features.load_state_dict(_imagenet_vgg19_features(len(layers)))
        elif weights == "none":
            # the same random features every time (a resumed run must see the same loss)
            rng = torch.Generator().manual_seed(0)
            for m in self.features:
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=rng)
                    nn.init.zeros_(m.bias)
        else:
            raise ValueError(f"unknown vgg_weights {weights!r}; choose one of {list(VGG_WEIGHTS)}")
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor, normalise_values_only: bool = False) -> torch.Tensor:
        """Features of ``x`` in [-1, 1]. ``normalise_values_only``: the ImageNet normalisation
        changes the values but not the gradient (the paper's code writes it into ``.data``, so
        autograd's gradient lacks the ÷std factor)."""
        x01 = (x + 1.0) * 0.5
        normalised = (x01 - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        if normalise_values_only:
            normalised = x01 + (normalised - x01).detach()
        return self.features(normalised)


def _imagenet_vgg19_features(n_layers: int) -> dict[str, torch.Tensor]:
    """The first ``n_layers`` modules of torchvision's ImageNet VGG19 ``features``, via its weights API."""
    from torchvision.models import VGG19_Weights

    weights = VGG19_Weights.IMAGENET1K_V1
    target = Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE
    if not target.is_file() and not downloads_allowed():
        raise VGGWeightsError(
            f"{target}: VGG19 ImageNet weights for the mask loss are not in the torch hub cache, and nothing "
            f"is downloaded unless asked for. Download {weights.url} and place it at that path, pass "
            f"--allow-download, or ask explicitly for random VGG features with --vgg-weights none.")
    try:
        state = weights.get_state_dict(progress=False)
    except (OSError, RuntimeError, ValueError) as exc:
        raise VGGWeightsError(
            f"{target}: VGG19 ImageNet weights for the mask loss could not be loaded ({exc}). "
            f"Download {weights.url} and place it at that path (the torch hub checkpoints folder), "
            f"or ask explicitly for random VGG features with --vgg-weights none.") from None
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "features" and int(parts[1]) < n_layers:
            out[".".join(parts[1:])] = value
    return out


def gate_loss(gate: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the output gate of a translation (:class:`gan.networks.GatedOutput`)
    against the subject mask of its input, so that the gate keeps the subject (1) and opens the
    background (0) to the generated image, as the mask overlay does with a known mask (Nasrullah
    2018 eq. 13), but learnt, so no mask is needed at test. Cross-entropy, not L1: its gradient
    grows as 1/(1 − g) where the gate is wrongly open, which cancels the tanh's saturation under
    g = (t + 1)/2; with L1 the reconstruction losses opened the gate on real portraits within 80
    steps and it stayed open. Taken with autocast off: CUDA's autocast refuses binary
    cross-entropy on probabilities (unsafe in float16), and the gate is not a logit to give
    ``binary_cross_entropy_with_logits``. gate, mask: N×1×H×W in [0, 1]."""
    with torch.autocast(gate.device.type, enabled=False):
        return F.binary_cross_entropy(gate.float(), mask.float())


def mask_loss(real: torch.Tensor, generated: torch.Tensor, mask: torch.Tensor, vgg: nn.Module,
              lambda_cyc: float = 1.0, lambda_mask: float = 1.0, vgg_mode: str = "paper_text") -> torch.Tensor:
    """Nasrullah 2018 eq. 10-12 on one direction: λ_cyc·λ_mask·L1(M⊙x, M⊙G(x)) + the VGG term.

    The pixel term is taken in the [-1, 1] space of the cycle loss. The VGG term φ = VGG19
    relu3_2 (frozen; no gradient reaches ``vgg``'s parameters, only ``generated``), per ``vgg_mode``:

    - ``"paper_text"``: λ_cyc·λ_mask·L1(φ(c(x)), φ(c(G(x)))) as eq. 10 is written (scaled by
      λ_cyc), φ on the cut-outs c(x) = M⊙x in [0, 1] space (background black), ImageNet-normalised;
    - ``"paper_code"``: as the paper's own code computes it, λ_mask·L1(2φ(M⊙x) − 1, 2φ(M⊙G(x)) − 1):
      no λ_cyc, φ on the same masked pair as the pixel term (M⊙x in [-1, 1], background mid-grey)
      mapped to [0, 1], with the ImageNet normalisation applied to the values only (gradient
      without ÷std); its gradient is about 1/22 of ``paper_text``'s with λ_cyc = 10.

    real, generated: N×3×H×W in [-1, 1]; mask: N×1×H×W in [0, 1]. Zero mask -> 0.
    """
    if vgg_mode not in MASK_VGG_MODES:
        raise ValueError(f"unknown mask_vgg {vgg_mode!r}; choose one of {list(MASK_VGG_MODES)}")
    real = real.float()
    generated = generated.float()
    mask = mask.float()
    pixel = F.l1_loss(mask * real, mask * generated)
    if vgg_mode == "paper_text":
        # cut-outs in [0, 1] space mapped back to [-1, 1] for vgg's input convention
        cut_real, cut_gen = mask * (real + 1.0) - 1.0, mask * (generated + 1.0) - 1.0
        with torch.no_grad():
            feat_real = vgg(cut_real)
        perceptual = F.l1_loss(vgg(cut_gen).float(), feat_real.float())
        return lambda_cyc * lambda_mask * (pixel + perceptual)
    with torch.no_grad():
        feat_real = vgg(mask * real, normalise_values_only=True)
    feat_gen = vgg(mask * generated, normalise_values_only=True)
    perceptual = F.l1_loss(2.0 * feat_gen.float() - 1.0, 2.0 * feat_real.float() - 1.0)
    return lambda_cyc * lambda_mask * pixel + lambda_mask * perceptual
