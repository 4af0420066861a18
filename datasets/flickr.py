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
  (fetched again and replaced atomically, so never duplicated).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import random
import re
import tempfile
import threading
import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np
import requests
from PIL import Image, UnidentifiedImageError

from plumbing import markdown
from plumbing.files import append_jsonl, new_file_mode, read_jsonl

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.flickr.com/services/rest/"

#: Flickr licence ids (flickr.photos.licenses.getInfo).
LICENSES: dict[int, str] = {
    0: "All Rights Reserved",
    1: "CC BY-NC-SA 2.0",
    2: "CC BY-NC 2.0",
    3: "CC BY-NC-ND 2.0",
    4: "CC BY 2.0",
    5: "CC BY-SA 2.0",
    6: "CC BY-ND 2.0",
    7: "No known copyright restrictions",
    8: "United States Government Work",
    9: "Public Domain Dedication (CC0)",
    10: "Public Domain Mark",
    11: "CC BY 4.0",
    12: "CC BY-SA 4.0",
    13: "CC BY-ND 4.0",
    14: "CC BY-NC 4.0",
    15: "CC BY-NC-SA 4.0",
    16: "CC BY-NC-ND 4.0",
}
#: Licences that allow reuse (derivatives included) for research with attribution: the default.
RESEARCH_LICENSES: tuple[int, ...] = (1, 2, 4, 5, 7, 8, 9, 10, 11, 12, 14, 15)
#: Size labels in the order we prefer them (largest first).
SIZE_LABELS: tuple[str, ...] = ("o", "k", "h", "l", "c")
#: Tags excluded by the paper (and "bird", used by its code); compared case-insensitively.
EXCLUDED_TAGS: tuple[str, ...] = ("blackandwhite", "bw", "monochrome", "animal", "cat", "dog", "flower", "bird")
TRANSIENT_CODES = frozenset({0, 10, 105, 201})
PERMANENT_CODES = frozenset({1, 3, 18, 20, 100})
RESULT_CAP = 4000
MAX_PER_PAGE = 500
FLICKR_EPOCH = 1076371200  # 2004-02-10, Flickr's launch: the earliest upload date worth asking for
EXTRAS = "license,owner_name,date_upload,date_taken,tags,o_dims," + ",".join(f"url_{s}" for s in SIZE_LABELS)
#: Sizes of Flickr's grey "This photo is no longer available" placeholders.
PLACEHOLDER_SIZES = frozenset({(500, 374), (500, 375), (240, 180), (240, 179), (100, 75), (1024, 768), (75, 75), (150, 150)})
IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
_PHOTO_ID = re.compile(r"^[0-9]{1,20}$")
_URL_QUERY = re.compile(r"(https?://[^\s?#'\"<>]+)\?[^\s'\"<>]*")


# --------------------------------------------------------------------------- errors, redaction


class FlickrError(RuntimeError):
    """Base class of this module's errors; messages never contain the API key."""


class FlickrPermanentError(FlickrError):
    """An API failure that retrying cannot fix (bad key, bad query, excessive offset): stop."""


class RetriesExhausted(FlickrError):
    """A transient failure persisted through every retry."""


class BadImage(FlickrError):
    """A download that is not a usable photo; ``reason`` is a short label for the manifest."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def redact(text: str, secret: str = "") -> str:
    """``text`` with ``secret`` replaced by ``***`` and every URL's query string dropped."""
    if secret:
        text = text.replace(secret, "***")
    return _URL_QUERY.sub(r"\1?<query removed>", text)


