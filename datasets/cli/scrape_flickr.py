"""The command line of ``scripts/scrape_flickr.py``: its parser (every option of the scrape's
settings has a ScrapeConfig field as its dest, so a saved ``scrape_config.json`` is a ``--config``
file and the flags given override it), the API key, and ``main``.

The key is not a setting: it comes from ``--api-key-file`` or ``$FLICKR_API_KEY`` on every run and
is never saved or logged.
"""
from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path
from typing import Optional, Sequence

from plumbing.cli import (EXIT_CODES_EPILOG, EXIT_INTERRUPTED, EXIT_SOME_FAILED, EXIT_USAGE, float_range, int_range,
                          non_negative_int, output_folder)
from plumbing.config import add_config_option, parse_config_args, save_config
from datasets.flickr import (LICENSES, RESEARCH_LICENSES, FlickrError, FlickrPermanentError, RedactingFilter,
                             ScrapeConfig, load_domains, scrape)

log = logging.getLogger("scrape_flickr")

#: The scrape's settings, written beside its photos (a ``--config`` file for scripts/scrape_flickr.py).
CONFIG_FILE = "scrape_config.json"

#: ``scripts/scrape_flickr.py --help``.
PROGRAM_HELP = """Scrape the unpaired portrait dataset from Flickr (resumable; gentle by default).

    export FLICKR_API_KEY=...            # or --api-key-file FILE (first line)
    python scripts/scrape_flickr.py --out data/flickr --per-domain 4000
    python scripts/scrape_flickr.py --out data/flickr --dry-run           # count only
    python scripts/scrape_flickr.py --out data/more --config data/flickr/scrape_config.json --per-domain 8000

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


def _domains_file(text: str) -> list[dict]:
    """argparse type of ``--domains``: the domains of a JSON file (datasets.flickr.load_domains)."""
    try:
        return load_domains(Path(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _int_list(text: str) -> list[int]:
    """argparse type: ``1,2,4`` → [1, 2, 4]."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None


