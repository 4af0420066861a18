"""The demo's first page (OUT/index.html): the gallery's look, a short plain first paragraph,
links to everything, every caption escaped."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from evaluation import demo, gallery


def test_the_index_has_the_gallerys_stylesheet_and_a_short_first_paragraph(tmp_path):
    cfg = demo.DemoConfig(out=str(tmp_path), scenes=3)
    html = demo.write_index(cfg, {"mask_loss_overlay": tmp_path / "runs" / "x.pt"}, 4).read_text(encoding="utf-8")
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    gallerys = re.search(r"<style>(.*?)</style>", gallery.page("x", "var a;").render(), re.S)
    assert style and style.group(1) == gallerys.group(1) and "table.gallery" in style.group(1)
    assert "script-src 'none'" in html and "<script" not in html
    first = re.search(r"<p[^>]*>(.*?)</p>", html, re.S).group(1)
    assert len(first) < 400 and "4 pictures" in first and "3 synthetic scenes" in first
    assert "CycleGAN preset mask_loss_overlay" in first
    for target in ("gallery/index.html", "overview.png", "metrics.md", "results/lens/",
                   "results/mask_loss_overlay/", "runs/mask_loss_overlay/web/index.html"):
        assert f'"{target}"' in html, target


def test_the_index_escapes_every_caption(tmp_path, monkeypatch):
    hostile = "<script>alert(1)</script> & \"quotes\""
    methods = {"lens": replace(demo.METHODS["lens"], source=hostile)}
    monkeypatch.setattr(demo, "METHODS", methods)
    html = demo.write_index(demo.DemoConfig(out=str(tmp_path), scenes=0), {}, 1).read_text(encoding="utf-8")
    assert hostile not in html and "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;" in html
    assert Path(tmp_path / "index.html").is_file()
