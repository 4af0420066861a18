"""Fingerprints of what every program makes on one fixed input: for refactors that must not change behaviour.

    python bench/fingerprint.py --out fingerprint.json            # before the change
    python bench/fingerprint.py --out after.json --against fingerprint.json

Runs the command-line programs as a user does (so it does not depend on how the library is laid
out inside) on a fixed real portrait (scikit-image's astronaut, saved as JPEG) and on procedural
scenes with exact depth: every compositor method of scripts/blur.py (prior depth and given depth,
relative and physical lens), scripts/webcam.py (fast path and a compositor method) on a short
video, scripts/compare.py, every CycleGAN preset trained a few deterministic steps and applied by
scripts/test_cyclegan.py, both segdepth training programs, and scripts/curate.py. Each output is
recorded as the sha256 of its decoded content (image pixels, video frames, checkpoint tensors,
the file lists of a curation), not of its bytes, so that metadata such as timestamps does not count.
``--against`` lists every fingerprint that differs and exits 1 when any does.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ("cyclegan", "mask_loss", "mask_overlay", "mask_loss_overlay")
METHODS = ("alpha_blend", "box", "buckets", "feather", "gaussian", "lens", "progressive13", "progressive3")


def _run(args: list[str], cwd: Path) -> None:
    """Run ``python ARGS`` in ``cwd`` with the repository on the path; a failure stops with its output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(args)}\n{done.stdout[-2000:]}{done.stderr[-3000:]}")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _image_digest(path: Path) -> str:
    from PIL import Image

    with Image.open(path) as im:
        a = np.asarray(im)
    return _sha(f"{a.shape}{a.dtype}".encode() + a.tobytes())


def _video_digest(path: Path) -> str:
    import cv2

    cap = cv2.VideoCapture(str(path))
    h = hashlib.sha256()
    frames = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        h.update(frame.tobytes())
        frames += 1
    cap.release()
    return f"{frames}:{h.hexdigest()[:16]}"


