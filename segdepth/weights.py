"""The one place where segdepth networks get their weights, or raise one clear error.

Every segdepth factory takes ``weights``:

- ``"default"``: the library's pretrained weights (torchvision ``weights=`` enums, ``torch.hub``)
  or, for architectures trained here, our checkpoint at :func:`default_checkpoint_path`.
  Nothing reaches the network unless the user asks by name (``--allow-download``); a missing
  file is one :class:`WeightsError` naming the file and the folder to put it in.
- ``"none"``: explicit random initialisation.
- a path: a checkpoint of ours, read by :func:`segdepth.checkpoint.load_checkpoint`
  (``torch.load(weights_only=True)``, format tag checked); a checkpoint of another
  architecture is refused by name.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

import torch
from torch import nn

from plumbing.cli import downloads_allowed

from .checkpoint import LOAD_ERRORS, WeightsError, checkpoint_arch_kwargs, load_checkpoint, load_state


def hub_checkpoint_dir() -> Path:
    """``torch.hub.get_dir()/checkpoints``: where torchvision and torch.hub look for weight files."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def default_checkpoint_path(arch: str) -> Path:
    """Where the ``"default"`` weights of an architecture trained by this project are looked for."""
    return hub_checkpoint_dir() / f"shallowdof_{arch}.pt"


def check_weights_spec(weights: str | os.PathLike) -> str:
    """Normalise a ``weights`` argument: ``"default"``, ``"none"`` or an existing file path."""
    spec = os.fspath(weights)
    if spec in ("default", "none"):
        return spec
    if not Path(spec).is_file():
        raise WeightsError(f"{spec}: no such checkpoint file (use 'default', 'none' or a path)")
    return spec


def torchvision_pretrained(builder: Callable[..., nn.Module], weights_enum: Any, **kwargs: Any) -> nn.Module:
    """Call a torchvision builder with its pretrained ``weights_enum``; offline → one clear error.

    torchvision reads ``<hub dir>/checkpoints/<file>`` when present; a missing file is downloaded
    only when the user asked for it (``--allow-download``), else one WeightsError names it.
    """
    url = weights_enum.url
    filename = Path(urlparse(url).path).name
    target = hub_checkpoint_dir() / filename
    if not target.is_file() and not downloads_allowed():
        raise WeightsError(
            f"{target}: pretrained weights {weights_enum} are not in the torch hub cache and nothing is "
            f"downloaded unless asked for: download {url} and put it there, pass --allow-download, or use "
            f"random initialisation (--weights none)")
    try:
        return builder(weights=weights_enum, progress=False, **kwargs)
    except LOAD_ERRORS as exc:
        if target.exists():
            raise WeightsError(f"{target}: cannot load pretrained weights {weights_enum} ({exc})") from exc
        raise WeightsError(
            f"{target}: pretrained weights {weights_enum} are not available ({type(exc).__name__}: {exc}); "
            f"download {url} and put it there (or use random initialisation, --weights none)"
        ) from exc


def build_with_weights(
    arch: str,
    weights: str | os.PathLike,
    make: Callable[..., nn.Module],
    arch_kwargs: dict[str, Any],
    library_default: bool = False,
) -> tuple[nn.Module, dict[str, Any]]:
    """Build ``arch`` with the weights asked for; return the network and the kwargs it was built with.

    ``make(pretrained=..., **arch_kwargs)`` builds the network; ``pretrained=True`` asks the owning
    library for its weights (see :func:`torchvision_pretrained`). ``"default"`` means those when
    ``library_default`` (DeepLabV3: COCO-with-VOC-labels), otherwise our checkpoint at
    :func:`default_checkpoint_path` (networks trained here have no published weights).
    A checkpoint's stored kwargs override ``arch_kwargs``.
    """
    spec = check_weights_spec(weights)
    if spec == "none":
        return make(pretrained=False, **arch_kwargs), arch_kwargs
    if spec == "default" and library_default:
        return make(pretrained=True, **arch_kwargs), arch_kwargs
    path = Path(spec) if spec != "default" else default_checkpoint_path(arch)
    if spec == "default" and not path.is_file():
        raise WeightsError(
            f"{path}: no trained {arch!r} weights (this architecture has no published weights); "
            f"train one with scripts/train_segmentation.py or scripts/train_depth.py and put its "
            f"checkpoints/best.pt there (the training scripts also take --weights PATH or --weights none)"
        )
    ckpt = load_checkpoint(path)
    kwargs = {**arch_kwargs, **checkpoint_arch_kwargs(ckpt, arch, path)}
    model = make(pretrained=False, **kwargs)
    return load_state(model, ckpt["model"], arch, path), kwargs
