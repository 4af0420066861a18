"""A local fake Flickr (REST API + image host) on 127.0.0.1 for the scraper's tests and benchmark.

Search answers copy the shapes of real ones (``datasets/testing/flickr/search_page.json``:
numbers as strings or ints, optional sizes, Unicode titles): every fake photo starts from one of
the fixture records and gets its own id, upload date, licence, tags and local image URLs.
The server emulates Flickr's result cap (pages past ``cap`` repeat the last allowed page),
inclusive upload-date bounds, ``date-posted-desc`` sorting, licence and camera filters and key
checks, and lets a test script faults: ``server.faults["api"]`` / ``server.faults["img:ID"]`` are
queues of one-shot faults ("fail:CODE", "429:SECONDS", "500", "503", "slow:SECONDS", "drop"),
and ``FakePhoto.mode`` makes a photo permanently "truncated", "html" or "unavailable".

Use it as a context manager::

    with FakeFlickr(make_photos(30), api_key="k") as fake:
        client = FlickrClient("k", fake.api_url)
"""
from __future__ import annotations

import io
import json
import random
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image

FIXTURES = Path(__file__).resolve().parent / "flickr"


def fixture_records() -> list[dict]:
    """The three real search records of the fixture (``datasets/testing/flickr/README.md``)."""
    return json.loads((FIXTURES / "search_page.json").read_text(encoding="utf-8"))["photos"]["photo"]


def fixture_error(name: str) -> dict:
    return json.loads((FIXTURES / f"error_{name}.json").read_text(encoding="utf-8"))


@dataclass
class FakePhoto:
    """One photo on the fake server; ``record`` is its search record (URLs filled in by the server)."""

    id: str
    upload: int
    license: int = 4
    tags: str = ""
    title: str = ""
    camera: str = ""
    sizes: tuple[str, ...] = ("l",)
    size_px: tuple[int, int] = (1024, 768)  # reported width/height
    mode: str = "ok"  # ok | truncated | html | unavailable
    image_size: tuple[int, int] = (48, 40)  # actual pixels served
    template: dict = field(default_factory=dict)
    content: Optional[bytes] = None  # the exact file to serve (e.g. a JPEG of a person); None: a test pattern


def make_photos(n: int, *, seed: int = 0, start: int = 1_500_000_000, step: int = 3600, **kw) -> list[FakePhoto]:
    """``n`` photos with distinct ids, uploaded ``step`` seconds apart, using the fixture records as templates."""
    templates = fixture_records()
    return [
        FakePhoto(id=str(40_000_000_000 + seed * 100_000 + i), upload=start + i * step,
                  title=templates[i % len(templates)]["title"], template=templates[i % len(templates)], **kw)
        for i in range(n)
    ]


def image_bytes(photo_id: str, size: tuple[int, int], fmt: str = "JPEG") -> bytes:
    """A deterministic colourful test image for ``photo_id``."""
    rng = np.random.default_rng(int(photo_id) % (2**32))
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = rng.integers(0, 256, 3)
    img = np.stack([(base[c] + xx * rng.integers(1, 6) + yy * rng.integers(1, 6)) % 256 for c in range(3)], -1)
    buf = io.BytesIO()
    Image.fromarray(img.astype(np.uint8)).save(buf, fmt, quality=90)
    return buf.getvalue()


