"""CycleGAN generators and discriminators, state_dict-compatible with the reference code.

Architectures follow Zhu et al. 2017 ("Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks", appendix 7.2) and Johnson et al. 2016 for the ResNet
generator; the module layout (an ``nn.Sequential`` called ``model``, keys such as
``model.1.weight``) matches junyanz/pytorch-CycleGAN-and-pix2pix so that its published
checkpoints load with ``strict=True``.

Tensors: N×C×H×W, images in [-1, 1]. The generators end in tanh.

Beyond the reference: ``upsample="resize"`` replaces each transposed convolution by
nearest-neighbour ×2 upsampling followed by a 3×3 convolution (Odena et al. 2016,
"Deconvolution and Checkerboard Artifacts"; the cure Nasrullah 2018 names for its
checkerboards). The replacement sits at the same index of ``model`` as an
``nn.Sequential(Upsample, ReflectionPad2d, Conv2d)``, so every other key keeps its reference name.

Also beyond it: ``head=W`` gives a U-Net the full-resolution level of the original U-Net
(Ronneberger et al. 2015), which the reference's drops: its outermost level halves the input at
once and builds the output from half-resolution features, so a narrow U-Net cannot pass the
pixel detail of the subject through (ngf 8, trained only to copy: about 23 dB). With a head the
outermost upsampling returns ngf feature maps, and ``head`` = conv3×3(cat[x, features]) → W →
ReLU → conv3×3 → tanh makes the output beside the input at full resolution; the ReLU lets the
features gate the input's detail (kept on the subject, removed from a blurred background), which
an added correction cannot (it would have to carry the detail it removes). Keys ``model.head.*``;
every other key is the reference's, with the outermost upsampling's output channels ngf.

``gate=True`` wraps any generator in :class:`GatedOutput`: it makes one more channel, a per-pixel
gate g, and returns g·x + (1 − g)·y, a blend of its input x and the generated image y (the
attention-guided translation of Mejjati et al. 2018, "Unsupervised Attention-guided Image-to-Image
Translation"). Where the gate is 1 the input passes untouched (a subject kept sharp); where it is
0 the output is y, which a U-Net makes smooth, so a background is blurred by closing the gate
rather than by an added correction that must carry the detail it removes. ``lambda_gate`` in
:class:`gan.model.ModelConfig` teaches the gate the training masks (:func:`gan.losses.gate_loss`).
Keys ``net.*``: the wrapped generator's.

The ResNet generator and the PatchGAN use out-of-place activations where the reference uses
``inplace=True`` (same function, no parameters): an in-place ReLU on instance norm's output, a
view, makes autograd add a ``CopySlices`` node per activation, that is two extra full-size
copies in every backward. The U-Net keeps the reference's in-place LeakyReLU: its skip
connection concatenates the block input *after* that activation changed it.
"""
from __future__ import annotations

import functools
from typing import Callable

import torch
from torch import nn

NormFactory = Callable[[int], nn.Module]
NORMS = ("instance", "batch")
D_NORMS = (*NORMS, "none")  # a discriminator may also go without normalisation layers
UPSAMPLES = ("transpose", "resize")  # transposed convolution (reference) | resize-convolution


def get_norm_layer(norm: str) -> NormFactory:
    """Normalisation layer factory: ``"instance"`` (no affine, no running stats, as the
    reference CycleGAN), ``"batch"`` (affine, running stats) or ``"none"`` (identity; for
    discriminators, see ``D_NORMS``)."""
    if norm == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if norm == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm == "none":
        return lambda _channels: nn.Identity()
    raise ValueError(f"unknown norm {norm!r}; choose one of {list(D_NORMS)}")


def _uses_bias(norm: str) -> bool:
    # Batch norm has its own affine shift, so the preceding convolution drops its bias.
    return norm != "batch"


def _upsample_layer(in_nc: int, out_nc: int, upsample: str, kernel_size: int, bias: bool) -> nn.Module:
    """×2 upsampling: a transposed convolution (reference) or nearest resize + 3×3 conv."""
    if upsample == "transpose":
        if kernel_size == 3:
            return nn.ConvTranspose2d(in_nc, out_nc, 3, stride=2, padding=1, output_padding=1, bias=bias)
        return nn.ConvTranspose2d(in_nc, out_nc, 4, stride=2, padding=1, bias=bias)
    if upsample == "resize":
        return nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.ReflectionPad2d(1),
            nn.Conv2d(in_nc, out_nc, 3, padding=0, bias=bias),
        )
    raise ValueError(f"unknown upsample {upsample!r}; choose one of {list(UPSAMPLES)}")