class RedactingFilter(logging.Filter):
    """A logging filter for handlers: rewrites each record's message through :func:`redact`."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self._secret)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self._secret)
            record.exc_info = None
        return True


# --------------------------------------------------------------------------- politeness


class RateLimiter:
    """Sliding-window limiter: at most ``max_calls`` acquisitions in any window of ``period_s``.

    Keeps the times of the last ``max_calls`` acquisitions; when full, waits until the oldest one
    is ``period_s`` old. ``clock`` must be monotonic; ``clock`` and ``sleep`` are injectable so
    that tests run on a virtual clock. Thread-safe.
    """

    def __init__(
        self,
        max_calls: int,
        period_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_calls < 1 or period_s <= 0:
            raise ValueError(f"need max_calls >= 1 and period_s > 0, got {max_calls}, {period_s}")
        self.max_calls, self.period_s = int(max_calls), float(period_s)
        self._clock, self._sleep = clock, sleep
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until one more call fits in the window, then count it."""
        with self._lock:
            while True:
                now = self._clock()
                while self._times and self._times[0] <= now - self.period_s:
                    self._times.popleft()
                if len(self._times) < self.max_calls:
                    self._times.append(now)
                    return
                self._sleep(self._times[0] + self.period_s - now)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": attempt k waits U(d/2, d), d = min(max_s, base_s·factor^k).

    A server's ``Retry-After`` replaces the computed delay (capped at ``max_retry_after_s``).
    """

    base_s: float = 1.0
    factor: float = 2.0
    max_s: float = 120.0
    max_retries: int = 5
    max_retry_after_s: float = 600.0

    def delay(self, attempt: int, rng: random.Random, retry_after: Optional[float] = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after_s)
        d = min(self.max_s, self.base_s * self.factor**attempt)
        return d / 2 + rng.uniform(0.0, d / 2)


def _retry_after(response: requests.Response) -> Optional[float]:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        return float(value)
    with contextlib.suppress(TypeError, ValueError):
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(value)
        return (when - dt.datetime.now(dt.timezone.utc)).total_seconds()
    return None


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Domain:
    """One search: ``text`` (and/or ``tags``), optional ``camera`` search parameter (undocumented,
    used by the paper) and optional ``exif_model`` to check with flickr.photos.getExif."""

    name: str
    text: str = ""
    tags: str = ""
    camera: str = ""
    exif_model: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.name):
            raise ValueError(f"domain name {self.name!r} must be letters, digits, '_' or '-' (it names a folder)")
        if not (self.text or self.tags):
            raise ValueError(f"domain {self.name!r} needs a search text or tags")


#: The paper's two domains.
PAPER_DOMAINS: tuple[Domain, ...] = (
    Domain("shallow", text="portrait bokeh"),
    Domain("ordinary", text="portrait", camera="apple/iphone_7", exif_model="iPhone 7"),
)


@dataclass(frozen=True)
class SearchSlice:
    """Inclusive upload-date window in Unix seconds."""

    min_upload: int
    max_upload: int

    def iso(self) -> list[str]:
        return [_iso(self.min_upload), _iso(self.max_upload)]


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds")


def _int(value: Any) -> Optional[int]:
    """Flickr sends numbers as ints or strings; None for missing or unparsable."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Photo:
    """One search record reduced to what the scraper needs; sizes from the record's extras only."""

    id: str
    owner: str
    owner_name: str
    title: str
    license: Optional[int]
    date_upload: Optional[int]
    date_taken: str
    tags: tuple[str, ...]
    url: str
    size_label: str
    width: Optional[int]
    height: Optional[int]

    @classmethod
    def from_record(cls, rec: dict) -> Optional["Photo"]:
        """Parse a ``flickr.photos.search`` record; None when its id is odd or no size url_o/k/h/l/c is present."""
        pid = str(rec.get("id", ""))
        if not _PHOTO_ID.match(pid):
            return None
        for label in SIZE_LABELS:
            url = rec.get(f"url_{label}")
            if isinstance(url, str) and url.startswith(("http://", "https://")):
                width, height = _int(rec.get(f"width_{label}")), _int(rec.get(f"height_{label}"))
                if label == "o" and width is None:
                    width, height = _int(rec.get("o_width")), _int(rec.get("o_height"))
                break
        else:
            return None
        return cls(
            id=pid,
            owner=str(rec.get("owner", "")),
            owner_name=str(rec.get("ownername", "")),
            title=str(rec.get("title", "")),
            license=_int(rec.get("license")),
            date_upload=_int(rec.get("dateupload")),
            date_taken=str(rec.get("datetaken", "")),
            tags=tuple(str(rec.get("tags", "")).lower().split()),
            url=url,
            size_label=label,
            width=width,
            height=height,
        )

    @property
    def page_url(self) -> str:
        return f"https://www.flickr.com/photos/{self.owner}/{self.id}"

    def min_side(self) -> Optional[int]:
        if self.width is None or self.height is None:
            return None
        return min(self.width, self.height)


# --------------------------------------------------------------------------- API client


