"""The stages of a reproduction, in order: scrape, curate, fit, masks, then per preset train and
translate, then compare. Each stage calls its program's ``main`` in this process with the
arguments the configuration implies (training with ``--nproc-per-node N > 1`` goes through
torchrun, which must start its own processes), and pairs it with its completeness check
(:mod:`.checks`), so a finished stage is skipped and an interrupted one resumes through its
program's own resume (the scraper's manifest, curation's cache, prepare_masks' record,
``train_cyclegan --resume``).
"""
from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import torch

from plumbing.config import load_config
from datasets.cli import scrape_flickr
from datasets.fit import fit_dataset
from datasets.flickr import FlickrError, RedactingFilter, ScrapeConfig
from datasets.testing.fake_portraits import FAKE_KEY, portrait_flickr
from evaluation.cli import compare
from gan.checkpoint import latest_checkpoint
from gan.losses import VGGRelu32, VGGWeightsError
from gan.model import PRESETS
from gan.cli import test_cyclegan, train_cyclegan
from gan.train.config import PAPER_DATA, PAPER_DATA_MODEL
from segdepth.cli import curate, prepare_masks

from .checks import (compare_pending, curate_pending, final_checkpoint, fit_pending, masks_pending, scrape_pending,
                     translate_pending)
from .config import ReproduceConfig, layout

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stage:
    """One step: ``pending()`` is None when its outputs are complete, else why it must run;
    ``run()`` is its exit status. ``verify``: after a run with status 0 its outputs must be
    complete (not for the scrape: Flickr may hold fewer photos than asked for)."""

    name: str
    pending: Callable[[], Optional[str]]
    run: Callable[[], int]
    verify: bool = True


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; other values as given."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def paper_data_flags(size: int) -> list[str]:
    """train_cyclegan's flags for the paper's data setting at ``size``: ``--paper-data`` at the
    paper's 256, else the same settings (no resize, crop or flip; binary masks) at ``size``."""
    if size == PAPER_DATA["load_size"] == PAPER_DATA["crop_size"]:
        return ["--paper-data"]
    flags = ["--load-size", str(size), "--crop-size", str(size), "--flip" if PAPER_DATA["flip"] else "--no-flip"]
    for key, value in PAPER_DATA_MODEL.items():
        flags += [f"--{key.replace('_', '-')}", str(value)]
    return flags


@contextlib.contextmanager
def redacting(secret: str) -> Iterator[None]:
    """Every log handler of the root logger rewrites ``secret`` (and URL queries) out of its records."""
    handlers = list(logging.getLogger().handlers)
    redactor = RedactingFilter(secret)
    for handler in handlers:
        handler.addFilter(redactor)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(redactor)


