"""The built-in demo's work: inputs, the GAN presets' short training from the shipped checkpoint,
the comparison of every approach, and the overview and index pages (:func:`run_demo`).

Its program, ``demo`` (``make demo``, ``python scripts/demo.py``), is :mod:`evaluation.cli.demo`,
whose ``--help`` describes the run. The shipped checkpoint lives in the repository at
``scripts/demo_gan.pt`` (:data:`DEMO_CHECKPOINT`), where the command that makes it writes it.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from compositing.methods import METHODS
from datasets import io, synthetic
from gan.checkpoint import NETWORKS, load_weights, save_weights
from gan.model import PAPER_PRESETS, PRESETS
from plumbing.fields import BIG, setting
from plumbing.files import write_json, write_text

log = logging.getLogger("demo")

# The demo's GAN: a narrow U-Net generator with a full-resolution head (gan.networks: the
# reference U-Net builds its output from half-resolution features, and at this width it could not
# keep the subject's pixel detail: 21 dB subject PSNR, every texture softened; with the head it
# passes the detail where it should), resize-convolution upsampling (no checkerboards), a 3-layer
# PatchGAN and random VGG features (no weights to download). Small enough that all four networks
# fit the shipped checkpoint in fp16 (about 2.6 MB).
DEMO_GAN_MODEL = {"netG": "unet_128", "ngf": 8, "full_res_head": 8, "ndf": 16, "n_layers_D": 3,
                  "upsample": "resize", "vgg_weights": "none"}
DEMO_GAN_DESCRIPTION = (f"U-Net-128 generator (ngf {DEMO_GAN_MODEL['ngf']}, full-resolution head of width "
                        f"{DEMO_GAN_MODEL['full_res_head']}, resize-convolution), {DEMO_GAN_MODEL['n_layers_D']}-layer "
                        f"PatchGAN (ndf {DEMO_GAN_MODEL['ndf']}), random VGG features")
# The shipped checkpoint: one mask_loss_overlay run that every preset continues live. Adam at
# 1e-3 for the offline run (the presets' 2e-4 left colour casts after a few hundred steps), at
# 5e-5 for the live continuation: it starts with fresh Adam moments on trained weights, and at
# 2e-4 its 150 steps raised the background colour shift from 3.5 to 6.1 grey levels (2.4 at 5e-5).
DEMO_CHECKPOINT = Path(__file__).resolve().parents[1] / "scripts" / "demo_gan.pt"
CHECKPOINT_PRESET = "mask_loss_overlay"
CHECKPOINT_LR = 1e-3
LIVE_LR = 5e-5
LENS_NOTE = ("lens runs with grain=false here: the synthetic ground truth is the optics applied to the scene "
             "with no sensor after them, so new grain would count as error against it (on your own photos "
             "blur.py puts the photo's grain back over the blurred background)")
UNET_DIVISOR = 128  # unet_128 halves its input 7 times


@dataclass
class DemoConfig:
    """Settings of the demo (saved as OUT/demo_config.json, reloadable with ``--config``); each field
    declares its flag's help and range (:func:`plumbing.fields.setting`)."""

    out: str = setting("demo_out", "output folder")
    scenes: int = setting(3, "synthetic scenes to render", lo=0, hi=1000)
    scene_size: int = setting(256, "their side in pixels", lo=32, hi=2048)
    gan: bool = setting(True, "train the GAN presets (--no-gan: classical methods only)")
    presets: list[str] = setting(default_factory=lambda: list(PAPER_PRESETS), shown_default="all four",
                                 help="the paper's GAN presets to train, each from the shipped checkpoint",
                                 choices=PAPER_PRESETS)
    gan_checkpoint: str = setting(str(DEMO_CHECKPOINT), "shipped checkpoint every preset starts from, or 'none' to "
                                  "train from scratch", metavar="PATH|none", shown_default="scripts/demo_gan.pt")
    gan_size: int = setting(128, f"GAN training crop, a multiple of {UNET_DIVISOR}", lo=UNET_DIVISOR, hi=1024)
    gan_scene_size: int = setting(256, "side of the GAN's training scenes (the test scenes' scale), at least "
                                  "--gan-size", lo=UNET_DIVISOR, hi=2048)
    gan_train_scenes: int = setting(8, "synthetic training scenes per domain for the live steps (the first of the "
                                    "shipped checkpoint's scenes: same seeds)", lo=1, hi=10_000)
    gan_test_scenes: int = setting(2, "synthetic shallow-DoF scenes the gallery compares background blur against",
                                   lo=1, hi=10_000)
    gan_steps: int = setting(150, "training steps per preset, live", lo=1, hi=10**6)
    gan_jobs: int = setting(2, "presets trained at a time, each in its own process on one thread", lo=1, hi=64)
    make_checkpoint: str = setting("", f"instead of the demo, train the shipped checkpoint ({CHECKPOINT_PRESET}, from "
                                   "scratch, one thread, deterministic) in --out and write its networks in fp16 to "
                                   "PATH", metavar="PATH")
    checkpoint_steps: int = setting(1500, "--make-checkpoint: training steps", lo=1, hi=10**6)
    checkpoint_scenes: int = setting(64, "--make-checkpoint: synthetic training scenes per domain", lo=1, hi=10_000)
    seed: int = setting(0, "random seed", lo=0, hi=BIG)
    threads: int = setting(1, "torch CPU threads; the demo's networks are tiny, one is fastest", lo=1, hi=256)
    quiet: bool = setting(False, "no progress bars")

    @property
    def data_dir(self) -> Path:
        """OUT/data: the given images, masks, depth and truth, apart from what the comparison writes."""
        return Path(self.out) / "data"

    @property
    def from_checkpoint(self) -> bool:
        return self.gan_checkpoint != "none"


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


