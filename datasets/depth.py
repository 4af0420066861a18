"""Depth datasets: NYU Depth v2 (labelled .mat, PNG pairs with a CSV index), folder pairs, synthetic.

A sample loads ``(image, depth)``: image uint8 RGB H×W×3, depth float32 H×W in metres
(0 = no reading). Sources (``SOURCES``):

* ``nyu_mat``: ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3 = HDF5, read with h5py). Layout as
  h5py sees it (MATLAB's column-major dimensions reversed): ``images`` uint8
  N×3×W×H (1449×3×640×480), ``depths`` float32 N×W×H in metres; an image is
  ``images[i].transpose(2, 1, 0)`` (H×W×3) and its depth ``depths[i].T``. The Eigen split
  (795 train / 654 test) comes from ``splits.mat`` (``trainNdxs``/``testNdxs``, 1-based).
* ``nyu_csv``: the common image/depth PNG pairs with a CSV index (DenseDepth's
  ``nyu_data.zip``: ``data/nyu2_train.csv`` lines ``IMAGE,DEPTH`` relative to ``root``).
  Depth PNG scale: ``depth_scale="auto"`` reads 16-bit PNGs as millimetres (value / 1000,
  the NYU test set and Kinect convention) and 8-bit PNGs as ``value / 255 · max_depth``
  (DenseDepth's training PNGs, max_depth 10 m); a number gives metres per stored unit.
* ``folders``: ``IMAGES/NAME.*`` with ``DEPTHS/NAME.npy`` (float, metres) or
  ``DEPTHS/NAME.png`` (16-bit, millimetres) — :func:`datasets.io.read_depth`.
* ``synthetic``: :mod:`datasets.synthetic` scenes (exact depth in metres).
"""
from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from plumbing.files import FileProblem, check_regular, read_bytes, read_text

from .io import ImageError, list_images, read_depth, read_image

log = logging.getLogger(__name__)

NYU_SHAPE = (480, 640)
#: Eigen et al.'s evaluation crop of the 480×640 NYU frame (rows, cols), as in DenseDepth.
EIGEN_CROP = (slice(45, 471), slice(41, 601))


# --- NYU labelled .mat --------------------------------------------------------------------------

