"""The settings of one training run: ``TrainConfig``, saved as ``runs/NAME/config.json`` and
reloaded by ``--config`` (strictly, through :mod:`plumbing.config`)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from plumbing import config as config_io
from plumbing.cli import check_types
from gan.model import AMP_DTYPES, ModelConfig, config_from_preset

from .device import COMPILE_MODES

# ModelConfig fields the TrainConfig sets itself (not model overrides).
TRAIN_OWNED_MODEL_FIELDS = ("preset", "amp", "channels_last")
# Nasrullah 2018's data exactly (--paper-data): 256×256 images used as they are (no resize, crop
# or flip augmentation at training time; prepare the images at 256×256) and binary masks.
PAPER_DATA: dict[str, Any] = {"load_size": 256, "crop_size": 256, "flip": False}
PAPER_DATA_MODEL: dict[str, Any] = {"masks": "binary"}


def _limited(default: int, lo: int, hi: int) -> Any:
    """A TrainConfig field whose value must lie in [lo, hi] (checked by ``TrainConfig.check``,
    for flags and config files alike; the flags' argparse types use the same bounds)."""
    return field(default=default, metadata={"lo": lo, "hi": hi})


@dataclass
class TrainConfig:
    """Settings of one training run (saved as ``runs/NAME/config.json``)."""

    dataroot: str = ""
    name: str = "cyclegan"
    runs_dir: str = "runs"
    preset: str = "cyclegan"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    load_size: int = _limited(286, 1, 16384)
    crop_size: int = _limited(256, 1, 16384)  # square crop after the shorter side is resized to load_size
    flip: bool = True
    serial_batches: bool = False  # B in order instead of at random
    batch_size: int = _limited(1, 1, 65536)
    n_epochs: int = _limited(50, 0, 100_000)
    n_epochs_decay: int = _limited(25, 0, 100_000)
    num_workers: int = _limited(4, 0, 256)
    seed: int = _limited(0, 0, 2**32 - 1)
    deterministic: bool = False
    device: str = "auto"  # auto | cpu | cuda
    amp: str = "none"  # none | bf16 | fp16
    channels_last: bool = False
    compile: bool = False
    compile_mode: str = "default"  # a key of COMPILE_MODES
    log_every: int = _limited(100, 1, 10**9)
    save_every: int = _limited(0, 0, 10**9)  # iterations between checkpoints; 0: only at epoch ends
    save_every_epochs: int = _limited(1, 0, 100_000)
    keep_last: int = _limited(3, 1, 100_000)
    display: str = "html"  # none | html | visdom
    display_port: int = _limited(8097, 1, 65535)
    display_every: int = _limited(400, 0, 10**9)
    display_keep: int = _limited(10, 1, 100_000)
    max_steps: int = _limited(0, 0, 10**9)  # stop after this many iterations in all (0: the full schedule)
    resume: bool = False
    resume_from: str = ""  # a checkpoint file; default: the run's latest
    quiet: bool = False

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.name

    def model_config(self) -> ModelConfig:
        """The ModelConfig: the preset's settings, then the overrides, then amp / channels_last."""
        return config_from_preset(self.preset, **self.model_overrides, amp=self.amp, channels_last=self.channels_last)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """The config saved in a run's config.json; unknown keys and wrong types are errors naming them."""
        return config_io.from_dict(cls, d)

    def check(self) -> None:
        """ValueError naming the first setting that is out of range, of the wrong type or
        inconsistent; the model settings (preset + overrides) are checked by ModelConfig."""
        check_types(self)
        for f in dataclasses.fields(self):
            lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
            value = getattr(self, f.name)
            if lo is not None and not lo <= value <= hi:
                raise ValueError(f"{f.name} must be between {lo} and {hi}, got {value}")
        if self.n_epochs + self.n_epochs_decay < 1:
            raise ValueError("n_epochs + n_epochs_decay must be at least 1 (the schedule would train nothing)")
        if self.crop_size > self.load_size:
            raise ValueError(f"crop_size {self.crop_size} is larger than load_size {self.load_size}")
        name = Path(self.name)
        if not self.name or name.is_absolute() or len(name.parts) != 1 or self.name in (".", ".."):
            raise ValueError(f"name {self.name!r} must be one folder name inside runs_dir {self.runs_dir!r} "
                             "(no '/', '..' or absolute path)")
        for key, allowed in (("device", ("auto", "cpu", "cuda")), ("amp", tuple(AMP_DTYPES)),
                             ("compile_mode", tuple(COMPILE_MODES)), ("display", ("none", "html", "visdom"))):
            if getattr(self, key) not in allowed:
                raise ValueError(f"{key} {getattr(self, key)!r} is not one of {list(allowed)}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' asked for, but torch sees no CUDA device (use --device cpu or auto)")
        try:
            self.model_config()
        except TypeError as exc:  # an unknown key in model_overrides
            raise ValueError(f"model_overrides: {exc}") from None


def load_config(path: str | Path) -> TrainConfig:
    """A saved ``config.json`` as a TrainConfig, strictly: a missing, empty or broken file, an
    unknown key or a value of the wrong type is one ValueError "PATH: problem" (ranges are
    checked by ``TrainConfig.check`` once the command line's flags are applied)."""
    return config_io.load_config(TrainConfig, path)


def save_run_config(cfg: TrainConfig) -> None:
    """Write the run's ``config.json``; ``resume`` / ``resume_from`` say how this process
    started, not what the run is, so they are saved as off."""
    config_io.save_config(dataclasses.replace(cfg, resume=False, resume_from=""), cfg.run_dir / "config.json")
