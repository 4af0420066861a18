"""What the Flickr API is to the scraper: its constants (licences, size labels, error codes),
the errors and the key's redaction, and the records of a search (:class:`Domain`, :class:`SearchSlice`,
:class:`Photo`)."""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any, Optional

from plumbing.files import PathLike, one_line

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


# --------------------------------------------------------------------------- the manifest


def check_manifest(records: list[Any], path: PathLike) -> tuple[list[dict], list[str]]:
    """The records of a ``manifest.jsonl`` that the scraper and curation can use, and one
    ``"PATH: record N: problem"`` line for each of the others (left out): a record must be a JSON
    object with text ``photo_id``, ``domain`` and ``status``, and a downloaded one (``ok``) its ``file``."""
    good, problems = [], []
    for n, record in enumerate(records, 1):
        if not isinstance(record, dict):
            problem = f"not a JSON object but {type(record).__name__}"
        else:
            needed = ("photo_id", "domain", "status") + (("file",) if record.get("status") == "ok" else ())
            missing = [key for key in needed if not isinstance(record.get(key), str) or not record[key]]
            problem = f"no {', '.join(missing)} (or not text)" if missing else ""
        if problem:
            problems.append(one_line(f"{path}: record {n}: {problem}; left out"))
        else:
            good.append(record)
    return good, problems
