"""The gallery in a real browser: headless Chromium driven over the DevTools protocol.

Serves a generated gallery over http on 127.0.0.1, then checks that every image loads,
column hiding and table sorting work, the click-to-enlarge view opens, hostile captions stay
text (no script runs), and saves a screenshot. Skipped only where no Chromium is installed
(``.ci/install_browser.sh`` installs Debian's).
"""
import base64
import functools
import http.server
import threading

import pytest

from tests.evaluation.test_gallery import EVIL_CAPTION, EVIL_NAME, make_gallery

pytestmark = pytest.mark.browser


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

    from datasets.io import mask_path, write_depth, write_image, write_mask
    from datasets.synthetic import make_scene
    from evaluation.compare import CompareConfig, run_compare
    from evaluation.renderers import Renderer

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