class NyuMat:
    """Lazy reader of ``nyu_depth_v2_labeled.mat`` (h5py; opened per process on first use)."""

    def __init__(self, path: Union[str, Path]) -> None:
        import h5py

        self.path = Path(path)
        try:
            check_regular(self.path)  # h5py would wait on a FIFO
        except FileProblem as exc:
            raise ImageError(self.path, exc.problem) from None
        try:
            with h5py.File(self.path, "r") as f:
                images, depths = f["images"], f["depths"]
                if images.ndim != 4 or images.shape[1] != 3 or depths.shape != (images.shape[0],) + images.shape[2:]:
                    raise ImageError(self.path, f"unexpected NYU layout: images {images.shape}, depths {depths.shape} "
                                                "(want N×3×W×H and N×W×H)")
                self.count = images.shape[0]
        except (OSError, KeyError) as exc:
            raise ImageError(self.path, f"not an NYU Depth v2 labelled .mat (HDF5 with 'images' and 'depths'): {exc}") from None
        self._file = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_file": None}

    def read(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        import h5py

        if self._file is None:
            self._file = h5py.File(self.path, "r")
        image = np.ascontiguousarray(self._file["images"][i].transpose(2, 1, 0)).astype(np.uint8)
        depth = np.ascontiguousarray(self._file["depths"][i].T).astype(np.float32)
        return image, depth


def read_nyu_split(splits_mat: Union[str, Path], split: str) -> list[int]:
    """0-based indices of the Eigen ``split`` ("train" or "test") from NYU's ``splits.mat``."""
    from scipy.io import loadmat

    key = {"train": "trainNdxs", "test": "testNdxs"}[split]
    try:
        return [int(i) - 1 for i in np.asarray(loadmat(str(splits_mat))[key]).ravel()]
    except (OSError, ValueError, KeyError, NotImplementedError) as exc:
        raise ImageError(splits_mat, f"no {key} in NYU splits file ({exc})") from None


@dataclass(frozen=True)
class NyuMatSample:
    mat: NyuMat
    index: int

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        return self.mat.read(self.index)


def nyu_mat_samples(mat_path: Union[str, Path], splits: Optional[Union[str, Path]] = None,
                    split: str = "train") -> list[NyuMatSample]:
    """Samples of the labelled .mat; with ``splits`` (splits.mat) only the Eigen ``split``."""
    mat = NyuMat(mat_path)
    indices = read_nyu_split(splits, split) if splits else list(range(mat.count))
    return [NyuMatSample(mat, i) for i in indices]


# --- PNG pairs with a CSV index ----------------------------------------------------------------

def read_depth_png(path: Path, depth_scale: Union[str, float] = "auto", max_depth: float = 10.0) -> np.ndarray:
    """Depth PNG → float32 metres (see the module docstring for ``depth_scale``)."""
    try:
        data = read_bytes(path)  # a regular file only, never a FIFO or device
    except FileProblem as exc:
        raise ImageError(path, exc.problem) from None
    raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ImageError(path, "not a readable depth PNG")
    if raw.ndim == 3:
        raw = raw[..., 0]  # 8-bit depth PNGs are sometimes saved as three equal channels
    if depth_scale == "auto":
        if raw.dtype == np.uint16:
            return raw.astype(np.float32) / 1000.0
        if raw.dtype == np.uint8:
            return raw.astype(np.float32) / 255.0 * max_depth
        raise ImageError(path, f"depth PNG must be 8- or 16-bit, got {raw.dtype}")
    return raw.astype(np.float32) * float(depth_scale)


@dataclass(frozen=True)
class PairSample:
    image: Path
    depth: Path
    depth_scale: Union[str, float] = "auto"
    max_depth: float = 10.0

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        image = read_image(self.image)
        if self.depth.suffix.lower() == ".npy" or self.depth_scale == "io":
            depth = read_depth(self.depth, image.shape)
        else:
            depth = read_depth_png(self.depth, self.depth_scale, self.max_depth)
            if depth.shape != image.shape[:2]:
                raise ImageError(self.depth, f"depth {depth.shape[1]}×{depth.shape[0]} does not match image "
                                             f"{image.shape[1]}×{image.shape[0]}")
        return image, depth


def nyu_csv_samples(csv_path: Union[str, Path], root: Optional[Union[str, Path]] = None,
                    depth_scale: Union[str, float] = "auto", max_depth: float = 10.0) -> list[PairSample]:
    """Pairs listed in a CSV (``IMAGE,DEPTH`` per line, no header), paths relative to ``root``
    (default: the CSV's folder). Missing files are named and skipped."""
    csv_path = Path(csv_path)
    root = Path(root) if root is not None else csv_path.parent
    samples, missing = [], 0
    try:
        text = read_text(csv_path)
    except FileProblem as exc:
        raise ImageError(csv_path, exc.problem) from None
    for line_no, row in enumerate(csv.reader(io.StringIO(text, newline="")), 1):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2:
            raise ImageError(csv_path, f"line {line_no}: expected IMAGE,DEPTH, got {row}")
        image, depth = root / row[0].strip(), root / row[1].strip()
        if image.is_file() and depth.is_file():
            samples.append(PairSample(image, depth, depth_scale, max_depth))
        else:
            missing += 1
            log.warning("%s line %d: missing %s", csv_path, line_no, image if not image.is_file() else depth)
    if missing:
        log.warning("%d pair(s) listed in %s are missing and skipped", missing, csv_path)
    return samples


def folder_samples(images_dir: Union[str, Path], depths_dir: Union[str, Path]) -> list[PairSample]:
    """Generic pairs: ``IMAGES/NAME.*`` with ``DEPTHS/NAME.npy`` (metres) or ``NAME.png`` (16-bit mm)."""
    images_dir, depths_dir = Path(images_dir), Path(depths_dir)
    samples, missing = [], 0
    for image in list_images(images_dir):
        depth = next((depths_dir / f"{image.stem}{ext}" for ext in (".npy", ".png") if (depths_dir / f"{image.stem}{ext}").is_file()), None)
        if depth is None:
            missing += 1
            log.warning("%s: no depth map in %s", image, depths_dir)
        else:
            samples.append(PairSample(image, depth, "io"))
    if missing:
        log.warning("%d image(s) in %s have no depth and are skipped", missing, images_dir)
    return samples


@dataclass(frozen=True)
class SyntheticDepthSample:
    seed: int
    shape: tuple[int, int] = (128, 128)

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        from .synthetic import make_scene

        scene = make_scene(self.seed, self.shape, render_dof=False)
        return scene.image, scene.depth


def synthetic_samples(n: int, shape: tuple[int, int] = (128, 128), seed: int = 0) -> list[SyntheticDepthSample]:
    from .synthetic import check_scene_count

    check_scene_count(n, shape)
    return [SyntheticDepthSample(seed + i, tuple(shape)) for i in range(n)]


SOURCES: dict[str, Callable[..., list]] = {
    "nyu_mat": nyu_mat_samples,
    "nyu_csv": nyu_csv_samples,
    "folders": folder_samples,
    "synthetic": synthetic_samples,
}


# --- training tensors -------------------------------------------------------------------------

class DepthDataset(Dataset):
    """Samples → dicts ``image`` float32 3×H×W in [0, 1], ``depth`` float32 1×H×W metres,
    ``valid`` bool 1×H×W (finite depth > 0), at ``size`` = (H, W) (resized; None keeps it).

    Training augmentation (``augment=True``, Alhashim & Wonka): horizontal flip (p 0.5, both)
    and a random permutation of the colour channels (p 0.25, image only); the draw depends only
    on (``seed``, epoch, index).
    """

    def __init__(self, samples: Sequence, size: Optional[tuple[int, int]] = None, augment: bool = False, seed: int = 0) -> None:
        if not samples:
            raise ValueError("no samples")
        self.samples = list(samples)
        self.size = tuple(size) if size else None
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict:
        image, depth = self.samples[i].load()
        depth = np.where(np.isfinite(depth), depth, 0.0).astype(np.float32)
        if self.size and image.shape[:2] != self.size:
            h, w = self.size
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
            depth = cv2.resize(depth, (w, h), interpolation=cv2.INTER_NEAREST)
        if self.augment:
            rng = np.random.default_rng((self.seed, self.epoch, i))
            if rng.random() < 0.5:
                image, depth = image[:, ::-1], depth[:, ::-1]
            if rng.random() < 0.25:
                image = image[..., rng.permutation(3)]
        image = np.ascontiguousarray(image)
        depth = np.ascontiguousarray(depth)
        return {
            "image": torch.from_numpy(image).permute(2, 0, 1).float().div(255.0),
            "depth": torch.from_numpy(depth)[None],
            "valid": torch.from_numpy(depth > 0)[None],
        }
