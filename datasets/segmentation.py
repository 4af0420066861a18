"""Person-segmentation datasets: Supervisely Person, PFCN/EG1800 folders, Pascal VOC, folder pairs.

Every source lists *samples*; a sample loads ``(image, label)``: image uint8 RGB H×W×3, label
uint8 H×W with 1 = person, 0 = not, 255 = ignore (``segdepth.losses.IGNORE_INDEX``). Soft
mattes are thresholded at 0.5. :class:`SegmentationDataset` turns samples into training
tensors, resized into one of a few aspect-ratio buckets (so a batch has one shape and nothing
is squashed to a square) with the same random flip/rotation for image and label;
:class:`BucketBatchSampler` draws each batch from one bucket.

Layouts read (``SOURCES``):

* ``supervisely``: ``ROOT/<dataset>/img/NAME.ext`` and ``ROOT/<dataset>/ann/NAME.ext.json``
  (Supervisely JSON: ``size`` and ``objects`` with ``polygon`` — ``points.exterior`` /
  ``points.interior`` as [x, y] — or ``bitmap`` — ``bitmap.data`` = base64 of a zlib-compressed
  PNG whose alpha (or non-zero value) is the mask, placed at ``bitmap.origin`` = [x, y]).
  Objects of classes in ``ignore_classes`` (default ``neutral``) are marked 255.
* ``eg1800``: PFCN / EG1800 / PortraitNet folders, ``ROOT/{Images,images}/NAME.*`` with masks
  ``ROOT/{Labels,labels,masks,Masks}/NAME[_mask|_matte].*`` (0/1 or 0/255 grey PNGs or mattes),
  optionally restricted by a list file of names (e.g. ``eg1800_train.txt``).
* ``voc``: Pascal VOC 2012, ``ROOT/JPEGImages/NAME.jpg`` + ``ROOT/SegmentationClass/NAME.png``
  (palette PNG: class 15 = person → 1, 255 = border → ignore, the rest → 0), names from
  ``ROOT/ImageSets/Segmentation/<split>.txt``.
* ``folders``: generic pairs ``IMAGES/NAME.*`` + ``MASKS/NAME.*`` (same rule as eg1800).
* ``synthetic``: scenes of :mod:`datasets.synthetic` (exact masks), for tests and demos.
"""
from __future__ import annotations

import base64
import io as _io
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from plumbing.files import FileProblem, read_json, read_text

from .io import ImageError, list_images, open_image, read_image

log = logging.getLogger(__name__)

IGNORE = 255
VOC_PERSON = 15
#: (height, width) of the aspect-ratio buckets: landscape, square, portrait.
DEFAULT_BUCKETS: tuple[tuple[int, int], ...] = ((288, 512), (384, 384), (512, 288))
MASK_SUFFIXES = ("", "_mask", "_matte", "_label")


# --- label readers ----------------------------------------------------------------------------

