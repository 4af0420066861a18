"""The built-in demo: every approach on the built-in inputs, side by side, offline, on the CPU.

    python scripts/demo.py --out demo_out          # what `make demo` runs (a few minutes)
    python scripts/demo.py --no-gan                # classical methods only (seconds)

Inputs: scikit-image's astronaut portrait (mask from MediaPipe, depth from the documented prior)
and procedural scenes from datasets/synthetic.py (exact mask, exact depth and a reference
shallow-DoF render as ground truth). Then:

1. each GAN preset (cyclegan, mask_loss, mask_overlay, mask_loss_overlay) is trained live on
   unpaired synthetic scenes (domain A all in focus, domain B rendered with a shallow depth of
   field) at the test scenes' scale (256-pixel scenes, random 128-pixel crops), with a narrow
   U-Net whose upsampling is resize-convolution; two presets train at a time, one per core.
   The gallery says what each was trained on and for how long;
2. every compositor method and every trained preset renders every input, metrics are computed,
   and the gallery is written to OUT/gallery/index.html; OUT/index.html links everything.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from compositing.pipeline import METHODS
from datasets import io, synthetic
from datasets.cli import EXIT_CODES_EPILOG, int_range, non_negative_int, output_folder, run_main
from gan.model import PRESETS

log = logging.getLogger("demo")

# Narrow enough to train a few hundred steps per preset within `make demo`'s budget on two CPU
# cores: a U-Net (its skip connections carry the subject's detail, which a ResNet generator of
# this width took far longer to learn), resize-convolution upsampling (no checkerboards), a
# 3-layer PatchGAN, random VGG features (no weights to download) and a learning rate of 1e-3 for
# a short run (the presets' 2e-4 left visible colour casts after 400 steps).
DEMO_GAN_MODEL = {"netG": "unet_128", "ngf": 16, "ndf": 16, "n_layers_D": 3, "upsample": "resize",
                  "vgg_weights": "none", "lr": 1e-3}
DEMO_GAN_DESCRIPTION = ("U-Net-128 generator (ngf 16, resize-convolution), 3-layer PatchGAN (ndf 16), "
                        "Adam lr 1e-3, random VGG features")
UNET_DIVISOR = 128  # unet_128 halves its input 7 times


@dataclass
class DemoConfig:
    """Settings of the demo (saved as OUT/demo_config.json)."""

    out: str = "demo_out"
    scenes: int = 3
    scene_size: int = 256
    gan: bool = True
    presets: list[str] = field(default_factory=lambda: list(PRESETS))
    gan_size: int = 128  # training crop
    gan_scene_size: int = 256  # side of the GAN's training scenes (the test scenes' scale)
    gan_train_scenes: int = 32
    gan_steps: int = 400
    gan_jobs: int = 2  # presets trained at a time, each in its own process on one thread
    seed: int = 0
    threads: int = 1
    quiet: bool = False

    @property
    def data_dir(self) -> Path:
        """OUT/data: the given images, masks, depth and truth, apart from what the comparison writes."""
        return Path(self.out) / "data"


def write_inputs(cfg: DemoConfig) -> None:
    """OUT/data/images/*.png with images_masks/ (the mask layout of datasets.io), depth/ and truth/
    beside them where ground truth exists (apart from the folders the comparison writes: its
    depth/ holds previews, not depth maps)."""
    from skimage import data

    given = cfg.data_dir
    io.write_image(given / "images" / "astronaut.png", data.astronaut())
    for i in range(cfg.scenes):
        scene = synthetic.make_scene(cfg.seed + i, (cfg.scene_size, cfg.scene_size))
        name = f"scene_{i}"
        io.write_image(given / "images" / f"{name}.png", scene.image)
        io.write_mask(io.mask_path(given / "images" / f"{name}.png", given / "images"), scene.mask)
        io.write_depth(given / "depth" / f"{name}.npy", scene.depth)
        io.write_image(given / "truth" / f"{name}.png", scene.dof)


def _train_one(tcfg, threads: int) -> Path:
    """Train (or continue) one preset's run in this process; its last checkpoint."""
    from gan.train import train

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(threads)
    result = train(tcfg)
    if result.last_checkpoint is None:
        raise RuntimeError(f"training {tcfg.preset} wrote no checkpoint in {result.run_dir}")
    return result.last_checkpoint


def train_presets(cfg: DemoConfig) -> dict[str, Path]:
    """Train each preset on synthetic unpaired scenes, ``gan_jobs`` at a time; return its last checkpoint.

    Running the demo again continues each preset's run from its latest checkpoint, so a finished
    run is reused rather than retrained (the demo's settings must match the earlier ones)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from gan.train import TrainConfig, checkpoint_iteration, list_checkpoints

    out = Path(cfg.out)
    data_root = out / "gan_data"
    if not (data_root / "testB_masks").is_dir():
        synthetic.write_unaligned_dataset(data_root, cfg.gan_train_scenes, 8,
                                          (cfg.gan_scene_size, cfg.gan_scene_size), seed=cfg.seed)
    checkpoints: dict[str, Path] = {}
    configs = {}
    for preset in cfg.presets:
        # a run left by an earlier demo is continued, or, when it reached gan_steps, reused as it is
        earlier = list_checkpoints(out / "runs" / preset)
        if earlier and checkpoint_iteration(earlier[-1]) >= cfg.gan_steps:
            log.info("preset %s: reusing %s", preset, earlier[-1])
            checkpoints[preset] = earlier[-1]
            continue
        configs[preset] = TrainConfig(
            dataroot=str(data_root), name=preset, runs_dir=str(out / "runs"), preset=preset,
            model_overrides=dict(DEMO_GAN_MODEL), load_size=cfg.gan_scene_size, crop_size=cfg.gan_size,
            n_epochs=10_000, n_epochs_decay=0, num_workers=0, seed=cfg.seed, max_steps=cfg.gan_steps,
            log_every=min(25, cfg.gan_steps), display="html", display_every=100, quiet=cfg.quiet,
            resume=bool(earlier))
    if configs:
        log.info("training presets %s for %d steps each, %d at a time", ", ".join(configs), cfg.gan_steps,
                 cfg.gan_jobs)
    if cfg.gan_jobs == 1 or len(configs) < 2:
        checkpoints.update({p: _train_one(c, cfg.threads) for p, c in configs.items()})
    else:
        with ProcessPoolExecutor(cfg.gan_jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            # the mask-loss presets (the slowest steps: VGG) first, so no process idles at the end
            order = sorted(configs, key=lambda p: not PRESETS[p].get("mask_loss", False))
            futures = {p: pool.submit(_train_one, configs[p], cfg.threads) for p in order}
            checkpoints.update({p: f.result() for p, f in futures.items()})
    return {p: checkpoints[p] for p in cfg.presets}


def gan_note(cfg: DemoConfig) -> str:
    """What the demo's GAN columns were trained on and for how long, in one sentence."""
    epochs = cfg.gan_steps / cfg.gan_train_scenes
    return (f"GAN columns: trained live by this demo, {cfg.gan_steps} steps per preset at batch 1 "
            f"(about {epochs:.0f} epochs) on {cfg.gan_train_scenes} + {cfg.gan_train_scenes} unpaired synthetic "
            f"scenes ({cfg.gan_scene_size} px, random {cfg.gan_size}-px crops; A all in focus, B rendered with "
            f"a shallow depth of field); {DEMO_GAN_DESCRIPTION}. A toy-scale run that shows the method, "
            "not the paper's model; the test scenes were not trained on.")


def compare(cfg: DemoConfig, checkpoints: dict[str, Path]):
    """Every compositor method and every trained preset on the inputs, into OUT/gallery/."""
    from evaluation.compare import CompareConfig, run_compare

    out = Path(cfg.out)
    gans = [f"{p}={ckpt}:{p}:{'overlay' if PRESETS[p].get('mask_overlay_test') else 'no-overlay'}"
            for p, ckpt in checkpoints.items()]
    given = cfg.data_dir
    ccfg = CompareConfig(input=str(given / "images"), out=str(out), methods=list(METHODS), gan=gans,
                         depth=str(given / "depth"), truth=str(given / "truth"),
                         reference=str(out / "gan_data" / "testB") if checkpoints else None,
                         runs=[str(out / "runs" / p) for p in checkpoints], fid_weights="off",
                         quiet=cfg.quiet, notes=[gan_note(cfg)] if checkpoints else [])
    return run_compare(ccfg)


OVERVIEW_COLUMNS = ("inputs", "masks", "depth", "results/progressive13", "results/lens")


def write_overview(cfg: DemoConfig, names: tuple[str, ...] = ("astronaut", "scene_0")) -> Path:
    """OUT/overview.png: for a few inputs, input | mask | depth | progressive13 | lens, from the
    gallery's thumbnails (the picture in the README)."""
    import cv2

    thumbs = Path(cfg.out) / "gallery" / "thumbs"
    rows = []
    for name in names:
        tiles = [io.read_image(next((thumbs / col).glob(f"{name}.*"))) for col in OVERVIEW_COLUMNS]
        side = 192
        rows.append(np.concatenate([cv2.resize(tile, (side, side), interpolation=cv2.INTER_AREA)
                                    for tile in tiles], axis=1))
    path = Path(cfg.out) / "overview.png"
    io.write_image(path, np.concatenate(rows, axis=0))
    return path


def write_index(cfg: DemoConfig, checkpoints: dict[str, Path], n_images: int) -> Path:
    """OUT/index.html: a plain page linking the gallery, each method's outputs and the GAN runs."""
    import dominate
    from dominate import tags as t

    out = Path(cfg.out)
    doc = dominate.document(title="shallowdof demo")
    with doc:
        t.h1("shallowdof demo")
        t.p(f"{n_images} inputs: skimage's astronaut (MediaPipe mask, depth prior) and "
            f"{cfg.scenes} synthetic scenes (exact mask and depth; the reference render is the "
            "'ground truth' column).")
        t.h2(t.a("Side-by-side gallery with metrics", href="gallery/index.html"))
        t.img(src="overview.png", alt="input, mask, depth, progressive13, lens")
        t.p(t.a("metrics.md", href="metrics.md"), " · ", t.a("metrics.csv", href="metrics.csv"))
        t.h2("Outputs by method")
        with t.ul():
            for name in METHODS:
                t.li(t.a(name, href=f"results/{name}/"), f" — {METHODS[name].source}")
            for preset in checkpoints:
                t.li(t.a(preset, href=f"results/{preset}/"), " — CycleGAN preset: ",
                     t.a("training page", href=f"runs/{preset}/web/index.html"))
        if checkpoints:
            t.p(gan_note(cfg))
    path = out / "index.html"
    io.write_text(path, doc.render())
    return path


def parse_args(argv: Optional[list[str]] = None) -> DemoConfig:
    """The demo's config from the command line."""
    d = DemoConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=EXIT_CODES_EPILOG)
    p.add_argument("--out", default=d.out, type=output_folder, help="output folder (default: %(default)s)")
    p.add_argument("--scenes", type=int_range(0, 1000), default=d.scenes,
                   help="synthetic scenes to render, 0 … 1000 (default: %(default)s)")
    p.add_argument("--scene-size", type=int_range(32, 2048), default=d.scene_size,
                   help="their side in pixels, 32 … 2048 (default: %(default)s)")
    p.add_argument("--no-gan", dest="gan", action="store_false", help="skip GAN training (classical methods only)")
    p.add_argument("--presets", nargs="+", choices=sorted(PRESETS), default=d.presets,
                   help="GAN presets to train (default: all four)")
    p.add_argument("--gan-steps", type=int_range(1, 10**6), default=d.gan_steps,
                   help="training steps per preset (default: %(default)s)")
    p.add_argument("--gan-size", type=int_range(UNET_DIVISOR, 1024), default=d.gan_size,
                   help=f"GAN training crop, a multiple of {UNET_DIVISOR} up to 1024 (default: %(default)s)")
    p.add_argument("--gan-scene-size", type=int_range(UNET_DIVISOR, 2048), default=d.gan_scene_size,
                   help="side of the GAN's training scenes, at least --gan-size (default: %(default)s)")
    p.add_argument("--gan-jobs", type=int_range(1, 64), default=d.gan_jobs,
                   help="presets trained at a time, one process each (default: %(default)s)")
    p.add_argument("--gan-train-scenes", type=int_range(1, 10_000), default=d.gan_train_scenes,
                   help="synthetic training scenes per domain (default: %(default)s)")
    p.add_argument("--seed", type=non_negative_int, default=d.seed)
    p.add_argument("--threads", type=int_range(1, 256), default=d.threads,
                   help="torch CPU threads; the demo's networks are tiny, one is fastest (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    a = p.parse_args(argv)
    if a.gan_size % UNET_DIVISOR or a.gan_scene_size < a.gan_size:
        p.error(f"--gan-size {a.gan_size} must be a multiple of {UNET_DIVISOR} and at most --gan-scene-size "
                f"{a.gan_scene_size}")
    return DemoConfig(out=a.out, scenes=a.scenes, scene_size=a.scene_size, gan=a.gan, presets=a.presets,
                      gan_size=a.gan_size, gan_scene_size=a.gan_scene_size, gan_jobs=a.gan_jobs,
                      gan_train_scenes=a.gan_train_scenes, gan_steps=a.gan_steps,
                      seed=a.seed, threads=a.threads, quiet=a.quiet)


def main(argv: Optional[list[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cfg = parse_args(argv)
    io.write_json(Path(cfg.out) / "demo_config.json", dataclasses.asdict(cfg))
    np.random.seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    write_inputs(cfg)
    checkpoints = train_presets(cfg) if cfg.gan else {}
    result = compare(cfg, checkpoints)
    write_overview(cfg)
    index = write_index(cfg, checkpoints, result.n_images)
    for line in result.errors:
        log.error("%s", line)
    log.info("open %s (gallery: %s)", index, result.gallery)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(run_main(main, "demo"))
