"""Curate scraped photos into a CycleGAN dataset (Nasrullah 2018, §3.1 and Table 1).

Input: a scrape folder (``RAW/raw/DOMAIN/*.jpg`` + ``RAW/manifest.jsonl``, see datasets/flickr.py).
Output (``OUT``): ``trainA trainB testA testB`` (A = ordinary, B = shallow DoF, hard links or
copies of the kept photos), ``quarantine/REASON/DOMAIN/`` (rejects, *moved* there, never deleted),
``rejects.csv``, ``review.html`` + ``review/thumbs/``, ``decisions.csv`` (the manual pass: edit the
``decision`` column to keep / reject and run again), ``summary.md`` / ``summary.csv`` (Table 1);
those reports and the review page are written by datasets.curate_report.

Automatic rules, in this order (an image gets the first reason that applies):

``unreadable``   the image reader (datasets.io.read_image_reduced) refuses it.
``too_small``    shorter side below ``min_side`` pixels.
``grayscale``    black-and-white or toned monochrome (see ``colour_stats``): mean chroma below
                 ``grey_chroma`` (neutral grey), or a colour spread (the chroma that lightness does
                 not explain) below ``colour_spread`` (no colour beyond JPEG noise) or below
                 ``tone_ratio`` × the mean chroma (one hue at each lightness: sepia, cyanotype,
                 split toning). Low-saturation colour photos (overcast, low light, grey clothes)
                 keep a spread well above both; the evidence is in ``scripts/curate.py --help``.
``exif_model``   (optional, domain A only) the EXIF camera model is not ``exif_model``.
``dup_exact``    same sha256 as an earlier image, within or across domains.
``dup_res_size`` same (width, height, file size) as an earlier image of the same domain (the paper's rule),
                 confirmed by a pHash distance of at most ``res_size_phash`` (12 of 64 bits; distinct
                 portraits measure 18 and more, a re-encoded copy 0–4): equal byte counts by chance
                 are common when many photos share a resolution.
``dup_near``     64-bit perceptual hash (imagehash.phash) within Hamming distance ``phash_threshold``
                 (default 6) of an image kept already, within or across domains; the larger
                 image of a pair is kept.
``no_person``    no evidence of a real person: no face on the person mask and no body pose on it
                 (the check is segdepth.person.PersonCheck, passed in by the caller), or the mask
                 covers less than ``min_person_fraction`` of the image. The segmenter alone is no
                 evidence: MediaPipe's selfie model calls cups, cats and microscopy "person".

Every reject's ``detail`` (in rejects.csv and the review page) gives the evidence that decided:
the statistics and thresholds, the image it duplicates and the distance, or what the person check
saw (face score, box and share on the mask, pose, mask coverage).

Each photo is decoded once per run (datasets.io.read_image_reduced: a JPEG at 1/2, 1/4 or 1/8 of
its size, at least ``DECODE_SIDE`` = 256 px, then area-averaged to 256 px, the person check's working
size): the pHash, the colour statistics, the person check and the review thumbnail all use that
one copy, so the person check runs in the feature pass, on every photo the single-image rules keep
(duplicates included; their evidence is then recorded too). Width, height and face boxes are those
of the full photo. A worker thread decodes, hashes and writes thumbnails one chunk of photos
ahead of the person check; the check runs in the calling thread in item order, so results do
not depend on the timing. The thumbnails of a chunk are written as one atomic batch.

"Earlier" is the order domain A, domain B, then file name; so runs are deterministic. The EXIF
f-number and focal length are recorded for every image (``features.csv``). Manual decisions
override the automatic result (``keep`` un-quarantines an image; ``reject`` moves it to
``quarantine/manual/``). The split is deterministic from ``seed``: images are ranked by
sha256("seed/domain/name") and the first ``test_size_*`` go to test, so adding or removing one
image moves at most one other between train and test.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional, Protocol

import cv2
import imagehash
import numpy as np
from PIL import Image

from plumbing.cli import without_protobuf_note
from plumbing.config import save_config
from datasets.curate_report import (read_decisions, table_markdown, thumb_fresh, thumb_path, write_decisions,
                                    write_features, write_rejects, write_review, write_summary, write_thumbnails)
from datasets.io import ImageError, list_images, read_image_reduced, shrink_to
from plumbing.files import read_jsonl, write_json

log = logging.getLogger(__name__)

AUTO_REASONS = ("unreadable", "too_small", "grayscale", "exif_model", "dup_exact", "dup_res_size", "dup_near",
                "no_person")
MANUAL = "manual"
FEATURES_VERSION = 4  # 3: features from the reduced decode (read_image_reduced); 4: from read_photo's 256-px copy
PERSON_CHECK_VERSION = 2  # 2: the check works at 256 px (segdepth.person.WORK_SIDE)


#: The run's settings, written beside its results (a ``--config`` file for scripts/curate.py).
CONFIG_FILE = "curate_config.json"


@dataclass
class CurateConfig:
    """Settings of one curation run (saved as ``OUT/curate_config.json``, reloadable with ``--config``)."""

    raw: str
    out: str
    domain_a: str = "ordinary"
    domain_b: str = "shallow"
    min_side: int = 256
    grey_chroma: float = 1.0
    colour_spread: float = 0.65
    tone_ratio: float = 0.12
    phash_threshold: int = 6
    res_size_phash: int = 12
    min_person_fraction: float = 0.05
    segmenter: str = "mediapipe"
    min_face_score: float = 0.5
    min_on_mask: float = 0.5
    exif_model: str = ""
    test_size_a: int = 100
    test_size_b: int = 100
    seed: int = 0
    decisions: str = ""
    dry_run: bool = False
    quiet: bool = False

    def decisions_path(self) -> Path:
        return Path(self.decisions) if self.decisions else Path(self.out) / "decisions.csv"

    def person_key(self) -> str:
        """What cached person evidence depends on: recomputed when any of it changes."""
        return f"v{PERSON_CHECK_VERSION}/{self.segmenter}/face {self.min_face_score}/mask {self.min_on_mask}"


class Evidence(Protocol):
    """What a person check returns (segdepth.person.PersonEvidence is one)."""

    evidence: str  # "face", "pose" or "none"
    mask_fraction: float

    def describe(self) -> str: ...

    def to_json(self) -> dict: ...


#: Builds the check: ``check(image, size=(width, height))`` with ``image`` a reduced decode of a photo
#: of ``size``, whose face boxes are reported in the full photo's pixels.
PersonCheckFactory = Callable[[], Callable[..., Evidence]]


@dataclass
class Item:
    """One photo: where it lives now, its features and its fate."""

    domain: str
    name: str
    path: Path
    features: dict = field(default_factory=dict)
    reason: Optional[str] = None
    detail: str = ""
    auto_reason: Optional[str] = None

    @property
    def key(self) -> str:
        return f"{self.domain}/{self.name}"


@dataclass
class CurateResult:
    items: list[Item]
    splits: dict[str, list[str]]
    table: list[dict]
    problems: int = 0

    def markdown(self) -> str:
        return table_markdown(self.table)


# ----------------------------------------------------------------------------- features


def _exif(path: Path) -> dict:
    """Make, Model, FNumber, FocalLength from the file's EXIF (absent keys omitted)."""
    found: dict = {}
    try:
        with Image.open(path) as im:
            exif = im.getexif()
            for tag, key in ((0x010F, "Make"), (0x0110, "Model")):
                if exif.get(tag):
                    found[key] = str(exif[tag]).strip("\x00 ").strip()
            sub = exif.get_ifd(0x8769)
            for tag, key in ((0x829D, "FNumber"), (0x920A, "FocalLength")):
                if sub.get(tag) is not None:
                    found[key] = round(float(sub[tag]), 2)
    except (OSError, ValueError, TypeError, ZeroDivisionError):
        pass
    return found