def _read_gray_mask(path: Path) -> np.ndarray:
    """Grey/palette/RGB(A) mask file → uint8 {0, 1}: values in {0, 1} are taken as labels,
    anything else is a 0–255 matte thresholded at 128 (alpha when the file has one)."""
    try:
        with open_image(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                a = np.asarray(im.convert("RGBA"))[..., 3]
            elif im.mode in ("I;16", "I;16B", "I;16L", "I"):
                a = np.asarray(im).astype(np.float64)
                a = (a / max(a.max(), 1) * 255).astype(np.uint8) if a.max() > 1 else a.astype(np.uint8)
            else:
                a = np.asarray(im.convert("L"))
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(path, f"not a readable mask image ({exc})") from None
    if a.max() <= 1:
        return a.astype(np.uint8)
    return (a >= 128).astype(np.uint8)


def read_voc_label(path: Path, person_class: int = VOC_PERSON) -> np.ndarray:
    """Pascal VOC palette PNG → uint8 {0, 1, 255}: person class → 1, 255 (void) kept, rest → 0."""
    try:
        with open_image(path) as im:
            if im.mode not in ("P", "L"):
                raise ImageError(path, f"VOC label must be a palette PNG, got mode {im.mode}")
            idx = np.asarray(im)
    except (OSError, SyntaxError) as exc:
        raise ImageError(path, f"not a readable VOC label ({exc})") from None
    out = np.where(idx == person_class, 1, 0).astype(np.uint8)
    out[idx == IGNORE] = IGNORE
    return out


def decode_supervisely_bitmap(data: str) -> np.ndarray:
    """Supervisely bitmap ``data`` (base64 → zlib → PNG) → bool mask (alpha, else non-zero)."""
    raw = zlib.decompress(base64.b64decode(data))
    with Image.open(_io.BytesIO(raw)) as im:
        if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
            return np.asarray(im.convert("RGBA"))[..., 3] > 0
        return np.asarray(im.convert("L")) > 0


def encode_supervisely_bitmap(mask: np.ndarray) -> str:
    """bool mask → Supervisely bitmap ``data`` (palette PNG, index 0 transparent; zlib; base64)."""
    im = Image.fromarray(mask.astype(np.uint8), mode="P")
    im.putpalette([0, 0, 0, 255, 255, 255])
    buf = _io.BytesIO()
    im.save(buf, format="PNG", transparency=0)
    return base64.b64encode(zlib.compress(buf.getvalue())).decode("ascii")


def read_supervisely_label(path: Path, ignore_classes: Sequence[str] = ("neutral",)) -> np.ndarray:
    """Supervisely annotation JSON → uint8 H×W {0, 1, 255}, objects drawn in file order."""
    try:
        ann = read_json(path)
    except FileProblem as exc:
        raise ImageError(path, exc.problem) from None
    try:
        h, w = int(ann["size"]["height"]), int(ann["size"]["width"])
        objects = ann["objects"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ImageError(path, f"not a Supervisely annotation ({type(exc).__name__}: {exc})") from None
    label = np.zeros((h, w), np.uint8)
    for i, obj in enumerate(objects):
        value = IGNORE if obj.get("classTitle") in ignore_classes else 1
        kind = obj.get("geometryType")
        try:
            if kind == "polygon":
                drawn = np.zeros((h, w), np.uint8)
                ext = np.round(np.asarray(obj["points"]["exterior"], np.float64)).astype(np.int32)
                cv2.fillPoly(drawn, [ext.reshape(-1, 1, 2)], 1)
                for hole in obj["points"].get("interior", []):
                    hole = np.round(np.asarray(hole, np.float64)).astype(np.int32)
                    cv2.fillPoly(drawn, [hole.reshape(-1, 1, 2)], 0)
                label[drawn > 0] = value
            elif kind == "bitmap":
                bmp = decode_supervisely_bitmap(obj["bitmap"]["data"])
                x0, y0 = (int(v) for v in obj["bitmap"]["origin"])
                y1, x1 = min(h, y0 + bmp.shape[0]), min(w, x0 + bmp.shape[1])
                region = label[y0:y1, x0:x1]
                region[bmp[: y1 - y0, : x1 - x0]] = value
            else:
                raise ValueError(f"unsupported geometry {kind!r}")
        except (KeyError, ValueError, TypeError, zlib.error, OSError) as exc:
            raise ImageError(path, f"object {i}: {type(exc).__name__}: {exc}") from None
    return label


# --- samples ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileSample:
    """An image file and its label file of one ``kind`` ("mask", "voc" or "supervisely")."""

    image: Path
    label: Path
    kind: str = "mask"

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        image = read_image(self.image)
        if self.kind == "voc":
            label = read_voc_label(self.label)
        elif self.kind == "supervisely":
            label = read_supervisely_label(self.label)
        else:
            label = _read_gray_mask(self.label)
        if label.shape != image.shape[:2]:
            raise ImageError(self.label, f"label {label.shape[1]}×{label.shape[0]} does not match image "
                                         f"{image.shape[1]}×{image.shape[0]}")
        return image, label

    def size(self) -> tuple[int, int]:
        """(H, W) from the image header, without decoding."""
        with open_image(self.image) as im:  # ImageError for a bad file
            w, h = im.size
        return h, w


@dataclass(frozen=True)
class SyntheticSample:
    """A scene of :func:`datasets.synthetic.make_scene` (exact mask)."""

    seed: int
    shape: tuple[int, int] = (128, 128)

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        from .synthetic import make_scene

        scene = make_scene(self.seed, self.shape, render_dof=False)
        return scene.image, (scene.mask >= 0.5).astype(np.uint8)

    def size(self) -> tuple[int, int]:
        return self.shape


def _match_masks(images: list[Path], mask_dir: Path) -> tuple[list[FileSample], int]:
    masks: dict[str, Path] = {}
    for m in list_images(mask_dir):
        masks.setdefault(m.stem, m)
    samples, missing = [], 0
    for image in images:
        found = next((masks[image.stem + s] for s in MASK_SUFFIXES if image.stem + s in masks), None)
        if found is None:
            missing += 1
            log.warning("%s: no mask in %s", image, mask_dir)
        else:
            samples.append(FileSample(image, found, "mask"))
    return samples, missing


def folder_samples(images_dir: str | Path, masks_dir: str | Path) -> list[FileSample]:
    """Generic pairs: every image in ``images_dir`` with the mask of the same stem
    (optionally suffixed ``_mask``/``_matte``/``_label``) in ``masks_dir``."""
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    for d in (images_dir, masks_dir):
        if not d.is_dir():
            raise FileNotFoundError(f"{d}: no such folder")
    samples, missing = _match_masks(list_images(images_dir), masks_dir)
    if missing:
        log.warning("%d image(s) in %s have no mask and are skipped", missing, images_dir)
    return samples


def eg1800_samples(root: str | Path, list_file: Optional[str | Path] = None) -> list[FileSample]:
    """PFCN / EG1800 / PortraitNet layout (see module docstring); ``list_file`` keeps only the
    names it lists (one per line, with or without extension)."""
    root = Path(root)
    images_dir = next((root / d for d in ("Images", "images") if (root / d).is_dir()), None)
    masks_dir = next((root / d for d in ("Labels", "labels", "Masks", "masks") if (root / d).is_dir()), None)
    if images_dir is None or masks_dir is None:
        raise FileNotFoundError(f"{root}: expected Images/ and Labels/ (or images/ and masks/) folders")
    samples = folder_samples(images_dir, masks_dir)
    if list_file is not None:
        wanted = {Path(line.strip()).stem for line in read_text(list_file).splitlines() if line.strip()}
        samples = [s for s in samples if s.image.stem in wanted]
    return samples


def voc_samples(root: str | Path, split: str = "train") -> list[FileSample]:
    """Pascal VOC 2012 segmentation split (``ROOT`` = the VOC2012 folder), person vs rest."""
    root = Path(root)
    list_path = root / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not list_path.is_file():
        raise FileNotFoundError(f"{list_path}: no such VOC split list")
    names = [n.strip() for n in read_text(list_path).splitlines() if n.strip()]
    return [FileSample(root / "JPEGImages" / f"{n}.jpg", root / "SegmentationClass" / f"{n}.png", "voc") for n in names]


def supervisely_samples(root: str | Path) -> list[FileSample]:
    """Supervisely Person: every ``*/ann/NAME.json`` under ``root`` with its ``*/img/NAME``."""
    root = Path(root)
    samples, missing = [], 0
    for ann in sorted(root.rglob("ann/*.json")):
        image = ann.parent.parent / "img" / ann.name[: -len(".json")]
        if image.is_file():
            samples.append(FileSample(image, ann, "supervisely"))
        else:
            missing += 1
            log.warning("%s: annotation without image %s", ann, image)
    if not samples:
        raise FileNotFoundError(f"{root}: no Supervisely */ann/*.json annotations with images found")
    if missing:
        log.warning("%d annotation(s) under %s have no image and are skipped", missing, root)
    return samples


def synthetic_samples(n: int, shape: tuple[int, int] = (128, 128), seed: int = 0) -> list[SyntheticSample]:
    """``n`` synthetic scenes with seeds ``seed, seed + 1, …``."""
    from .synthetic import check_scene_count

    check_scene_count(n, shape)
    return [SyntheticSample(seed + i, tuple(shape)) for i in range(n)]


SOURCES: dict[str, Callable[..., list]] = {
    "supervisely": supervisely_samples,
    "eg1800": eg1800_samples,
    "voc": voc_samples,
    "folders": folder_samples,
    "synthetic": synthetic_samples,
}


# --- training tensors -------------------------------------------------------------------------

@dataclass(frozen=True)
class Augment:
    """Random training transforms: horizontal flip, rotation within ±``rotate_deg`` (the same
    for image and label), and optional colour jitter (image only)."""

    flip: bool = True
    rotate_deg: float = 15.0
    jitter: float = 0.0  # brightness/contrast/saturation amplitude, e.g. 0.2


def nearest_bucket(shape: tuple[int, int], buckets: Sequence[tuple[int, int]]) -> int:
    """Index of the bucket whose aspect ratio (log W/H) is closest to ``shape`` = (H, W)."""
    aspect = np.log(shape[1] / shape[0])
    return int(np.argmin([abs(aspect - np.log(w / h)) for h, w in buckets]))


def resize_cover_crop(image: np.ndarray, label: np.ndarray, out_hw: tuple[int, int],
                      rng: Optional[np.random.Generator] = None) -> tuple[np.ndarray, np.ndarray]:
    """Scale (aspect kept) to cover ``out_hw`` then crop it — centred, or at random with ``rng``."""
    h, w = label.shape
    oh, ow = out_hw
    s = max(oh / h, ow / w)
    nh, nw = max(oh, round(h * s)), max(ow, round(w * s))
    image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    label = cv2.resize(label, (nw, nh), interpolation=cv2.INTER_NEAREST)
    y0 = (nh - oh) // 2 if rng is None else int(rng.integers(0, nh - oh + 1))
    x0 = (nw - ow) // 2 if rng is None else int(rng.integers(0, nw - ow + 1))
    return image[y0:y0 + oh, x0:x0 + ow], label[y0:y0 + oh, x0:x0 + ow]


def augment_pair(image: np.ndarray, label: np.ndarray, aug: Augment, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Apply one random draw of ``aug``: the geometric part to both, colour to the image only.

    Rotation is about the centre with reflected borders for both (so a reflected person in the
    image is a reflected person in the label); the label uses nearest-neighbour interpolation.
    """
    if aug.flip and rng.random() < 0.5:
        image, label = image[:, ::-1], label[:, ::-1]
    if aug.rotate_deg > 0:
        angle = float(rng.uniform(-aug.rotate_deg, aug.rotate_deg))
        h, w = label.shape
        m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
        image = cv2.warpAffine(np.ascontiguousarray(image), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        label = cv2.warpAffine(np.ascontiguousarray(label), m, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT_101)
    if aug.jitter > 0:
        image = colour_jitter(image, aug.jitter, rng)
    return np.ascontiguousarray(image), np.ascontiguousarray(label)


def colour_jitter(image: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Random brightness, contrast and saturation factors in [1 − amount, 1 + amount]."""
    x = image.astype(np.float32)
    b, c, s = rng.uniform(1 - amount, 1 + amount, 3)
    x = x * b
    x = (x - x.mean()) * c + x.mean()
    gray = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = (x - gray[..., None]) * s + gray[..., None]
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


class SegmentationDataset(Dataset):
    """Samples → dicts ``image`` float32 3×H×W in [0, 1], ``label`` int64 H×W {0, 1, 255},
    ``bucket`` int, with (H, W) the sample's aspect-ratio bucket.

    ``augment=None`` gives the deterministic evaluation view (centre crop). With augmentation
    the random draw depends only on (``seed``, epoch, index): call :meth:`set_epoch` each epoch.
    """

    def __init__(self, samples: Sequence, buckets: Sequence[tuple[int, int]] = DEFAULT_BUCKETS,
                 augment: Optional[Augment] = None, seed: int = 0) -> None:
        if not samples:
            raise ValueError("no samples")
        self.samples = list(samples)
        self.buckets = [tuple(b) for b in buckets]
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.bucket_of = [nearest_bucket(s.size(), self.buckets) for s in self.samples]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict:
        image, label = self.samples[i].load()
        bucket = self.bucket_of[i]
        rng = None if self.augment is None else np.random.default_rng((self.seed, self.epoch, i))
        image, label = resize_cover_crop(image, label, self.buckets[bucket], rng)
        if rng is not None:
            image, label = augment_pair(image, label, self.augment, rng)
        return {
            "image": torch.from_numpy(image).permute(2, 0, 1).float().div(255.0),
            "label": torch.from_numpy(label.astype(np.int64)),
            "bucket": bucket,
        }


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices that share a bucket; shuffled per epoch from (``seed``, epoch)."""

    def __init__(self, bucket_of: Sequence[int], batch_size: int, shuffle: bool = True,
                 drop_last: bool = False, seed: int = 0) -> None:
        self.bucket_of = list(bucket_of)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = np.random.default_rng((self.seed, self.epoch))
        batches = []
        for b in sorted(set(self.bucket_of)):
            idx = [i for i, k in enumerate(self.bucket_of) if k == b]
            if self.shuffle:
                rng.shuffle(idx)
            for s in range(0, len(idx), self.batch_size):
                chunk = idx[s:s + self.batch_size]
                if len(chunk) == self.batch_size or not self.drop_last:
                    batches.append(chunk)
        if self.shuffle:
            order = rng.permutation(len(batches))
            batches = [batches[j] for j in order]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())