class ResnetBlock(nn.Module):
    """Residual block: x + (pad, conv3×3, norm, ReLU, pad, conv3×3, norm)(x), reflection padding."""

    def __init__(self, dim: int, norm: str) -> None:
        super().__init__()
        norm_layer = get_norm_layer(norm)
        bias = _uses_bias(norm)
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, padding=0, bias=bias),
            norm_layer(dim),
            nn.ReLU(),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, padding=0, bias=bias),
            norm_layer(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """c7s1-ngf, d2ngf, d4ngf, n_blocks × R4ngf, u2ngf, u1ngf, c7s1-output_nc, tanh.

    Input N×input_nc×H×W with H and W divisible by 4; output N×output_nc×H×W in [-1, 1].
    With 9 blocks, ngf 64 and instance norm it has 11,378,179 parameters (the reference count).
    """

    divisor = 4

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9,
                 norm: str = "instance", upsample: str = "transpose") -> None:
        super().__init__()
        norm_layer = get_norm_layer(norm)
        bias = _uses_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, 7, padding=0, bias=bias),
            norm_layer(ngf),
            nn.ReLU(),
        ]
        for i in range(2):  # two stride-2 downsamplings
            mult = 2 ** i
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias),
                       norm_layer(ngf * mult * 2), nn.ReLU()]
        layers += [ResnetBlock(ngf * 4, norm) for _ in range(n_blocks)]
        for i in range(2):  # two ×2 upsamplings
            mult = 2 ** (2 - i)
            layers += [_upsample_layer(ngf * mult, ngf * mult // 2, upsample, 3, bias),
                       norm_layer(ngf * mult // 2), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class FullResolutionHead(nn.Module):
    """conv3×3(cat[x, features]) → ``width`` → ReLU → conv3×3 → tanh: the output made at full
    resolution beside the input (the original U-Net's top level, Ronneberger et al. 2015)."""

    def __init__(self, input_nc: int, feature_nc: int, output_nc: int, width: int) -> None:
        super().__init__()
        self.mix = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(input_nc + feature_nc, width, 3), nn.ReLU(True))
        self.out = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(width, output_nc, 3), nn.Tanh())

    def forward(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return self.out(self.mix(torch.cat([x, features], 1)))


class UnetSkipConnectionBlock(nn.Module):
    """One level of the U-Net: down (conv4×4 s2), the inner levels, up, concatenated with the input.

    The outermost level returns the output image (with ``head`` > 0 through a
    :class:`FullResolutionHead` of that width that also sees its input); every other level returns
    ``cat([x, up(inner(down(x)))], dim=1)``.
    """

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None = None,
                 submodule: nn.Module | None = None, outermost: bool = False, innermost: bool = False,
                 norm: str = "batch", upsample: str = "transpose", head: int = 0) -> None:
        super().__init__()
        self.outermost = outermost
        norm_layer = get_norm_layer(norm)
        bias = _uses_bias(norm)
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=bias)
        self.head = FullResolutionHead(input_nc, inner_nc, outer_nc, head) if outermost and head else None
        if outermost and self.head is not None:
            up = _upsample_layer(inner_nc * 2, inner_nc, upsample, 4, True)
            layers = [downconv, submodule, nn.ReLU(True), up, nn.ReLU(True)]
        elif outermost:
            up = _upsample_layer(inner_nc * 2, outer_nc, upsample, 4, True)
            layers = [downconv, submodule, nn.ReLU(True), up, nn.Tanh()]
        elif innermost:
            up = _upsample_layer(inner_nc, outer_nc, upsample, 4, bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True), up, norm_layer(outer_nc)]
        else:
            up = _upsample_layer(inner_nc * 2, outer_nc, upsample, 4, bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, norm_layer(inner_nc), submodule,
                      nn.ReLU(True), up, norm_layer(outer_nc)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.head is not None:
            return self.head(x, self.model(x))
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """U-Net with ``num_downs`` stride-2 levels (8 for 256×256 inputs: "unet_256").

    Input N×input_nc×H×W with H and W divisible by 2**num_downs; output in [-1, 1]. ``head`` > 0
    adds a full-resolution head of that width (see the module docstring).
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, num_downs: int = 8, ngf: int = 64,
                 norm: str = "batch", upsample: str = "transpose", head: int = 0) -> None:
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"num_downs must be >= 5, got {num_downs}")
        self.divisor = 2 ** num_downs
        kw = {"norm": norm, "upsample": upsample}
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, **kw)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, **kw)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, **kw)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, **kw)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, **kw)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block,
                                             outermost=True, head=head, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: C64 (no norm) - C128 - ... - stride-1 C(ndf·2^n) - 1-channel patch logits.

    With ndf 64 and 3 layers every output unit sees a 70×70 patch; 2,764,737 parameters with
    instance norm. Input N×input_nc×H×W in [-1, 1]; output N×1×h×w raw scores (no sigmoid).
    ``norm="none"`` drops the normalisation layers: instance norm rescales each feature map to unit
    variance per image, which removes the loss of contrast that tells a defocused patch from a
    sharp one.
    """

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "instance") -> None:
        super().__init__()
        norm_layer = get_norm_layer(norm)
        bias = _uses_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=bias),
                       norm_layer(ndf * mult), nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class GatedOutput(nn.Module):
    """g·x + (1 − g)·y from a generator ``net`` that makes ``channels`` + 1 channels: y its first
    ``channels`` (in [-1, 1]), g = (t + 1)/2 from its last, t in [-1, 1] (Mejjati et al. 2018):
    linear in the generator's tanh output, so the gate's gradient fades only as tanh's does (a
    sigmoid on top of it, steep enough to reach 0 and 1, saturated within 80 steps of real-photo
    training and no loss could move it again). At t = 0, as from the small initial weights, g = ½.
    x is the input's first ``channels`` (the image, without a depth channel)."""

    def __init__(self, net: nn.Module, channels: int) -> None:
        super().__init__()
        self.net = net
        self.channels = channels

    @property
    def divisor(self) -> int:
        """The wrapped generator's: the number every side of the input must be a multiple of."""
        return int(self.net.divisor)

    def forward(self, x: torch.Tensor, with_gate: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The blended image, and with ``with_gate`` the gate g (N×1×H×W) beside it."""
        out = self.net(x)
        y, t = out[:, :self.channels], out[:, self.channels:]
        gate = 0.5 * (t + 1.0)
        blended = torch.lerp(y, x[:, :self.channels], gate)
        return (blended, gate) if with_gate else blended


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """Reference "normal" init: conv/linear weights ~ N(0, gain), biases 0; batch-norm
    weights ~ N(1, gain), biases 0. Uses the global torch RNG (seed it first)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net


def _resnet(n_blocks: int) -> Callable[..., nn.Module]:
    return lambda input_nc, output_nc, ngf, norm, upsample, blocks, head: ResnetGenerator(
        input_nc, output_nc, ngf, n_blocks if blocks is None else blocks, norm, upsample)


# name -> constructor(input_nc, output_nc, ngf, norm, upsample, n_blocks or None, head width or 0)
GENERATORS: dict[str, Callable[..., nn.Module]] = {
    "resnet_9blocks": _resnet(9),
    "resnet_6blocks": _resnet(6),
    "resnet": _resnet(9),  # "resnet" + n_blocks: any depth (small ones for tests and the demo)
    "unet_128": lambda input_nc, output_nc, ngf, norm, upsample, blocks, head: UnetGenerator(
        input_nc, output_nc, 7, ngf, norm, upsample, head),
    "unet_256": lambda input_nc, output_nc, ngf, norm, upsample, blocks, head: UnetGenerator(
        input_nc, output_nc, 8, ngf, norm, upsample, head),
}


#: The number every side of a generator's input must be a multiple of: its stride-2 levels
#: (ResNet: 2, so 4; U-Net: num_downs, so 128 for unet_128). Training crops must fit it.
DIVISORS: dict[str, int] = {"resnet_9blocks": 4, "resnet_6blocks": 4, "resnet": 4, "unet_128": 2 ** 7,
                            "unet_256": 2 ** 8}


def define_G(name: str, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, norm: str = "instance",
             upsample: str = "transpose", n_blocks: int | None = None, init_gain: float = 0.02,
             head: int = 0, gate: bool = False) -> nn.Module:
    """Build and initialise a generator from ``GENERATORS``. ``n_blocks`` overrides the block
    count of the ResNet generators (required meaning for ``name="resnet"``; default 9); ``head``
    > 0 gives a U-Net a full-resolution head of that width; ``gate`` wraps it in
    :class:`GatedOutput`. The settings are those of a checked :class:`gan.model.ModelConfig`
    (netG, n_blocks, full_res_head, output_gate), which says which go together."""
    net = init_weights(GENERATORS[name](input_nc, output_nc + int(gate), ngf, norm, upsample, n_blocks, head),
                       init_gain)
    return GatedOutput(net, output_nc) if gate else net


def define_D(input_nc: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "instance",
             init_gain: float = 0.02) -> nn.Module:
    """Build and initialise a PatchGAN discriminator (``n_layers=3``: the 70×70 PatchGAN)."""
    return init_weights(NLayerDiscriminator(input_nc, ndf, n_layers, norm), init_gain)


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