COLOUR_SIDE = 64
LIGHTNESS_BINS = 50


def colour_stats(image: np.ndarray) -> tuple[float, float]:
    """(mean chroma, colour spread) of a uint8 RGB image, in OpenCV's float CIE Lab (L in [0, 100],
    a and b in about [-127, 127]), on a thumbnail of at most 64 px (area-averaged, which also
    averages away JPEG's chroma subsampling at edges).

    Mean chroma = mean sqrt(a² + b²). Colour spread = RMS distance of each pixel's (a, b) from the
    mean (a, b) of the pixels of the same lightness (50 bins of L): the colour that lightness does
    not explain. It is about 0 for grey and small for toned monochrome (sepia, cyanotype, split
    toning: the colour is a function of lightness; what remains is JPEG and 8-bit noise and tones
    mixed at edges), and it shrinks only in proportion to the chroma when a colour photo is
    desaturated, so spread / chroma separates the two (measurements: scripts/curate.py --help).
    """
    image = shrink_to(image, COLOUR_SIDE)
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab).reshape(-1, 3).astype(np.float64)
    bins = np.minimum((lab[:, 0] * (LIGHTNESS_BINS / 100.0)).astype(int), LIGHTNESS_BINS - 1)
    count = np.maximum(np.bincount(bins, minlength=LIGHTNESS_BINS), 1)
    mean_a = np.bincount(bins, lab[:, 1], LIGHTNESS_BINS) / count
    mean_b = np.bincount(bins, lab[:, 2], LIGHTNESS_BINS) / count
    spread = np.sqrt(((lab[:, 1] - mean_a[bins]) ** 2 + (lab[:, 2] - mean_b[bins]) ** 2).mean())
    return float(np.hypot(lab[:, 1], lab[:, 2]).mean()), float(spread)