def load_demo_checkpoint(path: Path) -> dict[str, Any]:
    """The shipped demo checkpoint (gan.checkpoint.load_weights): its four networks in fp16, the
    model settings and what it was trained on; ValueError naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such demo checkpoint (make it with scripts/demo.py --make-checkpoint "
                         f"{path}, or pass --gan-checkpoint none)")
    return load_weights(path)


def start_from(shipped: dict[str, Any], tcfg, path: Path) -> None:
    """Write a training checkpoint of preset ``tcfg.preset`` at ``path`` whose networks are the
    shipped ones (fp16 -> fp32), with fresh optimisers and image pools, at the shipped step count,
    so that ``train(tcfg)`` with ``resume_from=path`` continues it."""
    import random

    from gan.model import CycleGANModel
    from gan.train import make_schedulers
    from gan.train.snapshot import Position, save_snapshot

    random.seed(tcfg.seed)
    np.random.seed(tcfg.seed)
    torch.manual_seed(tcfg.seed)
    model_cfg = tcfg.model_config()
    model = CycleGANModel(model_cfg, "cpu", seed=tcfg.seed)
    for name in NETWORKS:
        getattr(model, name).load_state_dict({k: v.float() for k, v in shipped["nets"][name].items()})
    save_snapshot(path, cfg=tcfg, model_cfg=model_cfg, model=model, schedulers=make_schedulers(model, tcfg),
                  position=Position(iteration=int(shipped["trained_on"]["steps"])), world_size=1)


def train_config(cfg: DemoConfig, preset: str, data_root: Path, runs_dir: Path, lr: float, max_steps: int):
    """The TrainConfig of one demo run: the demo's networks, batch 1, constant learning rate."""
    from gan.train import TrainConfig

    return TrainConfig(
        dataroot=str(data_root), name=preset, runs_dir=str(runs_dir), preset=preset,
        model_overrides={**DEMO_GAN_MODEL, "lr": lr}, load_size=cfg.gan_scene_size, crop_size=cfg.gan_size,
        n_epochs=100_000, n_epochs_decay=0, num_workers=0, seed=cfg.seed, deterministic=True, max_steps=max_steps,
        log_every=min(25, max_steps), display="html", display_every=100, save_every_epochs=0, keep_last=2,
        quiet=cfg.quiet)


