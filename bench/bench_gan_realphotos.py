"""The CycleGAN on real portraits: train on a real-photo folder, translate it, score it beside the
paper's published outputs.

The folder is laid out as bench/bench_realphotos.py describes: ``ordinary/`` + ``ordinary_masks/``
are domain A (portraits without shallow depth of field), ``shallow/`` + ``shallow_masks/`` domain B
(real shallow-DoF photos, unpaired), ``paper_results/NAME/`` the published outputs for
``ordinary/``. For each recipe (:data:`RECIPES`):

1. ``OUT/data`` becomes a training set over the folder (``trainA`` → ``ordinary`` and so on, as
   links: nothing is copied);
2. ``train_cyclegan``'s library trains the recipe into ``OUT/runs/RECIPE`` (resumable: a rerun
   continues from the latest checkpoint up to ``--steps``);
3. ``test_cyclegan`` translates ``ordinary/`` with the last checkpoint, at its default settings
   (residual upsampling from the training load size), into ``OUT/translated/RECIPE``;
4. bench_realphotos scores those translations beside every ``paper_results/`` column (and the
   lens blur at its defaults, rendered as ``scripts/blur.py`` does, for reference) on both
   scorings (the photos' MediaPipe masks and the folder's masks): subject PSNR, rim2, edge_in,
   background sharpness gap and W₁ against ``shallow/``, checkerboard, grey change, and the
   background's band-energy ratios (structure kept at 0–1, 1–2, 2–4, 4–8 px), which tell a
   defocus from a soft copy. ``OUT/table.md`` starts with each recipe's steps and training time;
   ``OUT/look.png`` is the look sheet (heads and backgrounds at 2× beside a real shallow-DoF
   photo, bench/look.py), ``OUT/gallery/`` the gallery.

Without the folder it says so and skips. The photos, the weights trained on them and the
translations stay in ``OUT`` (never commit them): only numbers go into bench/BENCHMARKS.md.

On 2 CPU cores a recipe's default steps take about two hours on a quiet machine (longer when
shared); the quick run (the smoke test) trains a tiny network for a few steps.
"""
from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from bench import bench_realphotos as R

log = logging.getLogger(__name__)

LENS = R.Variant("lens", "lens")  # the compositor's lens blur at its defaults: what a defocus looks like here
LINKS = {"trainA": "ordinary", "trainA_masks": "ordinary_masks", "trainB": "shallow", "trainB_masks": "shallow_masks"}
# the CPU recipe's networks: a U-Net-128 with the full-resolution head, resize-convolution, a 3-layer
# PatchGAN of ndf 32, random VGG features (the ImageNet weights need a download), Adam at 5e-4,
# 128-px crops of 256-px photos
CPU_MODEL: dict[str, Any] = {"netG": "unet_128", "ngf": 16, "full_res_head": 8, "ndf": 32, "upsample": "resize",
                             "vgg_weights": "none", "lr": 5e-4}
TINY_MODEL: dict[str, Any] = {"netG": "resnet", "n_blocks": 1, "ngf": 4, "ndf": 4, "n_layers_D": 2,
                              "vgg_weights": "none"}


@dataclass(frozen=True)
class Recipe:
    """One training run: a preset, model settings on top of it, data sizes and a step count."""

    preset: str
    model: dict[str, Any] = field(default_factory=dict)
    load_size: int = 256
    crop_size: int = 128
    steps: int = 9000
    about: str = ""


