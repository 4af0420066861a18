"""The resumable scrape: domains → ``raw/DOMAIN/ID.EXT`` + ``manifest.jsonl`` (:func:`scrape`)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from plumbing import markdown
from plumbing.fields import BIG, setting
from plumbing.files import append_jsonl, read_json, read_jsonl

from .api import (DEFAULT_API_URL, EXCLUDED_TAGS, FLICKR_EPOCH, LICENSES, MAX_PER_PAGE, PAPER_DOMAINS,
                  RESEARCH_LICENSES, RESULT_CAP, BadImage, Domain, FlickrPermanentError, Photo, RetriesExhausted,
                  SearchSlice, _iso, check_manifest, redact)
from .client import FlickrClient
from .download import Downloaded, Downloader
from .polite import Backoff, RateLimiter

log = logging.getLogger(__name__)


@dataclass
class ScrapeConfig:
    """Everything that defines a scrape (saved as ``OUT/scrape_config.json``; never holds the key);
    each field declares its flag's help and allowed values or range (:func:`plumbing.fields.setting`)."""

    out: str = setting(help="output folder (raw/, manifest.jsonl, scrape_config.json)")
    domains: list[dict] = setting(default_factory=lambda: [dataclasses.asdict(d) for d in PAPER_DOMAINS],
                                  help='JSON file {"domains": [{"name": "shallow", "text": "portrait bokeh"}, '
                                  '{"name": "ordinary", "text": "portrait", "camera": "apple/iphone_7", "exif_model": '
                                  '"iPhone 7"}]}' " (default: the paper's two domains)", shown_default="")
    per_domain: int = setting(4000, "photos to download per domain", lo=1, hi=10**7)
    api_url: str = setting(DEFAULT_API_URL, "REST endpoint (point it at a local server for tests)")
    workers: int = setting(4, "parallel downloads", lo=1, hi=64)
    calls_per_hour: int = setting(3600, "API call limit, sliding window (Flickr's own limit; more only for a local "
                                  "test server)", lo=1, hi=1_000_000)
    licenses: list[int] = setting(default_factory=lambda: list(RESEARCH_LICENSES), choices=tuple(LICENSES),
                                  help="comma-separated Flickr licence ids (default: research reuse with attribution: "
                                  + ", ".join(f"{i}={LICENSES[i]}" for i in RESEARCH_LICENSES) + ")", shown_default="")
    excluded_tags: list[str] = setting(default_factory=lambda: list(EXCLUDED_TAGS), metavar="TAGS",
                                       help="skip photos with any of these tags")
    min_side: int = setting(0, "skip photos whose reported shorter side is smaller (0: keep all)", lo=0, hi=100_000)
    exif_check: bool = setting(False, "check the EXIF camera model of domains that set exif_model (1 API call per "
                               "photo)")
    min_upload: int = setting(FLICKR_EPOCH, "earliest upload date (Unix seconds)", lo=0, hi=2**32)
    max_upload: int = setting(0, "latest upload date (Unix seconds; 0 = now)", lo=0, hi=2**32)
    per_page: int = setting(MAX_PER_PAGE, "results per search page", lo=1, hi=MAX_PER_PAGE)
    result_cap: int = setting(RESULT_CAP, "results Flickr serves per query; larger slices are split",
                              lo=1, hi=100_000)
    min_window_s: int = setting(3600, "the shortest upload-date slice a query is split into, in seconds",
                                lo=1, hi=2**32)
    max_retries: int = setting(5, "retries per call/download on transient failures", lo=0, hi=100)
    backoff_base_s: float = setting(1.0, "first backoff delay in seconds (doubles)", lo=0.0, hi=3600.0,
                                    metavar="SECONDS")
    timeout_s: float = setting(30.0, "read timeout in seconds", lo=0.1, hi=3600.0, metavar="SECONDS")
    seed: int = setting(0, "seed of the backoff jitter", lo=0, hi=BIG)
    dry_run: bool = setting(False, "search and count candidates; download nothing")
    quiet: bool = setting(False, "no progress bars, warnings only")

    def domain_list(self) -> list[Domain]:
        return [Domain(**d) for d in self.domains]