def write_gan_data(cfg: DemoConfig, root: Path, n_train: int, n_test: int) -> Path:
    """Unpaired synthetic scenes for the GAN under ``root`` (written once; the seeds do not depend
    on the count, so fewer scenes are the first of more)."""
    if not (root / "testB_masks").is_dir():
        synthetic.write_unaligned_dataset(root, n_train, n_test, (cfg.gan_scene_size, cfg.gan_scene_size),
                                          seed=cfg.seed)
    return root


def train_presets(cfg: DemoConfig) -> dict[str, Path]:
    """Train each preset on synthetic unpaired scenes, ``gan_jobs`` at a time; return its last checkpoint.

    By default each preset starts from the shipped checkpoint (``--gan-checkpoint``) and trains
    ``gan_steps`` more steps with its own losses. Running the demo again continues each preset's
    run from its latest checkpoint, so a finished run is reused rather than retrained."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from gan.train import checkpoint_iteration, checkpoint_path, list_checkpoints

    out = Path(cfg.out)
    with timed("GAN training scenes"):
        data_root = write_gan_data(cfg, out / "gan_data", cfg.gan_train_scenes, cfg.gan_test_scenes)
    shipped = load_demo_checkpoint(Path(cfg.gan_checkpoint)) if cfg.from_checkpoint else None
    start = int(shipped["trained_on"]["steps"]) if shipped else 0
    checkpoints: dict[str, Path] = {}
    configs = {}
    for preset in cfg.presets:
        # a run left by an earlier demo is continued, or, when it reached its steps, reused as it is
        earlier = list_checkpoints(out / "runs" / preset)
        if earlier and checkpoint_iteration(earlier[-1]) >= start + cfg.gan_steps:
            log.info("preset %s: reusing %s", preset, earlier[-1])
            checkpoints[preset] = earlier[-1]
            continue
        tcfg = train_config(cfg, preset, data_root, out / "runs", LIVE_LR if shipped else CHECKPOINT_LR,
                            start + cfg.gan_steps)
        if shipped and not earlier:
            earlier = [checkpoint_path(tcfg.run_dir, start)]
            start_from(shipped, tcfg, earlier[0])
        configs[preset] = dataclasses.replace(tcfg, resume=bool(earlier))
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


def make_checkpoint(cfg: DemoConfig) -> Path:
    """Train the shipped checkpoint: preset CHECKPOINT_PRESET from scratch for ``checkpoint_steps``
    steps on ``checkpoint_scenes`` + ``checkpoint_scenes`` synthetic scenes (fixed seed, one thread,
    deterministic: the same command writes the same weights), then keep its networks in fp16."""
    from gan.model import CycleGANModel, ModelConfig
    from gan.checkpoint import TRAINING_KEYS, load_checkpoint
    from gan.train import checkpoint_iteration, checkpoint_path, list_checkpoints

    work = Path(cfg.out)
    data_root = write_gan_data(cfg, work / "checkpoint_data", cfg.checkpoint_scenes, 1)
    tcfg = train_config(cfg, CHECKPOINT_PRESET, data_root, work / "checkpoint_runs", CHECKPOINT_LR,
                        cfg.checkpoint_steps)
    # a checkpoint every 250 steps, all kept: a later command with fewer --checkpoint-steps (a
    # multiple of 250) takes its networks from the same run (the learning rate is constant)
    tcfg = dataclasses.replace(tcfg, save_every=250, keep_last=1000)
    exact = checkpoint_path(tcfg.run_dir, cfg.checkpoint_steps)
    if not exact.is_file():
        earlier = list_checkpoints(tcfg.run_dir)
        if earlier and checkpoint_iteration(earlier[-1]) > cfg.checkpoint_steps:
            raise ValueError(f"{tcfg.run_dir}: the run is past step {cfg.checkpoint_steps} and has no checkpoint "
                             "there; remove the folder or choose a multiple of 250")
        exact = _train_one(dataclasses.replace(tcfg, resume=bool(earlier)), cfg.threads)
    ckpt = load_checkpoint(exact, TRAINING_KEYS)
    model_cfg = ModelConfig.from_dict(ckpt["config"]["model"])
    model = CycleGANModel(model_cfg, "cpu")
    model.load_state_dict(ckpt["model"])
    trained_on = {"preset": CHECKPOINT_PRESET, "steps": int(ckpt["iter"]), "batch_size": 1, "lr": CHECKPOINT_LR,
                  "scenes": cfg.checkpoint_scenes, "scene_size": cfg.gan_scene_size, "crop": cfg.gan_size,
                  "seed": cfg.seed, "command": checkpoint_command(cfg)}
    path = Path(cfg.make_checkpoint)
    save_weights(path, {name: getattr(model, name).state_dict() for name in NETWORKS},
                 dataclasses.asdict(model_cfg), trained_on)
    log.info("wrote %s (%.2f MB)", path, path.stat().st_size / 1e6)
    return path


def checkpoint_command(cfg: DemoConfig) -> str:
    """The command line that makes the checkpoint ``cfg`` describes."""
    return (f"python scripts/demo.py --make-checkpoint {cfg.make_checkpoint or DEMO_CHECKPOINT.name} "
            f"--checkpoint-steps {cfg.checkpoint_steps} --checkpoint-scenes {cfg.checkpoint_scenes} "
            f"--gan-size {cfg.gan_size} --gan-scene-size {cfg.gan_scene_size} --seed {cfg.seed}")


def gan_note(cfg: DemoConfig) -> str:
    """What the demo's GAN columns were trained on and for how long, in one sentence."""
    def scenes(size: int, crop: int) -> str:
        return (f"unpaired synthetic scenes ({size} px, random {crop}-px crops; A all in focus, B rendered with a "
                "shallow depth of field)")

    live = f"trained live by this demo, {cfg.gan_steps} steps per preset at batch 1"
    n = f"{cfg.gan_train_scenes} + {cfg.gan_train_scenes}"
    if not cfg.from_checkpoint:
        what = f"GAN columns: {live} from scratch on {n} {scenes(cfg.gan_scene_size, cfg.gan_size)}"
    else:
        t = load_demo_checkpoint(Path(cfg.gan_checkpoint))["trained_on"]
        same = (t["seed"], t["scene_size"]) == (cfg.seed, cfg.gan_scene_size) and cfg.gan_train_scenes <= t["scenes"]
        what = (f"GAN columns: every preset starts from the shipped checkpoint {Path(cfg.gan_checkpoint).name} "
                f"({t['preset']} trained {t['steps']} steps at batch 1 on {t['scenes']} + {t['scenes']} "
                f"{scenes(t['scene_size'], t['crop'])}, made by `{t['command']}`), then is {live} with its own "
                f"losses on " + (f"the first {n} of those scenes" if same else
                                 f"{n} {scenes(cfg.gan_scene_size, cfg.gan_size)}")
                + f"; so the presets' columns differ by those {cfg.gan_steps} steps only")
    return (f"{what}; {DEMO_GAN_DESCRIPTION}. A toy-scale run that shows the method, not the paper's model; "
            "the test scenes were not trained on.")


