"""Translate images with a trained CycleGAN generator, at the model's size or at full resolution.

Images in and out are numpy uint8 RGB H×W×3; masks float32 H×W in [0, 1] (1 = subject);
depth float32 H×W, larger = farther (normalised per image as in training); GAN tensors
N×C×H×W in [-1, 1].

:func:`load_generator` is the one way a program gets a generator from a file: test_cyclegan,
compare, export_onnx and the app all call it, so each reads every kind of file the project writes
(a train_cyclegan checkpoint or run folder, a networks-only file such as the shipped
``scripts/demo_gan.pt``, a plain reference-layout state dict with its architecture given;
:func:`gan.checkpoint.read_generator`).

Full-resolution strategies (the paper's generator works at 256 pixels; photographs are larger):
- ``mode="resize"`` with ``size=N`` (residual upsampling, :class:`FullResolutionGenerator`):
  translate a copy whose shorter side is N, take the change G(x) − x at that size, upsample it
  (bilinear) and add it to the full-resolution input, so the full-resolution detail of the input
  survives wherever the generator changes nothing; an image whose shorter side is at most N is
  translated whole;
- ``mode="resize"`` with ``size=None``: run the (fully convolutional) generator on the whole image;
- ``mode="tiles"``: run it on overlapping N×N tiles (N = size, default 256, overlap N/4) and
  blend them: each tile's outer overlap/4 pixels facing another tile are dropped (padding
  artefacts) and the rest of the overlap cross-fades linearly, so tile borders leave no seams.
With ``overlay`` the full-resolution subject is pasted back last (Nasrullah 2018 eq. 13):
out = M·input + (1 − M)·translated, exact in the subject (M = 1).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from plumbing.fields import BIG, check, setting
from datasets.io import (ImageError, list_photos, output_suffix, photo_root, read_depth, read_mask_for, read_photo,
                         write_image)
from datasets.unaligned import normalize_depth
from gan.checkpoint import GENERATOR_KEYS, CheckpointError, read_generator
from gan.model import ModelConfig
from gan.networks import define_G
from plumbing.files import FileProblem, one_line
from plumbing.outputs import OutputGuard

log = logging.getLogger(__name__)

DIRECTIONS = tuple(GENERATOR_KEYS)
MODES = ("resize", "tiles")
#: The fields of a Translator that are settings (declared with their choices and range).
SETTINGS = ("direction", "size", "mode", "tile_overlap")
DEFAULT_TILE = 256


def _drop_instance_norm_stats(state: dict[str, torch.Tensor], net: nn.Module) -> dict[str, torch.Tensor]:
    """Checkpoints saved by PyTorch < 0.4 carry running stats for InstanceNorm layers that now
    have none (the reference code drops them the same way); remove those keys."""
    norm_prefixes = {f"{name}." for name, m in net.named_modules() if isinstance(m, nn.InstanceNorm2d)}
    stats = ("running_mean", "running_var", "num_batches_tracked")
    return {k: v for k, v in state.items()
            if not (k.rsplit(".", 1)[-1] in stats and k[: k.rfind(".") + 1] in norm_prefixes)}


def _fit_report(state: dict[str, Any], net: nn.Module) -> str | None:
    """None when ``state`` loads into ``net`` strictly; else what does not fit."""
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and hasattr(state[k], "shape") and state[k].shape != own[k].shape]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
    if shapes:
        parts.append(f"{len(shapes)} shape mismatches (e.g. {'; '.join(shapes[:2])})")
    return "; ".join(parts) or None


def _describe(cfg: ModelConfig) -> str:
    blocks = "" if cfg.n_blocks is None else f", n_blocks {cfg.n_blocks}"
    head = f", full-resolution head {cfg.full_res_head}" if cfg.full_res_head else ""
    head += ", output gate" if cfg.output_gate else ""
    return (f"{cfg.netG}{blocks}{head}, ngf {cfg.ngf}, norm {cfg.norm}, upsample {cfg.upsample}, "
            f"depth input {cfg.use_depth}")


@dataclass
class LoadedGenerator:
    """A generator built and loaded from a file (:func:`load_generator`), in eval mode on the CPU."""

    generator: nn.Module
    cfg: ModelConfig
    path: Path  # the file read (a run folder's latest checkpoint when a folder was given)
    direction: str  # AtoB: G_A; BtoA: G_B
    kind: str  # "training checkpoint", "networks-only file" or "state dict"
    trained_sizes: tuple[int, int] | None  # (load_size, crop_size) of training, when the file says


def load_generator(path: str | Path, direction: str = "AtoB", config: ModelConfig | None = None) -> LoadedGenerator:
    """G_A (AtoB) or G_B (BtoA) from any file the project writes or a run folder
    (:func:`gan.checkpoint.read_generator`), built with the file's architecture and loaded strictly.
    ``config`` is needed only for a plain reference-layout state dict. Anything that does not fit
    raises one ``CheckpointError`` naming the file and the mismatch."""
    weights = read_generator(path, direction, config)
    cfg = weights.config
    g_in, g_out = cfg.generator_channels(direction)
    generator = define_G(cfg.netG, g_in, g_out, ngf=cfg.ngf, norm=cfg.norm, upsample=cfg.upsample,
                         n_blocks=cfg.n_blocks, head=cfg.full_res_head, gate=cfg.output_gate)
    state = _drop_instance_norm_stats(dict(weights.state), generator)
    problem = _fit_report(state, generator)
    if problem:
        raise CheckpointError(f"{weights.path}: weights do not fit the generator {_describe(cfg)}: {problem}")
    generator.load_state_dict(state, strict=True)
    return LoadedGenerator(generator.eval(), cfg, weights.path, direction, weights.kind, weights.trained_sizes)


class FullResolutionGenerator(nn.Module):
    """A generator at any image size: 1×C×H×W in [-1, 1] (+ depth 1×1×H×W in [-1, 1]) →
    1×C_out×H×W in [-1, 1], as one forward that also exports to ONNX with dynamic H and W.

    :meth:`run` pads the input (replicate) to a multiple of the generator's divisor, and to at
    least twice it so the deepest feature map of a tiny image keeps more than one pixel for
    instance norm, and crops the output back. With ``size`` N (residual upsampling) the forward
    translates a copy whose shorter side is min(N, that of the image), h' = ⌊(H·n + m/2)/m⌋ with
    m = min(H, W), n = min(N, m), downscaled with antialiasing, and adds the change G(x') − x',
    upsampled bilinearly, to the input; an image no larger than N is translated whole (the
    resizes are then the identity). Integer arithmetic on the sizes keeps it one graph for every
    shape."""

    def __init__(self, generator: nn.Module, size: int | None = None) -> None:
        super().__init__()
        if size is not None and size < 1:
            raise ValueError(f"size must be a positive number of pixels, got {size}")
        self.generator = generator
        self.size = size
        self.divisor = int(generator.divisor)

    def run(self, x: torch.Tensor, depth: torch.Tensor | None = None) -> torch.Tensor:
        """The generator on the whole of ``x`` (padded and cropped back, see the class docstring)."""
        h, w = x.shape[-2:]
        if depth is not None:
            x = torch.cat([x, depth], 1)
        d = self.divisor
        pad_h, pad_w = torch.sym_max((-h) % d, 2 * d - h), torch.sym_max((-w) % d, 2 * d - w)
        return self.generator(F.pad(x, (0, pad_w, 0, pad_h), mode="replicate"))[..., :h, :w]

    def forward(self, x: torch.Tensor, depth: torch.Tensor | None = None) -> torch.Tensor:
        h, w = x.shape[-2:]
        if self.size is None or (isinstance(h, int) and isinstance(w, int) and self.size >= min(h, w)):
            return self.run(x, depth)
        m = torch.sym_min(h, w)
        n = torch.sym_min(self.size, m)
        low_size = ((h * n + m // 2) // m, (w * n + m // 2) // m)

        def down(t: torch.Tensor) -> torch.Tensor:
            return F.interpolate(t, size=low_size, mode="bilinear", antialias=True, align_corners=False)

        low = down(x)
        change = self.run(low, None if depth is None else down(depth)) - low
        return x + F.interpolate(change, size=(h, w), mode="bilinear", align_corners=False)


@dataclass
class Translator:
    """One generator ready to translate numpy images (see the module docstring)."""

    generator: nn.Module
    cfg: ModelConfig
    direction: str = setting("AtoB", "AtoB uses G_A, BtoA uses G_B", DIRECTIONS)
    overlay: bool = False
    device: torch.device = torch.device("cpu")
    size: int | None = setting(None, "generator input size: shorter side (resize) or tile side (tiles)", lo=1)
    mode: str = setting("resize", "full-resolution strategy", MODES)
    tile_overlap: int | None = setting(None, "tile overlap in pixels, less than the tile (default size/4)", lo=0, hi=BIG)
    trained_sizes: tuple[int, int] | None = None  # (load_size, crop_size) of training, when the checkpoint says

    def __post_init__(self) -> None:
        check(self, SETTINGS)  # a public class: its settings are checked as a config's are
        self.device = torch.device(self.device)
        self.generator = self.generator.to(self.device).eval()
        self.full = FullResolutionGenerator(self.generator, self.size if self.mode == "resize" else None)

    @classmethod
    def from_checkpoint(cls, path: str | Path, direction: str = "AtoB", overlay: bool | None = False,
                        device: torch.device | str = "cpu", size: int | None | str = None, mode: str = "resize",
                        config: ModelConfig | None = None, tile_overlap: int | None = None) -> "Translator":
        """Load G_A (AtoB) or G_B (BtoA) with :func:`load_generator` (any checkpoint kind, or a run
        folder). ``overlay=None`` takes the model's ``mask_overlay_test``. ``size="checkpoint"``:
        the size the generator was trained at (:func:`training_size`)."""
        loaded = load_generator(path, direction, config)
        use_overlay = loaded.cfg.mask_overlay_test if overlay is None else overlay
        if size == "checkpoint":
            size = training_size(loaded.trained_sizes, mode)
        return cls(loaded.generator, loaded.cfg, direction, use_overlay, torch.device(device), size, mode,
                   tile_overlap, loaded.trained_sizes)

    # ------------------------------------------------------------------ translation
    def _tiles(self, x: torch.Tensor, depth: torch.Tensor | None) -> torch.Tensor:
        h, w = x.shape[-2:]
        tile = self.size or DEFAULT_TILE
        overlap = tile // 4 if self.tile_overlap is None else self.tile_overlap
        if not 0 <= overlap < tile:
            raise ValueError(f"tile overlap {overlap} must be in [0, {tile})")
        out = torch.zeros_like(x)
        weight = torch.zeros((1, 1, h, w), device=x.device)
        th, tw = min(tile, h), min(tile, w)
        for top in _starts(h, th, overlap):
            wy = _tile_weights(th, overlap, top > 0, top + th < h).to(x.device)
            for left in _starts(w, tw, overlap):
                wx = _tile_weights(tw, overlap, left > 0, left + tw < w).to(x.device)
                wgt = (wy[:, None] * wx[None, :])[None, None]
                window = (slice(None), slice(None), slice(top, top + th), slice(left, left + tw))
                out[window] += self.full.run(x[window], None if depth is None else depth[window]) * wgt
                weight[window] += wgt
        return out / weight

    @torch.inference_mode()
    def __call__(self, image: np.ndarray, mask: np.ndarray | None = None, depth: np.ndarray | None = None
                 ) -> np.ndarray:
        """uint8 H×W×3 (+ mask float32 H×W, + depth float32 H×W) -> uint8 H×W×3, same size."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be uint8 H×W×3, got {image.dtype} {image.shape}")
        h, w = image.shape[:2]
        if self.overlay and mask is None:
            raise ValueError("overlay is on: a subject mask (H×W in [0, 1]) is needed")
        if mask is not None and mask.shape != (h, w):
            raise ValueError(f"mask shape {mask.shape} does not match the image {(h, w)}")
        if self.cfg.use_depth and depth is None:
            raise ValueError("this generator takes depth as input: pass depth (H×W)")
        if depth is not None and depth.shape != (h, w):
            raise ValueError(f"depth shape {depth.shape} does not match the image {(h, w)}")
        x = torch.from_numpy(image).to(self.device).permute(2, 0, 1)[None].float() / 127.5 - 1.0
        d = None
        if self.cfg.use_depth:
            d = torch.from_numpy(normalize_depth(depth)).to(self.device)[None, None]
        y = self.full(x, d) if self.mode == "resize" else self._tiles(x, d)
        out = ((y[0].clamp(-1, 1) + 1.0) * 127.5).permute(1, 2, 0).cpu().numpy()
        if self.overlay:  # paste in the input's own pixel values: exact where mask == 1
            m = mask.astype(np.float32)[..., None]
            out = m * image.astype(np.float32) + (1.0 - m) * out
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def training_size(trained: tuple[int, int] | None, mode: str) -> int:
    """The generator input size that matches training: the shorter side images were resized to
    (load_size) for ``resize``, the crop it saw (crop_size) as the tile side for ``tiles``;
    DEFAULT_TILE when the checkpoint does not record them."""
    if trained is None:
        return DEFAULT_TILE
    load_size, crop_size = trained
    return load_size if mode == "resize" else crop_size


