"""Unpaired two-domain dataset for CycleGAN: images with their subject masks (and depth).

Layout (as written by curate, scripts/prepare_masks.py and
``datasets.synthetic.write_unaligned_dataset``): photos in any format under ``root/{phase}A/`` and
``root/{phase}B/``; the subject mask of ``root/{phase}A/NAME.EXT`` is
``root/{phase}A_masks/NAME.png`` (8-bit grey, 255 = subject; ``datasets.io.mask_path``); optionally
``root/depthA/NAME.npy``, ``root/depthB/NAME.npy`` (float32, larger = farther). Each photo is
listed once (``datasets.io.list_photos``); the mask folders are not photos.

Each item: ``"A"``, ``"B"`` 3×H×W float32 in [-1, 1]; ``"A_mask"``, ``"B_mask"`` 1×H×W in
[0, 1]; with ``use_depth`` ``"A_depth"``, ``"B_depth"`` 1×H×W in [-1, 1] (``normalize_depth``);
``"A_paths"``, ``"B_paths"`` str. Images are resized so the SHORTER side is ``load_size`` (aspect
kept), then a random ``crop_size`` square is cut and flipped left-right with probability ½ -- one
crop and one flip shared by the image, its mask and its depth (Nasrullah 2018 had to switch
augmentation off because its code could not do this).

Randomness is a pure function of (seed, epoch, index), so results do not depend on the number
of DataLoader workers and a resumed run sees the same crops. Problems that can be found up
front (empty folder, two photos sharing a name, a missing mask or one of the wrong size, image
smaller than the crop, depth of the wrong size or missing, corrupt or truncated file of any format)
are found by a scan that decodes every file at construction and raised together as one
``DatasetError`` before any training starts.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from datasets.io import ImageError, list_photos, mask_path, read_depth, read_image, read_mask, read_mask_for
from plumbing.files import one_line

log = logging.getLogger(__name__)

_MAX_LISTED = 20  # problems spelled out in one DatasetError; the rest are counted


class DatasetError(ValueError):
    """The dataset cannot be trained on; the message lists each bad file as "PATH: problem"."""


def normalize_depth(depth: np.ndarray) -> np.ndarray:
    """Depth H×W (any units, larger = farther) -> float32 H×W in [-1, 1] by per-image min-max
    (-1 nearest, +1 farthest; a constant map gives 0). Works for metric and relative depth alike."""
    depth = depth.astype(np.float32)
    lo, hi = float(depth.min()), float(depth.max())
    if hi - lo < 1e-12:
        return np.zeros_like(depth)
    return (depth - lo) * (2.0 / (hi - lo)) - 1.0


def _image_problems(path: Path, min_side: int) -> tuple[list[str], tuple[int, int] | None]:
    """Checks on one image file, decoded fully by the one reader (datasets.io: a truncated JPEG
    passes a header-only check and would stop training mid-epoch). Returns (problems, (H, W) upright)."""
    try:
        height, width = read_image(path).shape[:2]
    except ImageError as exc:
        return [exc.problem], None
    problems = []
    if min(width, height) < min_side:
        problems.append(f"image {width}×{height} is smaller than the {min_side}-pixel crop")
    return problems, (height, width)


def _depth_problem(path: Path, shape: tuple[int, int]) -> str | None:
    """What is wrong with the depth map ``path`` of an image of ``shape`` (H, W), read whole as
    training reads it (datasets.io.read_depth: missing, not a 2-D array, NaN, negative, wrong size)."""
    if not path.is_file() and not path.is_symlink():
        return "no such file (use_depth needs one depth map per image)"
    try:
        read_depth(path, expected_shape=shape)
    except ImageError as exc:
        return exc.problem
    return None


class UnalignedDataset(Dataset):
    """Unpaired A/B images with masks (and depth), one shared random crop and flip per image.

    ``require_masks``: every photo needs its mask file (mask loss / overlay presets); when
    False masks are not read and every item gets an all-zero mask, which the plain preset never
    uses. ``serial_batches``: B is taken in order (index mod len B) instead of at random.
    ``len`` is the larger domain's size, as in the reference code.
    """

    def __init__(self, root: str | Path, phase: str = "train", load_size: int = 286, crop_size: int = 256,
                 flip: bool = True, serial_batches: bool = False, seed: int = 0, use_depth: bool = False,
                 require_masks: bool = True, progress: bool = True) -> None:
        self.root = Path(root)
        if crop_size > load_size:
            raise ValueError(f"crop_size {crop_size} is larger than load_size {load_size}")
        self.load_size, self.crop_size = load_size, crop_size
        self.flip, self.serial_batches, self.seed = flip, serial_batches, seed
        self.use_depth, self.require_masks = use_depth, require_masks
        self.epoch = 0
        self.paths: dict[str, list[Path]] = {}
        self.folders = {domain: self.root / f"{phase}{domain}" for domain in ("A", "B")}
        problems: list[str] = []
        for domain in ("A", "B"):
            folder = self.folders[domain]
            if not folder.is_dir():
                raise DatasetError(f"{folder}: no such folder (expected {phase}A/ and {phase}B/ under {self.root})")
            self.paths[domain], clashes = list_photos(folder)
            problems += clashes
            if not self.paths[domain] and not clashes:
                raise DatasetError(f"{folder}: no images in this domain folder")
            for path in tqdm(self.paths[domain], desc=f"checking {folder.name}", unit="img",
                             disable=not progress or None, leave=False):
                found, shape = _image_problems(path, crop_size)
                problems += [f"{path}: {p}" for p in found]
                if require_masks and shape is not None:
                    problems += self._mask_problems(path, folder, shape)
                if use_depth and shape is not None:
                    depth_path = self._depth_path(domain, path)
                    problem = _depth_problem(depth_path, shape)
                    if problem:
                        problems.append(f"{depth_path}: {problem}")
        if problems:
            listed = [one_line(p) for p in problems[:_MAX_LISTED]]  # one line each, whatever a file is called
            more = len(problems) - len(listed)
            raise DatasetError(f"{len(problems)} problem(s) in dataset {self.root}:\n" + "\n".join(listed)
                               + (f"\n... and {more} more" if more else ""))
        log.info("unaligned dataset %s: %d A, %d B images", self.root, len(self.paths["A"]), len(self.paths["B"]))

    def _mask_problems(self, path: Path, folder: Path, shape: tuple[int, int]) -> list[str]:
        """Header checks of the mask file of the photo ``path`` of ``folder`` (missing, unreadable, wrong size)."""
        mask = mask_path(path, folder)
        if not mask.is_file():
            return [f"{path}: mask missing: expected {mask} (run scripts/prepare_masks.py {self.root})"]
        try:
            read_mask(mask, shape)
        except ImageError as exc:
            return [str(exc)]
        return []

    def _depth_path(self, domain: str, image_path: Path) -> Path:
        return self.root / f"depth{domain}" / f"{image_path.stem}.npy"

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose crops, flips and B draws ``__getitem__`` returns."""
        self.epoch = epoch

    def __len__(self) -> int:
        return max(len(self.paths["A"]), len(self.paths["B"]))

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        a_paths, b_paths = self.paths["A"], self.paths["B"]
        a_path = a_paths[index % len(a_paths)]
        b_index = index % len(b_paths) if self.serial_batches else int(rng.integers(len(b_paths)))
        item: dict[str, Any] = {}
        for domain, path in (("A", a_path), ("B", b_paths[b_index])):
            image, mask, depth = self._load(domain, path, rng)
            item[domain] = torch.from_numpy(image).permute(2, 0, 1).float().div_(127.5).sub_(1.0)
            item[f"{domain}_mask"] = torch.from_numpy(mask)[None]
            if depth is not None:
                item[f"{domain}_depth"] = torch.from_numpy(depth)[None]
            item[f"{domain}_paths"] = str(path)
        return item

    def _load(self, domain: str, path: Path, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        rgb = read_image(path)
        if self.require_masks:
            mask = read_mask_for(path, self.folders[domain], rgb.shape, prepare_root=self.root)
        else:
            mask = np.zeros(rgb.shape[:2], np.float32)
        planes = [rgb, mask]
        if self.use_depth:
            planes.append(normalize_depth(read_depth(self._depth_path(domain, path), expected_shape=rgb.shape)))
        planes = transform_planes(planes, self.load_size, self.crop_size, self.flip, rng)
        return planes[0], planes[1], (planes[2] if self.use_depth else None)


def transform_planes(planes: list[np.ndarray], load_size: int, crop_size: int, flip: bool,
                     rng: np.random.Generator) -> list[np.ndarray]:
    """Resize (shorter side -> ``load_size``), crop a random ``crop_size`` square and maybe flip,
    with the SAME geometry for every plane (image H×W×3 uint8, mask/depth H×W float32)."""
    h, w = planes[0].shape[:2]
    scale = load_size / min(h, w)
    new_w, new_h = max(crop_size, round(w * scale)), max(crop_size, round(h * scale))
    # area averaging to shrink; to enlarge, cubic for the image (uint8 saturates its overshoot)
    # and linear for masks and depth (stays inside the input's range)
    interps = (cv2.INTER_AREA, cv2.INTER_AREA) if scale < 1 else (cv2.INTER_CUBIC, cv2.INTER_LINEAR)
    top = int(rng.integers(new_h - crop_size + 1))
    left = int(rng.integers(new_w - crop_size + 1))
    mirror = flip and bool(rng.random() < 0.5)
    out = []
    for i, plane in enumerate(planes):
        resized = cv2.resize(plane, (new_w, new_h), interpolation=interps[min(i, 1)])
        crop = resized[top:top + crop_size, left:left + crop_size]
        if mirror:
            crop = crop[:, ::-1]
        out.append(np.ascontiguousarray(crop))
    return out