def compare(cfg: DemoConfig, checkpoints: dict[str, Path]):
    """Every compositor method and every trained preset on the inputs, into OUT/gallery/."""
    from evaluation.compare import CompareConfig, run_compare

    out = Path(cfg.out)
    gans = [f"{p}={ckpt}:{p}:{'overlay' if PRESETS[p].get('mask_overlay_test') else 'no-overlay'}"
            for p, ckpt in checkpoints.items()]
    given = cfg.data_dir
    # The lens without the photo's grain (compositing.grain): the scenes' texture has a per-pixel random
    # term, which the estimator rightly measures as noise (σ 9–14), but their truth adds no sensor noise.
    ccfg = CompareConfig(input=str(given / "images"), out=str(out), methods=list(METHODS), gan=gans,
                         params={"lens": {"grain": False}},
                         depth=str(given / "depth"), truth=str(given / "truth"),
                         reference=str(out / "gan_data" / "testB") if checkpoints else None,
                         runs=[str(out / "runs" / p) for p in checkpoints], fid_weights="off",
                         quiet=cfg.quiet, notes=[LENS_NOTE, *([gan_note(cfg)] if checkpoints else [])])
    return run_compare(ccfg)


OVERVIEW_COLUMNS = ("inputs", "masks", "depth", "results/progressive13", "results/lens")
OVERVIEW_SIDE = 256  # px per tile: the gallery's thumbnail size (CompareConfig.thumb_size)


