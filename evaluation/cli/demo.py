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

The work is evaluation.demo's; this module is the program's parser and main.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Optional

from evaluation.demo import CHECKPOINT_PRESET, UNET_DIVISOR, DemoConfig, load_demo_checkpoint, run_demo
from gan.model import PAPER_PRESETS
from plumbing.cli import EXIT_CODES_EPILOG, int_range, non_negative_int, output_folder


def build_parser() -> argparse.ArgumentParser:
    """The demo's parser."""
    d = DemoConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=EXIT_CODES_EPILOG)
    p.add_argument("--out", default=d.out, type=output_folder, help="output folder (default: %(default)s)")
    p.add_argument("--scenes", type=int_range(0, 1000), default=d.scenes,
                   help="synthetic scenes to render, 0 … 1000 (default: %(default)s)")
    p.add_argument("--scene-size", type=int_range(32, 2048), default=d.scene_size,
                   help="their side in pixels, 32 … 2048 (default: %(default)s)")
    p.add_argument("--no-gan", dest="gan", action="store_false", help="skip GAN training (classical methods only)")
    p.add_argument("--presets", nargs="+", choices=sorted(PAPER_PRESETS), default=d.presets,
                   help="the paper's GAN presets to train, each from the shipped checkpoint (default: all four)")
    p.add_argument("--gan-checkpoint", default=d.gan_checkpoint, metavar="PATH|none",
                   help="shipped checkpoint every preset starts from, or 'none' to train from scratch "
                        "(default: scripts/demo_gan.pt)")
    p.add_argument("--gan-steps", type=int_range(1, 10**6), default=d.gan_steps,
                   help="training steps per preset, live (default: %(default)s)")
    p.add_argument("--gan-size", type=int_range(UNET_DIVISOR, 1024), default=d.gan_size,
                   help=f"GAN training crop, a multiple of {UNET_DIVISOR} up to 1024 (default: %(default)s)")
    p.add_argument("--gan-scene-size", type=int_range(UNET_DIVISOR, 2048), default=d.gan_scene_size,
                   help="side of the GAN's training scenes, at least --gan-size (default: %(default)s)")
    p.add_argument("--gan-jobs", type=int_range(1, 64), default=d.gan_jobs,
                   help="presets trained at a time, one process each (default: %(default)s)")
    p.add_argument("--gan-train-scenes", type=int_range(1, 10_000), default=d.gan_train_scenes,
                   help="synthetic training scenes per domain for the live steps (default: %(default)s)")
    p.add_argument("--gan-test-scenes", type=int_range(1, 10_000), default=d.gan_test_scenes,
                   help="synthetic shallow-DoF scenes the gallery compares background blur against "
                        "(default: %(default)s)")
    p.add_argument("--make-checkpoint", default="", metavar="PATH",
                   help=f"instead of the demo, train the shipped checkpoint ({CHECKPOINT_PRESET}, from scratch, "
                        "one thread, deterministic) in --out and write its networks in fp16 to PATH")
    p.add_argument("--checkpoint-steps", type=int_range(1, 10**6), default=d.checkpoint_steps,
                   help="--make-checkpoint: training steps (default: %(default)s)")
    p.add_argument("--checkpoint-scenes", type=int_range(1, 10_000), default=d.checkpoint_scenes,
                   help="--make-checkpoint: synthetic training scenes per domain (default: %(default)s)")
    p.add_argument("--seed", type=non_negative_int, default=d.seed)
    p.add_argument("--threads", type=int_range(1, 256), default=d.threads,
                   help="torch CPU threads; the demo's networks are tiny, one is fastest (default: %(default)s)")
    p.add_argument("--quiet", action=argparse.BooleanOptionalAction, default=False, help="no progress bars")
    return p


def parse_args(argv: Optional[list[str]] = None) -> DemoConfig:
    """The demo's config from the command line."""
    p = build_parser()
    a = p.parse_args(argv)
    if a.gan_size % UNET_DIVISOR or a.gan_scene_size < a.gan_size:
        p.error(f"--gan-size {a.gan_size} must be a multiple of {UNET_DIVISOR} and at most --gan-scene-size "
                f"{a.gan_scene_size}")
    if a.gan and not a.make_checkpoint and a.gan_checkpoint != "none":
        try:  # before any work: a missing or foreign checkpoint is one line, not a failure minutes later
            load_demo_checkpoint(Path(a.gan_checkpoint))
        except ValueError as e:
            p.error(f"--gan-checkpoint {e}")
    return DemoConfig(out=a.out, scenes=a.scenes, scene_size=a.scene_size, gan=a.gan, presets=a.presets,
                      gan_size=a.gan_size, gan_scene_size=a.gan_scene_size, gan_jobs=a.gan_jobs,
                      gan_train_scenes=a.gan_train_scenes, gan_test_scenes=a.gan_test_scenes,
                      gan_steps=a.gan_steps, gan_checkpoint=a.gan_checkpoint, make_checkpoint=a.make_checkpoint,
                      checkpoint_steps=a.checkpoint_steps, checkpoint_scenes=a.checkpoint_scenes, seed=a.seed,
                      threads=a.threads, quiet=a.quiet)

def main(argv: Optional[list[str]] = None) -> int:
    """The demo's exit status: 0 done, 1 some renders failed, 2 bad command line."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run_demo(parse_args(argv))
