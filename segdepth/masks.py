"""Person masks for a photo dataset: a segmenter applied to every photo, one mask file each.

Layout (``datasets.io``, docs/ARCHITECTURE.md): the mask of the photo ``DIR/sub/NAME.EXT`` is
``DIR_masks/sub/NAME.png``, 8-bit greyscale, 255 = person. When ``ROOT`` holds split folders
(trainA, trainB, testA, testB, as curate writes them) each of them is a ``DIR``, so
``ROOT/trainA/x.jpg`` gets ``ROOT/trainA_masks/x.png`` (quarantine/ and review/ are not
visited); otherwise ``ROOT`` itself is the one ``DIR``. Nasrullah 2018 kept the mask as the
photo's alpha channel; a mask file of its own leaves every photo exactly as it was.

Rules:

* only mask files are written, plus the record ``masks.jsonl`` (one line per mask written:
  the photo's size and mtime, the mask's, the segmenter) and ``masks_config.json`` inside each
  mask folder; no photo is ever read for writing;
* a mask file that exists and is not in the record, or has changed since it was recorded, is
  the user's: it is left alone (one log line, counted as ``kept``), even with ``force``;
* recorded masks whose photo and segmenter are unchanged are skipped, so a second run writes
  nothing and a stopped run resumes; ``force`` redoes the recorded ones;
* two photos that would share one mask (``a.jpg`` and ``a.png``) are an error naming both;
  unreadable photos get one line each; the others go on and the bad ones are counted.
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from tqdm import tqdm

from plumbing.config import save_config
from plumbing.fields import setting
from datasets.io import SPLITS, ImageError, is_mask_folder, list_photos, mask_path, mask_root, read_image, write_mask
from plumbing.files import append_jsonl, one_line, read_jsonl
from segdepth.segment import SEGMENTERS

log = logging.getLogger(__name__)

MASK_RECORDS = "masks.jsonl"
MASK_CONFIG = "masks_config.json"


@dataclass
class MaskConfig:
    """Settings of scripts/prepare_masks.py (saved as ``DIR_masks/masks_config.json``); each field
    declares its flag's help and allowed values or range (:func:`plumbing.fields.setting`)."""

    root: str = setting(help="dataset folder (e.g. with trainA/ trainB/ testA/ testB/)")
    segmenter: str = setting("mediapipe", "person segmenter", tuple(sorted(SEGMENTERS)))
    batch_size: int = setting(16, "images read/written together", lo=1, hi=4096)
    workers: int = setting(2, "reader/writer threads", lo=1, hi=256)
    force: bool = setting(False, "redo every mask this program wrote, even up-to-date ones (never your own mask files)")
    dry_run: bool = setting(False, "count what would be done; write nothing")
    quiet: bool = setting(False, "no progress bar, errors only")


@dataclass
class MaskResult:
    """Counts of one run; ``bad`` holds one "PATH: problem" line per photo that got no mask."""

    written: int = 0
    skipped: int = 0
    kept: int = 0
    bad: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.written} masks written, {self.skipped} up to date, {self.kept} existing mask files "
                f"not made here left as they are, {len(self.bad)} bad files")


@dataclass(frozen=True)
class MaskJob:
    """One photo, the photo folder it belongs to and the mask file it gets."""

    image: Path
    folder: Path

    @property
    def mask(self) -> Path:
        return mask_path(self.image, self.folder)

    def record_key(self) -> str:
        return self.mask.relative_to(mask_root(self.folder)).as_posix()


def photo_folders(root: Path) -> list[Path]:
    """The photo folders of ``root``: its split folders when it has any, else ``root`` itself."""
    return [root / s for s in SPLITS if (root / s).is_dir()] or [root]


def mask_jobs(root: Path) -> tuple[list[MaskJob], list[str]]:
    """Every photo under ``root`` (each once) with its folder, and the name clashes (one line each)."""
    jobs, problems = [], []
    for folder in photo_folders(root):
        photos, clashes = list_photos(folder)
        jobs += [MaskJob(image, folder) for image in photos]
        problems += clashes
    return jobs, problems


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def read_records(mask_folder: Path, repair: bool = True) -> dict[str, dict]:
    """The masks this program wrote into ``mask_folder``, by path inside it (``repair``: truncate a torn last line)."""
    return {r["mask"]: r for r in read_jsonl(mask_folder / MASK_RECORDS, repair=repair) if "mask" in r}


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _state(job: MaskJob, record: Optional[dict], config: MaskConfig) -> str:
    """``"user"`` (an existing mask not made here), ``"done"`` (up to date), ``"redo"`` (one of
    ours, out of date or forced) or ``"new"`` (no mask file yet)."""
    if not _exists(job.mask):
        return "new"
    if record is None or not job.mask.is_file() or _stamp(job.mask) != record.get("mask_stamp"):
        return "user"
    unchanged = (record.get("segmenter") == config.segmenter and _stamp(job.image) == record.get("image_stamp")
                 and record.get("image") == job.image.relative_to(job.folder).as_posix())
    return "done" if unchanged and not config.force else "redo"