class Reproduction:
    """The stages of one configuration (``api_key_file``: the scrape's ``--api-key-file``, never saved)."""

    def __init__(self, cfg: ReproduceConfig, api_key_file: Optional[Path] = None) -> None:
        self.cfg, self.scale, self.lay = cfg, cfg.scale_settings, layout(cfg)
        self.api_key_file = api_key_file
        self.device = resolve_device(cfg.device)
        self.quiet = ["--quiet"] if cfg.quiet else []

    @property
    def test_input(self) -> Path:
        """The photos translated and compared: ``test_input``, or the curated testA at the paper's size."""
        return Path(self.cfg.test_input) if self.cfg.test_input else self.lay.fitted / "testA"

    @property
    def mask_roots(self) -> list[Path]:
        """The folders prepare_masks covers: the fitted dataset, and ``test_input`` when given."""
        return [self.lay.fitted] + ([self.test_input] if self.cfg.test_input else [])

    @property
    def total_epochs(self) -> int:
        return self.scale.n_epochs + self.scale.n_epochs_decay

    # ------------------------------------------------------------------ the programs' command lines
    def scrape_argv(self) -> list[str]:
        """A resumed scrape keeps its first run's upload window (saved in its config), so that no
        photo uploaded since joins a dataset that curation may already have split."""
        argv = ["--out", str(self.lay.flickr), "--per-domain", str(self.cfg.photos_per_domain),
                "--api-url", self.cfg.api_url, *self.quiet]
        saved = self.lay.flickr / scrape_flickr.CONFIG_FILE
        if saved.is_file():
            argv += ["--max-upload", str(load_config(ScrapeConfig, saved).max_upload)]
        return argv

    def curate_argv(self) -> list[str]:
        size = str(self.scale.test_size)
        return ["--raw", str(self.lay.flickr), "--out", str(self.lay.portraits), "--min-side", str(self.scale.min_side),
                "--test-size-a", size, "--test-size-b", size, *self.quiet]

    def train_argv(self, preset: str) -> list[str]:
        s = self.scale
        return ["--dataroot", str(self.lay.fitted), "--runs-dir", str(self.lay.runs), "--name", preset,
                "--preset", preset, *paper_data_flags(s.image_size), "--n-epochs", str(s.n_epochs),
                "--n-epochs-decay", str(s.n_epochs_decay), *s.train_flags, "--device", self.cfg.device,
                *self.cfg.train_args, *self.quiet]

    def translate_argv(self, preset: str) -> list[str]:
        return ["--checkpoint", str(self.lay.run(preset)), "--input", str(self.test_input),
                "--out", str(self.lay.results(preset)), "--full-res", "--device", self.device, *self.quiet]

    def compare_argv(self) -> list[str]:
        argv = ["--input", str(self.test_input), "--out", str(self.lay.compare),
                "--methods", ",".join(self.cfg.methods), "--reference", str(self.lay.fitted / "testB"),
                "--fid-weights", self.scale.fid_weights, "--thumb-size", str(self.scale.thumb_size),
                "--device", self.device, *self.quiet]
        for preset in self.cfg.presets:  # the paper's mask_overlay also overlays at test time
            test_overlay = ":overlay" if PRESETS[preset].get("mask_overlay_test") else ""
            argv += ["--gan", f"{preset}={self.lay.run(preset)}:{preset}{test_overlay}"]
        for spec in self.cfg.results:
            argv += ["--results", spec]
        return argv

    # ------------------------------------------------------------------ the stages
    def stages(self) -> list[Stage]:
        """Every stage in order: scrape, curate, fit, masks, (train, translate) per preset, compare."""
        lay, scale = self.lay, self.scale
        out = [Stage("scrape", lambda: scrape_pending(lay.flickr, self.cfg.photos_per_domain), self.scrape,
                     verify=False),
               Stage("curate", self.curate_pending, lambda: curate.main(self.curate_argv())),
               Stage("fit", lambda: fit_pending(lay.portraits, lay.fitted, scale.image_size), self.fit),
               Stage("masks", lambda: masks_pending(self.mask_roots), self.masks)]
        for preset in self.cfg.presets:
            out += [Stage(f"train {preset}", lambda p=preset: final_checkpoint(lay.run(p), self.total_epochs)[1],
                          lambda p=preset: self.train(p)),
                    Stage(f"translate {preset}", lambda p=preset: self.translate_pending(p),
                          lambda p=preset: test_cyclegan.main(self.translate_argv(p)))]
        return out + [Stage("compare", self.compare_pending, lambda: compare.main(self.compare_argv()))]

    def curate_pending(self) -> Optional[str]:
        return curate_pending(self.lay.flickr, self.lay.portraits, curate.parse_args(self.curate_argv()))

    def translate_pending(self, preset: str) -> Optional[str]:
        return translate_pending(self.lay.run(preset), test_cyclegan.parse_args(self.translate_argv(preset)))

    def compare_pending(self) -> Optional[str]:
        columns = [*self.cfg.presets, *self.cfg.methods, *(s.partition("=")[0] for s in self.cfg.results)]
        translations = [self.lay.results(p) / test_cyclegan.CONFIG_NAME for p in self.cfg.presets]
        return compare_pending(compare.parse_args(self.compare_argv()), columns, translations)

    def weights_problem(self) -> Optional[tuple[str, str]]:
        """(stage, problem) when a training still to run needs the mask loss's ImageNet VGG19 and
        it cannot be had: found before the first stage, not after hours of training; else None."""
        for preset in self.cfg.presets:
            model = train_cyclegan.parse_args(self.train_argv(preset)).model_config()
            if not (model.mask_loss and model.vgg_weights == "imagenet"):
                continue
            if final_checkpoint(self.lay.run(preset), self.total_epochs)[1] is None:
                continue  # trained already
            try:
                VGGRelu32("imagenet")
            except VGGWeightsError as exc:
                return f"train {preset}", str(exc)
            return None
        return None

    def scrape(self) -> int:
        """scrape_flickr (:meth:`_scrape`); a scrape that ended well with fewer photos than asked for
        (Flickr had no more) is said in a warning, and the next stages go on with what there is."""
        status = self._scrape()
        short = scrape_pending(self.lay.flickr, self.cfg.photos_per_domain)
        if status == 0 and short:
            log.warning("Flickr gave fewer photos than asked for (%s); going on with them", short)
        return status

    def _scrape(self) -> int:
        """scrape_flickr: the local fake Flickr with its throwaway key, or Flickr with the user's key,
        which every log handler redacts while the scrape runs."""
        argv = self.scrape_argv()
        if self.cfg.fake_flickr:
            with portrait_flickr(self.cfg.photos_per_domain) as fake, tempfile.TemporaryDirectory() as tmp:
                key_file = Path(tmp) / "fake_key"
                key_file.write_text(FAKE_KEY, encoding="utf-8")
                return scrape_flickr.main(argv + ["--api-url", fake.api_url, "--api-key-file", str(key_file)])
        key_flags = ["--api-key-file", str(self.api_key_file)] if self.api_key_file else []
        try:
            key = scrape_flickr.read_key(self.api_key_file)
        except FlickrError:  # an unreadable key file: the scraper says so itself
            key = ""
        with redacting(key) if key else contextlib.nullcontext():
            return scrape_flickr.main(argv + key_flags)

    def fit(self) -> int:
        """datasets.fit: the curated splits at the paper's square size; 1 when a photo was bad."""
        result = fit_dataset(self.lay.portraits, self.lay.fitted, self.scale.image_size, quiet=self.cfg.quiet)
        log.info("fit: %s", result.summary())
        return 1 if result.bad else 0

    def masks(self) -> int:
        """prepare_masks on each of :attr:`mask_roots`; the first non-zero exit status, else 0."""
        for root in self.mask_roots:
            status = prepare_masks.main([str(root), *self.quiet])
            if status:
                return status
        return 0

    def train(self, preset: str) -> int:
        """train_cyclegan for ``preset``, with ``--resume`` once the run has a checkpoint; through
        torchrun with ``nproc_per_node`` > 1."""
        argv = self.train_argv(preset)
        if latest_checkpoint(self.lay.run(preset)) is not None:
            argv.append("--resume")
        if self.cfg.nproc_per_node == 1:
            return train_cyclegan.main(argv)
        code = "import sys; from gan.cli.train_cyclegan import main; sys.exit(main())"
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc_per_node={self.cfg.nproc_per_node}", "--no-python", sys.executable, "-c", code, *argv]
        return subprocess.run(command, env=env, check=False).returncode
