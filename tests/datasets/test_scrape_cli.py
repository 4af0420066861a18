"""datasets.cli.scrape_flickr: scrape_flickr's parser in the config pattern (defaults, ``--config``, flags)."""
import json

import pytest

from plumbing.config import save_config
from datasets.flickr import ScrapeConfig
from datasets.cli.scrape_flickr import CONFIG_FILE, parse_args


def test_a_saved_scrape_config_is_reloaded_and_the_flags_given_override_it(tmp_path):
    saved = ScrapeConfig(out=str(tmp_path / "a"), domains=[{"name": "shallow", "text": "bokeh", "camera": "",
                                                            "exif_model": ""}],
                         per_domain=7, licenses=[4, 5], excluded_tags=["cat"], max_upload=1_600_000_000,
                         backoff_base_s=0.5, timeout_s=3.0, exif_check=True, quiet=True)
    save_config(saved, tmp_path / CONFIG_FILE)
    config = ["--config", str(tmp_path / CONFIG_FILE)]
    assert parse_args(["--out", saved.out, *config])[0] == saved
    again, _ = parse_args(["--out", str(tmp_path / "b"), *config, "--no-exif-check", "--exclude-tags", "BW, Dog",
                           "--licenses", "9", "--timeout", "10"])
    assert (again.exif_check, again.excluded_tags, again.licenses, again.timeout_s) == (False, ["bw", "dog"], [9], 10.0)
    assert (again.per_domain, again.backoff_base_s, again.domains) == (7, 0.5, saved.domains)


def test_the_flags_make_the_config_they_always_made(tmp_path):
    domains = tmp_path / "domains.json"
    domains.write_text(json.dumps({"domains": [{"name": "d", "text": "portrait"}]}))
    cfg, args = parse_args(["--out", str(tmp_path / "o"), "--domains", str(domains), "--backoff-base", "2",
                            "--dry-run", "--quiet", "--licenses", "0,4", "--allow-any-license"])
    assert [d["name"] for d in cfg.domains] == ["d"] and cfg.backoff_base_s == 2.0 and cfg.licenses == [0, 4]
    assert cfg.dry_run and cfg.quiet and args.allow_any_license
    assert parse_args(["--out", str(tmp_path / "o")])[0] == ScrapeConfig(out=str(tmp_path / "o"))


@pytest.mark.parametrize("argv, problem", [
    (["--licenses", "0"], "add --allow-any-license"),
    (["--licenses", "4,x"], "--licenses: not a list of integers"),
    (["--domains", "nowhere.json"], "nowhere.json: no such file"),
    (["--min-upload", "20", "--max-upload", "10"], "--max-upload: 10 is before min_upload 20"),
])
def test_bad_settings_are_one_line(tmp_path, capsys, argv, problem):
    with pytest.raises(SystemExit) as info:
        parse_args(["--out", str(tmp_path / "o"), *argv])
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert info.value.code == 2 and len(errors) == 1 and problem in errors[0]
