"""MiDaS (Ranftl et al. 2020/2021) through ``torch.hub`` as an optional external depth model.

MiDaS predicts *relative inverse depth* (disparity up to an unknown scale and shift). We
convert it to a relative depth, larger = farther, as

    depth = d_max / clip(d, eps · d_max, ∞),     d_max = the largest disparity in the image

so the nearest point gets depth 1 and nothing is farther than 1 / eps (default 100). The scale
is arbitrary (``relative = True``); the shift MiDaS leaves unknown is taken as zero.

Offline use: torch.hub needs the MiDaS repository in ``<hub dir>/intel-isl_MiDaS_master``
(``git clone https://github.com/isl-org/MiDaS``) and the weight files in
``<hub dir>/checkpoints`` (see :data:`MODEL_FILES`; the small model also loads the
``rwightman/gen-efficientnet-pytorch`` hub repository, the DPT models need the ``timm`` package).
Without them one :class:`~segdepth.weights.WeightsError` lists what is missing and where.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import torch

from ..tensors import IMAGENET_MEAN, IMAGENET_STD, fit_to_network, image_to_tensor
from ..weights import WeightsError, check_weights_spec

HUB_REPO = "intel-isl/MiDaS"
HUB_REPO_DIR = "intel-isl_MiDaS_master"
# model type → (network input long side, mean, std, weight files, further hub repository folders)
MODEL_FILES: dict[str, tuple[int, tuple, tuple, tuple[str, ...], tuple[str, ...]]] = {
    "MiDaS_small": (256, IMAGENET_MEAN, IMAGENET_STD, ("midas_v21_small_256.pt", "tf_efficientnet_lite3-b733e338.pth"),
                    ("rwightman_gen-efficientnet-pytorch_master",)),
    "MiDaS": (384, IMAGENET_MEAN, IMAGENET_STD, ("midas_v21_384.pt",), ("facebookresearch_WSL-Images_main",)),
    "DPT_Hybrid": (384, (0.5,) * 3, (0.5,) * 3, ("dpt_hybrid_384.pt",), ()),
    "DPT_Large": (384, (0.5,) * 3, (0.5,) * 3, ("dpt_large_384.pt",), ()),
}


def disparity_to_depth(disparity: np.ndarray, eps: float = 0.01) -> np.ndarray:
    """Relative inverse depth → relative depth (see the module docstring); float32, ≥ 1."""
    d = np.asarray(disparity, np.float64)
    d_max = float(d.max())
    if not np.isfinite(d_max) or d_max <= 0:
        return np.full(d.shape, 1.0 / eps, np.float32)
    return (d_max / np.maximum(d, eps * d_max)).astype(np.float32)


def _missing_message(model_type: str) -> str:
    hub = Path(torch.hub.get_dir())
    _, _, _, files, repos = MODEL_FILES[model_type]
    need = [str(hub / HUB_REPO_DIR) + " (git clone https://github.com/isl-org/MiDaS)"]
    need += [str(hub / r) for r in repos]
    need += [str(hub / "checkpoints" / f) for f in files]
    return f"MiDaS {model_type!r} is not available offline; it needs: " + "; ".join(need)


class MidasDepth:
    """Registry depth model: uint8 RGB H×W×3 (mask ignored) → float32 H×W relative depth ≥ 1."""

    relative = True

    def __init__(self, net: torch.nn.Module, model_type: str = "MiDaS_small", device: str | torch.device = "cpu",
                 eps: float = 0.01) -> None:
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self.input_size, mean, std, _, _ = MODEL_FILES[model_type]
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)
        self.eps = eps

    @torch.inference_mode()
    def __call__(self, image: np.ndarray, mask: Optional[np.ndarray] = None) -> np.ndarray:
        x = (image_to_tensor(image) - self.mean) / self.std
        x, (h, w) = fit_to_network(x, self.input_size)
        out = self.net(x.to(self.device))
        disparity = out.reshape(out.shape[-2:])[:h, :w].float().cpu().numpy()
        disparity = cv2.resize(disparity, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_CUBIC)
        return disparity_to_depth(disparity, self.eps)


def build_midas(weights: str | os.PathLike = "default", model_type: str = "MiDaS_small", device: str = "cpu",
                eps: float = 0.01) -> MidasDepth:
    """Load MiDaS ``model_type`` from the torch.hub cache (``weights="default"``; the hub's own
    weights) or with random weights (``"none"``; for timing). Never downloads into a random model:
    a missing repository or weight file raises one :class:`WeightsError` naming them."""
    if model_type not in MODEL_FILES:
        raise ValueError(f"unknown MiDaS model type {model_type!r}; choose from {sorted(MODEL_FILES)}")
    spec = check_weights_spec(weights)
    if spec not in ("default", "none"):
        raise WeightsError(f"{spec}: MiDaS weights come from torch.hub; use weights='default' or 'none'")
    repo_dir = Path(torch.hub.get_dir()) / HUB_REPO_DIR
    if not (repo_dir / "hubconf.py").is_file():
        raise WeightsError(_missing_message(model_type))
    try:
        net = torch.hub.load(str(repo_dir), model_type, source="local", pretrained=spec == "default")
    except (OSError, RuntimeError, ImportError, EOFError, ValueError) as exc:
        raise WeightsError(f"{_missing_message(model_type)} ({type(exc).__name__}: {exc})") from exc
    return MidasDepth(net, model_type, device=device, eps=eps)
