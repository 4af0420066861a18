"""Downloads of photo files: streamed to a hidden temporary, verified (complete, decodable, not
HTML, not Flickr's placeholder) and renamed to ``ID.EXT``."""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import requests
from PIL import Image, UnidentifiedImageError

from plumbing.files import new_file_mode

from .api import _PHOTO_ID, IMAGE_FORMATS, PLACEHOLDER_SIZES, BadImage, RetriesExhausted, _int, redact
from .polite import Backoff, _retry_after

log = logging.getLogger(__name__)


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