def _tile_weights(n: int, overlap: int, blend_start: bool, blend_end: bool) -> torch.Tensor:
    """Blending weights along one side of a tile (length ``n``).

    A side that meets another tile drops its outer ``overlap // 4`` pixels (weight 0: the
    padding artefacts of a convolutional generator live there) and then ramps linearly to 1
    across the rest of the overlap; two tiles' ramps in one overlap sum to 1. A side on the
    image border keeps weight 1 (no other tile covers it).
    """
    w = torch.ones(n)
    if overlap == 0:
        return w
    margin = overlap // 4
    pos = torch.arange(n, dtype=torch.float32)

    def ramp(dist: torch.Tensor) -> torch.Tensor:
        return ((dist - margin + 1) / (overlap - 2 * margin + 1)).clamp(0.0, 1.0)

    if blend_start:
        w = torch.minimum(w, ramp(pos))
    if blend_end:
        w = torch.minimum(w, ramp(n - 1 - pos))
    return w


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins covering [0, length) with tiles of ``tile`` overlapping by >= ``overlap``."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def translate_folder(translator: Translator, in_dir: str | Path, out_dir: str | Path,
                     depth_dir: str | Path | None = None, quiet: bool = False, fmt: str = "auto",
                     guard: OutputGuard | None = None) -> tuple[int, int]:
    """Translate every image under ``in_dir`` (a folder, or one file) into ``out_dir``/same
    relative path, as a JPEG for a JPEG input and a PNG otherwise (``fmt``: ``auto``, ``jpg`` or
    ``png``; datasets.io.output_suffix), with the input's ICC profile and EXIF.

    Masks, needed only with overlay, come from the mask folder beside ``in_dir``
    (``datasets.io.mask_path``: ``IN_masks/NAME.png``, as scripts/prepare_masks.py writes them);
    depth from ``depth_dir``/NAME.npy when the generator takes depth. Two photos that would get
    one output name (``a.jpg``, ``a.png``) are both refused, naming each other. With ``guard``
    an existing output is replaced only when shallowdof wrote it (plumbing.outputs.OutputGuard).
    A bad file is logged as "PATH: problem" and counted; the rest go on. Returns (translated, failed).
    """
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    paths, clashes = list_photos(in_dir)
    for clash in clashes:
        log.error("%s", one_line(clash))
    base = photo_root(in_dir)  # one file named: its name
    ok, failed = 0, len(clashes)
    for path in tqdm(paths, desc=f"translating {translator.direction}", unit="img", disable=quiet or None):
        target = out_dir / path.relative_to(base).with_suffix(output_suffix(path, fmt))
        try:
            if guard is not None:
                guard.check(target)
            image, info = read_photo(path)
            mask = read_mask_for(path, base, image.shape) if translator.overlay else None
            depth = None
            if translator.cfg.use_depth:
                if depth_dir is None:
                    raise ImageError(path, "the generator takes depth: pass a depth folder with NAME.npy files")
                depth = read_depth(Path(depth_dir) / f"{path.stem}.npy", expected_shape=image.shape)
            write_image(target, translator(image, mask, depth), info)
            if guard is not None:
                guard.record(target)
            ok += 1
        except (ImageError, ValueError, OSError) as exc:
            log.error("%s", exc if isinstance(exc, FileProblem) else one_line(f"{path}: {exc}"))
            failed += 1
    return ok, failed
