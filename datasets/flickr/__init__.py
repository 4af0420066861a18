"""Flickr REST client and resumable scraper for the unpaired portrait dataset (Nasrullah 2018, §3.1).

The 2018 paper pulled 4,000 photos per domain from ``flickr.photos.search``: shallow depth of field
= text "portrait bokeh", ordinary = text "portrait" with the (undocumented) search parameter
``camera=apple/iphone_7``; photos tagged blackandwhite/BW/monochrome/animal/cat/dog/flower/bird
were excluded. This module does the same, gently and robustly:

* **API calls** go through :class:`RateLimiter` (a sliding window on a monotonic clock: never more
  than ``max_calls`` in any ``period_s``; default 3,600 per hour) and are retried with
  exponential backoff and jitter (:class:`Backoff`) on timeouts, dropped connections, HTTP 429
  (``Retry-After`` honoured), 5xx and the transient API codes 0 / 10 / 105 / 201. The permanent
  codes 1 / 3 / 18 / 20 / 100 raise :class:`FlickrPermanentError` at once.
* **The API key** is sent in the POST body, never in a URL, so it cannot leak through exception
  messages (which quote URLs), urllib3's debug log or proxies; every message this module builds
  is passed through :func:`redact` as well.
* **Past the 4,000-result cap** a query is sliced by upload-date windows (inclusive integer
  bounds, newest first, sorted by date inside a slice); a window whose total exceeds the cap is
  halved until it fits; photos are de-duplicated by id across slices and a slice stops at the
  first page that brings no new id (later pages repeat earlier ones).
* **Sizes** come from the record's extras only: the largest of url_o, url_k, url_h, url_l, url_c
  present (never a constructed URL); ``min_side`` filters on the reported width/height.
* **Downloads** stream to a hidden ``.ID.*.part`` file in the target folder, are verified
  (complete, fully decodes with Pillow, not HTML, not Flickr's "photo unavailable" placeholder)
  and renamed to ``ID.EXT``: file names come from photo ids only.
* **The manifest** (JSONL, appended with fsync) is the source of truth for resuming: a photo id
  recorded there (downloaded or rejected) is never fetched again; a killed run leaves at most a
  stale ``.part`` file (removed on the next start) and a photo renamed but not yet recorded
  (fetched again and replaced atomically, so never duplicated). A record without its photo id,
  domain or status (a hand-edited or foreign manifest) is one line and left out
  (:func:`check_manifest`), in the scraper and in curation alike.
* **API answers** are checked before use: not JSON, JSON nested too deeply to parse, no photo
  list, or a list whose entries are not records: each is one error naming the call.

The package by job: :mod:`.api` (constants, errors, redaction, the records of a search),
:mod:`.polite` (rate limit, backoff), :mod:`.client` (:class:`FlickrClient`), :mod:`.download`
(:class:`Downloader`) and :mod:`.scrape` (:func:`scrape`, its config and summary).
"""
from .api import (LICENSES, PAPER_DOMAINS, RESEARCH_LICENSES, BadImage, Domain, FlickrError, FlickrPermanentError,
                  Photo, RedactingFilter, RetriesExhausted, SearchSlice, check_manifest, redact)
from .client import FlickrClient
from .download import Downloaded, Downloader, verify_image
from .polite import Backoff, RateLimiter
from .scrape import ScrapeConfig, ScrapeSummary, load_domains, scrape

__all__ = ["LICENSES", "PAPER_DOMAINS", "RESEARCH_LICENSES", "Backoff", "BadImage", "Domain", "Downloaded", "Downloader",
           "FlickrClient", "FlickrError", "FlickrPermanentError", "Photo", "RateLimiter", "RedactingFilter",
           "RetriesExhausted", "ScrapeConfig", "ScrapeSummary", "SearchSlice", "check_manifest", "load_domains", "redact",
           "scrape",
           "verify_image"]