class FlickrClient:
    """Thin ``flickr.photos.search`` / ``getExif`` client: limiter, retries, redaction.

    ``sleep`` and ``rng`` are injectable (tests); the key travels in the POST body only.
    """

    def __init__(
        self,
        api_key: str,
        api_url: str = DEFAULT_API_URL,
        *,
        limiter: Optional[RateLimiter] = None,
        backoff: Backoff = Backoff(),
        timeout: tuple[float, float] = (10.0, 30.0),
        rng: Optional[random.Random] = None,
        sleep: Callable[[float], None] = time.sleep,
        session: Optional[requests.Session] = None,
    ) -> None:
        if not api_key:
            raise FlickrPermanentError("no Flickr API key given (set FLICKR_API_KEY or pass --api-key-file)")
        self._key = api_key
        self.api_url = api_url
        self.limiter = limiter or RateLimiter(3600, 3600.0)
        self.backoff, self.timeout = backoff, timeout
        self._rng = rng or random.Random(0)
        self._sleep = sleep
        self._session = session or requests.Session()
        self.calls = 0

    def redact(self, text: str) -> str:
        return redact(text, self._key)

    def _attempt(self, form: dict) -> tuple[Optional[dict], str, Optional[float]]:
        """One POST: (payload, "", None) on success, (None, problem, retry_after) when transient."""
        try:
            response = self._session.post(self.api_url, data=form, timeout=self.timeout)
        except requests.RequestException as exc:
            return None, f"{type(exc).__name__}: {exc}", None
        if response.status_code == 429 or response.status_code >= 500:
            return None, f"HTTP {response.status_code}", _retry_after(response)
        if response.status_code != 200:
            raise FlickrPermanentError(self.redact(f"{form['method']}: HTTP {response.status_code} from {self.api_url}"))
        try:
            payload = response.json()
        except ValueError:
            return None, "answer is not JSON", None
        if not isinstance(payload, dict):
            return None, "answer is not a JSON object", None
        if payload.get("stat") == "ok":
            return payload, "", None
        code, message = _int(payload.get("code")), str(payload.get("message", ""))
        if code in PERMANENT_CODES:
            raise FlickrPermanentError(self.redact(f"{form['method']}: Flickr error {code}: {message}"))
        if code in TRANSIENT_CODES:
            return None, f"Flickr error {code}: {message}", None
        raise FlickrPermanentError(self.redact(f"{form['method']}: unexpected Flickr error {code}: {message}"))

    def call(self, method: str, **params: Any) -> dict:
        """Call ``method`` with ``params``; retry transient failures; return the decoded answer."""
        form = {k: str(v) for k, v in params.items() if v not in (None, "")}
        form.update(method=method, api_key=self._key, format="json", nojsoncallback="1")
        problem = ""
        for attempt in range(self.backoff.max_retries + 1):
            self.limiter.acquire()
            self.calls += 1
            payload, problem, retry_after = self._attempt(form)
            if payload is not None:
                return payload
            if attempt < self.backoff.max_retries:
                wait_s = self.backoff.delay(attempt, self._rng, retry_after)
                log.info("%s", self.redact(f"{method}: {problem}; retry {attempt + 1} in {wait_s:.2f}s"))
                self._sleep(wait_s)
        raise RetriesExhausted(self.redact(f"{method}: gave up after {self.backoff.max_retries + 1} attempts: {problem}"))

    def search(self, domain: Domain, window: SearchSlice, page: int, per_page: int, licenses: tuple[int, ...]) -> dict:
        """One page of ``flickr.photos.search`` in ``window``, newest first; returns ``answer["photos"]``."""
        payload = self.call(
            "flickr.photos.search",
            text=domain.text,
            tags=domain.tags,
            camera=domain.camera,
            license=",".join(str(i) for i in licenses),
            min_upload_date=window.min_upload,
            max_upload_date=window.max_upload,
            sort="date-posted-desc",
            media="photos",
            content_type=1,
            extras=EXTRAS,
            per_page=per_page,
            page=page,
        )
        photos = payload.get("photos")
        if not isinstance(photos, dict) or not isinstance(photos.get("photo", []), list):
            raise RetriesExhausted("flickr.photos.search: answer has no 'photos' list")
        return photos

    def exif(self, photo_id: str) -> dict[str, str]:
        """``flickr.photos.getExif``: {"Make", "Model", "FNumber", "FocalLength"} as far as present."""
        payload = self.call("flickr.photos.getExif", photo_id=photo_id)
        photo = payload.get("photo") or {}
        found: dict[str, str] = {}
        for item in photo.get("exif") or []:
            tag = item.get("tag")
            if tag in ("Make", "Model", "FNumber", "FocalLength") and tag not in found:
                raw = item.get("raw")
                found[tag] = str(raw.get("_content", "") if isinstance(raw, dict) else raw)
        return found

    def iter_records(
        self,
        domain: Domain,
        licenses: tuple[int, ...],
        window: SearchSlice,
        *,
        per_page: int = MAX_PER_PAGE,
        cap: int = RESULT_CAP,
        min_window_s: int = 3600,
        seen: Optional[set[str]] = None,
        on_page: Callable[[], None] = lambda: None,
    ) -> Iterator[tuple[dict, SearchSlice]]:
        """Yield (raw record, its slice) for every photo of the query, each id once.

        Slices whose total exceeds ``cap`` are halved (down to ``min_window_s``); within a slice
        pages are walked until the cap, the last page, or a page with no unseen id.
        """
        seen = set() if seen is None else seen
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        stack = [window]
        while stack:
            sl = stack.pop()
            page = 1
            data = self.search(domain, sl, page, per_page, licenses)
            on_page()
            total = _int(data.get("total")) or 0
            if total > cap and sl.max_upload - sl.min_upload > min_window_s:
                mid = (sl.min_upload + sl.max_upload) // 2
                stack.append(SearchSlice(sl.min_upload, mid))  # older half: visited after the newer one
                stack.append(SearchSlice(mid + 1, sl.max_upload))
                log.debug("slice %s holds %d > %d results: split", sl.iso(), total, cap)
                continue
            if total > cap:
                log.warning("slice %s still holds %d > %d results at the minimum window; only the first %d are reachable",
                            sl.iso(), total, cap, cap)
            while True:
                new = [rec for rec in data.get("photo", []) if str(rec.get("id")) not in seen]
                if not new:
                    break
                for rec in new:
                    seen.add(str(rec.get("id")))
                    yield rec, sl
                pages = _int(data.get("pages")) or 0
                if page >= pages or page * per_page >= cap:
                    break
                page += 1
                data = self.search(domain, sl, page, per_page, licenses)
                on_page()


