"""One CycleGAN class; the four models of Nasrullah 2018 are settings of it (``PRESETS``).

Tensors: images N×3×H×W in [-1, 1], masks N×1×H×W in [0, 1] (1 = subject), depth N×1×H×W
normalised to [-1, 1] (``datasets.unaligned.normalize_depth``).

Training step (Zhu et al. 2017 with the reference code's weighting):
- G_A: A -> B, G_B: B -> A; D_A tells real B from fake B, D_B real A from fake A.
- G loss = GAN(D_A(fake_B)) + GAN(D_B(fake_A)) + λ_A·|rec_A − A| + λ_B·|rec_B − B|
  + λ_idt·(λ_B·|G_A(B) − B| + λ_A·|G_B(A) − A|) + mask terms.
- Mask loss (Nasrullah 2018 eq. 10-12), with ``mask_loss``: for each direction
  λ_cyc·λ_mask·L1(M·x, M·G(x)) plus a VGG19 relu3_2 term on the same pair, weighted per
  ``mask_vgg`` (``gan.losses.mask_loss``: ``paper_text`` as eq. 10 is written, ``paper_code``
  as the paper's own code computes it). It is computed on the raw generator output G(x), so it
  still teaches the generator to keep the subject when the overlay is on in training and off at
  test (the ``mask_loss_overlay`` preset).
- Mask overlay (eq. 13), with ``mask_overlay_train``, as the paper's code does it: the fakes
  become fake_B = M_A·real_A + (1 − M_A)·G_A(real_A) (likewise fake_A) before the discriminators,
  the pools and the reconstruction; the reconstructions are overlaid with the REAL image's
  subject, rec_A = M_A·real_A + (1 − M_A)·G_B(fake_B) (likewise rec_B). The identity outputs
  G_A(real_B), G_B(real_A) are never overlaid, so the identity loss still constrains the
  subject. The GAN and cycle losses then see only the background, the paper's point.
  ``mask_overlay_test`` applies the overlay at inference.
- Masks: with ``masks="binary"`` (default, as the paper's DeepLab masks) every batch mask is
  thresholded, M = [mask ≥ 0.5] (8-bit mask ≥ 128), before any use; ``masks="soft"`` uses it as given.
- D loss = ½(GAN(D(real), 1) + GAN(D(pool(fake)), 0)) per discriminator.

Beyond the paper, for a network that defocuses the background rather than copying it softly (the
``defocus`` preset):
- ``background_lowpass`` σ > 0: the cycle and identity losses compare the background only after a
  Gaussian low-pass of σ px (the subject at full resolution; ``gan.losses.background_lowpass_l1``),
  so the detail a defocus removes need not be restored;
- ``netD_input="background_detail"``: both discriminators judge the background only (the subject
  blanked out with the image's own mask: A's for fake_B, B's for real_B) with its detail layer as
  extra channels (``gan.losses.background_detail``); the pools keep what the discriminators saw;
- ``norm_D="none"``: discriminators without normalisation layers (instance norm hides the loss of
  contrast a blur makes).
With the paper's PatchGAN (instance norm, the whole image) a discriminator trained on real
shallow-DoF photos against the soft copies, or against the same photos blurred further by σ 2 px,
does not tell them apart at all; with all three it does (bench/BENCHMARKS.md, "CycleGAN on real
portraits").
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from plumbing.config import from_dict
from plumbing.fields import SettingError, check, setting
from gan.losses import (GAN_MODES, MASK_VGG_MODES, VGG_WEIGHTS, GANLoss, VGGRelu32, background_detail,
                        background_lowpass_l1, gate_loss, mask_loss, mask_overlay)
from gan.networks import D_NORMS, GENERATORS, NORMS, UPSAMPLES, define_D, define_G
from gan.pool import ImagePool

AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}
MASK_MODES = ("binary", "soft")
MASK_THRESHOLD = 0.5  # binary masks: subject where mask >= 0.5, i.e. 8-bit mask value >= 128
D_INPUTS = ("image", "background_detail")  # what the discriminators judge (ModelConfig.netD_input)


# The four models of Nasrullah 2018 (section 4): plain CycleGAN, + mask loss, + mask overlay,
# and both with the overlay in training only and the mask loss halved.
PRESETS: dict[str, dict[str, Any]] = {
    "cyclegan": {},
    "mask_loss": {"mask_loss": True},
    "mask_overlay": {"mask_overlay_train": True, "mask_overlay_test": True},
    "mask_loss_overlay": {"mask_loss": True, "lambda_mask": 0.5,
                          "mask_overlay_train": True, "mask_overlay_test": False},
}
PAPER_PRESETS = tuple(PRESETS)
# Not in the paper: mask_loss_overlay with a cycle that leaves the background's detail free and a
# discriminator that judges it (see the module docstring), so the background is defocused, not copied.
PRESETS["defocus"] = {**PRESETS["mask_loss_overlay"], "background_lowpass": 4.0,
                      "netD_input": "background_detail", "norm_D": "none"}


@dataclass
class ModelConfig:
    """Settings of one CycleGAN model (saved in checkpoints as a plain dict)."""

    preset: str = setting("cyclegan", "model variant", tuple(PRESETS))
    input_nc: int = setting(3, "channels of domain A images", lo=1, hi=64)
    output_nc: int = setting(3, "channels of domain B images", lo=1, hi=64)
    ngf: int = setting(64, "generator filters in the first layer", lo=1, hi=1024)
    ndf: int = setting(64, "discriminator filters in the first layer", lo=1, hi=1024)
    netG: str = setting("resnet_9blocks", "generator; 'resnet' takes its depth from n_blocks", tuple(GENERATORS))
    n_blocks: int | None = setting(None, "residual blocks of a ResNet generator (resnet_9blocks 9, resnet_6blocks 6, "
                                    "resnet 9)", lo=0, hi=64)
    n_layers_D: int = setting(3, "PatchGAN layers (3: 70×70 patches)", lo=1, hi=8)
    norm: str = setting("instance", "normalisation layers", NORMS)
    norm_D: str = setting("same", "discriminator normalisation: 'same' as norm, or another ('none': no layers; "
                          "instance norm hides the loss of contrast a blur makes; not in the paper)",
                          ("same", *D_NORMS))
    netD_input: str = setting("image", "what the discriminators judge: the image (the paper), or "
                              "'background_detail': the background only (subject blanked with the image's "
                              "mask) with its detail layer (x − Gaussian_σ(x), σ detail_sigma) as extra channels",
                              D_INPUTS)
    detail_sigma: float = setting(2.0, "σ in px of the Gaussian whose residual is the detail layer of "
                                  "netD_input background_detail", lo=0.1, hi=64.0)
    init_gain: float = setting(0.02, "std of the normal(0, σ) initial weights", lo=1e-6, hi=10.0)
    upsample: str = setting("transpose", "generator upsampling: transposed convolution (reference) or "
                             "resize-convolution (nearest ×2 + conv, against checkerboards)", UPSAMPLES)
    full_res_head: int = setting(0, "U-Net only: width of a full-resolution head that makes the output beside the "
                                  "input (the original U-Net's top level), so a narrow U-Net can keep the subject's "
                                  "pixel detail (0: the reference U-Net; not in the paper)", lo=0, hi=1024)
    output_gate: bool = setting(False, "generator output g·x + (1 − g)·y: a per-pixel gate between the input and a "
                                "generated image, so a subject can pass untouched (Mejjati et al. 2018; not in the "
                                "paper; without lambda_gate the gate opens fully and the network stays a copy, "
                                "see docs/gan.md)")
    lambda_gate: float = setting(0.0, "weight of the cross-entropy between a translation's output gate and the "
                                 "training subject mask, so the gate learns to keep the subject and let the "
                                 "background be generated, with no mask at test (needs output_gate; 0: off; not in "
                                 "the paper)", lo=0.0, hi=1e4)
    use_depth: bool = setting(False, "depth as a 4th generator input channel (datasets with depth maps)")
    gan_mode: str = setting("lsgan", "adversarial loss: least squares or BCE", GAN_MODES)
    lambda_A: float = setting(10.0, "cycle loss weight A -> B -> A (λ_cyc of the mask loss)", lo=0.0, hi=1e4)
    lambda_B: float = setting(10.0, "cycle loss weight B -> A -> B", lo=0.0, hi=1e4)
    lambda_identity: float = setting(0.5, "identity loss weight, a fraction of lambda_A/B (0: off)", lo=0.0, hi=1e4)
    background_lowpass: float = setting(0.0, "σ in px at the training size: the cycle and identity losses compare "
                                        "the background only after a Gaussian low-pass of σ (the subject at full "
                                        "resolution), so a defocus is not asked to be undone (0: full resolution, "
                                        "the paper)", lo=0.0, hi=64.0)
    mask_loss: bool = setting(False, "mask loss, Nasrullah 2018 eq. 10-12")
    lambda_mask: float = setting(1.0, "factor on the mask loss (the paper halves it with the overlay)", lo=0.0, hi=1e4)
    mask_vgg: str = setting("paper_text", "weighting of the mask loss's VGG term: 'paper_text' "
                             "λ_cyc·λ_mask·L1(φ) as eq. 10 is written; 'paper_code' as the paper's code: "
                             "λ_mask·L1(2φ−1, 2φ−1) with the ImageNet normalisation outside autograd "
                             "(about 1/22 of the gradient)", MASK_VGG_MODES)
    masks: str = setting("binary", f"subject masks in training: 'binary' thresholds them at "
                          f"{MASK_THRESHOLD} (8-bit mask >= 128) as the paper's were; 'soft' uses them as given",
                          MASK_MODES)
    mask_overlay_train: bool = setting(False, "paste the real subject onto the fakes and reconstructions in "
                                      "training (eq. 13; identity outputs never, as the paper's code)")
    mask_overlay_test: bool = setting(False, "paste the real subject onto the output at inference")
    vgg_weights: str = setting("imagenet", "VGG19 of the mask loss: ImageNet weights, or fixed random ones "
                                "(tests; must be asked for)", VGG_WEIGHTS)
    pool_size: int = setting(50, "generated images kept per discriminator (0: none)", lo=0, hi=10_000)
    lr: float = setting(2e-4, "Adam learning rate", lo=1e-12, hi=1.0)
    beta1: float = setting(0.5, "Adam β1", lo=0.0, hi=0.999999)
    amp: str = setting("none", "mixed precision", tuple(AMP_DTYPES))
    channels_last: bool = setting(False, "channels-last memory format")

    def __post_init__(self) -> None:
        """Every setting within its declaration (:func:`plumbing.fields.check`), and the settings
        that only some generators have only with those."""
        check(self)
        if self.full_res_head and not self.netG.startswith("unet"):
            raise SettingError("full_res_head", f"applies to U-Net generators only, not netG {self.netG!r}")
        if self.n_blocks is not None and not self.netG.startswith("resnet"):
            raise SettingError("n_blocks", f"applies to ResNet generators only, not netG {self.netG!r}")
        if self.lambda_gate > 0 and not self.output_gate:
            raise SettingError("lambda_gate", "supervises the output gate, so it needs output_gate")
        if self.output_gate and self.input_nc != self.output_nc:
            raise SettingError("output_gate", "blends the input into the output, so it needs input_nc == output_nc")
        if self.lambda_identity > 0 and self.input_nc != self.output_nc:
            raise ValueError("the identity loss needs input_nc == output_nc; set lambda_identity=0")

    @property
    def uses_masks(self) -> bool:
        """Whether training reads subject masks (mask loss, overlay, or a background-only term)."""
        return (self.mask_loss or self.mask_overlay_train or self.background_lowpass > 0
                or self.netD_input != "image" or self.lambda_gate > 0)

    @property
    def discriminator_norm(self) -> str:
        """The discriminators' normalisation (``norm_D``, or ``norm`` when it is ``"same"``)."""
        return self.norm if self.norm_D == "same" else self.norm_D

    def discriminator_channels(self, domain: str) -> int:
        """Input channels of D_A (``"B"``: it judges domain B) or D_B (``"A"``); twice the image's
        with ``netD_input="background_detail"`` (the background and its detail layer)."""
        nc = self.output_nc if domain == "B" else self.input_nc
        return 2 * nc if self.netD_input == "background_detail" else nc

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        """Inverse of ``to_dict``; unknown keys and wrong types are errors naming them."""
        return from_dict(cls, d)

    def generator_channels(self, direction: str = "AtoB") -> tuple[int, int]:
        """(input, output) channels of G_A (``AtoB``: A → B) or G_B (``BtoA``); with ``use_depth``
        the depth map is one more input channel of both generators."""
        g_in, g_out = (self.input_nc, self.output_nc) if direction == "AtoB" else (self.output_nc, self.input_nc)
        return g_in + (1 if self.use_depth else 0), g_out