def _checkpoint_digest(path: Path) -> str:
    """sha256 over every tensor of a checkpoint (nested dicts walked in sorted key order)."""
    import torch

    h = hashlib.sha256()

    def walk(obj: object, key: str) -> None:
        if isinstance(obj, torch.Tensor):
            h.update(key.encode() + obj.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(obj, dict):
            for k in sorted(obj, key=str):
                walk(obj[k], f"{key}/{k}")
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(v, f"{key}/{i}")

    walk(torch.load(path, map_location="cpu", weights_only=True), "")
    return h.hexdigest()[:16]


def _digests(folder: Path, prefix: str) -> dict[str, str]:
    """Fingerprints of the images, videos and checkpoints under ``folder``, by relative path."""
    kinds: dict[str, Callable[[Path], str]] = {".png": _image_digest, ".jpg": _image_digest,
                                               ".mp4": _video_digest, ".pt": _checkpoint_digest}
    out = {}
    for path in sorted(folder.rglob("*")):
        digest = kinds.get(path.suffix.lower())
        if digest and path.is_file():
            out[f"{prefix}/{path.relative_to(folder)}"] = digest(path)
    return out


def _inputs(work: Path) -> None:
    """The fixed inputs: the astronaut as JPEG, two procedural scenes with depth, a 6-frame video."""
    import cv2
    from PIL import Image
    from skimage import data

    from datasets.synthetic import make_scene, write_unaligned_dataset

    (work / "photos").mkdir()
    Image.fromarray(data.astronaut()).save(work / "photos" / "astronaut.jpg", quality=95)
    (work / "scenes").mkdir()
    (work / "scenes_depth").mkdir()
    for seed in (1, 2):
        scene = make_scene(seed, (192, 256))
        Image.fromarray(scene.image).save(work / "scenes" / f"s{seed}.png")
        np.save(work / "scenes_depth" / f"s{seed}.npy", scene.depth.astype(np.float32))
    frame = cv2.cvtColor(cv2.resize(data.astronaut(), (320, 240)), cv2.COLOR_RGB2BGR)
    video = cv2.VideoWriter(str(work / "talk.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    for shift in range(6):
        video.write(np.roll(frame, shift * 3, axis=1))
    video.release()
    write_unaligned_dataset(work / "gan_data", n_train=4, n_test=2, size=(32, 32), seed=3)


def _blur(work: Path) -> dict[str, str]:
    blur = str(ROOT / "scripts" / "blur.py")
    for method in METHODS:
        _run([blur, "photos", "--method", method, "--out", "out/blur", "--quiet"], work)
        _run([blur, "scenes", "--method", method, "--depth", "scenes_depth", "--out", "out/blur_depth",
              "--quiet"], work)
    _run([blur, "photos", "--method", "lens", "--params", "f_number=2", "focal_length_mm=50",
          "--out", "out/blur_physical", "--quiet"], work)
    _run([blur, "photos", "--method", "gaussian", "--refine", "none", "--out", "out/blur_norefine",
          "--save-mask", "--save-depth", "--quiet"], work)
    return _digests(work / "out", "blur")


def _webcam(work: Path) -> dict[str, str]:
    webcam = str(ROOT / "scripts" / "webcam.py")
    (work / "video").mkdir()
    for method in ("fast", "lens"):
        _run([webcam, "--input", "talk.mp4", "--output", f"video/{method}.mp4", "--method", method, "--quiet"], work)
    return _digests(work / "video", "webcam")


def _compare(work: Path) -> dict[str, str]:
    _run([str(ROOT / "scripts" / "compare.py"), "--input", "scenes", "--depth", "scenes_depth",
          "--methods", "gaussian,lens,progressive13", "--fid-weights", "off", "--out", "cmp", "--quiet"], work)
    return _digests(work / "cmp", "compare")


def _gan(work: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for preset in PRESETS:
        _run([str(ROOT / "scripts" / "train_cyclegan.py"), "--dataroot", "gan_data", "--runs-dir", "runs",
              "--name", preset, "--preset", preset, "--ngf", "8", "--ndf", "8", "--netG", "resnet_6blocks",
              "--load-size", "32", "--crop-size", "32", "--max-steps", "3", "--num-workers", "0",
              "--vgg-weights", "none", "--deterministic", "true", "--display", "none", "--device", "cpu",
              "--quiet"], work)
        _run([str(ROOT / "scripts" / "test_cyclegan.py"), "--checkpoint", f"runs/{preset}", "--input",
              "gan_data/testA", "--out", f"gan_out/{preset}", "--device", "cpu", "--quiet"], work)
        out.update(_digests(work / "runs" / preset / "checkpoints", f"gan_ckpt/{preset}"))
    out.update(_digests(work / "gan_out", "gan_test"))
    return out


def _segdepth(work: Path) -> dict[str, str]:
    common = ["--dataset", "synthetic", "--epochs", "1", "--max-steps", "2", "--batch-size", "2",
              "--weights", "none", "--quiet"]
    _run([str(ROOT / "scripts" / "train_segmentation.py"), "--run-dir", "seg", "--model", "unet",
          "--data", "n=8", "shape=[64,64]", "--buckets", "64x64", *common], work)
    _run([str(ROOT / "scripts" / "train_depth.py"), "--run-dir", "depth", "--size", "64x64",
          "--data", "n=8", "shape=[64,64]", *common], work)
    return {**_digests(work / "seg", "seg"), **_digests(work / "depth", "depth")}


def _curate(work: Path) -> dict[str, str]:
    from PIL import Image
    from skimage import data

    for domain, names in (("ordinary", ("astronaut", "coffee", "chelsea")), ("shallow", ("astronaut", "rocket"))):
        folder = work / "scrape" / "raw" / domain
        folder.mkdir(parents=True)
        for name in names:
            im = getattr(data, name)()
            Image.fromarray(im if name != "astronaut" or domain == "ordinary" else im[:, ::-1]).save(
                folder / f"{name}.jpg", quality=95)
    _run([str(ROOT / "scripts" / "curate.py"), "--raw", "scrape", "--out", "cur", "--min-side", "200",
          "--test-size-a", "0", "--test-size-b", "0", "--quiet"], work)
    files = sorted(str(p.relative_to(work / "cur")) for p in (work / "cur").rglob("*.jpg"))
    return {"curate/files": _sha("\n".join(files).encode())}


SECTIONS: dict[str, Callable[[Path], dict[str, str]]] = {
    "blur": _blur, "webcam": _webcam, "compare": _compare, "gan": _gan, "segdepth": _segdepth, "curate": _curate}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="JSON file of fingerprints to write")
    parser.add_argument("--against", help="an earlier --out file: list what differs, exit 1 if anything does")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections ({','.join(SECTIONS)})")
    args = parser.parse_args()
    prints: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _inputs(work)
        for name in args.only.split(","):
            prints.update(SECTIONS[name](work))
            print(f"{name}: done, {len(prints)} fingerprints so far", flush=True)
    Path(args.out).write_text(json.dumps(prints, indent=1, sort_keys=True) + "\n")
    if not args.against:
        return 0
    before = json.loads(Path(args.against).read_text())
    keys = sorted(set(before) | set(prints))
    changed = [k for k in keys if before.get(k) != prints.get(k)]
    for k in changed:
        print(f"DIFFERS {k}: {before.get(k)} -> {prints.get(k)}")
    print(f"{len(keys) - len(changed)} of {len(keys)} fingerprints identical")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