# --------------------------------------------------------------------------- downloads


@dataclass(frozen=True)
class Downloaded:
    path: Path
    sha256: str
    bytes: int
    width: int
    height: int
    format: str


def _is_placeholder(im: Image.Image) -> bool:
    """Flickr's placeholder: one of its known sizes and (nearly) grey everywhere."""
    if im.size not in PLACEHOLDER_SIZES:
        return False
    small = np.asarray(im.convert("RGB").resize((64, 48)), dtype=np.int16)
    spread = np.abs(small[..., 0] - small[..., 1]) + np.abs(small[..., 1] - small[..., 2])
    return float(spread.mean()) < 6.0


def verify_image(path: Path) -> tuple[int, int, str]:
    """Check a downloaded file: not HTML, decodes fully, not the placeholder. Returns (width, height, PIL format).

    Raises :class:`BadImage` with reason ``html``, ``corrupt``, ``format`` or ``unavailable``.
    """
    with open(path, "rb") as f:
        head = f.read(512).lstrip()
    if head[:1] == b"<" or head[:5].lower() == b"<!doc":
        raise BadImage("html", "an HTML/XML page, not an image")
    try:
        with Image.open(path) as im:
            fmt = im.format or ""
            im.load()
            if fmt not in IMAGE_FORMATS:
                raise BadImage("format", f"unsupported image format {fmt!r}")
            if _is_placeholder(im):
                raise BadImage("unavailable", f"Flickr 'photo unavailable' placeholder ({im.size[0]}x{im.size[1]})")
            return im.size[0], im.size[1], fmt
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise BadImage("corrupt", f"does not decode: {exc}") from None


