"""Kill a real scrape (SIGKILL, a subprocess) part-way against the local fake Flickr and resume it."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from plumbing.files import read_jsonl
from datasets.testing.fake_flickr import FakeFlickr, make_photos

ROOT = Path(__file__).resolve().parents[2]
KEY = "resume-K3Y-fedcba9876543210"


def test_sigkill_mid_scrape_then_resume_gives_every_photo_once(tmp_path):
    photos = make_photos(24, seed=3) + make_photos(12, seed=4)
    for p in photos[24:]:
        p.camera = "apple/iphone_7"
    domains = tmp_path / "domains.json"
    domains.write_text(json.dumps({"domains": [
        {"name": "shallow", "text": "portrait bokeh"},
        {"name": "ordinary", "text": "portrait", "camera": "apple/iphone_7"}]}))
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    out = tmp_path / "out"
    with FakeFlickr(photos, api_key=KEY, image_latency_s=0.12) as fake:
        cmd = [sys.executable, str(ROOT / "scripts" / "scrape_flickr.py"), "--out", str(out),
               "--domains", str(domains), "--per-domain", "20", "--api-url", fake.api_url,
               "--api-key-file", str(key_file), "--workers", "2", "--per-page", "5",
               "--min-upload", "1400000000", "--max-upload", "1700000000", "--backoff-base", "0.01",
               "--calls-per-hour", "100000", "--quiet"]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        manifest = out / "manifest.jsonl"
        raw = out / "raw" / "shallow"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            lines = manifest.read_bytes().count(b"\n") if manifest.exists() else 0
            if lines >= 6 and raw.exists() and any(raw.glob(".*.part")):
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the scrape finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        out1, err1 = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        before = {r["photo_id"] for r in read_jsonl(manifest)}
        assert 6 <= len(before) < 40
        requests_before = len(fake.image_requests)

        second = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=120)
        assert second.returncode == 0, second.stderr.decode()
        refetched = set(fake.image_requests[requests_before:]) & before

    recs = read_jsonl(manifest)
    ids = [r["photo_id"] for r in recs]
    assert len(ids) == len(set(ids)), "a photo was recorded twice"
    assert all(r["status"] == "ok" for r in recs)
    ordinary = {r["photo_id"] for r in recs if r["domain"] == "ordinary"}
    shallow = {r["photo_id"] for r in recs if r["domain"] == "shallow"}
    # the shallow query matches all 36 photos and takes 20; ordinary gets the iPhone photos that
    # shallow did not take (a photo joins one domain only)
    assert len(shallow) == 20 and ordinary <= {p.id for p in photos[24:]}
    assert len(ordinary) == len({p.id for p in photos[24:]} - shallow)
    assert not refetched, f"finished photos fetched again: {sorted(refetched)}"
    # manifest and files agree exactly; nothing partial or temporary remains
    on_disk = sorted(p.relative_to(out).as_posix() for p in (out / "raw").rglob("*") if p.is_file())
    assert on_disk == sorted(r["file"] for r in recs)
    for r in recs:
        assert hashlib.sha256((out / r["file"]).read_bytes()).hexdigest() == r["sha256"]
    # the key is in no file and no output
    for path in out.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    for text in (out1, err1, second.stdout, second.stderr):
        assert KEY.encode() not in text
    saved = json.loads((out / "scrape_config.json").read_text())
    assert saved["per_domain"] == 20 and "key" not in json.dumps(saved).lower()
