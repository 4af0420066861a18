"""Curation's rules: which photos are rejected and why (the reasons, in order, are in
:mod:`datasets.curate`)."""
from __future__ import annotations

import functools
import logging
from typing import Callable, Optional

import numpy as np

from .features import grayscale_reason, read_photo
from .records import CurateConfig, Evidence, Item, PersonCheckFactory

log = logging.getLogger(__name__)


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
