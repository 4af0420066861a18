"""plumbing.config: the one strict config pattern (from_dict, save / load, --config)."""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field

import pytest

from plumbing.config import add_config_option, from_dict, load_config, parse_config_args, save_config


@dataclass
class Settings:
    size: int = 256
    sigma: float = 1.5
    flip: bool = True
    names: list = field(default_factory=list)
    label: str = "x"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="prog")
    add_config_option(p)
    p.add_argument("--size", type=int, default=Settings.size)
    p.add_argument("--sigma", type=float, default=Settings.sigma)
    return p


def test_from_dict_is_strict_about_keys_and_types() -> None:
    assert from_dict(Settings, {"size": 3, "sigma": 2}) == Settings(size=3, sigma=2)
    with pytest.raises(ValueError, match=r"unknown Settings keys: \['colour'\]"):
        from_dict(Settings, {"colour": 1})
    with pytest.raises(ValueError, match="flip: expected bool, got 'no'"):
        from_dict(Settings, {"flip": "no"})
    with pytest.raises(ValueError, match="expected a JSON object"):
        from_dict(Settings, [1, 2])


def test_save_then_load_round_trips(tmp_path) -> None:
    cfg = Settings(size=7, names=["a"], label="run")
    save_config(cfg, tmp_path / "config.json")
    assert load_config(Settings, tmp_path / "config.json") == cfg


@pytest.mark.parametrize("text, problem", [("", "empty config file"), ("{", "not valid JSON"),
                                           ('{"size": "big"}', "size: expected int")])
def test_load_config_names_the_file_and_the_problem(tmp_path, text, problem) -> None:
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=problem) as err:
        load_config(Settings, path)
    assert str(err.value).startswith(f"{path}: ")
    with pytest.raises(ValueError, match="no such config file"):
        load_config(Settings, tmp_path / "missing.json")


def test_parse_config_args_orders_defaults_file_flags(tmp_path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"size": 64, "sigma": 3.0, "label": "saved"}))
    _, plain = parse_config_args(_parser(), Settings, [])
    assert plain == Settings()
    _, loaded = parse_config_args(_parser(), Settings, ["--config", str(path)])
    assert (loaded.size, loaded.sigma, loaded.label) == (64, 3.0, "saved")  # label has no flag: kept
    _, over = parse_config_args(_parser(), Settings, ["--config", str(path), "--size", "32"])
    assert (over.size, over.sigma) == (32, 3.0)


def test_parse_config_args_bad_file_is_a_usage_error(tmp_path, capsys) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"size": 64, "typo": 1}))
    with pytest.raises(SystemExit) as stop:
        parse_config_args(_parser(), Settings, ["--config", str(path)])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert str(path) in err and "typo" in err