def plan(config: MaskConfig) -> tuple[list[tuple[MaskJob, bool]], MaskResult]:
    """(photo, whether its mask file is ours to replace) for every photo that needs a mask now,
    and the result so far (skipped, kept, clashes)."""
    root = Path(config.root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    if is_mask_folder(root):
        raise ValueError(f"{root}: this is a mask folder; give the photo folder beside it")
    for folder in photo_folders(root):
        masks = mask_root(folder)
        if os.path.lexists(masks) and not masks.is_dir():
            raise ValueError(f"{masks}: is a file, not a folder; the masks of {folder} go there: move it away")
    result = MaskResult()
    jobs, problems = mask_jobs(root)
    for problem in problems:
        log.error("%s", one_line(problem))
    result.bad += problems
    records = {folder: read_records(mask_root(folder), repair=not config.dry_run) for folder in photo_folders(root)}
    todo = []
    for job in jobs:
        state = _state(job, records[job.folder].get(job.record_key()), config)
        if state == "user":
            log.info("%s: mask file not written by prepare_masks (or changed since): left as it is", job.mask)
            result.kept += 1
        elif state == "done":
            result.skipped += 1
        else:
            todo.append((job, state == "redo"))
    return todo, result


def prepare_masks(config: MaskConfig,
                  segmenter: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> MaskResult:
    """Write the person mask of every photo under ``config.root`` that needs one (see module doc).

    ``segmenter`` maps uint8 RGB H×W×3 to float32 H×W in [0, 1] (default: the registry's
    ``config.segmenter``, built only when some mask is to be written).
    """
    todo, result = plan(config)
    if config.dry_run:
        result.written = len(todo)
        return result
    if todo and segmenter is None:
        from segdepth.segment import build_segmenter

        segmenter = build_segmenter(config.segmenter)
    configured: set[Path] = set()  # mask folders whose config this run has saved (with its first mask)

    def load(item: tuple[MaskJob, bool]) -> np.ndarray | ImageError:
        try:
            return read_image(item[0].image)
        except ImageError as exc:
            return exc

    def save(job: MaskJob, mask: np.ndarray, ours: bool) -> Optional[dict]:
        if not ours and _exists(job.mask):
            return None  # appeared since the plan: someone else's file
        write_mask(job.mask, mask)
        return {"mask": job.record_key(), "image": job.image.relative_to(job.folder).as_posix(),
                "segmenter": config.segmenter, "image_stamp": _stamp(job.image), "mask_stamp": _stamp(job.mask)}

    step = max(1, config.batch_size)
    with ThreadPoolExecutor(max_workers=max(1, config.workers)) as pool, \
            tqdm(total=len(todo), desc="masks", unit="img", disable=config.quiet) as bar:
        for start in range(0, len(todo), step):
            batch = todo[start: start + step]
            writes = []
            for (job, ours), image in zip(batch, pool.map(load, batch)):
                if isinstance(image, ImageError):
                    log.error("%s", image)
                    result.bad.append(str(image))
                    continue
                mask = np.asarray(segmenter(image), dtype=np.float32)
                writes.append((job, pool.submit(save, job, mask, ours)))
            for job, future in writes:
                try:
                    record = future.result()
                except (OSError, ValueError) as exc:  # e.g. a file where a folder of masks should be
                    result.bad.append(one_line(f"{job.mask}: cannot write the mask ({exc})"))
                    log.error("%s", result.bad[-1])
                    continue
                if record is None:
                    log.info("%s: appeared while masks were made: left as it is", job.mask)
                    result.kept += 1
                    continue
                if job.folder not in configured:
                    save_config(config, mask_root(job.folder) / MASK_CONFIG)
                    configured.add(job.folder)
                append_jsonl(mask_root(job.folder) / MASK_RECORDS, record)
                result.written += 1
            bar.update(len(batch))
    return result