def grayscale_reason(chroma: float, spread: float, config: CurateConfig) -> str:
    """Why an image with these ``colour_stats`` is monochrome under ``config``, or "" when it is colour."""
    if chroma < config.grey_chroma:
        return f"mean chroma {chroma:.2f} < {config.grey_chroma} (neutral grey)"
    if spread < config.tone_ratio * chroma:
        return (f"colour spread {spread:.2f} < {config.tone_ratio} x mean chroma {chroma:.2f} "
                "(one hue at each lightness: toned monochrome)")
    if spread < config.colour_spread:
        return f"colour spread {spread:.2f} < {config.colour_spread} (no colour beyond noise; mean chroma {chroma:.2f})"
    return ""


#: Longer side of the one copy of each photo that a run decodes (datasets.io.read_image_reduced, then
#: area-averaged to exactly this side when larger): the person check's working size
#: (segdepth.person.WORK_SIDE, which the check would shrink a larger copy to). The pHash (32 px),
#: colour statistics (64 px) and the review thumbnail (160 px) are all computed from this copy.
DECODE_SIDE = 256
CHUNK = 32  # photos decoded, held and their thumbnails written at a time (32 × 256 × 256 × 3 bytes = 6 MB)


def read_photo(path: Path) -> tuple[np.ndarray, tuple[int, int]]:
    """The copy of the photo that every use of a curation run shares (see DECODE_SIDE), and the
    (width, height) of the full photo."""
    image, size = read_image_reduced(path, DECODE_SIDE)
    return shrink_to(image, DECODE_SIDE), size


def image_features(path: Path) -> tuple[dict, Optional[np.ndarray]]:
    """(features, decoded photo): sha256, bytes, width and height (of the full image), pHash (hex),
    chroma, colour spread, EXIF, or {"error": msg} with ``None`` for an unreadable file; the photo is
    read_photo's copy, for the person check and the thumbnail to reuse."""
    data = path.read_bytes()
    feats: dict = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    try:
        image, (width, height) = read_photo(path)
    except ImageError as exc:
        feats["error"] = str(exc)
        return feats, None
    feats["height"], feats["width"] = height, width
    feats["phash"] = str(imagehash.phash(Image.fromarray(image)))
    feats["chroma"], feats["colour_spread"] = colour_stats(image)
    feats["exif"] = _exif(path)
    return feats, image


