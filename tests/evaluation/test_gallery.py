"""Gallery HTML structure, escaping and links (evaluation/gallery.py); the browser test drives it live."""
import base64
import hashlib
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from PIL import Image

from evaluation import gallery as G

EVIL_NAME = "<img src=x onerror=\"window.__xss=1\">&'q é漢"
EVIL_CAPTION = "</script><script>window.__xss=1</script>"


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
        self.scripts = []
        self._in_script = False
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)


def make_gallery(root: Path) -> Path:
    """A small gallery with hostile names: 2 images × (input + 2 methods), one failed cell."""
    rng = np.random.default_rng(0)
    gdir = root / "gallery"
    columns = [G.Column("input"), G.Column("gaussian", {"sigma": 3}),
               G.Column(EVIL_CAPTION, {"note": "a&b \"q\"", "long": "x" * 80})]
    rows = []
    for name in (EVIL_NAME, "plain"):
        cells = []
        for k in range(len(columns)):
            if name == "plain" and k == 2:
                cells.append(None)
                continue
            full = root / "results" / f"m{k}" / f"{name}.png"
            thumb = gdir / "thumbs" / f"m{k}" / f"{name}.jpg"
            image = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
            full.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(full)
            G.write_thumbnail(thumb, image, max_side=30)
            cells.append(G.Cell(full, thumb, caption=f"halo 0.{k} {EVIL_CAPTION if k == 2 else ''}"))
        rows.append(G.Row(name, cells))
    metrics = G.MetricsTable(
        rows=[{"method": "gaussian", "halo": 0.5, "bg_blur": 0.1},
              {"method": EVIL_CAPTION, "halo": math.nan, "bg_blur": 0.3},
              {"method": "lens", "halo": 0.2, "bg_blur": math.inf}],
        columns=["halo", "bg_blur"], labels={"halo": "Halo <ring>"})
    plot = gdir / "plots" / "cycle.png"
    plot.parent.mkdir(parents=True)
    Image.fromarray(np.zeros((10, 20, 3), np.uint8)).save(plot)
    return G.build_gallery(gdir, columns, rows, metrics, plots=[plot],
                           errors=[f"{EVIL_NAME}.png: truncated file"], notes=["FID unavailable: <why>"])


def test_thumbnail_size(tmp_path):
    G.write_thumbnail(tmp_path / "t.jpg", np.zeros((100, 300, 3), np.uint8), max_side=60)
    with Image.open(tmp_path / "t.jpg") as im:
        assert im.format == "JPEG" and im.size == (60, 20)
    G.write_thumbnail(tmp_path / "s.png", np.zeros((10, 20), np.uint8), max_side=60)
    with Image.open(tmp_path / "s.png") as im:
        assert im.size == (20, 10)


def test_href_encodes_components(tmp_path):
    target = tmp_path / "results" / "a b" / "x#1?<y>.png"
    assert G.href(target, tmp_path / "gallery") == "../results/a%20b/x%231%3F%3Cy%3E.png"


def test_gallery_escaping_and_links(tmp_path):
    page = make_gallery(tmp_path)
    html = page.read_text(encoding="utf-8")
    parser = _Collect()
    parser.feed(html)
    # exactly one script: ours, and the CSP allows exactly its hash
    assert len(parser.scripts) == 1
    digest = base64.b64encode(hashlib.sha256(parser.scripts[0].encode()).digest()).decode()
    csp = [a["content"] for tag, a in parser.tags if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp == [f"script-src 'sha256-{digest}'; object-src 'none'; base-uri 'none'; form-action 'none'"]
    # hostile names survive as text and attributes, never as markup
    assert not any(tag == "img" and "onerror" in a for tag, a in parser.tags)
    text = "".join(parser.text)
    assert EVIL_NAME in text and EVIL_CAPTION in text and "Halo <ring>" in text
    assert "window.__xss" not in parser.scripts[0]
    # every link and image is relative and resolves to an existing file
    links = [a.get("href") or a.get("src") for tag, a in parser.tags if tag in ("a", "img") and (a.get("href") or a.get("src"))]
    assert len(links) == 2 * 5 + 2  # 5 cells × (link + thumb) + plot link + plot img
    for link in links:
        assert not re.match(r"^[a-z]+:|^/", link), link
        assert (page.parent / unquote(link)).is_file(), link
    # no external resources of any kind
    assert "http://" not in html and "https://" not in html and "@import" not in html


def test_gallery_structure(tmp_path):
    parser = _Collect()
    parser.feed(make_gallery(tmp_path).read_text(encoding="utf-8"))
    toggles = [a for tag, a in parser.tags if tag == "input" and "coltoggle" in a.get("class", "")]
    assert [t["data-col"] for t in toggles] == ["0", "1", "2"]
    col2 = [a for tag, a in parser.tags if "col-2" in a.get("class", "").split()]
    assert len(col2) == 3  # header + two rows (one of them the failed cell)
    sortable = [a for tag, a in parser.tags if tag == "td" and "data-v" in a]
    assert [a["data-v"] for a in sortable] == ["0.5", "0.1", "NaN", "0.3", "0.2", "Infinity"]
    text = "".join(parser.text)
    assert "1 image(s) failed" in text and "failed" in text and "sigma=3" in text
    assert [tag for tag, _ in parser.tags].count("details") == 1  # only the long settings fold away


@pytest.mark.parametrize("bad", [math.nan, None])
def test_data_value_missing(bad):
    assert G._data_value(bad) == "NaN"