class Downloader:
    """Streams one photo into ``folder/ID.EXT`` via a hidden temp file, verified, with retries.

    One ``requests.Session`` per worker thread. ``sleep``/``rng`` injectable for tests.
    """

    def __init__(
        self,
        *,
        backoff: Backoff = Backoff(),
        timeout: tuple[float, float] = (10.0, 60.0),
        max_bytes: int = 200 * 2**20,
        sleep: Callable[[float], None] = time.sleep,
        seed: int = 0,
    ) -> None:
        self.backoff, self.timeout, self.max_bytes = backoff, timeout, max_bytes
        self._sleep = sleep
        self._local = threading.local()
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _delay(self, attempt: int, retry_after: Optional[float]) -> float:
        with self._rng_lock:
            return self.backoff.delay(attempt, self._rng, retry_after)

    def _fetch(self, url: str, tmp: Path) -> tuple[str, int]:
        """Stream ``url`` into ``tmp``; returns (sha256, bytes). Raises _Transient or BadImage."""
        with self._session().get(url, stream=True, timeout=self.timeout) as response:
            if any("photo_unavailable" in r.headers.get("Location", "") for r in response.history) or \
                    "photo_unavailable" in response.url:
                raise BadImage("unavailable", "redirected to Flickr's 'photo unavailable' image")
            if response.status_code == 429 or response.status_code >= 500:
                raise _Transient(f"HTTP {response.status_code}", _retry_after(response))
            if response.status_code != 200:
                raise BadImage("gone", f"HTTP {response.status_code}")
            if response.headers.get("Content-Type", "").lower().startswith("text/html"):
                raise BadImage("html", "served as text/html")
            digest, size = hashlib.sha256(), 0
            with open(tmp, "wb") as f:
                for chunk in response.iter_content(chunk_size=1 << 16):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise BadImage("too_big", f"more than {self.max_bytes} bytes")
                    digest.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            expected = _int(response.headers.get("Content-Length"))
            if expected is not None and response.headers.get("Content-Encoding") is None and expected != size:
                raise _Transient(f"got {size} of {expected} bytes", None)
        return digest.hexdigest(), size

    def download(self, url: str, folder: Path, photo_id: str) -> Downloaded:
        """Fetch, verify and rename into ``folder/photo_id.EXT``. Raises BadImage or RetriesExhausted."""
        if not _PHOTO_ID.match(photo_id):
            raise BadImage("bad_id", f"photo id {photo_id!r} is not numeric")
        folder.mkdir(parents=True, exist_ok=True)
        problem = ""
        for attempt in range(self.backoff.max_retries + 1):
            fd, name = tempfile.mkstemp(dir=folder, prefix=f".{photo_id}.", suffix=".part")
            os.close(fd)
            tmp = Path(name)
            try:
                try:
                    sha, size = self._fetch(url, tmp)
                    width, height, fmt = verify_image(tmp)
                except requests.RequestException as exc:
                    problem, retry_after = f"{type(exc).__name__}: {exc}", None
                except _Transient as exc:
                    problem, retry_after = str(exc), exc.retry_after
                except BadImage as exc:
                    if exc.reason != "corrupt" or attempt == self.backoff.max_retries:
                        raise
                    problem, retry_after = str(exc), None  # may be a cut transfer: try again
                else:
                    final = folder / f"{photo_id}.{IMAGE_FORMATS[fmt]}"
                    os.chmod(tmp, new_file_mode())  # mkstemp's 0600 would make the photos private
                    os.replace(tmp, final)
                    return Downloaded(final, sha, size, width, height, fmt)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            if attempt < self.backoff.max_retries:
                wait_s = self._delay(attempt, retry_after)
                log.debug("%s", redact(f"photo {photo_id}: {problem}; retry {attempt + 1} in {wait_s:.2f}s"))
                self._sleep(wait_s)
        raise RetriesExhausted(redact(f"photo {photo_id}: gave up after {self.backoff.max_retries + 1} attempts: {problem}"))


class _Transient(Exception):
    def __init__(self, message: str, retry_after: Optional[float]) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --------------------------------------------------------------------------- the scraper


