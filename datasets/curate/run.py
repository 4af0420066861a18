"""A curation run: collect the scrape, measure each photo once, apply the rules, place the
splits and quarantine, write the reports (:func:`curate`)."""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
from PIL import Image

from datasets.io import list_images
from plumbing.cli import without_protobuf_note
from plumbing.config import save_config
from plumbing.files import one_line, read_json, read_jsonl, write_json
from datasets.flickr import check_manifest

from .features import FeatureCache, image_features, read_photo
from .records import AUTO_REASONS, CONFIG_FILE, MANUAL, CurateConfig, Item, PersonCheckFactory
from .report import (read_decisions, table_markdown, thumb_fresh, thumb_path, write_decisions, write_features,
                     write_rejects, write_review, write_summary, write_thumbnails)
from .rules import _check_person, _needs_person_check, _shared, apply_rules, image_reason

log = logging.getLogger(__name__)

CHUNK = 32  # photos decoded, held and their thumbnails written at a time (32 × 256 × 256 × 3 bytes = 6 MB)


@dataclass
class CurateResult:
    items: list[Item]
    splits: dict[str, list[str]]
    table: list[dict]
    problems: int = 0

    def markdown(self) -> str:
        return table_markdown(self.table)


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
    placed = read_json(state_path) if state_path.exists() else {}
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


def _manifest(raw: Path) -> tuple[dict[str, dict], dict[str, int], int]:
    """Manifest metadata by domain/file name, the number scraped per domain, and the number of
    records left out (each logged: datasets.flickr.check_manifest)."""
    path = raw / "manifest.jsonl"
    records, problems = check_manifest(read_jsonl(path), path)
    for line in problems:
        log.error("%s", line)
    meta, scraped = {}, Counter()
    for r in records:
        if r["status"] == "ok":
            meta[f"{r['domain']}/{Path(r['file']).name}"] = r
            scraped[r["domain"]] += 1
    return meta, dict(scraped), len(problems)


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
                    log.warning("%s", one_line(f"{path}: also present as {items[item.key].path}; using the first"))
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

    if config.domain_a == config.domain_b:
        raise ValueError("domain A and domain B must differ")
    raw, out = Path(config.raw), Path(config.out)
    if not (raw / "raw").is_dir():
        raise FileNotFoundError(f"{raw}: no raw/ folder (is this a scrape folder?)")
    # the scrape's records and the manual decisions first: a bad one is found before the long feature pass
    meta, scraped, problems = _manifest(raw)
    decisions = read_decisions(config.decisions_path())  # unusable: one FileProblem, nothing done
    problems += decisions.bad
    items = collect(config)
    cache = FeatureCache(out / ".curate_cache.json")
    check = _shared(person_check_factory)
    _feature_pass(items, config, cache, check)
    apply_rules(items, config, check)
    for it in items:
        decision = decisions.get(it.key)[0]
        it.reason = it.auto_reason
        if decision == "reject" and it.reason is None:
            it.reason, it.detail = MANUAL, "rejected in the manual review"
        elif decision == "keep" and it.reason is not None:
            if it.reason == "unreadable":
                log.error("%s", one_line(f"{it.key}: cannot keep an unreadable image ({it.detail})"))
                problems += 1
            else:
                it.reason, it.detail = None, f"kept in the manual review (auto: {it.auto_reason}: {it.detail})"
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
            log.error("%s", one_line(f"{it.path}: cannot move to {target}: {exc}"))
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