def config_from_preset(name: str, **overrides: Any) -> ModelConfig:
    """``ModelConfig`` of preset ``name`` with ``overrides`` on top."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return ModelConfig(**{"preset": name, **PRESETS[name], **overrides})


def _with(x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
    """A generator's input: the image, with the depth channel when there is one."""
    return x if cond is None else torch.cat([x, cond.to(x.dtype)], 1)


class _GeneratorPair(nn.Module):
    """Both generators and the whole generator graph of one step in one forward call, so a
    DistributedDataParallel wrapper sees one forward per backward."""

    def __init__(self, G_A: nn.Module, G_B: nn.Module, gates: bool = False) -> None:
        super().__init__()
        self.G_A = G_A
        self.G_B = G_B
        self.gates = gates  # return the translations' output gates (gan.networks.GatedOutput) too

    def forward(self, real_A: torch.Tensor, real_B: torch.Tensor, cond_A: torch.Tensor | None,
                cond_B: torch.Tensor | None, mask_A: torch.Tensor, mask_B: torch.Tensor,
                overlay: bool, identity: bool) -> dict[str, torch.Tensor]:
        def gen(G: nn.Module, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
            return G(_with(x, cond))

        def paste(real: torch.Tensor, raw: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return mask_overlay(real, raw, mask) if overlay else raw

        out: dict[str, torch.Tensor] = {}
        if self.gates:
            out["raw_fake_B"], out["gate_fake_B"] = self.G_A(_with(real_A, cond_A), with_gate=True)
            out["raw_fake_A"], out["gate_fake_A"] = self.G_B(_with(real_B, cond_B), with_gate=True)
        else:
            out["raw_fake_B"] = gen(self.G_A, real_A, cond_A)
            out["raw_fake_A"] = gen(self.G_B, real_B, cond_B)
        out["fake_B"] = paste(real_A, out["raw_fake_B"], mask_A)
        out["fake_A"] = paste(real_B, out["raw_fake_A"], mask_B)
        # the translated image shows the same scene: it keeps the input's depth and mask; the
        # reconstruction gets the real image's subject (the paper's code), not its input's
        out["rec_A"] = paste(real_A, gen(self.G_B, out["fake_B"], cond_A), mask_A)
        out["rec_B"] = paste(real_B, gen(self.G_A, out["fake_A"], cond_B), mask_B)
        if identity:  # never overlaid: the identity loss also acts on the subject
            out["idt_A"] = gen(self.G_A, real_B, cond_B)
            out["idt_B"] = gen(self.G_B, real_A, cond_A)
        return out


class _DiscriminatorPair(nn.Module):
    """Both discriminators on real and pooled fake images in one forward call (the D step)."""

    def __init__(self, D_A: nn.Module, D_B: nn.Module) -> None:
        super().__init__()
        self.D_A = D_A
        self.D_B = D_B

    def forward(self, real_A: torch.Tensor, real_B: torch.Tensor, fake_A: torch.Tensor,
                fake_B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.D_A(real_B), self.D_A(fake_B), self.D_B(real_A), self.D_B(fake_A)


class CycleGANModel:
    """CycleGAN with optional mask loss, mask overlay and depth input (see the module docstring).

    ``netG_A, netG_B, netD_A, netD_B`` are always the plain modules (what is saved);
    ``wrap_networks`` puts a wrapper such as DistributedDataParallel around the modules the
    training step runs through. ``seed`` seeds the two image pools' generators (networks are
    initialised from the global torch RNG: seed it before constructing).
    """

    def __init__(self, cfg: ModelConfig, device: torch.device | str = "cpu", seed: int = 0) -> None:
        self.cfg = cfg
        self.device = torch.device(device)
        g_kw = {"ngf": cfg.ngf, "norm": cfg.norm, "upsample": cfg.upsample, "n_blocks": cfg.n_blocks,
                "init_gain": cfg.init_gain, "head": cfg.full_res_head, "gate": cfg.output_gate}
        self.netG_A = define_G(cfg.netG, *cfg.generator_channels("AtoB"), **g_kw)
        self.netG_B = define_G(cfg.netG, *cfg.generator_channels("BtoA"), **g_kw)
        self.netD_A = define_D(cfg.discriminator_channels("B"), cfg.ndf, cfg.n_layers_D, cfg.discriminator_norm,
                               cfg.init_gain)
        self.netD_B = define_D(cfg.discriminator_channels("A"), cfg.ndf, cfg.n_layers_D, cfg.discriminator_norm,
                               cfg.init_gain)
        self._G = _GeneratorPair(self.netG_A, self.netG_B, gates=cfg.lambda_gate > 0)
        self._D = _DiscriminatorPair(self.netD_A, self.netD_B)
        memory_format = torch.channels_last if cfg.channels_last else torch.preserve_format
        for net in (self._G, self._D):
            net.to(self.device, memory_format=memory_format)
        self._G_run: nn.Module = self._G
        self._D_run: nn.Module = self._D

        self.criterion_gan = GANLoss(cfg.gan_mode)
        self.vgg = VGGRelu32(cfg.vgg_weights).to(self.device) if cfg.mask_loss else None
        # on a GPU one fused kernel updates all parameters (the same Adam arithmetic)
        adam = {"lr": cfg.lr, "betas": (cfg.beta1, 0.999), "fused": self.device.type == "cuda" or None}
        self.optimizer_G = torch.optim.Adam(self._G.parameters(), **adam)
        self.optimizer_D = torch.optim.Adam(self._D.parameters(), **adam)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=cfg.amp == "fp16")
        self.fake_A_pool = ImagePool(cfg.pool_size, seed)
        self.fake_B_pool = ImagePool(cfg.pool_size, seed + 1)

        self.loss_names = ["D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"]
        if cfg.mask_loss:
            self.loss_names += ["mask_A", "mask_B"]
        if cfg.lambda_gate > 0:
            self.loss_names += ["gate_A", "gate_B"]
        self.visual_names = ["real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B"]
        if cfg.lambda_identity > 0:
            self.visual_names += ["idt_B", "idt_A"]
        self._losses: dict[str, torch.Tensor] = {}
        self._outputs: dict[str, torch.Tensor] = {}
        self.is_train = True

    # ----------------------------------------------------------------- data and forward
    def set_input(self, batch: dict[str, Any]) -> None:
        """Take a batch from ``datasets.unaligned.UnalignedDataset`` (keys A, B, A_mask, B_mask,
        optional A_depth, B_depth, A_paths, B_paths)."""
        fmt = torch.channels_last if self.cfg.channels_last else torch.contiguous_format

        def put(x: torch.Tensor) -> torch.Tensor:
            return x.to(self.device, non_blocking=True, memory_format=fmt)

        self.real_A, self.real_B = put(batch["A"]), put(batch["B"])
        self.mask_A, self.mask_B = put(self._masks(batch["A_mask"])), put(self._masks(batch["B_mask"]))
        self.depth_A = self.depth_B = None
        if self.cfg.use_depth:
            if "A_depth" not in batch or "B_depth" not in batch:
                raise ValueError("this model takes depth (use_depth=True) but the batch has no A_depth/B_depth")
            self.depth_A, self.depth_B = put(batch["A_depth"]), put(batch["B_depth"])
        self.image_paths = {"A": batch.get("A_paths"), "B": batch.get("B_paths")}

    def _masks(self, mask: torch.Tensor) -> torch.Tensor:
        """The batch's masks as the model uses them: thresholded at MASK_THRESHOLD when
        ``masks == "binary"``, as given when ``"soft"``."""
        return (mask >= MASK_THRESHOLD).to(mask.dtype) if self.cfg.masks == "binary" else mask

    def _autocast(self):
        dtype = AMP_DTYPES[self.cfg.amp]
        return torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None)

    def _overlay_now(self) -> bool:
        return self.cfg.mask_overlay_train if self.is_train else self.cfg.mask_overlay_test

    def forward(self) -> None:
        """Run both generators (fake, reconstruction, identity) on the current batch."""
        with self._autocast():
            self._outputs = self._G_run(self.real_A, self.real_B, self.depth_A, self.depth_B,
                                        self.mask_A, self.mask_B, self._overlay_now(),
                                        self.is_train and self.cfg.lambda_identity > 0)

    # ----------------------------------------------------------------- optimisation
    def _set_requires_grad(self, nets: list[nn.Module], flag: bool) -> None:
        for net in nets:
            for p in net.parameters():
                p.requires_grad_(flag)

    def discriminator_view(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """What the discriminators judge of ``image`` (whose subject is ``mask``): per ``netD_input``,
        the image itself or :func:`gan.losses.background_detail`."""
        if self.cfg.netD_input == "image":
            return image
        return background_detail(image, mask, self.cfg.detail_sigma)

    def _l1(self, output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The cycle / identity L1 of ``output`` against ``target`` (whose subject is ``mask``), the
        background low-passed per ``background_lowpass``."""
        return background_lowpass_l1(output, target, mask, self.cfg.background_lowpass)

    def _generator_loss(self) -> torch.Tensor:
        cfg, o = self.cfg, self._outputs
        losses = {
            # the plain discriminators: no gradient sync and no D weight gradients in the G step;
            # a translation keeps its input's subject, so fake_B is judged with A's mask
            "G_A": self.criterion_gan(self.netD_A(self.discriminator_view(o["fake_B"], self.mask_A)), True),
            "G_B": self.criterion_gan(self.netD_B(self.discriminator_view(o["fake_A"], self.mask_B)), True),
            "cycle_A": self._l1(o["rec_A"], self.real_A, self.mask_A) * cfg.lambda_A,
            "cycle_B": self._l1(o["rec_B"], self.real_B, self.mask_B) * cfg.lambda_B,
        }
        if cfg.lambda_identity > 0:
            losses["idt_A"] = self._l1(o["idt_A"], self.real_B, self.mask_B) * cfg.lambda_B * cfg.lambda_identity
            losses["idt_B"] = self._l1(o["idt_B"], self.real_A, self.mask_A) * cfg.lambda_A * cfg.lambda_identity
        else:
            losses["idt_A"] = losses["idt_B"] = torch.zeros((), device=self.device)
        if cfg.mask_loss:
            losses["mask_A"] = mask_loss(self.real_A, o["raw_fake_B"], self.mask_A, self.vgg,
                                         cfg.lambda_A, cfg.lambda_mask, cfg.mask_vgg)
            losses["mask_B"] = mask_loss(self.real_B, o["raw_fake_A"], self.mask_B, self.vgg,
                                         cfg.lambda_B, cfg.lambda_mask, cfg.mask_vgg)
        if cfg.lambda_gate > 0:  # a translation's gate keeps the subject (1) and lets the background go (0)
            losses["gate_A"] = gate_loss(o["gate_fake_B"], self.mask_A) * cfg.lambda_gate
            losses["gate_B"] = gate_loss(o["gate_fake_A"], self.mask_B) * cfg.lambda_gate
        self._losses.update({k: v.detach() for k, v in losses.items()})
        return sum(losses.values())

    def _discriminator_loss(self) -> torch.Tensor:
        # the pools keep what the discriminators saw (with background_detail: the fake's view
        # under its own mask, which a stored image would no longer have beside it)
        fake_B = self.fake_B_pool.query(self.discriminator_view(self._outputs["fake_B"], self.mask_A))
        fake_A = self.fake_A_pool.query(self.discriminator_view(self._outputs["fake_A"], self.mask_B))
        with self._autocast():
            real_b, fake_b, real_a, fake_a = self._D_run(self.discriminator_view(self.real_A, self.mask_A),
                                                         self.discriminator_view(self.real_B, self.mask_B),
                                                         fake_A, fake_B)
        loss_D_A = 0.5 * (self.criterion_gan(real_b, True) + self.criterion_gan(fake_b, False))
        loss_D_B = 0.5 * (self.criterion_gan(real_a, True) + self.criterion_gan(fake_a, False))
        self._losses["D_A"], self._losses["D_B"] = loss_D_A.detach(), loss_D_B.detach()
        return loss_D_A + loss_D_B

    def optimize_parameters(self) -> None:
        """One training step: forward, generators' step (D frozen), discriminators' step."""
        self.forward()
        self._set_requires_grad([self.netD_A, self.netD_B], False)
        self.optimizer_G.zero_grad(set_to_none=True)
        with self._autocast():
            loss_G = self._generator_loss()
        self.scaler.scale(loss_G).backward()
        self.scaler.step(self.optimizer_G)
        self._set_requires_grad([self.netD_A, self.netD_B], True)
        self.optimizer_D.zero_grad(set_to_none=True)
        self.scaler.scale(self._discriminator_loss()).backward()
        self.scaler.step(self.optimizer_D)
        self.scaler.update()

    # ----------------------------------------------------------------- reporting
    def get_current_losses(self) -> dict[str, float]:
        """Last step's losses by name (``loss_names``) as floats."""
        return {name: float(self._losses[name]) for name in self.loss_names if name in self._losses}

    def get_current_visuals(self) -> dict[str, torch.Tensor]:
        """Last forward's images by name (``visual_names``), N×3×H×W in [-1, 1], detached."""
        tensors = {"real_A": self.real_A, "real_B": self.real_B, **self._outputs}
        return {name: tensors[name].detach() for name in self.visual_names if name in tensors}

    # ----------------------------------------------------------------- modes and wrapping
    def train(self) -> None:
        """Training mode: overlay per ``mask_overlay_train``, identity outputs computed."""
        self.is_train = True
        self._G.train()
        self._D.train()

    def eval(self) -> None:
        """Evaluation mode: overlay per ``mask_overlay_test``, no identity outputs."""
        self.is_train = False
        self._G.eval()
        self._D.eval()

    def wrap_networks(self, fn: Callable[[nn.Module], nn.Module]) -> None:
        """Run the training step through ``fn(generators)`` and ``fn(discriminators)`` (e.g.
        DistributedDataParallel). Each wrapped module gets one forward per backward; the
        G step reads the discriminators unwrapped (they are frozen there). Saving keeps using
        ``netG_A``... and ``state_dict`` (unwrapped names)."""
        self._G_run = fn(self._G)
        self._D_run = fn(self._D)

    # ----------------------------------------------------------------- state
    def networks_state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        """Weights only, one reference-layout state_dict per network: keys G_A, G_B, D_A, D_B."""
        return {"G_A": self.netG_A.state_dict(), "G_B": self.netG_B.state_dict(),
                "D_A": self.netD_A.state_dict(), "D_B": self.netD_B.state_dict()}

    def state_dict(self) -> dict[str, Any]:
        """Everything to continue training exactly: networks, optimisers, grad scaler, both
        image pools (images and their RNG state)."""
        return {
            "netG_A": self.netG_A.state_dict(), "netG_B": self.netG_B.state_dict(),
            "netD_A": self.netD_A.state_dict(), "netD_B": self.netD_B.state_dict(),
            "optimizer_G": self.optimizer_G.state_dict(), "optimizer_D": self.optimizer_D.state_dict(),
            "scaler": self.scaler.state_dict(),
            "fake_A_pool": self.fake_A_pool.state_dict(), "fake_B_pool": self.fake_B_pool.state_dict(),
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Inverse of ``state_dict`` (strict: networks must match this config's architecture)."""
        nets = {"netG_A": self.netG_A, "netG_B": self.netG_B, "netD_A": self.netD_A, "netD_B": self.netD_B}
        for name, net in nets.items():
            net.load_state_dict(d[name])
        self.optimizer_G.load_state_dict(d["optimizer_G"])
        self.optimizer_D.load_state_dict(d["optimizer_D"])
        self.scaler.load_state_dict(d["scaler"])
        self.fake_A_pool.load_state_dict(d["fake_A_pool"], self.device)
        self.fake_B_pool.load_state_dict(d["fake_B_pool"], self.device)
