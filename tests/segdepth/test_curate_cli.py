"""segdepth.cli.curate: curate's parser in the config pattern (defaults, ``--config``, flags)."""
import json

import pytest

from plumbing.config import save_config
from datasets.curate import CONFIG_FILE, CurateConfig
from segdepth.cli.curate import parse_args


def test_a_saved_curate_config_is_reloaded_and_the_flags_given_override_it(tmp_path):
    saved = CurateConfig(raw=str(tmp_path / "raw"), out=str(tmp_path / "a"), min_side=64, phash_threshold=3,
                         exif_model="iPhone 7", test_size_a=5, dry_run=True, quiet=True)
    save_config(saved, tmp_path / CONFIG_FILE)
    config = ["--config", str(tmp_path / CONFIG_FILE)]
    assert parse_args(["--raw", saved.raw, "--out", saved.out, *config]) == saved
    again = parse_args(["--raw", "r2", "--out", str(tmp_path / "b"), *config, "--no-dry-run", "--min-side", "128"])
    assert (again.raw, again.out, again.dry_run, again.min_side) == ("r2", str(tmp_path / "b"), False, 128)
    assert (again.phash_threshold, again.exif_model, again.test_size_a, again.quiet) == (3, "iPhone 7", 5, True)


def test_the_old_spellings_still_work(tmp_path):
    config = parse_args(["--raw", "r", "--out", str(tmp_path / "o"), "--dry-run", "--quiet"])
    assert config == CurateConfig(raw="r", out=str(tmp_path / "o"), dry_run=True, quiet=True)


def test_a_config_file_of_the_wrong_shape_is_one_line(tmp_path, capsys):
    (tmp_path / "c.json").write_text(json.dumps({"raw": "r", "out": "o", "min_side": "256"}))
    with pytest.raises(SystemExit) as info:
        parse_args(["--raw", "r", "--out", str(tmp_path / "o"), "--config", str(tmp_path / "c.json")])
    assert info.value.code == 2 and "c.json: min_side: expected int, got '256'" in capsys.readouterr().err