def write_overview(cfg: DemoConfig, names: tuple[str, ...] = ("astronaut", "scene_0")) -> Path:
    """OUT/overview.png: for a few inputs, input | mask | depth | progressive13 | lens, from the
    gallery's thumbnails at their own size, ``OVERVIEW_SIDE`` (the picture in the README: smaller,
    the lens's default blur of about 1 % of the width would be hard to see)."""
    import cv2

    thumbs = Path(cfg.out) / "gallery" / "thumbs"
    rows = []
    for name in names:
        tiles = [io.read_image(next((thumbs / col).glob(f"{name}.*"))) for col in OVERVIEW_COLUMNS]
        side = OVERVIEW_SIDE
        rows.append(np.concatenate([cv2.resize(tile, (side, side), interpolation=cv2.INTER_AREA)
                                    for tile in tiles], axis=1))
    path = Path(cfg.out) / "overview.png"
    io.write_image(path, np.concatenate(rows, axis=0))
    return path


def write_index(cfg: DemoConfig, checkpoints: dict[str, Path], n_images: int) -> Path:
    """OUT/index.html, the page a newcomer opens first: what the demo did in two sentences, the
    overview picture, and links to the gallery, each method's outputs and the GAN runs, in the
    gallery's look (:func:`evaluation.gallery.page`)."""
    from dominate import tags as t

    from evaluation.gallery import page

    out = Path(cfg.out)
    doc = page("shallowdof demo")
    gans = " and the four CycleGAN presets" if len(checkpoints) > 1 else \
        "".join(f" and the CycleGAN preset {p}" for p in checkpoints)
    with doc:
        t.h1("shallowdof demo")
        t.p(f"shallowdof gives portraits a shallow depth of field. This demo rendered {n_images} pictures, "
            f"scikit-image's astronaut and {cfg.scenes} synthetic scenes with an exact mask and depth, with every "
            f"compositing method{gans}. The gallery shows them side by side with their scores.", cls="lead")
        t.h2(t.a("Open the gallery", href="gallery/index.html"))
        t.img(src="overview.png", cls="wide",
              alt="input, person mask, depth, progressive13 and lens, for the astronaut and a synthetic scene")
        t.p("Scores: ", t.a("metrics.md", href="metrics.md"), " · ", t.a("metrics.csv", href="metrics.csv"))
        t.h2("Outputs by method")
        with t.table(cls="links"):
            for name in METHODS:
                with t.tr():
                    t.td(t.a(name, href=f"results/{name}/"))
                    t.td(METHODS[name].source)
            for preset in checkpoints:
                with t.tr():
                    t.td(t.a(preset, href=f"results/{preset}/"))
                    t.td("CycleGAN preset, a toy-scale run on synthetic scenes (",
                         t.a("training page", href=f"runs/{preset}/web/index.html"), ")")
    path = out / "index.html"
    write_text(path, doc.render())
    return path


@contextmanager
def timed(stage: str) -> Iterator[None]:
    """Log how long ``stage`` took (where the demo's minutes go)."""
    start = time.perf_counter()
    yield
    log.info("%s: %.0f s", stage, time.perf_counter() - start)


def run_demo(cfg: DemoConfig) -> int:
    """The demo ``cfg`` describes (or, with ``make_checkpoint``, the shipped checkpoint): 0 when every
    method rendered every input, 1 when some failed (each logged)."""
    write_json(Path(cfg.out) / "demo_config.json", dataclasses.asdict(cfg))
    np.random.seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    if cfg.make_checkpoint:
        make_checkpoint(cfg)
        return 0
    with timed("inputs"):
        write_inputs(cfg)
    with timed("GAN training"):
        checkpoints = train_presets(cfg) if cfg.gan else {}
    with timed("comparison and gallery"):
        result = compare(cfg, checkpoints)
    write_overview(cfg)
    index = write_index(cfg, checkpoints, result.n_images)
    for line in result.errors:
        log.error("%s", line)
    log.info("open %s (gallery: %s)", index, result.gallery)
    return 0 if result.ok else 1
