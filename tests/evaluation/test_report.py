"""Tables and loss-curve plots from fabricated metrics and GAN logs (evaluation/report.py)."""
import csv
import io
import json
import math

import numpy as np
import pytest
from PIL import Image

from evaluation import report as R


ROWS = [
    {"method": "gaussian", "image": "a", "halo": 0.1, "bg_blur": 0.5},
    {"method": "gaussian", "image": "b", "halo": 0.3, "bg_blur": math.nan},
    {"method": "gaussian", "image": "c", "halo": 0.8, "bg_blur": 0.25},
    {"method": "lens|x", "image": "a", "halo": math.inf, "bg_blur": 1.0},
]


def test_summarize_mean_median_ignoring_nan():
    s = R.summarize(ROWS, ["halo", "bg_blur"])
    assert [e["method"] for e in s] == ["gaussian", "lens|x"]
    g = s[0]
    assert g["n"] == 3
    assert g["halo_mean"] == pytest.approx(0.4)
    assert g["halo_median"] == pytest.approx(0.3)
    assert g["bg_blur_mean"] == pytest.approx(0.375)
    assert g["bg_blur_median"] == pytest.approx(0.375)
    assert s[1]["halo_mean"] == math.inf
    only_nan = R.summarize([{"method": "m", "image": "a", "x": math.nan}], ["x"])
    assert math.isnan(only_nan[0]["x_mean"])


def test_csv_has_image_and_summary_rows():
    summary = R.summarize(ROWS, ["halo", "bg_blur"])
    text = R.metrics_csv(ROWS, summary, ["halo", "bg_blur"], {"gaussian": {"fid": 12.5}})
    table = list(csv.DictReader(io.StringIO(text)))
    assert [r["scope"] for r in table] == ["image"] * 4 + ["mean", "median", "mean", "median"]
    assert table[1]["bg_blur"] == "" and table[3]["halo"] == "inf"
    assert float(table[4]["halo"]) == pytest.approx(0.4) and table[4]["fid"] == "12.5"
    assert table[0]["fid"] == "" and table[6]["fid"] == ""
    assert float(table[5]["halo"]) == pytest.approx(0.3)


def test_markdown_table(tmp_path):
    summary = R.write_metrics(tmp_path, ROWS, ["halo"], {"halo": "Halo"}, {"lens|x": {"kid": 0.01}},
                              notes=["FID not computed: no weights"])
    md = (tmp_path / "metrics.md").read_text(encoding="utf-8")
    lines = md.splitlines()
    assert lines[0] == "| method | n | Halo | kid |"
    assert lines[2] == "| gaussian | 3 | 0.4 / 0.3 | – |"
    assert lines[3] == "| lens\\|x | 1 | ∞ / ∞ | 0.01 |"
    assert lines[-1] == "- FID not computed: no weights"
    assert (tmp_path / "metrics.csv").is_file() and summary[0]["halo_mean"] == pytest.approx(0.4)


def _fake_run(root, name, preset, overlay, cycle, mask=None, bad_line=False):
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"model": {"preset": preset, "mask_overlay_train": overlay}}))
    with open(run / "log.jsonl", "w") as f:
        for i, c in enumerate(cycle):
            rec = {"epoch": 1 + i // 2, "iter": (i % 2) * 10, "cycle_A": c, "cycle_B": 2 * c, "D_A": 0.25,
                   "note": "text ignored"}
            if mask is not None:
                rec["mask_A"] = mask[i]
                rec["mask_B"] = mask[i]
            f.write(json.dumps(rec) + "\n")
            if bad_line and i == 0:
                f.write("{not json\n")
    return run


def test_loss_plots_from_logs(tmp_path):
    runs = [
        R.load_run(_fake_run(tmp_path, "plain", "cyclegan", False, [3.0, 2.0, 1.0, 0.5], bad_line=True)),
        R.load_run(_fake_run(tmp_path, "ml", "mask_loss", False, [4.0, 3.0, 2.0, 1.0], mask=[1.0, 0.8, 0.6, 0.4])),
        R.load_run(_fake_run(tmp_path, "mo", "mask_overlay", True, [5.0, 4.0, 3.0, 2.0], mask=[0.5, 0.3, 0.2, 0.1])),
    ]
    assert runs[0].preset == "cyclegan" and runs[0].overlay is False and len(runs[0].records) == 4
    assert runs[2].overlay is True
    cycle = R.plot_cycle_loss(runs, tmp_path / "cycle.png")
    assert list(cycle) == ["plain (cyclegan)", "ml (mask_loss)", "mo (mask_overlay)"]
    x, y = cycle["plain (cyclegan)"]
    assert np.array_equal(x, [1, 2, 3, 4])  # per-epoch "iter" restarts: positions are used
    assert np.allclose(y, [9.0, 6.0, 3.0, 1.5])  # cycle_A + cycle_B
    mask = R.plot_mask_loss(runs, tmp_path / "mask.png")
    assert list(mask) == ["ml (mask_loss), no overlay", "mo (mask_overlay), overlay"]
    assert np.allclose(mask["mo (mask_overlay), overlay"][1], [1.0, 0.6, 0.4, 0.2])
    smooth = R.plot_mask_loss(runs[1:2], tmp_path / "mask_s.png", smooth=2)
    assert np.allclose(smooth["ml (mask_loss), no overlay"][1], [2.0, 1.8, 1.4, 1.0])
    for name in ("cycle.png", "mask.png"):
        with Image.open(tmp_path / name) as im:
            assert im.format == "PNG" and im.size == (640, 360)


def test_overlay_from_the_preset_of_a_train_config(tmp_path):
    """gan.train writes its TrainConfig (preset name, overrides); the overlay follows from the preset."""
    for name, preset, overrides, expected in [("a", "mask_overlay", {}, True), ("b", "mask_loss", {}, False),
                                               ("c", "mask_loss", {"mask_overlay_train": True}, True),
                                               ("d", "not_a_preset", {}, None)]:
        run = tmp_path / name
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"preset": preset, "model_overrides": overrides}))
        (run / "log.jsonl").write_text(json.dumps({"step": 1, "mask_A": 0.5}) + "\n")
        assert R.load_run(run).overlay is expected, name


def test_run_without_config_and_step_axis(tmp_path):
    run = tmp_path / "bare"
    run.mkdir()
    (run / "log.jsonl").write_text("\n".join(json.dumps({"step": 100 * (i + 1), "cycle_A": 1.0 / (i + 1)})
                                             for i in range(3)) + "\n")
    r = R.load_run(run)
    assert r.preset == "bare" and r.overlay is None and r.label == "bare"
    x, y = R.loss_series(r.records, R.is_cycle_key)
    assert np.array_equal(x, [100, 200, 300]) and np.allclose(y, [1, 0.5, 1 / 3])
    assert R.plot_mask_loss([r], tmp_path / "m.png") == {}
    assert (tmp_path / "m.png").is_file()
