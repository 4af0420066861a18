"""A dataset's photos at one square size, as Nasrullah 2018 prepared them for training.

The paper's ``dataset-preparation/prepare_data.py`` made every photo 256×256 with Pillow's
``ImageOps.fit``: the largest centred crop of the target's aspect ratio (a square), resized with
an antialiasing filter. ``train_cyclegan --paper-data`` then uses the images as they are (load
256, crop 256, no flip), so they must be prepared so first. :func:`fit_dataset` does it for
every split folder of a curated dataset (``SRC/{trainA,trainB,testA,testB}``) into the same
layout under ``DST``: ``SRC/trainA/123.jpg`` → ``DST/trainA/123.png`` (lossless; the paper saved
JPEGs at Pillow's default quality 75, whose artefacts are not part of the method). Photos are
read upright (EXIF orientation applied); a JPEG is decoded at a reduced scale whose longer side
is still at least 4× the target (JPEG's DCT scaling): on a 12-MP JPEG fitted to 256 that is 4.7×
faster than a full decode and differs from it by 0.1 grey levels on average, 1 at most.

Resumable: ``DST/fit.jsonl`` records each file written (its source, the source's size and
modification time, the target side) and the next run skips what is recorded and unchanged.
Files written here whose photo has left its split (a photo rejected in curation's review) are
removed, and only those: a file in ``DST`` that is not in the record is left alone. Writes are
atomic; a bad photo is one ``PATH: problem`` line, counted, and the rest go on.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image, ImageOps
from tqdm import tqdm

from datasets.io import SPLITS, ImageError, list_photos, read_image_reduced, write_image
from plumbing.files import append_jsonl, read_jsonl

log = logging.getLogger(__name__)

FIT_RECORDS = "fit.jsonl"
#: A JPEG is decoded with its longer side at least this many times the target side.
REDUCED_DECODE = 4


def fit_square(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 RGB H×W×3 → uint8 RGB ``size``×``size``×3: the centred square crop, Lanczos-resized
    (Pillow's ``ImageOps.fit``, as Nasrullah 2018's prepare_data.py)."""
    fitted = ImageOps.fit(Image.fromarray(image), (size, size), Image.Resampling.LANCZOS)
    return np.asarray(fitted, dtype=np.uint8)


@dataclass(frozen=True)
class FitJob:
    """One photo (``source``, inside split folder ``split`` of the source dataset) and its target key."""

    source: Path
    split: str
    relative: str  # the photo's path inside its split folder (POSIX)

    @property
    def key(self) -> str:
        """The target's path inside DST: ``SPLIT/NAME.png``."""
        return f"{self.split}/{Path(self.relative).with_suffix('.png').as_posix()}"


@dataclass
class FitPlan:
    """What a run has to do: photos to (re)write, recorded targets whose photo is gone, and
    photos left out (``PATH: problem`` lines: two photos that would share a target)."""

    todo: list[FitJob] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    done: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.todo or self.stale or self.problems)


@dataclass
class FitResult:
    """Counts of one run; ``bad`` holds one "PATH: problem" line per photo left unfitted."""

    written: int = 0
    skipped: int = 0
    removed: int = 0
    bad: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.written} photos fitted, {self.skipped} up to date, {self.removed} no longer in their "
                f"split removed, {len(self.bad)} bad")


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def read_fit_records(dst: Path) -> dict[str, dict]:
    """The targets this module wrote into ``dst`` and still holds, by key (the last record of each wins)."""
    records: dict[str, dict] = {}
    for r in read_jsonl(dst / FIT_RECORDS):
        if r.get("removed"):
            records.pop(r.get("key", ""), None)
        elif "key" in r:
            records[r["key"]] = r
    return records


def _jobs(src: Path) -> tuple[list[FitJob], list[str]]:
    jobs, problems = [], []
    for split in SPLITS:
        if not (src / split).is_dir():
            continue
        photos, clashes = list_photos(src / split)
        problems += clashes
        jobs += [FitJob(p, split, p.relative_to(src / split).as_posix()) for p in photos]
    return jobs, problems


def plan_fit(src: Path, dst: Path, size: int) -> FitPlan:
    """What :func:`fit_dataset` would do now (from the record and file stamps; no photo is read)."""
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: no such folder")
    records = read_fit_records(dst)
    jobs, problems = _jobs(src)
    result = FitPlan(problems=problems)
    for job in jobs:
        r = records.get(job.key)
        target = dst / job.key
        current = (r is not None and r.get("source") == job.relative and r.get("size") == size
                   and r.get("source_stamp") == _stamp(job.source) and target.is_file()
                   and r.get("stamp") == _stamp(target))
        if current:
            result.done += 1
        else:
            result.todo.append(job)
    wanted = {job.key for job in jobs}
    result.stale = sorted(key for key in records if key not in wanted)
    return result


def _fit_one(job: FitJob, dst: Path, size: int) -> Optional[str]:
    """Write one target; its record is appended by the caller. An error line, or None."""
    try:
        write_image(dst / job.key, fit_square(read_image_reduced(job.source, REDUCED_DECODE * size)[0], size))
    except ImageError as exc:
        return str(exc)
    except (OSError, ValueError) as exc:
        return f"{job.source}: {exc}"
    return None


def fit_dataset(src: Path, dst: Path, size: int, *, workers: int = 4, quiet: bool = False) -> FitResult:
    """Make ``dst`` hold every photo of ``src``'s splits at ``size``×``size`` (see the module docstring)."""
    plan = plan_fit(src, dst, size)
    result = FitResult(skipped=plan.done, bad=list(plan.problems))
    for line in plan.problems:
        log.error("%s", line)
    records = read_fit_records(dst)
    for key in plan.stale:
        target = dst / key
        if target.is_file() and _stamp(target) == records[key].get("stamp"):
            target.unlink()
        append_jsonl(dst / FIT_RECORDS, {"key": key, "removed": True})
        result.removed += 1
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool, \
            tqdm(total=len(plan.todo), desc="fit", unit="img", disable=quiet or None) as bar:
        for job, error in zip(plan.todo, pool.map(lambda j: _fit_one(j, dst, size), plan.todo)):
            bar.update(1)
            if error is not None:
                log.error("%s", error)
                result.bad.append(error)
                continue
            append_jsonl(dst / FIT_RECORDS, {"key": job.key, "source": job.relative, "size": size,
                                              "source_stamp": _stamp(job.source), "stamp": _stamp(dst / job.key)})
            result.written += 1
    return result