def placeholder_bytes() -> bytes:
    """Flickr's grey 500×374 'photo unavailable' placeholder, as a stand-in."""
    buf = io.BytesIO()
    Image.new("RGB", (500, 374), (212, 212, 212)).save(buf, "PNG")
    return buf.getvalue()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that went away (a scraper killed mid-download) is expected; anything else is printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeFlickr:
    """The fake server; ``api_url`` and ``base`` are set once started (``with`` or :meth:`start`)."""

    def __init__(self, photos: list[FakePhoto], *, api_key: str = "test-key", cap: int = 4000,
                 image_latency_s: float = 0.0, api_latency_s: float = 0.0) -> None:
        self.photos = sorted(photos, key=lambda p: -p.upload)
        self.by_id = {p.id: p for p in photos}
        self.api_key, self.cap = api_key, cap
        self.image_latency_s, self.api_latency_s = image_latency_s, api_latency_s
        self.faults: dict[str, list[str]] = {}
        self.api_calls: list[dict] = []
        self.image_requests: list[str] = []
        self._lock = threading.Lock()
        self._images: dict[str, bytes] = {}
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle
    def start(self) -> "FakeFlickr":
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "FakeFlickr":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.base + "/services/rest/"

    def pop_fault(self, key: str) -> Optional[str]:
        with self._lock:
            queue = self.faults.get(key)
            return queue.pop(0) if queue else None

    def image(self, photo: FakePhoto) -> bytes:
        with self._lock:
            if photo.id not in self._images:
                self._images[photo.id] = photo.content or image_bytes(photo.id, photo.image_size)
            return self._images[photo.id]

    # -- API
    def record(self, p: FakePhoto) -> dict:
        rec = {k: v for k, v in p.template.items() if not k.startswith(("url_", "width_", "height_"))}
        rec.update(id=p.id, dateupload=str(p.upload), license=str(p.license), tags=p.tags, title=p.title)
        for label in p.sizes:
            rec[f"url_{label}"] = f"{self.base}/img/{p.id}_{label}.jpg"
            rec[f"width_{label}"], rec[f"height_{label}"] = p.size_px[0], str(p.size_px[1])
        return rec

    def search(self, q: dict) -> dict:
        if not q.get("text") and not q.get("tags"):
            return {"stat": "fail", "code": 3, "message": "Parameterless searches have been disabled."}
        lo, hi = int(q.get("min_upload_date", 0)), int(q.get("max_upload_date", 2**40))
        licenses = {int(x) for x in q["license"].split(",")} if q.get("license") else None
        hits = [p for p in self.photos if lo <= p.upload <= hi
                and (licenses is None or p.license in licenses)
                and (not q.get("camera") or p.camera == q["camera"])]
        per_page = min(int(q.get("per_page", 100)), 500)
        page = int(q.get("page", 1))
        last_allowed = max(1, self.cap // per_page)
        served = min(page, last_allowed)  # past the cap, Flickr repeats earlier results
        chunk = hits[(served - 1) * per_page: served * per_page]
        pages = max(1, -(-len(hits) // per_page))
        return {"photos": {"page": page, "pages": pages, "perpage": per_page, "total": str(len(hits)),
                           "photo": [self.record(p) for p in chunk]}, "stat": "ok"}

    def answer_api(self, q: dict) -> dict:
        if q.get("api_key") != self.api_key:
            return fixture_error("invalid_key")
        if q.get("method") == "flickr.photos.search":
            return self.search(q)
        if q.get("method") == "flickr.photos.getExif":
            p = self.by_id[q["photo_id"]]
            model = "iPhone 7" if p.camera == "apple/iphone_7" else "Canon EOS 5D"
            return {"photo": {"id": p.id, "camera": model, "exif": [
                {"tagspace": "IFD0", "tag": "Model", "label": "Model", "raw": {"_content": model}},
                {"tagspace": "ExifIFD", "tag": "FNumber", "label": "Aperture", "raw": {"_content": "1.8"}},
            ]}, "stat": "ok"}
        return {"stat": "fail", "code": 112, "message": f"Method \"{q.get('method')}\" not found"}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeFlickr
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str, headers: Optional[dict] = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _fault(self, key: str) -> bool:
        """Apply the next scripted fault for ``key``; True when the answer has been sent."""
        fault = self.fake.pop_fault(key)
        if fault is None:
            return False
        kind, _, arg = fault.partition(":")
        if kind == "slow":
            time.sleep(float(arg))
            return False
        if kind == "fail":
            body = json.dumps({"stat": "fail", "code": int(arg), "message": "Service currently unavailable"}).encode()
            self._send(200, body, "application/json")
        elif kind == "429":
            self._send(429, b"Too Many Requests", "text/plain", {"Retry-After": arg or "1"})
        elif kind in ("500", "502", "503"):
            self._send(int(kind), b"<html><body>Server error</body></html>", "text/html")
        elif kind == "drop":
            body = self.fake.image(self.fake.by_id[key.split(":")[1]]) if key.startswith("img:") else b"{}" * 50
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            raise ValueError(f"unknown fault {fault!r}")
        return True

    def do_POST(self) -> None:
        if not self.path.startswith("/services/rest"):
            self._send(404, b"not found", "text/plain")
            return
        length = int(self.headers.get("Content-Length", 0))
        q = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        with self.fake._lock:
            self.fake.api_calls.append({"t": time.monotonic(), **{k: v for k, v in q.items() if k != "api_key"}})
        if self.fake.api_latency_s:
            time.sleep(self.fake.api_latency_s)
        if self._fault("api"):
            return
        self._send(200, json.dumps(self.fake.answer_api(q)).encode(), "application/json")

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path == "/photo_unavailable.png":
            self._send(200, placeholder_bytes(), "image/png")
            return
        if not path.startswith("/img/"):
            self._send(404, b"not found", "text/plain")
            return
        pid = path[len("/img/"):].split("_")[0]
        photo = self.fake.by_id.get(pid)
        if photo is None:
            self._send(404, b"not found", "text/plain")
            return
        with self.fake._lock:
            self.fake.image_requests.append(pid)
        if self.fake.image_latency_s:
            time.sleep(self.fake.image_latency_s)
        if self._fault(f"img:{pid}"):
            return
        if photo.mode == "html":
            self._send(200, b"<!DOCTYPE html><html><body>Oops</body></html>", "image/jpeg")
        elif photo.mode == "unavailable":
            self.send_response(302)
            self.send_header("Location", f"{self.fake.base}/photo_unavailable.png")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif photo.mode == "truncated":
            data = self.fake.image(photo)
            self._send(200, data[: len(data) * 2 // 3], "image/jpeg")
        else:
            self._send(200, self.fake.image(photo), "image/jpeg")


def seeded_titles(seed: int = 0) -> list[str]:
    """Awkward titles: Unicode, path separators, dots, quotes, HTML, control characters."""
    rng = random.Random(seed)
    titles = ["../../etc/passwd", "a/b\\c:d*e?f", "Warsy (église) • 7433", "<script>alert(1)</script>",
              "名前\u200b\u202e", "..", "", "con", "tab\tnewline\n", "emoji 📷🌸"]
    rng.shuffle(titles)
    return titles