@dataclass
class ScrapeSummary:
    """Counts per domain: ``downloaded`` (this run), ``total`` (in the manifest), skips, rejects, failures."""

    counts: dict[str, Counter] = field(default_factory=dict)
    api_calls: int = 0

    def add(self, domain: str, key: str, n: int = 1) -> None:
        self.counts.setdefault(domain, Counter())[key] += n

    @property
    def failed(self) -> int:
        return sum(c["failed"] for c in self.counts.values())

    def table(self) -> str:
        keys = ["total", "downloaded", "candidates", "already", "excluded_tag", "no_size", "too_small",
                "exif_model", "rejected", "failed"]
        keys = ["total"] + [k for k in keys[1:] if any(c[k] for c in self.counts.values())]
        rows = [[name, *(c[k] for k in keys)] for name, c in self.counts.items()]
        return markdown.table(["domain", *keys], rows) + f"\n\nAPI calls: {self.api_calls}"


def _lock_out_dir(out: Path) -> Any:
    """Hold an exclusive lock on OUT/.scrape.lock so that two scrapes never share a folder."""
    import fcntl

    handle = open(out / ".scrape.lock", "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise FlickrPermanentError(f"{out}: another scrape is running in this folder") from None
    return handle


def _record(photo: Photo, domain: Domain, sl: SearchSlice, got: Downloaded, out: Path, exif: dict) -> dict:
    rec = {
        "status": "ok",
        "domain": domain.name,
        "photo_id": photo.id,
        "file": got.path.relative_to(out).as_posix(),
        "owner": photo.owner,
        "owner_name": photo.owner_name,
        "title": photo.title,
        "license": photo.license,
        "license_name": LICENSES.get(photo.license, "unknown") if photo.license is not None else "unknown",
        "page_url": photo.page_url,
        "source_url": photo.url,
        "size_label": photo.size_label,
        "date_upload": _iso(photo.date_upload) if photo.date_upload is not None else None,
        "date_taken": photo.date_taken,
        "crawl_date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "query": {"text": domain.text, "tags": domain.tags, "camera": domain.camera},
        "slice": sl.iso(),
        "sha256": got.sha256,
        "bytes": got.bytes,
        "width": got.width,
        "height": got.height,
        "format": got.format,
    }
    if exif:
        rec["exif"] = exif
    return rec


def _reject(photo: Photo, domain: Domain, reason: str, detail: str) -> dict:
    return {"status": "rejected", "domain": domain.name, "photo_id": photo.id, "reason": reason, "detail": detail,
            "source_url": photo.url, "license": photo.license, "page_url": photo.page_url,
            "crawl_date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


@dataclass
class _Scrape:
    """What every domain of one scrape shares."""

    config: ScrapeConfig
    api_key: str
    out: Path
    manifest: Path
    client: FlickrClient
    downloader: Downloader
    summary: ScrapeSummary
    known: set[str]  # photo ids in the manifest or on their way: a photo belongs to one domain only
    licenses: tuple[int, ...]
    excluded: set[str]


def scrape(
    config: ScrapeConfig,
    api_key: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ScrapeSummary:
    """Run (or resume) a scrape into ``config.out``: ``raw/DOMAIN/ID.EXT`` + ``manifest.jsonl``.

    Stops a domain when the manifest holds ``per_domain`` downloaded photos for it. Transient
    download failures are counted (``failed``), not recorded, so the next run retries them.
    """
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    lock = _lock_out_dir(out)
    try:
        manifest = out / "manifest.jsonl"
        records, problems = check_manifest(read_jsonl(manifest, repair=not config.dry_run), manifest)
        for line in problems:  # a hand-edited or foreign record: its photo may be fetched again
            log.warning("%s", line)
        backoff = Backoff(base_s=config.backoff_base_s, max_retries=config.max_retries)
        client = FlickrClient(
            api_key, config.api_url,
            limiter=RateLimiter(config.calls_per_hour, 3600.0, clock=clock, sleep=sleep),
            backoff=backoff, timeout=(min(10.0, config.timeout_s), config.timeout_s),
            rng=random.Random(config.seed), sleep=sleep,
        )
        downloader = Downloader(backoff=backoff, timeout=(min(10.0, config.timeout_s), config.timeout_s),
                                sleep=sleep, seed=config.seed)
        run = _Scrape(config, api_key, out, manifest, client, downloader, ScrapeSummary(),
                      {r["photo_id"] for r in records}, tuple(config.licenses),
                      {t.lower() for t in config.excluded_tags})
        end = config.max_upload or int(time.time())
        for domain in config.domain_list():
            folder = out / "raw" / domain.name
            if folder.exists() and not config.dry_run:
                for stale in folder.glob(".*.part"):
                    stale.unlink()
            have = sum(1 for r in records if r.get("domain") == domain.name and r.get("status") == "ok")
            run.summary.add(domain.name, "total", have)
            need = config.per_domain - have
            if need > 0:
                _scrape_domain(run, domain, folder, need, SearchSlice(config.min_upload, end))
        run.summary.api_calls = client.calls
        return run.summary
    finally:
        lock.close()


def _skip_reason(run: _Scrape, photo: Photo) -> Optional[str]:
    """The summary key of why ``photo`` is not a candidate (already known, an excluded tag, too
    small), or None when it is one."""
    if photo.id in run.known:
        return "already"
    if run.excluded.intersection(photo.tags):
        return "excluded_tag"
    if run.config.min_side and (photo.min_side() is None or photo.min_side() < run.config.min_side):
        return "too_small"
    return None


def _exif_rejected(run: _Scrape, domain: Domain, photo: Photo) -> tuple[bool, dict]:
    """(rejected, EXIF) of ``photo`` under the domain's camera-model check (recorded in the
    manifest when it fails); no check asked for: (False, {})."""
    if not (run.config.exif_check and domain.exif_model):
        return False, {}
    exif = run.client.exif(photo.id)
    if exif.get("Model", "").strip().lower() == domain.exif_model.lower():
        return False, exif
    append_jsonl(run.manifest, _reject(photo, domain, "exif_model", f"EXIF model {exif.get('Model', 'missing')!r}"))
    run.summary.add(domain.name, "exif_model")
    return True, exif


def _scrape_domain(run: _Scrape, domain: Domain, folder: Path, need: int, window: SearchSlice) -> None:
    """Search ``domain`` over the upload-date ``window`` and download up to ``need`` new photos into
    ``folder``, ``config.workers`` at a time; each finished download is recorded as it lands."""
    from tqdm import tqdm

    config, summary, manifest = run.config, run.summary, run.manifest
    with tqdm(desc=f"{domain.name} pages", unit="page", disable=config.quiet, leave=False) as pages, \
            tqdm(desc=f"{domain.name} photos", total=need, unit="img", disable=config.quiet) as bar, \
            ThreadPoolExecutor(max_workers=max(1, config.workers)) as pool:
        pending: dict[Future, tuple[Photo, SearchSlice, dict]] = {}
        ok = 0

        def handle(future: Future) -> None:
            nonlocal ok
            photo, sl, exif = pending.pop(future)
            try:
                got = future.result()
            except BadImage as exc:
                append_jsonl(manifest, _reject(photo, domain, exc.reason, str(exc)))
                summary.add(domain.name, "rejected")
                log.warning("%s", redact(f"photo {photo.id} ({domain.name}): rejected, {exc}", run.api_key))
            except RetriesExhausted as exc:
                summary.add(domain.name, "failed")
                log.warning("%s", redact(str(exc), run.api_key))
            else:
                append_jsonl(manifest, _record(photo, domain, sl, got, run.out, exif))
                ok += 1
                summary.add(domain.name, "downloaded")
                summary.add(domain.name, "total")
                bar.update(1)

        def settle(limit: int) -> None:
            while pending and (len(pending) >= limit or ok + len(pending) >= need):
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for f in done:
                    handle(f)

        records_iter = run.client.iter_records(
            domain, run.licenses, window, per_page=config.per_page,
            cap=config.result_cap, min_window_s=config.min_window_s, on_page=lambda: pages.update(1))
        for rec, sl in records_iter:
            photo = Photo.from_record(rec)
            skip = "no_size" if photo is None else _skip_reason(run, photo)
            if skip is not None:
                summary.add(domain.name, skip)
                continue
            summary.add(domain.name, "candidates")
            if config.dry_run:
                if summary.counts[domain.name]["candidates"] >= need:
                    break
                continue
            rejected, exif = _exif_rejected(run, domain, photo)
            if rejected:
                continue
            run.known.add(photo.id)
            pending[pool.submit(run.downloader.download, photo.url, folder, photo.id)] = (photo, sl, exif)
            settle(2 * max(1, config.workers))
            if ok >= need:
                break
        settle(1)
        records_iter.close()


def load_domains(path: Path) -> list[dict]:
    """Read a domains file: JSON ``{"domains": [{"name": ..., "text": ..., "camera": ...}, ...]}``."""
    data = read_json(path)  # FileProblem: not a regular file, too large, not JSON
    try:
        domains = [dataclasses.asdict(Domain(**d)) for d in data["domains"]]
    except RecursionError:
        raise ValueError(f"{path}: not a domains file (nested too deeply)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a domains file ({exc})") from None
    return domains