def _tag_list(text: str) -> list[str]:
    """argparse type: ``BW, Cat`` → ["bw", "cat"] (Flickr's tags are lower case)."""
    return [t.strip().lower() for t in text.split(",") if t.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``scripts/scrape_flickr.py``."""
    d = ScrapeConfig(out="")
    p = argparse.ArgumentParser(description=PROGRAM_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=EXIT_CODES_EPILOG)
    p.add_argument("--out", required=True, type=output_folder,
                   help=f"output folder (raw/, manifest.jsonl, {CONFIG_FILE})")
    add_config_option(p)
    p.add_argument("--domains", type=_domains_file, default=d.domains,
                   help='JSON file {"domains": [{"name": "shallow", "text": "portrait bokeh"}, {"name": '
                        '"ordinary", "text": "portrait", "camera": "apple/iphone_7", "exif_model": "iPhone 7"}]} '
                        "(default: the paper's two domains)")
    p.add_argument("--per-domain", type=int_range(1, 10**7), default=d.per_domain,
                   help=f"photos to download per domain, at least 1 (default {d.per_domain})")
    p.add_argument("--api-url", default=d.api_url, help="REST endpoint (point it at a local server for tests)")
    p.add_argument("--api-key-file", type=Path, default=None,
                   help="file whose first line is the API key (default: $FLICKR_API_KEY)")
    p.add_argument("--workers", type=int_range(1, 64), default=d.workers,
                   help=f"parallel downloads, 1 … 64 (default {d.workers})")
    p.add_argument("--calls-per-hour", type=int_range(1, 1_000_000), default=d.calls_per_hour,
                   help=f"API call limit, sliding window, at least 1 (default {d.calls_per_hour}, Flickr's own "
                        "limit; more only for a local test server)")
    p.add_argument("--licenses", type=_int_list, default=d.licenses,
                   help="comma-separated Flickr licence ids (default: research reuse with attribution: "
                        + ", ".join(f"{i}={LICENSES[i]}" for i in RESEARCH_LICENSES) + ")")
    p.add_argument("--allow-any-license", action="store_true",
                   help="allow licence ids outside the research-reuse set (e.g. 0 = all rights reserved, ND)")
    p.add_argument("--exclude-tags", dest="excluded_tags", type=_tag_list, metavar="TAGS", default=d.excluded_tags,
                   help=f"skip photos with any of these tags (default {','.join(d.excluded_tags)})")
    p.add_argument("--min-side", type=int_range(0, 100_000), default=d.min_side,
                   help="skip photos whose reported shorter side is smaller (0: keep all)")
    p.add_argument("--exif-check", action=argparse.BooleanOptionalAction, default=d.exif_check,
                   help="check the EXIF camera model of domains that set exif_model (1 API call per photo)")
    p.add_argument("--min-upload", type=int_range(0, 2**32), default=d.min_upload,
                   help="earliest upload date (Unix seconds)")
    p.add_argument("--max-upload", type=int_range(0, 2**32), default=d.max_upload,
                   help="latest upload date (Unix seconds; 0 = now)")
    p.add_argument("--per-page", type=int_range(1, 500), default=d.per_page, help="results per search page, 1 … 500")
    p.add_argument("--result-cap", type=int_range(1, 100_000), default=d.result_cap,
                   help=f"results Flickr serves per query; larger slices are split (default {d.result_cap})")
    p.add_argument("--max-retries", type=int_range(0, 100), default=d.max_retries,
                   help="retries per call/download on transient failures, 0 … 100")
    p.add_argument("--backoff-base", dest="backoff_base_s", metavar="SECONDS",
                   type=float_range(0.0, 3600.0), default=d.backoff_base_s,
                   help="first backoff delay in seconds (doubles), 0 … 3600")
    p.add_argument("--timeout", dest="timeout_s", metavar="SECONDS", type=float_range(0.1, 3600.0), default=d.timeout_s,
                   help="read timeout in seconds, 0.1 … 3600")
    p.add_argument("--seed", type=non_negative_int, default=d.seed, help="seed of the backoff jitter")
    p.add_argument("--dry-run", action=argparse.BooleanOptionalAction, default=d.dry_run,
                   help="search and count candidates; download nothing")
    p.add_argument("--quiet", action=argparse.BooleanOptionalAction, default=d.quiet,
                   help="no progress bars, warnings only")
    return p


def parse_args(argv: Optional[Sequence[str]] = None) -> tuple[ScrapeConfig, argparse.Namespace]:
    """``(config, args)`` of a command line: defaults, then ``--config``, then the flags given; licences
    outside the research-reuse set need ``--allow-any-license``. Bad input exits with argparse's one line."""
    parser = build_parser()
    args, cfg = parse_config_args(parser, ScrapeConfig, argv)
    unknown = [i for i in cfg.licenses if i not in LICENSES]
    if unknown:
        parser.error(f"--licenses: unknown licence ids {unknown}")
    restricted = [i for i in cfg.licenses if i not in RESEARCH_LICENSES]
    if restricted and not args.allow_any_license:
        parser.error(f"--licenses {restricted} do not allow research reuse with attribution "
                     f"({', '.join(LICENSES[i] for i in restricted)}); add --allow-any-license to take them anyway")
    if cfg.max_upload and cfg.max_upload < cfg.min_upload:
        parser.error(f"--max-upload {cfg.max_upload} is before --min-upload {cfg.min_upload}")
    return cfg, args


def read_key(key_file: Optional[Path]) -> str:
    """The API key from ``key_file`` (first line) or $FLICKR_API_KEY; never logged."""
    if key_file is not None:
        try:
            lines = key_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise FlickrPermanentError(f"{key_file}: cannot read the API key file ({exc.strerror})") from None
        return lines[0].strip() if lines else ""
    return os.environ.get("FLICKR_API_KEY", "").strip()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``scripts/scrape_flickr.py``: 0 done, 1 some downloads failed after retries, 2 a permanent error or bad arguments."""
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
            save_config(cfg, out / CONFIG_FILE)
        summary = scrape(cfg, key)
    except FlickrError as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    except KeyboardInterrupt:
        log.warning("interrupted: run the same command again to resume")
        return EXIT_INTERRUPTED
    title = "dry run (nothing downloaded)" if cfg.dry_run else "scrape summary"
    if not cfg.quiet:
        print(f"{title}: {cfg.out}\n{summary.table()}")
    if summary.failed:
        log.warning("%d downloads failed after retries; run the same command again to retry them", summary.failed)
        return EXIT_SOME_FAILED
    return 0
