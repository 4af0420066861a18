"""Flickr client and scraper against a local fake Flickr (datasets/testing/fake_flickr.py) on 127.0.0.1."""
from __future__ import annotations

import hashlib
import logging
import random
from pathlib import Path

import pytest
from PIL import Image

from datasets.flickr import (RESEARCH_LICENSES, Backoff, BadImage, Domain, Downloader, FlickrClient,
                             FlickrPermanentError, Photo, RateLimiter, RedactingFilter, RetriesExhausted, ScrapeConfig,
                             SearchSlice, redact, scrape, verify_image)
from plumbing.files import read_jsonl
from datasets.testing.fake_flickr import FakeFlickr, FakePhoto, fixture_records, make_photos, seeded_titles

KEY = "k3y-S3CRET-0123456789abcdef"
WINDOW = SearchSlice(1_400_000_000, 1_700_000_000)
DOMAIN = Domain("shallow", text="portrait bokeh")


class VirtualClock:
    """Monotonic virtual time: sleep() advances it; records every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += max(s, 0.0)


def client_for(fake: FakeFlickr, clock: VirtualClock | None = None, retries: int = 4, **kw) -> FlickrClient:
    clock = clock or VirtualClock()
    return FlickrClient(KEY, fake.api_url, limiter=RateLimiter(10_000, 3600, clock=clock, sleep=clock.sleep),
                        backoff=Backoff(base_s=0.5, max_retries=retries), sleep=clock.sleep,
                        rng=random.Random(0), timeout=kw.pop("timeout", (2.0, 2.0)), **kw)


# ------------------------------------------------------------------ parsing the real answer shapes


def test_fixture_records_parse_with_largest_available_size():
    recs = fixture_records()
    first, second, third = (Photo.from_record(r) for r in recs)
    # no url_o in the fixture: url_l is the largest present; widths arrive as ints, o_* as strings
    assert (first.size_label, first.width, first.height) == ("l", 660, 1024)
    assert first.url == recs[0]["url_l"] and first.license == 1 and first.date_upload == 1581319011
    assert first.title == "Warsy (église) • 7433" and first.owner_name == "markustrois"
    assert second is None  # only url_m/s/t: none of o/k/h/l/c, and we never construct URLs
    assert (third.size_label, third.min_side()) == ("l", 1024)


def test_url_o_preferred_and_o_dims_used_when_width_o_missing():
    rec = dict(fixture_records()[0], url_o="https://live.staticflickr.com/x/1_o.jpg", url_k="https://x/k.jpg",
               width_k="2048", height_k="1365")
    photo = Photo.from_record(rec)
    assert (photo.size_label, photo.width, photo.height) == ("o", 3178, 4932)
    rec.pop("url_o")
    assert (Photo.from_record(rec).size_label, Photo.from_record(rec).width) == ("k", 2048)
    assert Photo.from_record(dict(rec, id="../12")) is None  # ids name files: digits only


# ------------------------------------------------------------------ limiter and backoff


def test_rate_limiter_never_exceeds_the_window_on_a_virtual_clock():
    clock = VirtualClock()
    limiter = RateLimiter(7, 60.0, clock=clock, sleep=clock.sleep)
    rng = random.Random(1)
    times = []
    for _ in range(200):
        clock.now += rng.choice([0.0, 0.0, 0.5, 3.0, 20.0])  # bursts and pauses
        limiter.acquire()
        times.append(clock.now)
    # any 8 consecutive calls span at least the period: never 8 calls inside one 60 s window
    assert min(b - a for a, b in zip(times, times[7:])) >= 60.0 - 1e-9
    # and it is not needlessly slow: with no pauses, the first 7 calls go through at once
    clock2 = VirtualClock()
    lim2 = RateLimiter(7, 60.0, clock=clock2, sleep=clock2.sleep)
    for _ in range(7):
        lim2.acquire()
    assert clock2.now == 0.0 and clock2.sleeps == []
    lim2.acquire()
    assert clock2.now == pytest.approx(60.0)


def test_client_calls_obey_the_limiter(tmp_path):
    clock = VirtualClock()
    with FakeFlickr(make_photos(12), api_key=KEY) as fake:
        client = FlickrClient(KEY, fake.api_url, limiter=RateLimiter(3, 10.0, clock=clock, sleep=clock.sleep),
                              sleep=clock.sleep)
        stamps = []
        for page in range(1, 10):
            client.search(DOMAIN, WINDOW, page, 1, RESEARCH_LICENSES)
            stamps.append(clock.now)
        assert len(fake.api_calls) == 9
    assert all(b - a >= 10.0 for a, b in zip(stamps, stamps[3:]))


def test_backoff_grows_with_jitter_and_honours_retry_after():
    b = Backoff(base_s=1.0, factor=2.0, max_s=10.0)
    rng = random.Random(0)
    delays = [b.delay(k, rng) for k in range(6)]
    for k, d in enumerate(delays):
        cap = min(10.0, 2.0**k)
        assert cap / 2 <= d <= cap
    assert len({round(d, 6) for d in delays[:4]}) == 4
    assert b.delay(0, rng, retry_after=7.0) == 7.0


# ------------------------------------------------------------------ search: pages, cap, slices


def test_pagination_visits_every_page_once():
    with FakeFlickr(make_photos(23), api_key=KEY) as fake:
        got = [r["id"] for r, _ in client_for(fake).iter_records(DOMAIN, RESEARCH_LICENSES, WINDOW, per_page=5)]
        pages = [int(c["page"]) for c in fake.api_calls]
    assert sorted(got) == sorted(p.id for p in fake.photos) and len(got) == 23
    assert pages == [1, 2, 3, 4, 5]


def test_result_cap_pages_repeat_and_walk_stops_at_first_page_without_new_ids():
    photos = make_photos(23, step=1)  # all within a few seconds: cannot be sliced below min_window_s
    with FakeFlickr(photos, api_key=KEY, cap=10) as fake:
        got = [r["id"] for r, _ in client_for(fake).iter_records(
            DOMAIN, RESEARCH_LICENSES, WINDOW, per_page=5, cap=10 ** 6, min_window_s=3600)]
        pages = [int(c["page"]) for c in fake.api_calls]
    assert len(got) == len(set(got)) == 10  # only the first `cap` results are reachable
    assert pages == [1, 2, 3]  # page 3 repeats page 2: no new id, stop


def test_slicing_by_upload_date_reaches_past_the_cap_without_duplicates():
    photos = make_photos(57, step=5000)
    with FakeFlickr(photos, api_key=KEY, cap=10) as fake:
        got = [(r["id"], sl) for r, sl in client_for(fake).iter_records(
            DOMAIN, RESEARCH_LICENSES, SearchSlice(photos[0].upload, photos[-1].upload),
            per_page=5, cap=10, min_window_s=60)]
        calls = list(fake.api_calls)
    ids = [i for i, _ in got]
    assert len(ids) == len(set(ids)) == 57
    for pid, sl in got:  # each photo came from a slice that holds its upload date
        assert sl.min_upload <= fake.by_id[pid].upload <= sl.max_upload
    windows = {(c["min_upload_date"], c["max_upload_date"]) for c in calls}
    assert len(windows) > 6  # it had to split
    assert all(c["sort"] == "date-posted-desc" and c["license"] for c in calls)


# ------------------------------------------------------------------ API failures


def test_transient_stat_fail_is_retried_with_growing_backoff():
    clock = VirtualClock()
    with FakeFlickr(make_photos(3), api_key=KEY) as fake:
        fake.faults["api"] = ["fail:105", "fail:201", "fail:0", "fail:10"]
        data = client_for(fake, clock).search(DOMAIN, WINDOW, 1, 10, RESEARCH_LICENSES)
        assert len(fake.api_calls) == 5
    assert len(data["photo"]) == 3
    assert len(clock.sleeps) == 4 and clock.sleeps[3] > clock.sleeps[0]


@pytest.mark.parametrize("code", [100, 1, 3, 18, 20])
def test_permanent_api_failure_stops_at_once_with_a_clear_message(code):
    with FakeFlickr(make_photos(3), api_key=KEY) as fake:
        fake.faults["api"] = [f"fail:{code}"]
        with pytest.raises(FlickrPermanentError, match=f"Flickr error {code}") as err:
            client_for(fake).search(DOMAIN, WINDOW, 1, 10, RESEARCH_LICENSES)
        assert len(fake.api_calls) == 1
    assert KEY not in str(err.value)


def test_wrong_key_gives_the_invalid_key_message_without_the_key():
    with FakeFlickr(make_photos(3), api_key="another") as fake:
        with pytest.raises(FlickrPermanentError, match="Invalid API Key") as err:
            client_for(fake).search(DOMAIN, WINDOW, 1, 10, RESEARCH_LICENSES)
    assert KEY not in str(err.value) and err.value.__context__ is None


def test_429_retry_after_is_honoured_and_5xx_bursts_are_retried():
    clock = VirtualClock()
    with FakeFlickr(make_photos(3), api_key=KEY) as fake:
        fake.faults["api"] = ["429:7", "503", "500", "502"]
        client_for(fake, clock).search(DOMAIN, WINDOW, 1, 10, RESEARCH_LICENSES)
        assert len(fake.api_calls) == 5
        assert clock.sleeps[0] == 7.0
        fake.faults["api"] = ["503"] * 3
        with pytest.raises(RetriesExhausted, match="HTTP 503"):
            client_for(fake, clock, retries=2).search(DOMAIN, WINDOW, 1, 10, RESEARCH_LICENSES)


def test_slow_answer_times_out_and_is_retried():
    clock = VirtualClock()
    with FakeFlickr(make_photos(3), api_key=KEY) as fake:
        fake.faults["api"] = ["slow:1.5"]
        data = client_for(fake, clock, timeout=(0.5, 0.5)).search(DOMAIN, WINDOW, 1, 10, RESEARCH_LICENSES)
        assert len(fake.api_calls) == 2 and len(data["photo"]) == 3
    assert len(clock.sleeps) == 1


def test_unreachable_server_error_names_no_key():
    client = FlickrClient(KEY, "http://127.0.0.1:9/services/rest/", backoff=Backoff(base_s=0.0, max_retries=1),
                          sleep=lambda s: None)
    with pytest.raises(RetriesExhausted, match="ConnectionError") as err:
        client.search(DOMAIN, WINDOW, 1, 10, RESEARCH_LICENSES)
    assert KEY not in str(err.value) and err.value.__context__ is None


def test_redact_removes_key_and_query_strings():
    msg = f"HTTPSConnectionPool: Max retries with url: /services/rest/?method=x&api_key={KEY}&page=2 (Caused by X)"
    clean = redact(f"https://api.flickr.com/services/rest/?api_key={KEY}&x=1 then {msg}", KEY)
    assert KEY not in clean and "api_key" not in clean.split("then")[0]
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "url %s", (f"http://h/p?api_key={KEY}",), None)
    RedactingFilter(KEY).filter(record)
    assert KEY not in record.getMessage()


# ------------------------------------------------------------------ downloads


def downloader(**kw) -> Downloader:
    return Downloader(backoff=Backoff(base_s=0.0, max_retries=kw.pop("retries", 2)), sleep=lambda s: None,
                      timeout=kw.pop("timeout", (2.0, 2.0)), **kw)


def test_dropped_connection_429_5xx_and_timeout_mid_download_are_retried_and_file_is_complete(tmp_path):
    photos = make_photos(1, image_size=(160, 120))
    with FakeFlickr(photos, api_key=KEY) as fake:
        pid = photos[0].id
        fake.faults[f"img:{pid}"] = ["drop", "429:0", "500", "slow:1.0"]
        got = downloader(retries=4, timeout=(2.0, 0.4)).download(f"{fake.base}/img/{pid}_l.jpg", tmp_path, pid)
        served = fake.image(photos[0])
        assert fake.image_requests.count(pid) == 5
    assert got.path == tmp_path / f"{pid}.jpg" and got.path.read_bytes() == served
    assert got.sha256 == hashlib.sha256(served).hexdigest() and (got.width, got.height) == (160, 120)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{pid}.jpg"]


@pytest.mark.parametrize("mode,reason", [("truncated", "corrupt"), ("html", "html"), ("unavailable", "unavailable")])
def test_bad_downloads_are_rejected_and_leave_no_file(tmp_path, mode, reason):
    photos = make_photos(1, mode=mode, image_size=(120, 90))
    with FakeFlickr(photos, api_key=KEY) as fake:
        pid = photos[0].id
        with pytest.raises(BadImage) as err:
            downloader().download(f"{fake.base}/img/{pid}_l.jpg", tmp_path, pid)
    assert err.value.reason == reason
    assert list(tmp_path.iterdir()) == []


def test_placeholder_detected_by_size_and_grey_but_not_a_colourful_photo_of_that_size(tmp_path):
    grey, colour = tmp_path / "grey.png", tmp_path / "colour.jpg"
    Image.new("RGB", (500, 374), (200, 200, 200)).save(grey)
    Image.frombytes("RGB", (500, 374), bytes(random.Random(0).randbytes(500 * 374 * 3))).save(colour)
    with pytest.raises(BadImage, match="placeholder"):
        verify_image(grey)
    assert verify_image(colour) == (500, 374, "JPEG")


# ------------------------------------------------------------------ the scraper end to end


def config(tmp_path: Path, fake: FakeFlickr, **kw) -> ScrapeConfig:
    defaults = dict(out=str(tmp_path / "out"), per_domain=5, api_url=fake.api_url, workers=3,
                    calls_per_hour=100_000, per_page=4, backoff_base_s=0.0, max_retries=2, timeout_s=5.0,
                    min_upload=1_400_000_000, max_upload=1_700_000_000, quiet=True,
                    domains=[{"name": "shallow", "text": "portrait bokeh"},
                             {"name": "ordinary", "text": "portrait", "camera": "apple/iphone_7",
                              "exif_model": "iPhone 7"}])
    defaults.update(kw)
    return ScrapeConfig(**defaults)


def scene_photos() -> list[FakePhoto]:
    photos = make_photos(16, seed=1)
    titles = seeded_titles()
    for i, p in enumerate(photos):
        p.title = titles[i % len(titles)]
        p.camera = "apple/iphone_7" if i % 2 else ""
        p.sizes = ("l",) if i % 3 else ("o", "k", "c")
    photos[15].tags = "portrait bw"          # newest first: all four are met early
    photos[14].license = 0                    # all rights reserved: never asked for
    photos[13].size_px = (300, 200)           # too small for min_side=256
    photos[12].mode = "html"                  # rejected, recorded
    return photos


def test_scrape_end_to_end_filters_records_provenance_and_resumes(tmp_path):
    photos = scene_photos()
    with FakeFlickr(photos, api_key=KEY) as fake:
        cfg = config(tmp_path, fake, min_side=256, exif_check=True)
        summary = scrape(cfg, KEY)
        out = Path(cfg.out)
        recs = read_jsonl(out / "manifest.jsonl")
        ok = [r for r in recs if r["status"] == "ok"]
        by_domain = {d: [r for r in ok if r["domain"] == d] for d in ("shallow", "ordinary")}
        assert len(by_domain["shallow"]) == 5
        assert 0 < len(by_domain["ordinary"]) <= 5
        for r in ok:
            p = fake.by_id[r["photo_id"]]
            assert r["license"] in RESEARCH_LICENSES and r["license_name"]
            assert "bw" not in p.tags and p.size_px != (300, 200)
            assert r["file"] == f"raw/{r['domain']}/{r['photo_id']}.jpg" and (out / r["file"]).is_file()
            assert hashlib.sha256((out / r["file"]).read_bytes()).hexdigest() == r["sha256"]
            assert r["title"] == p.title and r["size_label"] == ("o" if "o" in p.sizes else "l")
            assert r["page_url"] == f"https://www.flickr.com/photos/{r['owner']}/{p.id}"
            for key in ("owner", "owner_name", "source_url", "date_upload", "date_taken", "crawl_date",
                        "query", "slice", "bytes", "width", "height"):
                assert r[key] not in (None, ""), key
        for r in by_domain["ordinary"]:
            assert fake.by_id[r["photo_id"]].camera == "apple/iphone_7" and r["exif"]["Model"] == "iPhone 7"
        # titles with path characters never name files
        names = {p.name for p in (out / "raw").rglob("*")}
        assert all(n in ("shallow", "ordinary") or n.split(".")[0].isdigit() for n in names)
        rejected = [r for r in recs if r["status"] == "rejected"]
        assert [(r["photo_id"], r["reason"]) for r in rejected] == [(photos[12].id, "html")]
        assert summary.counts["shallow"]["excluded_tag"] == 1 and summary.counts["ordinary"]["too_small"] == 1
        assert photos[14].id not in fake.image_requests
        # resume with a larger target: only new photos are fetched, nothing twice
        first_requests = list(fake.image_requests)
        cfg.per_domain = 7
        scrape(cfg, KEY)
        recs2 = read_jsonl(out / "manifest.jsonl")
        ids = [r["photo_id"] for r in recs2]
        assert len(ids) == len(set(ids))
        assert sum(r["status"] == "ok" and r["domain"] == "shallow" for r in recs2) == 7
        again = fake.image_requests[len(first_requests):]
        assert not set(again) & {r["photo_id"] for r in recs}


def test_dry_run_only_counts(tmp_path):
    with FakeFlickr(make_photos(9), api_key=KEY) as fake:
        cfg = config(tmp_path, fake, dry_run=True, per_domain=20, domains=[{"name": "shallow", "text": "x"}])
        summary = scrape(cfg, KEY)
        assert fake.image_requests == []
    assert summary.counts["shallow"]["candidates"] == 9
    assert not (Path(cfg.out) / "manifest.jsonl").exists() and not (Path(cfg.out) / "raw").exists()


def test_key_never_written_or_logged_even_on_error_paths(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    photos = make_photos(6)
    photos[1].mode = "truncated"
    with FakeFlickr(photos, api_key=KEY) as fake:
        fake.faults["api"] = ["503", "fail:105"]
        fake.faults[f"img:{photos[2].id}"] = ["drop", "drop", "drop", "drop"]
        cfg = config(tmp_path, fake, per_domain=6, domains=[{"name": "shallow", "text": "x"}])
        summary = scrape(cfg, KEY)
        assert summary.failed == 1
        fake.faults["api"] = ["fail:100"]
        with pytest.raises(FlickrPermanentError) as err:
            scrape(config(tmp_path, fake, per_domain=9, domains=[{"name": "shallow", "text": "x"}]), KEY)
    assert KEY not in str(err.value)
    assert KEY not in caplog.text and "api_key" not in caplog.text
    for path in Path(cfg.out).rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_command_line_dry_run_counts_and_needs_a_key(tmp_path, monkeypatch, capsys):
    from datasets.cli.scrape_flickr import main

    with FakeFlickr(make_photos(7), api_key=KEY) as fake:
        args = ["--out", str(tmp_path / "o"), "--api-url", fake.api_url, "--per-domain", "50", "--per-page", "3",
                "--min-upload", "1400000000", "--max-upload", "1700000000", "--dry-run"]
        monkeypatch.delenv("FLICKR_API_KEY", raising=False)
        assert main(args + ["--quiet"]) == 2  # no key
        monkeypatch.setenv("FLICKR_API_KEY", KEY)
        assert main(args) == 0
        assert fake.image_requests == []
    out = capsys.readouterr().out
    assert "dry run" in out and "| domain | total | candidates |" in out and "| shallow | 0 | 7 |" in out and KEY not in out
