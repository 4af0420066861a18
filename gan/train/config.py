"""The settings of one training run: ``TrainConfig``, saved as ``runs/NAME/config.json`` and
reloaded by ``--config`` (strictly, through :mod:`plumbing.config`)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from plumbing import config as config_io
from plumbing import fields
from plumbing.fields import BIG, like, setting
from gan.model import ModelConfig, config_from_preset
from gan.networks import DIVISORS

from .device import COMPILE_MODES

# ModelConfig fields the TrainConfig sets itself (not model overrides).
TRAIN_OWNED_MODEL_FIELDS = ("preset", "amp", "channels_last")
# Nasrullah 2018's data exactly (--paper-data): 256×256 images used as they are (no resize, crop
# or flip augmentation at training time; prepare the images at 256×256) and binary masks.
PAPER_DATA: dict[str, Any] = {"load_size": 256, "crop_size": 256, "flip": False}
PAPER_DATA_MODEL: dict[str, Any] = {"masks": "binary"}


@dataclass
class TrainConfig:
    """Settings of one training run (saved as ``runs/NAME/config.json``); each field declares its
    flag's help, choices and range (:func:`plumbing.fields.setting`), checked by :meth:`check` for
    flags and config files alike."""

    dataroot: str = setting("", "dataset folder with trainA/ and trainB/")
    name: str = setting("cyclegan", "run name; files go to RUNS_DIR/NAME")
    runs_dir: str = setting("runs", "folder of run directories")
    preset: str = like(ModelConfig, "preset")
    model_overrides: dict[str, Any] = setting(default_factory=dict, help="ModelConfig settings that differ from the preset's")
    load_size: int = setting(286, "resize images to this (shorter side) before cropping", lo=1, hi=16384)
    crop_size: int = setting(256, "random square crop, the same for image, mask and depth", lo=1, hi=16384)
    flip: bool = setting(True, "random horizontal flips")
    serial_batches: bool = setting(False, "pair B images in order instead of at random")
    batch_size: int = setting(1, "per process", lo=1, hi=65536)
    n_epochs: int = setting(50, "epochs at the initial lr", lo=0, hi=100_000)
    n_epochs_decay: int = setting(25, "epochs of linear decay to zero", lo=0, hi=100_000)
    num_workers: int = setting(4, "data loader workers", lo=0, hi=256)
    seed: int = setting(0, "random seed", lo=0, hi=2**32 - 1)
    deterministic: bool = setting(False, "deterministic algorithms (bitwise repeatable on the CPU; slower on GPU)")
    device: str = setting("auto", "where to train", ("auto", "cpu", "cuda"))
    amp: str = like(ModelConfig, "amp", help="mixed precision (fp16 with a gradient scaler)")
    channels_last: bool = like(ModelConfig, "channels_last")
    compile: bool = setting(False, "torch.compile the networks (the first steps wait minutes for the compiler)")
    compile_mode: str = setting("default", "torch.compile mode; on a GPU 'reduce-overhead' also replays each step as "
                                "CUDA graphs, the fastest at small batches", tuple(COMPILE_MODES))
    log_every: int = setting(100, "iterations per log line", lo=1, hi=BIG)
    save_every: int = setting(0, "iterations between checkpoints (0: at epoch ends only)", lo=0, hi=BIG)
    save_every_epochs: int = setting(1, "epochs between epoch-end checkpoints", lo=0, hi=100_000)
    keep_last: int = setting(3, "checkpoints kept", lo=1, hi=100_000)
    display: str = setting("html", "sample page web/index.html; visdom also plots live", ("none", "html", "visdom"))
    display_port: int = setting(8097, "visdom port", lo=1, hi=65535)
    display_every: int = setting(400, "iterations between sample displays", lo=0, hi=BIG)
    display_keep: int = setting(10, "sample displays kept on the page", lo=1, hi=100_000)
    max_steps: int = setting(0, "stop after this many iterations in all, counted over the run (0: the whole "
                             "schedule); saved in config.json, so give a larger one to continue a stopped run",
                             lo=0, hi=BIG)
    resume: bool = setting(False, "continue the run from a checkpoint")
    resume_from: str = setting("", "the checkpoint to continue from (default: the run's latest)")
    quiet: bool = setting(False, "no progress bar")

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
        """ValueError naming the first setting that is of the wrong type, not among its choices,
        out of its range (:class:`plumbing.fields.SettingError`) or inconsistent; the model
        settings (preset + overrides) are checked by ModelConfig."""
        fields.check(self)
        if self.n_epochs + self.n_epochs_decay < 1:
            raise ValueError("n_epochs + n_epochs_decay must be at least 1 (the schedule would train nothing)")
        if self.crop_size > self.load_size:
            raise ValueError(f"crop_size {self.crop_size} is larger than load_size {self.load_size}")
        name = Path(self.name)
        if not self.name or name.is_absolute() or len(name.parts) != 1 or self.name in (".", ".."):
            raise ValueError(f"name {self.name!r} must be one folder name inside runs_dir {self.runs_dir!r} "
                             "(no '/', '..' or absolute path)")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' asked for, but torch sees no CUDA device (use --device cpu or auto)")
        try:
            model = self.model_config()
        except TypeError as exc:  # an unknown key in model_overrides
            raise ValueError(f"model_overrides: {exc}") from None
        divisor = DIVISORS.get(model.netG, 1)
        if self.crop_size % divisor:
            raise ValueError(f"crop_size {self.crop_size} does not fit generator {model.netG}: it halves its input "
                             f"{divisor.bit_length() - 1} times, so the crop must be a multiple of {divisor} "
                             f"(at least {divisor}); use --crop-size {max(divisor, self.crop_size // divisor * divisor)} "
                             "or another --netG")


def load_config(path: str | Path) -> TrainConfig:
    """A saved ``config.json`` as a TrainConfig, strictly: a missing, empty or broken file, an
    unknown key or a value of the wrong type or out of its range is one ValueError "PATH: problem"
    (what depends on several settings is checked by ``TrainConfig.check``)."""
    return config_io.load_config(TrainConfig, path)


def save_run_config(cfg: TrainConfig) -> None:
    """Write the run's ``config.json``; ``resume`` / ``resume_from`` say how this process
    started, not what the run is, so they are saved as off."""
    config_io.save_config(dataclasses.replace(cfg, resume=False, resume_from=""), cfg.run_dir / "config.json")
