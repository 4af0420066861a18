"""Shared wrapper that turns a segmentation network into a registry segmenter.

Network contract (every network in this package): input N×3×H×W float32 RGB in [0, 1]
(each network applies its own ImageNet normalisation), output N×2×H×W logits, channel 1 =
person. H and W must be multiples of 32; :class:`TorchSegmenter` resizes and pads for it
(the tensor helpers are in :mod:`segdepth.tensors`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Optional

import cv2
import numpy as np
import torch
from torch import nn

from ..tensors import fit_to_network, image_to_tensor
from ..weights import build_with_weights


class TorchSegmenter:
    """Registry segmenter around a network: uint8 RGB H×W×3 → float32 H×W person probability.

    The image is resized so its long side is ``input_size`` (aspect kept, padded to a multiple
    of 32), the person probability is softmax channel 1, resized back to the input size.
    ``postprocess(mask, image)`` (optional) refines the mask at full resolution.
    """

    def __init__(
        self,
        net: nn.Module,
        *,
        input_size: int = 512,
        device: str | torch.device = "cpu",
        postprocess: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None,
    ) -> None:
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self.input_size = int(input_size)
        self.postprocess = postprocess

    @torch.inference_mode()
    def __call__(self, image: np.ndarray) -> np.ndarray:
        x = image_to_tensor(image).to(self.device)
        x, (h, w) = fit_to_network(x, self.input_size)
        prob = torch.softmax(self.net(x).float(), dim=1)[0, 1, :h, :w].cpu().numpy()
        mask = cv2.resize(prob, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
        mask = np.clip(mask, 0.0, 1.0).astype(np.float32)
        if self.postprocess is not None:
            mask = self.postprocess(mask, image)
        return mask


@dataclass(frozen=True)
class SegArch:
    """A trainable segmentation architecture.

    ``make(pretrained=False, **kwargs)`` builds the network; ``pretrained=True`` takes the owning
    library's weights (``pretrained_what`` says which; ``None`` when there are none).
    ``library_default``: the registry's ``weights="default"`` means those library weights
    (usable as a person segmenter as they are) instead of a checkpoint trained here.
    ``postprocess``: the registry segmenter's default ``postprocess(mask, image)`` hook
    (``None``: the raw network mask); a caller's ``postprocess=`` replaces it.
    """

    make: Callable[..., nn.Module]
    pretrained_what: Optional[str] = None
    library_default: bool = False
    postprocess: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None


def build_network(arch_name: str, arch: SegArch, weights: str | os.PathLike, **arch_kwargs: Any) -> tuple[nn.Module, dict]:
    """Network for ``arch`` with ``weights`` = "default" | "none" | checkpoint path (see segdepth.weights)."""
    return build_with_weights(arch_name, weights, arch.make, arch_kwargs, library_default=arch.library_default)


def build_torch_segmenter(
    arch_name: str,
    arch: SegArch,
    *,
    weights: str | os.PathLike = "default",
    device: str = "cpu",
    input_size: int = 512,
    postprocess: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None,
    **arch_kwargs: Any,
) -> TorchSegmenter:
    """Registry factory body shared by every torch segmenter."""
    net, _ = build_network(arch_name, arch, weights, **arch_kwargs)
    return TorchSegmenter(net, input_size=input_size, device=device, postprocess=postprocess)
