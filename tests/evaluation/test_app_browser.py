"""The local app in a real browser: scripts/app.py served on a free port, driven in headless Chromium
over the DevTools protocol as a user drives it (real mouse clicks on the photo, the file input).

Opens the bundled astronaut, taps the background (the face becomes blurred) and the face (sharp
again), turns the f-number (the background's blur falls monotonically), saves and compares the file
with scripts/blur.py's for the same settings, uploads a truncated JPEG (one error line in the page,
the app goes on), and checks that every request the browser made went to the app on 127.0.0.1,
that the server refused no outbound connection, and that stopping it removes its temporary files
and leaves nothing but the save. Screenshots are written beside the test's files. Skipped where no
Chromium is installed (``.ci/install_browser.sh``)."""
import base64
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests
from PIL import Image
from skimage import data as skdata

from datasets.io import read_image

pytest.importorskip("gradio")
pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
FACE = (195, 95, 255, 160)  # inside the astronaut's face (x0, y0, x1, y1), pixels of the 512-px photo
BACKGROUND = (420, 20, 500, 140)  # the shuttle, far behind her
BACKGROUND_TAP, FACE_TAP = (450, 80), (225, 125)
MAX_UPLOAD_MB = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def detail(image: np.ndarray, box) -> float:
    """Variance of the Laplacian of the grey image inside ``box``: the detail the blur left."""
    x0, y0, x1, y1 = box
    grey = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


@pytest.fixture
def app(tmp_path):
    """scripts/app.py on a free port, in an empty folder with its own TMPDIR; yields (url, folders, log)."""
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    log = tmp_path / "server.log"
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "app.py"), "--port", str(port), "--out", "saved",
                                 "--max-upload-mb", str(MAX_UPLOAD_MB)], cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while "shallowdof app: open" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert url in log.read_text()
        yield url, cwd, tmp, log
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert list(tmp.iterdir()) == [], "the app left temporary files"
    assert {p.name for p in cwd.iterdir()} <= {"saved"}, "the app wrote outside its --out folder"


