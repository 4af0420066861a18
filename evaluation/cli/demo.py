"""The built-in demo: every approach on the built-in inputs, side by side, offline, on the CPU.

    python scripts/demo.py --out demo_out          # what `make demo` runs (a few minutes)
    python scripts/demo.py --no-gan                # classical methods only (seconds)
    python scripts/demo.py --make-checkpoint scripts/demo_gan.pt --checkpoint-steps N   # the shipped GAN

Inputs: scikit-image's astronaut portrait (mask from MediaPipe, depth from the documented prior)
and procedural scenes from datasets/synthetic.py (exact mask, exact depth and a reference
shallow-DoF render as ground truth). Then:

1. each GAN preset (cyclegan, mask_loss, mask_overlay, mask_loss_overlay) starts from the shipped
   checkpoint scripts/demo_gan.pt (a mask_loss_overlay run on unpaired synthetic scenes, domain A
   all in focus, domain B rendered with a shallow depth of field, at the test scenes' scale:
   256-pixel scenes, random 128-pixel crops; a narrow U-Net with a full-resolution head whose
   upsampling is resize-convolution) and trains a short continuation live with its own losses,
   two presets at a time, one per core. The gallery says what each was trained on and for how long;
2. every compositor method and every trained preset renders every input, metrics are computed,
   and the gallery is written to OUT/gallery/index.html; OUT/index.html links everything.

OUT is a folder of its own: new, empty, or one a shallowdof program filled before (its
.shallowdof-outputs.jsonl says so); a folder of yours (an index.html of your own, say) is refused.

The work is evaluation.demo's; this module is the program's parser and main.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional

from evaluation.demo import UNET_DIVISOR, DemoConfig, load_demo_checkpoint, run_demo
from plumbing.cli import EXIT_CODES_EPILOG, EXIT_USAGE, output_folder
from plumbing.config import add_config_option, parse_config_args
from plumbing.fields import SettingError, add_setting
from plumbing.files import FileProblem
from plumbing.outputs import claim_folder


def build_parser() -> argparse.ArgumentParser:
    """The demo's parser: a flag per DemoConfig field, made from its declaration."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=EXIT_CODES_EPILOG)
    add_config_option(p)
    add_setting(p, DemoConfig, "out", type=output_folder)
    for name in ("scenes", "scene_size", "gan"):
        add_setting(p, DemoConfig, name)
    add_setting(p, DemoConfig, "presets", nargs="+")
    for name in ("gan_checkpoint", "gan_steps", "gan_size", "gan_scene_size", "gan_jobs", "gan_train_scenes",
                 "gan_test_scenes", "make_checkpoint", "checkpoint_steps", "checkpoint_scenes", "seed", "threads",
                 "quiet"):
        add_setting(p, DemoConfig, name)
    return p


def parse_args(argv: Optional[list[str]] = None) -> DemoConfig:
    """The demo's config: its defaults, then ``--config`` (an OUT/demo_config.json), then the flags
    given, every value checked; a bad one is one line and exit status 2."""
    return parse_config_args(build_parser(), DemoConfig, argv, check_config=check_config)[1]


def check_config(cfg: DemoConfig) -> None:
    """SettingError for a GAN size that does not fit, or a starting checkpoint that is missing or
    not the demo's (found before any work, not minutes later)."""
    if cfg.gan_size % UNET_DIVISOR or cfg.gan_scene_size < cfg.gan_size:
        raise SettingError("gan_size", f"{cfg.gan_size} must be a multiple of {UNET_DIVISOR} and at most "
                                       f"gan_scene_size {cfg.gan_scene_size}")
    if cfg.gan and not cfg.make_checkpoint and cfg.gan_checkpoint != "none":
        try:
            load_demo_checkpoint(Path(cfg.gan_checkpoint))
        except ValueError as exc:
            raise SettingError("gan_checkpoint", str(exc)) from None


def main(argv: Optional[list[str]] = None) -> int:
    """The demo's exit status: 0 done, 1 some renders failed, 2 bad command line."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cfg = parse_args(argv)
    try:
        claim_folder(cfg.out, "demo")  # before any work: a folder of the user's is not written into
    except FileProblem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run_demo(cfg)
