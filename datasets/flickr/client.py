"""The Flickr REST client: searches sliced past the result cap, EXIF, every call rate-limited,
retried and redacted."""
from __future__ import annotations

import logging
import random
import time
from typing import Any, Callable, Iterator, Optional

import requests

from plumbing.files import loads_json

from .api import (DEFAULT_API_URL, EXTRAS, MAX_PER_PAGE, PERMANENT_CODES, RESULT_CAP, TRANSIENT_CODES, Domain,
                  FlickrPermanentError, RetriesExhausted, SearchSlice, _int, redact)
from .polite import Backoff, RateLimiter, _retry_after

log = logging.getLogger(__name__)


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
            payload = loads_json(response.content)
        except ValueError as exc:  # invalid, or nested too deeply for Python's parser
            return None, f"answer is not usable JSON ({str(exc).splitlines()[0][:120]})", None
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
        photo = payload.get("photo")
        items = photo.get("exif") if isinstance(photo, dict) else None
        found: dict[str, str] = {}
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):  # a broken answer: no tags from this entry
                continue
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
                entries = data.get("photo") or []
                records = [rec for rec in entries if isinstance(rec, dict)]
                if len(records) < len(entries):
                    log.warning("flickr.photos.search: %d entries of a page are not photo records (%s); skipped",
                                len(entries) - len(records), sorted({type(e).__name__ for e in entries
                                                                     if not isinstance(e, dict)}))
                new = [rec for rec in records if str(rec.get("id")) not in seen]
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