RECIPES: dict[str, Recipe] = {
    "cpu_mask_loss_overlay": Recipe("mask_loss_overlay", CPU_MODEL,
                                    about="the paper's headline preset with the CPU networks"),
    # the losses rebalanced against a copy of the background (no identity loss, cycle weight 1, the
    # subject's mask loss at the paper's weight 1·5 = 10·0.5, a 34×34 PatchGAN): tried, and it did
    # not defocus either (bench/BENCHMARKS.md, "CycleGAN on real portraits"); kept to reproduce that
    "cpu_rebalanced": Recipe("mask_loss_overlay", {**CPU_MODEL, "lambda_A": 1.0, "lambda_B": 1.0, "lambda_mask": 5.0,
                                                   "lambda_identity": 0.0, "n_layers_D": 2},
                             about="mask_loss_overlay rebalanced against a copy (no identity loss, cycle 1, "
                                   "mask 1·5, 34×34 PatchGAN)"),
    # the defocus preset (mask_loss_overlay with the background's cycle and identity low-passed and a
    # discriminator that judges the background's detail) on the same networks
    "cpu_defocus": Recipe("defocus", CPU_MODEL, about="the defocus preset with the CPU networks"),
    # the defocus preset with the generator's output gated between its input and a generated image
    # (output_gate), unsupervised: tried, and the gate opened fully, leaving an exact copy
    # (bench/BENCHMARKS.md, "CycleGAN on real portraits"); kept to reproduce that
    "cpu_defocus_gate": Recipe("defocus", {**CPU_MODEL, "output_gate": True},
                               about="the defocus preset with the CPU networks and the output gate"),
    # the same with the gate supervised by the training masks (lambda_gate): it keeps the subject
    # and opens the background to the generated image, a mask overlay learnt, so none is needed at
    # test; sharp faces, a weaker background blur than cpu_defocus
    "cpu_defocus_gate_mask": Recipe("defocus", {**CPU_MODEL, "output_gate": True, "lambda_gate": 10.0},
                                    about="the defocus preset with the CPU networks and a mask-supervised "
                                          "output gate"),
    "tiny": Recipe("mask_loss_overlay", TINY_MODEL, 64, 32, 4, "a tiny network for the smoke test"),
}


