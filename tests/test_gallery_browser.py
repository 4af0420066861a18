"""The gallery in a real browser: headless Chromium driven over the DevTools protocol.

Serves a generated gallery over http on 127.0.0.1, then checks that every image loads,
column hiding and table sorting work, the click-to-enlarge view opens, hostile captions stay
text (no script runs), and saves a screenshot. Skipped only where no Chromium is installed
(``.ci/install_browser.sh`` installs Debian's).
"""
import base64
import functools
import http.server
import itertools
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
import websocket  # websocket-client

from test_gallery import EVIL_CAPTION, EVIL_NAME, make_gallery

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """An http server on 127.0.0.1 serving ``tmp_path``; yields its base URL."""
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class Page:
    """A minimal Chrome DevTools protocol client for one page target."""

    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def send(self, method: str, **params):
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]
            self.events.append(msg)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, ev in enumerate(self.events):
                if ev.get("method") == method:
                    return self.events.pop(i)
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(method)

    def js(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium with remote debugging; yields a connected ``Page``."""
    if CHROMIUM is None:
        pytest.skip("no Chromium found (looked for `chromium` on PATH and /usr/bin/chromium); "
                    "run .ci/install_browser.sh to install Debian's chromium")
    profile = tmp_path / "chromium-profile"
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--remote-debugging-address=127.0.0.1", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Chromium at {CHROMIUM} did not start its DevTools server (exit {proc.poll()})")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        target = requests.put(f"http://127.0.0.1:{port}/json/new?about:blank", timeout=30).json()
        page = Page(target["webSocketDebuggerUrl"])
        yield page
        page.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_gallery_in_chromium(tmp_path, server, browser):
    page = make_gallery(tmp_path)
    url = f"{server}/{page.relative_to(tmp_path).as_posix()}"
    b = browser
    b.send("Page.enable")
    b.send("Emulation.setDeviceMetricsOverride", width=1200, height=900, deviceScaleFactor=1, mobile=False)
    b.send("Page.navigate", url=url)
    b.wait_event("Page.loadEventFired")

    # every image with a source loaded
    images = b.js("""Promise.all(Array.from(document.images).filter(i => i.getAttribute('src')).map(i =>
        i.complete ? i : new Promise(r => { i.addEventListener('load', () => r(i));
                                            i.addEventListener('error', () => r(i)); })))
        .then(list => list.map(i => [i.getAttribute('src'), i.naturalWidth]))""")
    assert len(images) == 5 + 1  # five thumbnails and one plot
    assert all(w > 0 for _, w in images), images

    # hostile text is shown as text, and no injected script ran
    assert b.js("window.__xss") is None
    body = b.js("document.body.innerText")
    assert EVIL_CAPTION in body and EVIL_NAME in body
    assert b.js("document.scripts.length") == 1

    # hiding a column: its header and cells become display:none, the others stay
    hidden_js = "Array.from(document.querySelectorAll('.col-{k}')).map(e => getComputedStyle(e).display)"
    assert "none" not in b.js(hidden_js.format(k=2))
    b.js("document.querySelector('input.coltoggle[data-col=\"2\"]').click()")
    assert b.js(hidden_js.format(k=2)) == ["none"] * 3
    assert "none" not in b.js(hidden_js.format(k=1))
    b.js("document.querySelector('input.coltoggle[data-col=\"2\"]').click()")
    assert "none" not in b.js(hidden_js.format(k=2))

    # sorting the metrics table (NaN always last)
    order = "Array.from(document.querySelectorAll('#metrics tbody tr')).map(r => r.cells[0].textContent)"
    assert b.js(order) == ["gaussian", EVIL_CAPTION, "lens"]
    b.js("document.querySelectorAll('#metrics thead th')[1].click()")  # halo ascending
    assert b.js(order) == ["lens", "gaussian", EVIL_CAPTION]
    b.js("document.querySelectorAll('#metrics thead th')[1].click()")  # halo descending
    assert b.js(order) == ["gaussian", "lens", EVIL_CAPTION]
    b.js("document.querySelectorAll('#metrics thead th')[2].click()")  # bg_blur ascending, ∞ last
    assert b.js(order) == ["gaussian", EVIL_CAPTION, "lens"]
    b.js("document.querySelectorAll('#metrics thead th')[0].click()")  # by name
    assert b.js(order) == sorted(["gaussian", EVIL_CAPTION, "lens"], key=str.lower)

    # click to enlarge: the full-resolution file opens in the overlay
    screenshot = base64.b64decode(b.send("Page.captureScreenshot", format="png")["data"])
    (tmp_path / "gallery.png").write_bytes(screenshot)
    b.js("document.querySelector('a.zoom').click()")
    enlarged = b.js("""new Promise(r => { const i = document.getElementById('lightbox-img');
        const done = () => r([document.getElementById('lightbox').hidden, i.naturalWidth,
                              document.getElementById('lightbox-cap').textContent]);
        if (i.complete && i.naturalWidth) done(); else { i.onload = done; i.onerror = done; } })""")
    assert enlarged[0] is False and enlarged[1] == 60 and EVIL_NAME in enlarged[2]
    b.js("document.getElementById('lightbox').click()")
    assert b.js("document.getElementById('lightbox').hidden") is True
    assert b.js("window.__xss") is None
    assert screenshot[:8] == b"\x89PNG\r\n\x1a\n" and len(screenshot) > 10_000


def test_compare_output_in_chromium(tmp_path, server, browser):
    """A real run_compare folder (hostile file name, a failed render, loss plots) works when served."""
    import json as _json

    import cv2
    import numpy as np

    from datasets.io import mask_path, write_depth, write_image, write_mask
    from datasets.synthetic import make_scene
    from evaluation.compare import CompareConfig, Renderer, run_compare

    for i, name in enumerate(["s0", EVIL_NAME]):
        scene = make_scene(seed=i, size=(48, 64))
        write_image(tmp_path / "in" / f"{name}.png", scene.image)
        write_mask(mask_path(tmp_path / "in" / f"{name}.png", tmp_path / "in"), scene.mask)
        write_depth(tmp_path / "depth" / f"{name}.npy", scene.depth)
    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    (run / "log.jsonl").write_text("".join(_json.dumps({"cycle_A": 1.0 / (i + 1)}) + "\n" for i in range(4)))

    def blur(image, mask, depth):
        return cv2.GaussianBlur(image, (0, 0), 2)

    def fails(image, mask, depth):
        raise RuntimeError("simulated failure")

    def no_model(*args):
        raise AssertionError("not needed")

    cfg = CompareConfig(input=str(tmp_path / "in"), out=str(tmp_path / "out"), depth=str(tmp_path / "depth"),
                        runs=[str(run)], quiet=True)
    res = run_compare(cfg, [Renderer("blur", "fake", {"sigma": 2}, blur), Renderer("bad", "fake", {}, fails)],
                      no_model, no_model)
    assert res.n_render_failures == 2

    b = browser
    b.send("Page.enable")
    b.send("Page.navigate", url=f"{server}/out/gallery/index.html")
    b.wait_event("Page.loadEventFired")
    images = b.js("""Promise.all(Array.from(document.images).filter(i => i.getAttribute('src')).map(i =>
        i.complete ? i : new Promise(r => { i.addEventListener('load', () => r(i));
                                            i.addEventListener('error', () => r(i)); })))
        .then(list => list.map(i => [i.getAttribute('src'), i.naturalWidth]))""")
    assert len(images) == 2 * 4 + 1  # (input, mask, depth, blur) per image + the cycle-loss plot
    assert all(w > 0 for _, w in images), images
    assert b.js("window.__xss") is None and b.js("document.scripts.length") == 1
    assert b.js("document.querySelectorAll('td.missing').length") == 2
    assert EVIL_NAME in b.js("document.body.innerText")
    # the enlarged view opens the full-resolution render of the hostile-named file
    b.js("Array.from(document.querySelectorAll('a.zoom'))"
         ".filter(a => a.getAttribute('href').startsWith('../results/blur/%3Cimg'))[0].click()")
    shown = b.js("""new Promise(r => { const i = document.getElementById('lightbox-img');
        const done = () => r([i.naturalWidth, decodeURIComponent(i.src)]);
        if (i.complete && i.naturalWidth) done(); else { i.onload = done; i.onerror = done; } })""")
    assert shown[0] == 64 and shown[1].endswith(f"/out/results/blur/{EVIL_NAME}.png")


def test_gallery_from_file_url(tmp_path, browser):
    """Opened straight from disk (as after unzipping), the images load and the script runs."""
    page = make_gallery(tmp_path)
    b = browser
    b.send("Page.enable")
    b.send("Page.navigate", url=page.resolve().as_uri())
    b.wait_event("Page.loadEventFired")
    widths = b.js("Array.from(document.images).filter(i => i.getAttribute('src')).map(i => i.naturalWidth)")
    assert len(widths) == 6 and all(w > 0 for w in widths)
    b.js("document.querySelectorAll('#metrics thead th')[1].click()")
    order = b.js("Array.from(document.querySelectorAll('#metrics tbody tr')).map(r => r.cells[0].textContent)")
    assert order == ["lens", "gaussian", EVIL_CAPTION]