@dataclass
class ScrapeConfig:
    """Everything that defines a scrape (saved as ``OUT/scrape_config.json``; never holds the key)."""

    out: str
    domains: list[dict] = field(default_factory=lambda: [dataclasses.asdict(d) for d in PAPER_DOMAINS])
    per_domain: int = 4000
    api_url: str = DEFAULT_API_URL
    workers: int = 4
    calls_per_hour: int = 3600
    licenses: list[int] = field(default_factory=lambda: list(RESEARCH_LICENSES))
    excluded_tags: list[str] = field(default_factory=lambda: list(EXCLUDED_TAGS))
    min_side: int = 0
    exif_check: bool = False
    min_upload: int = FLICKR_EPOCH
    max_upload: int = 0  # 0: now
    per_page: int = MAX_PER_PAGE
    result_cap: int = RESULT_CAP
    min_window_s: int = 3600
    max_retries: int = 5
    backoff_base_s: float = 1.0
    timeout_s: float = 30.0
    seed: int = 0
    dry_run: bool = False
    quiet: bool = False

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
    from tqdm import tqdm

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    lock = _lock_out_dir(out)
    try:
        manifest = out / "manifest.jsonl"
        records = read_jsonl(manifest, repair=not config.dry_run)
        backoff = Backoff(base_s=config.backoff_base_s, max_retries=config.max_retries)
        client = FlickrClient(
            api_key, config.api_url,
            limiter=RateLimiter(config.calls_per_hour, 3600.0, clock=clock, sleep=sleep),
            backoff=backoff, timeout=(min(10.0, config.timeout_s), config.timeout_s),
            rng=random.Random(config.seed), sleep=sleep,
        )
        downloader = Downloader(backoff=backoff, timeout=(min(10.0, config.timeout_s), config.timeout_s),
                                sleep=sleep, seed=config.seed)
        summary = ScrapeSummary()
        licenses = tuple(config.licenses)
        excluded = {t.lower() for t in config.excluded_tags}
        end = config.max_upload or int(time.time())
        known = {r["photo_id"] for r in records}  # across domains: a photo belongs to one domain only
        for domain in config.domain_list():
            folder = out / "raw" / domain.name
            if folder.exists() and not config.dry_run:
                for stale in folder.glob(".*.part"):
                    stale.unlink()
            have = sum(1 for r in records if r.get("domain") == domain.name and r.get("status") == "ok")
            summary.add(domain.name, "total", have)
            need = config.per_domain - have
            if need <= 0:
                continue
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
                        log.warning("%s", redact(f"photo {photo.id} ({domain.name}): rejected, {exc}", api_key))
                    except RetriesExhausted as exc:
                        summary.add(domain.name, "failed")
                        log.warning("%s", redact(str(exc), api_key))
                    else:
                        append_jsonl(manifest, _record(photo, domain, sl, got, out, exif))
                        ok += 1
                        summary.add(domain.name, "downloaded")
                        summary.add(domain.name, "total")
                        bar.update(1)

                def settle(limit: int) -> None:
                    while pending and (len(pending) >= limit or ok + len(pending) >= need):
                        done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                        for f in done:
                            handle(f)

                records_iter = client.iter_records(
                    domain, licenses, SearchSlice(config.min_upload, end), per_page=config.per_page,
                    cap=config.result_cap, min_window_s=config.min_window_s, on_page=lambda: pages.update(1))
                for rec, sl in records_iter:
                    photo = Photo.from_record(rec)
                    if photo is None:
                        summary.add(domain.name, "no_size")
                        continue
                    if photo.id in known:
                        summary.add(domain.name, "already")
                        continue
                    if excluded.intersection(photo.tags):
                        summary.add(domain.name, "excluded_tag")
                        continue
                    if config.min_side and (photo.min_side() is None or photo.min_side() < config.min_side):
                        summary.add(domain.name, "too_small")
                        continue
                    summary.add(domain.name, "candidates")
                    if config.dry_run:
                        if summary.counts[domain.name]["candidates"] >= need:
                            break
                        continue
                    exif: dict = {}
                    if config.exif_check and domain.exif_model:
                        exif = client.exif(photo.id)
                        if exif.get("Model", "").strip().lower() != domain.exif_model.lower():
                            append_jsonl(manifest, _reject(photo, domain, "exif_model",
                                                           f"EXIF model {exif.get('Model', 'missing')!r}"))
                            summary.add(domain.name, "exif_model")
                            continue
                    known.add(photo.id)
                    pending[pool.submit(downloader.download, photo.url, folder, photo.id)] = (photo, sl, exif)
                    settle(2 * max(1, config.workers))
                    if ok >= need:
                        break
                settle(1)
                records_iter.close()
        summary.api_calls = client.calls
        return summary
    finally:
        lock.close()


def load_domains(path: Path) -> list[dict]:
    """Read a domains file: JSON ``{"domains": [{"name": ..., "text": ..., "camera": ...}, ...]}``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        domains = [dataclasses.asdict(Domain(**d)) for d in data["domains"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a domains file ({exc})") from None
    return domains