class FeatureCache:
    """Features by (domain/name, size, mtime_ns) in ``OUT/.curate_cache.json`` (moves keep mtime)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict = {}
        if path.exists():
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                if raw.get("version") == FEATURES_VERSION:
                    self.data = raw["items"]
            except (ValueError, KeyError, AttributeError):
                log.warning("%s: unreadable feature cache, recomputing", path)

    @staticmethod
    def _stamp(path: Path) -> list:
        st = path.stat()
        return [st.st_size, st.st_mtime_ns]

    def get(self, item: Item) -> Optional[dict]:
        entry = self.data.get(item.key)
        if entry and entry["stamp"] == self._stamp(item.path):
            return entry["features"]
        return None

    def put(self, item: Item) -> None:
        self.data[item.key] = {"stamp": self._stamp(item.path), "features": item.features}

    def save(self) -> None:
        write_json(self.path, {"version": FEATURES_VERSION, "items": self.data})


# ----------------------------------------------------------------------------- rules


def _hamming_min(kept: np.ndarray, value: np.uint64) -> tuple[int, int]:
    """(smallest Hamming distance, its index) between ``value`` and the 64-bit hashes ``kept``."""
    d = np.bitwise_count(np.bitwise_xor(kept, value))
    i = int(np.argmin(d))
    return int(d[i]), i


def image_reason(it: Item, config: CurateConfig) -> Optional[tuple[str, str]]:
    """(reason, detail) of the rules that look at one image alone (unreadable, too_small, grayscale,
    exif_model), or None when it passes them."""
    f = it.features
    if "error" in f:
        return "unreadable", f["error"]
    if min(f["width"], f["height"]) < config.min_side:
        return "too_small", f"{f['width']}x{f['height']} < {config.min_side}"
    if grey := grayscale_reason(f["chroma"], f["colour_spread"], config):
        return "grayscale", grey
    if config.exif_model and it.domain == config.domain_a and \
            f["exif"].get("Model", "").lower() != config.exif_model.lower():
        return "exif_model", f"EXIF model {f['exif'].get('Model', 'missing')!r}"
    return None


def apply_rules(items: list[Item], config: CurateConfig, person_check_factory: Optional[PersonCheckFactory]) -> None:
    """Set ``auto_reason``/``detail`` of every item by the rules of the module docstring (in order).

    ``person_check_factory`` builds the person check when first needed (it is needed when
    ``min_person_fraction`` > 0 and some image lacks cached evidence).
    """
    def reject(it: Item, reason: str, detail: str) -> None:
        it.auto_reason, it.detail = reason, detail

    for it in items:
        if found := image_reason(it, config):
            reject(it, *found)
    alive = [it for it in items if it.auto_reason is None]
    first_by_sha: dict[str, Item] = {}
    for it in alive:
        other = first_by_sha.setdefault(it.features["sha256"], it)
        if other is not it:
            reject(it, "dup_exact", f"same sha256 as {other.key}")
    alive = [it for it in alive if it.auto_reason is None]
    by_res: dict[tuple, list[Item]] = {}
    for it in alive:
        f = it.features
        same = by_res.setdefault((it.domain, f["width"], f["height"], f["bytes"]), [])
        if same:
            value = np.uint64(int(f["phash"], 16))
            dist, j = _hamming_min(np.array([int(o.features["phash"], 16) for o in same], np.uint64), value)
            if dist <= config.res_size_phash:
                reject(it, "dup_res_size", f"same {f['width']}x{f['height']} and {f['bytes']} bytes as {same[j].key}, "
                                           f"confirmed by pHash distance {dist} <= {config.res_size_phash}")
                continue
            log.info("%s: same resolution and file size as %s but pHash distance %d > %d: not a duplicate",
                     it.key, same[j].key, dist, config.res_size_phash)
        same.append(it)
    alive = [it for it in alive if it.auto_reason is None]
    order = sorted(range(len(alive)), key=lambda i: -alive[i].features["width"] * alive[i].features["height"])
    kept_hashes = np.zeros(len(alive), np.uint64)
    kept_items: list[Item] = []
    for i in order:
        it = alive[i]
        value = np.uint64(int(it.features["phash"], 16))
        if kept_items:
            dist, j = _hamming_min(kept_hashes[: len(kept_items)], value)
            if dist <= config.phash_threshold:
                reject(it, "dup_near", f"pHash distance {dist} to {kept_items[j].key}")
                continue
        kept_hashes[len(kept_items)] = value
        kept_items.append(it)
    if config.min_person_fraction > 0:
        _person_rule([it for it in items if it.auto_reason is None], config, person_check_factory)


def _person_rule(items: list[Item], config: CurateConfig, person_check_factory: Optional[PersonCheckFactory]) -> None:
    """The no_person rule; evidence is cached in ``features["person"]`` under ``config.person_key()``."""
    from tqdm import tqdm

    check = _shared(person_check_factory)
    for it in tqdm(items, desc="person check", unit="img", disable=config.quiet):
        if _needs_person_check(it, config):
            _check_person(it, read_photo(it.path)[0], config, check)
        person = it.features["person"]
        if person["evidence"] == "none":
            it.auto_reason, it.detail = "no_person", f"no face or pose on the person mask: {person['text']}"
        elif person["mask_fraction"] < config.min_person_fraction:
            it.auto_reason, it.detail = "no_person", (f"person mask {person['mask_fraction']:.3f} of the image "
                                                      f"< {config.min_person_fraction}: {person['text']}")


def _shared(person_check_factory: Optional[PersonCheckFactory]) -> PersonCheckFactory:
    """The check of ``person_check_factory``, built on the first call and the same one after."""
    def missing() -> Callable[..., Evidence]:
        raise ValueError("the person check needs a person_check_factory "
                         "(e.g. segdepth.person.PersonCheck), or min_person_fraction 0 to skip it")

    return functools.cache(person_check_factory or missing)


def _needs_person_check(it: Item, config: CurateConfig) -> bool:
    return it.features.get("person_key") != config.person_key()


def _check_person(it: Item, image: np.ndarray, config: CurateConfig, check: PersonCheckFactory) -> None:
    """Record the person evidence of ``image`` (the photo's reduced decode) in ``it.features``."""
    f = it.features
    evidence = check()(image, size=(f["width"], f["height"]))
    f["person"] = {**evidence.to_json(), "text": evidence.describe()}
    f["person_key"] = config.person_key()


# ----------------------------------------------------------------------------- files


def _move(src: Path, dst: Path) -> None:
    """Move without ever overwriting: an existing different file at ``dst`` is an error."""
    if src == dst:
        return
    if dst.exists():
        raise FileExistsError(f"{dst}: already exists, not overwriting it with {src}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src), str(dst))


def _place(src: Path, dst: Path) -> None:
    """Hard link ``src`` at ``dst`` (copy when linking is impossible)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def split_names(names: list[str], domain: str, test_size: int, seed: int) -> tuple[list[str], list[str]]:
    """(train, test): rank by sha256("seed/domain/name"); the first ``test_size`` are test."""
    ranked = sorted(names, key=lambda n: hashlib.sha256(f"{seed}/{domain}/{n}".encode()).hexdigest())
    test = sorted(ranked[: max(0, min(test_size, len(ranked)))])
    return sorted(ranked[len(test):]), test


def _materialise_splits(out: Path, wanted: dict[str, dict[str, Path]]) -> None:
    """Make OUT/SPLIT hold exactly the images ``wanted`` (name → source); only files this stage
    placed before (``OUT/split.json``) are ever removed. Mask folders (``OUT/SPLIT_masks``, written
    by segdepth.masks) are not touched: a mask whose photo left stays unused, and is correct
    again if the same photo comes back."""
    state_path = out / "split.json"
    placed = json.loads(state_path.read_text()) if state_path.exists() else {}
    for split, names in placed.items():
        for name in names:
            if name not in wanted.get(split, {}):
                (out / split / name).unlink(missing_ok=True)
    for split, sources in wanted.items():
        for name, src in sources.items():
            dst = out / split / name
            if dst.exists() and dst.stat().st_size == src.stat().st_size:
                continue
            dst.unlink(missing_ok=True)
            _place(src, dst)
    write_json(state_path, {split: sorted(names) for split, names in wanted.items()})


# ----------------------------------------------------------------------------- Table 1


def _table(items: list[Item], config: CurateConfig, scraped: dict[str, int], splits: dict[str, list[str]]) -> list[dict]:
    rows = []
    for domain, letter in ((config.domain_a, "A"), (config.domain_b, "B")):
        mine = [it for it in items if it.domain == domain]
        reasons = Counter(it.reason for it in mine if it.reason)
        row = {"domain": f"{domain} ({letter})", "scraped": scraped.get(domain, len(mine)), "found": len(mine)}
        for reason in AUTO_REASONS + (MANUAL,):
            row[f"rejected: {reason}"] = reasons[reason]
        row["retained"] = sum(1 for it in mine if it.reason is None)
        row["train"], row["test"] = len(splits[f"train{letter}"]), len(splits[f"test{letter}"])
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- the run


def _manifest(raw: Path) -> tuple[dict[str, dict], dict[str, int]]:
    """Manifest metadata by domain/file name and the number scraped per domain."""
    meta, scraped = {}, Counter()
    for r in read_jsonl(raw / "manifest.jsonl"):
        if r.get("status") == "ok" and r.get("file"):
            meta[f"{r['domain']}/{Path(r['file']).name}"] = r
            scraped[r["domain"]] += 1
    return meta, dict(scraped)


def collect(config: CurateConfig) -> list[Item]:
    """Every photo of both domains, in raw/DOMAIN or already in OUT/quarantine/*/DOMAIN."""
    raw, out = Path(config.raw), Path(config.out)
    items: dict[str, Item] = {}
    for domain in (config.domain_a, config.domain_b):
        homes = [raw / "raw" / domain] + sorted((out / "quarantine").glob(f"*/{domain}"))
        for folder in homes:
            if not folder.is_dir():
                continue
            for path in list_images(folder):
                if path.parent != folder:
                    continue
                item = Item(domain, path.name, path)
                if item.key in items:
                    log.warning("%s: also present as %s; using the first", path, items[item.key].path)
                    continue
                items[item.key] = item
    return sorted(items.values(), key=lambda it: (it.domain != config.domain_a, it.name))


def _pixel_needs(it: Item, config: CurateConfig) -> tuple[bool, Optional[Path]]:
    """(person evidence needed, thumbnail to write or None): what a run needs of a photo's pixels
    besides its features. The evidence is taken for every photo that passes the single-image
    rules, before the duplicate rules (so from the same decode); a dry run writes no thumbnail."""
    if "error" in it.features:
        return False, None
    person = config.min_person_fraction > 0 and image_reason(it, config) is None and _needs_person_check(it, config)
    thumb = None if config.dry_run else thumb_path(Path(config.out), it)
    return person, None if thumb is None or thumb_fresh(it, thumb) else thumb


def _prepare_chunk(chunk: list[Item], config: CurateConfig, cache: FeatureCache) -> list[Optional[np.ndarray]]:
    """The first stage of the feature pass, for a worker thread: the features of ``chunk`` (from the
    cache, or from each photo's one decode), its missing thumbnails (one atomic batch), and for
    each photo its decoded copy when the person check needs it (else None). A photo is decoded
    here only when its features come from the cache and something else needs its pixels."""
    images: list[Optional[np.ndarray]] = []
    for it in chunk:
        cached = cache.get(it)
        image = None
        if cached is None:
            it.features, image = image_features(it.path)
        else:
            it.features = cached
        images.append(image)
    needs = [_pixel_needs(it, config) for it in chunk]
    for i, (it, (person, thumb)) in enumerate(zip(chunk, needs)):
        if (person or thumb is not None) and images[i] is None:
            images[i] = read_photo(it.path)[0]
    thumbs = [(thumb, image) for (_, thumb), image in zip(needs, images) if thumb is not None]
    if thumbs:
        write_thumbnails(thumbs)
    return [image if person else None for (person, _), image in zip(needs, images)]


@contextlib.contextmanager
def _warning_filters_for_both_threads() -> Iterator[None]:
    """The warning filters that each thread of the feature pass sets around its own calls, set once
    for both: ``warnings.catch_warnings`` is process-wide, not per thread, so when the worker's
    block around Image.open (datasets.io) ends it restores the filters of its start, dropping the
    calling thread's filter of MediaPipe's protobuf note (plumbing.cli.without_protobuf_note), and
    the reverse. Set here, before the worker starts and until it ends, both stay in force."""
    with without_protobuf_note(), warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # datasets.io's max_pixels replaces it
        yield


def _feature_pass(items: list[Item], config: CurateConfig, cache: FeatureCache, check: PersonCheckFactory) -> None:
    """Features, thumbnails and person evidence of every photo, from one decode per photo, in two
    stages at once: a worker thread decodes, hashes and writes the thumbnails of the next chunk
    while this thread runs the person checks of the current one (MediaPipe, decoding, resizing and
    writing release the GIL, so on 2 cores the two overlap). The check is not thread-safe and runs
    in this thread alone, in item order, so every result is that of a serial run."""
    from tqdm import tqdm

    chunks = [items[start:start + CHUNK] for start in range(0, len(items), CHUNK)]
    with _warning_filters_for_both_threads(), ThreadPoolExecutor(max_workers=1) as pool, \
            tqdm(total=len(items), desc="features", unit="img", disable=config.quiet) as bar:
        ahead = pool.submit(_prepare_chunk, chunks[0], config, cache) if chunks else None
        for n, chunk in enumerate(chunks):
            images = ahead.result()
            if n + 1 < len(chunks):
                ahead = pool.submit(_prepare_chunk, chunks[n + 1], config, cache)
            for it, image in zip(chunk, images):
                if image is not None:
                    _check_person(it, image, config, check)
            bar.update(len(chunk))


def curate(config: CurateConfig, person_check_factory: Optional[PersonCheckFactory] = None) -> CurateResult:
    """Run the rules, apply decisions, move rejects, split, and write the reports (see module doc).

    ``person_check_factory`` builds the person check (an image → evidence callable such as
    ``segdepth.person.PersonCheck``) when first needed; scripts/curate.py passes MediaPipe's.
    Without one, ``min_person_fraction`` must be 0 unless every image has cached evidence. The
    check is not closed here (a factory may hand out a shared one).
    """
    from tqdm import tqdm

    if config.domain_a == config.domain_b:
        raise ValueError("domain A and domain B must differ")
    raw, out = Path(config.raw), Path(config.out)
    if not (raw / "raw").is_dir():
        raise FileNotFoundError(f"{raw}: no raw/ folder (is this a scrape folder?)")
    items = collect(config)
    cache = FeatureCache(out / ".curate_cache.json")
    check = _shared(person_check_factory)
    _feature_pass(items, config, cache, check)
    apply_rules(items, config, check)
    decisions, problems = read_decisions(config.decisions_path())
    for it in items:
        decision = decisions.get(it.key, ("", ""))[0]
        it.reason = it.auto_reason
        if decision == "reject" and it.reason is None:
            it.reason, it.detail = MANUAL, "rejected in the manual review"
        elif decision == "keep" and it.reason is not None:
            if it.reason == "unreadable":
                log.error("%s: cannot keep an unreadable image (%s)", it.key, it.detail)
                problems += 1
            else:
                it.reason, it.detail = None, f"kept in the manual review (auto: {it.auto_reason}: {it.detail})"
    meta, scraped = _manifest(raw)
    splits: dict[str, list[str]] = {}
    for domain, letter, size in ((config.domain_a, "A", config.test_size_a), (config.domain_b, "B", config.test_size_b)):
        kept = [it.name for it in items if it.domain == domain and it.reason is None]
        splits[f"train{letter}"], splits[f"test{letter}"] = split_names(kept, domain, size, config.seed)
        if kept and not splits[f"train{letter}"]:
            log.warning("domain %s: all %d kept images went to test (test size %d)", domain, len(kept), size)
    table = _table(items, config, scraped, splits)
    result = CurateResult(items, splits, table, problems)
    if config.dry_run:
        return result
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / CONFIG_FILE)
    for it in items:
        home = raw / "raw" / it.domain / it.name
        target = home if it.reason is None else out / "quarantine" / it.reason / it.domain / it.name
        try:
            _move(it.path, target)
            it.path = target
        except OSError as exc:
            log.error("%s: cannot move to %s: %s", it.path, target, exc)
            result.problems += 1
        cache.put(it)
    cache.save()
    by_key = {it.key: it for it in items}
    domains = {"A": config.domain_a, "B": config.domain_b}
    _materialise_splits(out, {split: {n: by_key[f"{domains[split[-1]]}/{n}"].path for n in names}
                              for split, names in splits.items()})
    write_rejects(out, items)
    write_features(out, items, meta)
    write_decisions(config.decisions_path(), items, decisions)
    write_review(out, items, meta, decisions, lambda path: read_photo(path)[0])
    write_summary(out, table)
    return result