def make_dataroot(folder: Path, root: Path) -> Path:
    """``root/trainA`` … ``trainB_masks`` pointing at the folder's sub-folders (links, or copies
    where links cannot be made); returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, sub in LINKS.items():
        target, link = (folder / sub).resolve(), root / name
        if link.is_symlink() and link.resolve() == target or link.is_dir() and not link.is_symlink():
            continue
        if link.is_symlink():
            link.unlink()
        try:
            os.symlink(target, link, target_is_directory=True)
        except OSError:  # no symlinks here (e.g. Windows without the privilege): copy
            shutil.copytree(target, link)
    return root


def train_recipe(name: str, recipe: Recipe, dataroot: Path, runs_dir: Path, steps: int, seed: int = 0,
                 quiet: bool = True) -> Path:
    """Train (or continue) ``recipe`` for ``steps`` steps in all; its last checkpoint."""
    from gan.checkpoint import latest_checkpoint
    from gan.train import TrainConfig, train

    earlier = latest_checkpoint(runs_dir / name)
    cfg = TrainConfig(dataroot=str(dataroot), name=name, runs_dir=str(runs_dir), preset=recipe.preset,
                      model_overrides=dict(recipe.model), load_size=recipe.load_size, crop_size=recipe.crop_size,
                      n_epochs=100_000, n_epochs_decay=0, num_workers=0, seed=seed, deterministic=True, device="cpu",
                      log_every=min(40, steps), save_every=min(200, steps), keep_last=3, display="html",
                      display_every=1000, max_steps=steps, resume=earlier is not None, quiet=quiet)
    result = train(cfg)
    if result.last_checkpoint is None:
        raise RuntimeError(f"{cfg.run_dir}: training wrote no checkpoint")
    return result.last_checkpoint


def training_time(run_dir: Path) -> tuple[int, float]:
    """(steps, seconds of training) of a run from its log.jsonl: each window's steps ÷ its it/s,
    summed, so that a resumed run counts only the time it trained."""
    from gan.runlog import read_log

    records = read_log(run_dir / "log.jsonl")
    seconds, last = 0.0, 0
    for r in records:
        step = int(r["iter"])
        if step > last and r.get("it_per_s"):
            seconds += (step - last) / float(r["it_per_s"])
        last = max(last, step)
    return last, seconds


def translate(checkpoint: Path, inputs: Path, out: Path) -> Path:
    """``test_cyclegan`` on ``inputs`` with default settings into ``out``; ValueError when it fails."""
    from gan.cli.test_cyclegan import main

    status = main(["--checkpoint", str(checkpoint), "--input", str(inputs), "--out", str(out), "--quiet"])
    if status != 0:
        raise ValueError(f"{inputs}: test_cyclegan exited with status {status}")
    return out


def run_recipes(folder: Path, out: Path, names: Sequence[str], steps: Optional[int] = None,
                limit: Optional[int] = None, scorings: Optional[dict[str, R.MaskSource]] = None,
                quiet: bool = True, references: Sequence[R.Variant] = ()
                ) -> tuple[dict[str, dict[str, dict[str, float]]], int, dict[str, tuple[int, float]]]:
    """Train, translate and score each recipe of ``names`` (see the module docstring), with the
    compositor ``references`` (e.g. the lens) as columns beside them. Returns the summaries
    (scoring → column → metric), the number of bad photos, and each recipe's (steps, training
    seconds)."""
    from plumbing.files import write_text

    dataroot = make_dataroot(folder, out / "data")
    results, trained = {}, {}
    for name in names:
        recipe = RECIPES[name]
        checkpoint = train_recipe(name, recipe, dataroot, out / "runs", steps or recipe.steps, quiet=quiet)
        results[f"gan:{name}"] = translate(checkpoint, folder / "ordinary", out / "translated" / name)
        trained[name] = training_time(out / "runs" / name)
    crops = [*results, *(c for c in ("paper:mask_loss_overlay",) if (folder / "paper_results" / c[6:]).is_dir()),
             *(v.name for v in references)]
    summaries, n_bad = R.run_folder(folder, out, list(references), limit=limit, crop_columns=crops,
                                    scorings=scorings, results=results)
    head = "\n".join(f"- `gan:{n}`: {RECIPES[n].about}, preset {RECIPES[n].preset}; {s:,} steps at batch 1, "
                     f"{t / 60:.0f} min of training" for n, (s, t) in trained.items())
    table = (out / "table.md").read_text(encoding="utf-8")
    write_text(out / "table.md", f"{head}\n\n{table}")
    return summaries, n_bad, trained


def run(quick: bool = False, folder: Optional[Path] = None, out: str = "bench_out/gan_realphotos") -> str:
    """Markdown section for scripts/benchmark.py (skipped without ``folder``); the quick run
    trains the tiny recipe for 4 steps on 4 photos."""
    title = "### CycleGAN on real portraits"
    if folder is None:
        return (f"{title}\n\nSkipped: no folder given (`scripts/benchmark.py --only gan_realphotos --real-photos "
                "DIR`, a folder laid out as bench/bench_realphotos.py describes).\n")
    problem = R.check_folder(Path(folder))
    if problem:
        return f"{title}\n\nSkipped: {problem}.\n"
    names = ["tiny"] if quick else ["cpu_mask_loss_overlay"]
    _, n_bad, _ = run_recipes(Path(folder), Path(out), names, limit=4 if quick else None, references=[LENS])
    return (f"{title}\n\nTrained on the folder's photos, translated by test_cyclegan, scored beside the published "
            f"outputs ({n_bad} bad file(s); gallery, crop sheet and runs in `{out}`).\n\n"
            + (Path(out) / "table.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", help="real-photo folder (ordinary/, ordinary_masks/, shallow/, shallow_masks/, "
                                   "optional paper_results/NAME/)")
    ap.add_argument("--out", default="bench_out/gan_realphotos")
    ap.add_argument("--recipe", action="append", choices=sorted(RECIPES), default=[],
                    help="recipe to train and score (repeatable; default: cpu_mask_loss_overlay)")
    ap.add_argument("--steps", type=int, help="steps in all per recipe (default: the recipe's); a rerun continues")
    ap.add_argument("--limit", type=int, help="score only the first N portraits")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    reason = R.check_folder(Path(a.folder))
    if reason:
        raise SystemExit(f"error: {reason}")
    run_recipes(Path(a.folder), Path(a.out), a.recipe or ["cpu_mask_loss_overlay"], a.steps, a.limit,
                quiet=False, references=[LENS])
    print((Path(a.out) / "table.md").read_text(encoding="utf-8"))