class AppPage:
    """The app's page in the browser: status line, preview image, clicks on the photo."""

    def __init__(self, browser, url: str, shots: Path) -> None:
        self.b, self.url, self.shots = browser, url, shots

    def wait(self, condition: str, timeout: float = 90.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.b.js(condition)
            if value:
                return value
            time.sleep(0.2)
        raise TimeoutError(f"{condition}; status: {self.status()}")

    def status(self) -> str:
        return self.b.js("(document.querySelector('#status .app-status') || {}).innerText || ''")

    def wait_status(self, pattern: str, timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.status()
            if re.search(pattern, text):
                return text
            time.sleep(0.2)
        raise TimeoutError(f"status {pattern!r} not shown; it says {self.status()!r}")

    def preview_src(self) -> str:
        return self.b.js("(document.querySelector('#photo img') || {}).src || ''")

    def preview(self, old_src: str = "") -> np.ndarray:
        """The preview image once its source is new (and loaded), fetched from the app."""
        src = self.wait(f"(() => {{ const i = document.querySelector('#photo img');"
                        f" return i && i.src !== {json.dumps(old_src)} && i.complete && i.naturalWidth ? i.src : ''; }})()")
        return np.asarray(Image.open(io.BytesIO(requests.get(src, timeout=30).content)).convert("RGB"))

    def tap(self, x: float, y: float) -> None:
        """A real mouse click at (x, y) of the photo as displayed (the page rounds it to a pixel)."""
        rect = self.b.js("(() => { const i = document.querySelector('#photo img'); const r = i.getBoundingClientRect();"
                         " return [r.x, r.y, r.width, r.height, i.naturalWidth, i.naturalHeight]; })()")
        px, py = rect[0] + x * rect[2] / rect[4], rect[1] + y * rect[3] / rect[5]
        for kind in ("mousePressed", "mouseReleased"):
            self.b.send("Input.dispatchMouseEvent", type=kind, x=px, y=py, button="left", clickCount=1)

    def click(self, selector: str) -> None:
        """A real mouse click on the middle of the element ``selector`` (scrolled into view)."""
        found = json.dumps(selector)
        self.wait(f"!!document.querySelector({found})")
        x, y = self.b.js(f"(() => {{ const e = document.querySelector({found}); e.scrollIntoView({{block: 'center'}});"
                         " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.b.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def choose(self, elem_id: str, option: str) -> None:
        """Pick ``option`` in the drop-down menu ``elem_id``."""
        self.click(f"#{elem_id} input")
        self.click(f"li[role=option][aria-label={json.dumps(option)}]")

    def tab(self, title: str) -> None:
        self.b.js(f"Array.from(document.querySelectorAll('button[role=tab]'))"
                  f".find(t => t.innerText.includes({json.dumps(title)})).click()")

    def set_number(self, elem_id: str, value: float) -> None:
        """Type ``value`` into a slider's number box and leave it, as a user does."""
        box = f"document.querySelector('#{elem_id} input[type=number]')"
        self.wait(f"!!{box}")
        self.b.js(f"{box}.focus(); {box}.select()")
        self.b.send("Input.insertText", text=str(value))
        self.b.js(f"{box}.blur()")

    def upload(self, path: Path) -> None:
        doc = self.b.send("DOM.getDocument", depth=-1)
        node = self.b.send("DOM.querySelector", nodeId=doc["root"]["nodeId"], selector="#upload input[type=file]")
        self.b.send("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[str(path)])

    def tap_point(self, x: int, y: int) -> None:
        """Tap (x, y) and wait for the page to focus on the depth there (within a pixel's rounding)."""
        self.tap(x, y)
        shown = self.wait_status(r"^Focus on the depth at \(\d+, \d+\)\.")
        fx, fy = map(int, re.search(r"\((\d+), (\d+)\)", shown).groups())
        assert abs(fx - x) <= 1 and abs(fy - y) <= 1, shown

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        path.write_bytes(base64.b64decode(self.b.send("Page.captureScreenshot", format="png")["data"]))
        return path


def test_app_in_chromium(tmp_path, app, browser):
    url, cwd, _, log = app
    b = browser
    b.send("Page.enable")
    b.send("Network.enable")
    b.send("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
    b.send("Page.navigate", url=url)
    b.wait_event("Page.loadEventFired", timeout=60)
    page = AppPage(b, url, tmp_path)
    page.wait("!!document.querySelector('#astronaut')")

    # open the bundled photo: the person is in focus
    page.b.js("document.querySelector('#astronaut').click()")
    page.wait_status(r"^Opened astronaut\.png: 512×512, 1 face found")
    auto = page.preview()
    original = skdata.astronaut()
    assert auto.shape == original.shape
    assert detail(auto, FACE) > 0.8 * detail(original, FACE)

    # tap the background: the preview changes, the face is blurred, the shuttle sharp
    src = page.preview_src()
    page.tap_point(*BACKGROUND_TAP)
    far = page.preview(src)
    assert np.abs(far.astype(int) - auto).mean() > 2
    assert detail(far, FACE) < 0.4 * detail(auto, FACE)
    assert detail(far, BACKGROUND) > 1.5 * detail(auto, BACKGROUND)
    page.screenshot("focus_background")

    # tap the face: sharp again
    src = page.preview_src()
    page.tap(*FACE_TAP)
    page.wait_status(r"^Focus on the tapped face\.")
    near = page.preview(src)
    assert detail(near, FACE) > 0.8 * detail(original, FACE)

    # the f-number of the virtual lens: opening the aperture blurs the background more, monotonically
    b.js("document.querySelector('#aperture input[value=f_number]').click()")
    page.wait_status(r"f/1\.8")
    backgrounds = []
    for f_number in (2.8, 2.0, 1.4, 1.0):
        src = page.preview_src()
        page.set_number("f-number", f_number)
        page.wait_status(rf"lens · f/{f_number:g} ·")
        backgrounds.append(detail(page.preview(src), BACKGROUND))
        assert re.search(rf"Virtual lens: 85 mm f/{f_number:g}, full-frame equivalent",
                         b.js("document.querySelector('#note').innerText"))
    assert all(a > c for a, c in zip(backgrounds, backgrounds[1:])), backgrounds
    page.screenshot("f_number")

    # save at full resolution: blur.py writes the same pixels for the same settings
    b.js("document.querySelector('#save').click()")
    text = page.wait_status(r"^✓ Saved ")
    saved = Path(re.search(r"Saved (\S+\.png) \(full resolution\)", text).group(1))
    config = Path(re.search(r"--config (\S+\.json)", text).group(1))
    assert saved.is_relative_to(cwd / "saved") and saved.parent == config.parent
    settings = json.loads(config.read_text())
    assert settings["params"]["f_number"] == 1.0 and settings["method"] == "lens"
    Image.fromarray(original).save(tmp_path / "astronaut.png")
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "blur.py"), str(tmp_path / "astronaut.png"),
                          "--method", "lens", "--focus", settings["focus"], "--params", "f_number=1",
                          "--out", str(tmp_path / "blur_py"), "--quiet"], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr
    assert np.array_equal(read_image(saved), read_image(tmp_path / "blur_py" / "astronaut_lens.png"))

    # a truncated JPEG: one line in the page, and the app goes on with the photo it has
    good = io.BytesIO()
    Image.fromarray(original).save(good, format="JPEG", quality=90)
    (tmp_path / "broken.jpg").write_bytes(good.getvalue()[:4000])
    page.upload(tmp_path / "broken.jpg")
    error = page.wait_status(r"broken\.jpg")
    assert error.startswith("⚠ broken.jpg: truncated image file") and "\n" not in error
    page.screenshot("truncated_upload")
    src = page.preview_src()
    page.tap_point(*BACKGROUND_TAP)
    assert detail(page.preview(src), FACE) < 0.6 * detail(near, FACE)

    # an upload over the limit is refused by the server, with a message in the page
    big = tmp_path / "huge.jpg"
    big.write_bytes(good.getvalue() + bytes((MAX_UPLOAD_MB + 1) * 2**20))
    page.upload(big)
    page.wait("document.body.innerText.includes('exceed the maximum allowed size')")
    refused = requests.post(url + "gradio_api/upload", files={"files": ("huge.jpg", big.read_bytes())}, timeout=60)
    assert refused.status_code == 413
    assert requests.get(url + "gradio_api/file=/etc/hostname", timeout=30).status_code in (403, 404)

    # every request the browser made went to the app itself, and the server refused nothing
    b.js("1")  # read the events still queued
    requested = [e["params"]["request"]["url"] for e in b.events if e.get("method") == "Network.requestWillBeSent"]
    requested += [e["params"]["url"] for e in b.events if e.get("method") == "Network.webSocketCreated"]
    assert len(requested) > 20
    outside = [u for u in requested if not u.startswith((url, "data:", "blob:"))]
    assert outside == [], outside
    assert "refused a connection" not in log.read_text()
