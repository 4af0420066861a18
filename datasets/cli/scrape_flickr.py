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

from plumbing.cli import EXIT_CODES_EPILOG, EXIT_INTERRUPTED, EXIT_SOME_FAILED, EXIT_USAGE, output_folder
from plumbing.config import add_config_option, parse_config_args, save_config
from plumbing.fields import SettingError, add_setting
from plumbing.files import FileProblem, read_text
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
    """The parser of ``scripts/scrape_flickr.py``: a flag per ScrapeConfig setting, made from its declaration."""
    p = argparse.ArgumentParser(description=PROGRAM_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=EXIT_CODES_EPILOG)
    add_setting(p, ScrapeConfig, "out", required=True, type=output_folder)
    add_config_option(p)
    add_setting(p, ScrapeConfig, "domains", type=_domains_file)
    for name in ("per_domain", "api_url"):
        add_setting(p, ScrapeConfig, name)
    p.add_argument("--api-key-file", type=Path, default=None,
                   help="file whose first line is the API key (default: $FLICKR_API_KEY)")
    for name in ("workers", "calls_per_hour"):
        add_setting(p, ScrapeConfig, name)
    add_setting(p, ScrapeConfig, "licenses", type=_int_list)
    p.add_argument("--allow-any-license", action="store_true",
                   help="allow licence ids outside the research-reuse set (e.g. 0 = all rights reserved, ND)")
    add_setting(p, ScrapeConfig, "excluded_tags", "--exclude-tags", type=_tag_list)
    for name in ("min_side", "exif_check", "min_upload", "max_upload", "per_page", "result_cap", "max_retries"):
        add_setting(p, ScrapeConfig, name)
    add_setting(p, ScrapeConfig, "backoff_base_s", "--backoff-base")
    add_setting(p, ScrapeConfig, "timeout_s", "--timeout")
    for name in ("seed", "dry_run", "quiet"):
        add_setting(p, ScrapeConfig, name)
    return p


def parse_args(argv: Optional[Sequence[str]] = None) -> tuple[ScrapeConfig, argparse.Namespace]:
    """``(config, args)`` of a command line: defaults, then ``--config``, then the flags given, every
    value checked; licences outside the research-reuse set need ``--allow-any-license``. Bad input
    exits with argparse's one line."""
    parser = build_parser()
    args, cfg = parse_config_args(parser, ScrapeConfig, argv, check_config=check_config)
    restricted = [i for i in cfg.licenses if i not in RESEARCH_LICENSES]
    if restricted and not args.allow_any_license:
        parser.error(f"--licenses {restricted} do not allow research reuse with attribution "
                     f"({', '.join(LICENSES[i] for i in restricted)}); add --allow-any-license to take them anyway")
    return cfg, args


def check_config(cfg: ScrapeConfig) -> None:
    """SettingError for domains that are not domains, or an upload window that ends before it
    starts (each setting's own type and range are checked before, by its declaration)."""
    try:
        cfg.domain_list()
    except TypeError as exc:
        raise SettingError("domains", f"not a list of domains ({exc})") from None
    if cfg.max_upload and cfg.max_upload < cfg.min_upload:
        raise SettingError("max_upload", f"{cfg.max_upload} is before min_upload {cfg.min_upload}")


#: Largest API key file read (a key is 32 characters; a few lines of notes are fine).
KEY_FILE_LIMIT = 4096


def read_key(key_file: Optional[Path]) -> str:
    """The API key from ``key_file`` (its first line) or $FLICKR_API_KEY; never logged. A key
    file that is not a small regular text file (a folder, a FIFO, ``/dev/zero``, a binary file),
    or is empty, is one FlickrPermanentError naming it (never its content)."""
    if key_file is None:
        return os.environ.get("FLICKR_API_KEY", "").strip()
    try:
        text = read_text(key_file, KEY_FILE_LIMIT)
    except FileProblem as exc:
        raise FlickrPermanentError(f"{key_file}: cannot use it as the API key file: {exc.problem}") from None
    key = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not key:
        raise FlickrPermanentError(f"{key_file}: the API key file is empty (its first line should be the key)")
    if not key.isprintable() or not key.isascii():
        raise FlickrPermanentError(f"{key_file}: the first line is not an API key (letters and digits expected)")
    return key


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
