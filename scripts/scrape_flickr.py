"""Scrape the unpaired portrait dataset from Flickr (resumable; gentle by default).

    export FLICKR_API_KEY=...            # or --api-key-file FILE (first line)
    python scripts/scrape_flickr.py --out data/flickr --per-domain 4000
    python scripts/scrape_flickr.py --out data/flickr --dry-run           # count only

Defaults reproduce Nasrullah 2018: shallow = text "portrait bokeh"; ordinary = text "portrait"
with the search parameter camera=apple/iphone_7 (undocumented; add --exif-check to confirm each
photo's EXIF model "iPhone 7" with flickr.photos.getExif, one extra API call per photo).
Photos tagged blackandwhite/BW/monochrome/animal/cat/dog/flower/bird are skipped. Only licences
that allow research reuse with attribution are requested unless --licenses names others together
with --allow-any-license.

Writes OUT/raw/DOMAIN/PHOTO_ID.EXT, OUT/manifest.jsonl (one provenance record per photo: the source
of truth for resuming) and OUT/scrape_config.json. Kill it at any moment and run the same command
again: it continues without duplicates or partial files. The API key is never written or logged.
Exit status: 0 done; 1 some downloads failed after retries (run again to retry them); 2 stopped
by a permanent error (bad key, bad query) or bad arguments.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import time
from pathlib import Path

from datasets.flickr import (
    DEFAULT_API_URL,
    EXCLUDED_TAGS,
    FLICKR_EPOCH,
    LICENSES,
    RESEARCH_LICENSES,
    FlickrError,
    FlickrPermanentError,
    RedactingFilter,
    ScrapeConfig,
    load_domains,
    scrape,
)
from datasets.cli import EXIT_CODES_EPILOG, float_range, int_range, non_negative_int, output_folder, run_main
from datasets.io import write_json

log = logging.getLogger("scrape_flickr")


def parse_args(argv: list[str] | None = None) -> tuple[ScrapeConfig, argparse.Namespace]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=EXIT_CODES_EPILOG)
    p.add_argument("--out", required=True, type=output_folder,
                   help="output folder (raw/, manifest.jsonl, scrape_config.json)")
    p.add_argument("--domains", type=Path, default=None,
                   help='JSON file {"domains": [{"name": "shallow", "text": "portrait bokeh"}, {"name": '
                        '"ordinary", "text": "portrait", "camera": "apple/iphone_7", "exif_model": "iPhone 7"}]} '
                        "(default: the paper's two domains)")
    p.add_argument("--per-domain", type=int_range(1, 10**7), default=4000,
                   help="photos to download per domain, at least 1 (default 4000)")
    p.add_argument("--api-url", default=DEFAULT_API_URL, help="REST endpoint (point it at a local server for tests)")
    p.add_argument("--api-key-file", type=Path, default=None,
                   help="file whose first line is the API key (default: $FLICKR_API_KEY)")
    p.add_argument("--workers", type=int_range(1, 64), default=4, help="parallel downloads, 1 … 64 (default 4)")
    p.add_argument("--calls-per-hour", type=int_range(1, 1_000_000), default=3600,
                   help="API call limit, sliding window, at least 1 (default 3600, Flickr's own limit; more "
                        "only for a local test server)")
    p.add_argument("--licenses", default=",".join(map(str, RESEARCH_LICENSES)),
                   help="comma-separated Flickr licence ids (default: research reuse with attribution: "
                        + ", ".join(f"{i}={LICENSES[i]}" for i in RESEARCH_LICENSES) + ")")
    p.add_argument("--allow-any-license", action="store_true",
                   help="allow licence ids outside the research-reuse set (e.g. 0 = all rights reserved, ND)")
    p.add_argument("--exclude-tags", default=",".join(EXCLUDED_TAGS), help="skip photos with any of these tags")
    p.add_argument("--min-side", type=int_range(0, 100_000), default=0,
                   help="skip photos whose reported shorter side is smaller (0: keep all)")
    p.add_argument("--exif-check", action="store_true",
                   help="check the EXIF camera model of domains that set exif_model (1 API call per photo)")
    p.add_argument("--min-upload", type=int_range(0, 2**32), default=FLICKR_EPOCH,
                   help="earliest upload date (Unix seconds)")
    p.add_argument("--max-upload", type=int_range(0, 2**32), default=0,
                   help="latest upload date (Unix seconds; 0 = now)")
    p.add_argument("--per-page", type=int_range(1, 500), default=500, help="results per search page, 1 … 500")
    p.add_argument("--result-cap", type=int_range(1, 100_000), default=4000,
                   help="results Flickr serves per query; larger slices are split (default 4000)")
    p.add_argument("--max-retries", type=int_range(0, 100), default=5,
                   help="retries per call/download on transient failures, 0 … 100")
    p.add_argument("--backoff-base", type=float_range(0.0, 3600.0), default=1.0,
                   help="first backoff delay in seconds (doubles), 0 … 3600")
    p.add_argument("--timeout", type=float_range(0.1, 3600.0), default=30.0,
                   help="read timeout in seconds, 0.1 … 3600")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of the backoff jitter")
    p.add_argument("--dry-run", action="store_true", help="search and count candidates; download nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bars, warnings only")
    args = p.parse_args(argv)
    try:
        licenses = [int(x) for x in args.licenses.split(",") if x.strip()]
    except ValueError:
        p.error(f"--licenses: not a list of integers: {args.licenses!r}")
    unknown = [i for i in licenses if i not in LICENSES]
    if unknown:
        p.error(f"--licenses: unknown licence ids {unknown}")
    restricted = [i for i in licenses if i not in RESEARCH_LICENSES]
    if restricted and not args.allow_any_license:
        p.error(f"--licenses {restricted} do not allow research reuse with attribution "
                f"({', '.join(LICENSES[i] for i in restricted)}); add --allow-any-license to take them anyway")
    domains = None
    if args.domains is not None:
        try:
            domains = load_domains(args.domains)
        except ValueError as exc:
            p.error(str(exc))
    if args.max_upload and args.max_upload < args.min_upload:
        p.error(f"--max-upload {args.max_upload} is before --min-upload {args.min_upload}")
    cfg = ScrapeConfig(
        out=args.out, per_domain=args.per_domain, api_url=args.api_url, workers=args.workers,
        calls_per_hour=args.calls_per_hour, licenses=licenses,
        excluded_tags=[t.strip().lower() for t in args.exclude_tags.split(",") if t.strip()],
        min_side=args.min_side, exif_check=args.exif_check, min_upload=args.min_upload,
        max_upload=args.max_upload, per_page=args.per_page, result_cap=args.result_cap,
        max_retries=args.max_retries, backoff_base_s=args.backoff_base, timeout_s=args.timeout,
        seed=args.seed, dry_run=args.dry_run, quiet=args.quiet,
    )
    if domains is not None:
        cfg.domains = domains
    return cfg, args


def read_key(key_file: Path | None) -> str:
    """The API key from ``key_file`` (first line) or $FLICKR_API_KEY; never logged."""
    if key_file is not None:
        try:
            lines = key_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise FlickrPermanentError(f"{key_file}: cannot read the API key file ({exc.strerror})") from None
        return lines[0].strip() if lines else ""
    return os.environ.get("FLICKR_API_KEY", "").strip()


def main(argv: list[str] | None = None) -> int:
    cfg, args = parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING if cfg.quiet else logging.INFO, handlers=[handler])
    try:
        key = read_key(args.api_key_file)
        if not key:
            raise FlickrPermanentError("no Flickr API key: set FLICKR_API_KEY or pass --api-key-file FILE")
        handler.addFilter(RedactingFilter(key))
        out = Path(cfg.out)
        out.mkdir(parents=True, exist_ok=True)
        cfg.max_upload = cfg.max_upload or int(time.time())  # the saved config names the real window
        if not cfg.dry_run:
            write_json(out / "scrape_config.json", dataclasses.asdict(cfg))
        summary = scrape(cfg, key)
    except FlickrError as exc:
        log.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        log.warning("interrupted: run the same command again to resume")
        return 130
    title = "dry run (nothing downloaded)" if cfg.dry_run else "scrape summary"
    if not cfg.quiet:
        print(f"{title}: {cfg.out}\n{summary.table()}")
    if summary.failed:
        log.warning("%d downloads failed after retries; run the same command again to retry them", summary.failed)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "scrape_flickr"))
