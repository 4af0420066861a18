"""`make bench` smoke test: every benchmark runs in quick mode and reports a table."""
import sys

import pytest
import torch

sys.path.insert(0, ".")
from bench.cli import benchmark  # noqa: E402


@pytest.mark.slow
def test_every_benchmark_runs_quick(tmp_path):
    out = tmp_path / "BENCH.md"
    cfg = benchmark.parse_args(["--quick", "--out", str(out)])
    report, failed = benchmark.run(cfg)
    assert failed == [], report
    for name in benchmark.BENCHES:
        assert f"({name}:" in report
    assert report.count("|---") + report.count("| ---") >= len(benchmark.BENCHES)
    assert "Machine:" in report and "cores" in report


def test_gan_bench_fp32_ieee_rows_and_flags_restored():
    """bench_gan times fp32 with TF32 off as its own precision and leaves torch's global flags as it
    found them (TF32 per step, cudnn.benchmark for the run)."""
    from bench import bench_gan

    flags = lambda: (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32,  # noqa: E731
                     torch.backends.cudnn.benchmark)
    before = flags()
    seen = []
    real_step = bench_gan.CycleGANModel.optimize_parameters

    def spy(model):
        seen.append((model.cfg.amp, torch.backends.cudnn.allow_tf32))
        real_step(model)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bench_gan.CycleGANModel, "optimize_parameters", spy)
        text = bench_gan.run(True, batches=[1], precisions=["fp32", "fp32-ieee"], presets=["cyclegan"])
    assert "| 1 | fp32-ieee | cyclegan |" in text and "| 1 | fp32 | cyclegan |" in text
    assert ("none", False) in seen and ("none", True) in seen  # TF32 off only in the fp32-ieee steps
    assert flags() == before


def test_curation_bench_labels_from_how_photos_were_made_and_counts_rejects(tmp_path):
    """bench_curation on a tiny folder laid out like the real photos: the black-and-white one is
    expected grayscale (equal channels in its lossless source), the others keep; every reject named."""
    import cv2
    from PIL import Image

    from bench import bench_curation
    from datasets.testing.people import person_photo

    for domain, seeds in (("ordinary", (0, 1, 2)), ("shallow", (3, 4, 5))):
        (tmp_path / domain).mkdir()
        for seed in seeds:
            image = person_photo(seed, (256, 256))
            if seed == 5:
                image = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
            Image.fromarray(image).save(tmp_path / domain / f"{seed}.png")
    found = bench_curation.load_photos(tmp_path)
    assert [(d, s, bw) for d, s, _, bw in found] == [("ordinary", "0", False), ("ordinary", "1", False),
                                                     ("ordinary", "2", False), ("shallow", "3", False),
                                                     ("shallow", "4", False), ("shallow", "5", True)]
    scenarios = bench_curation.real_scenarios(tmp_path)
    assert [label for *_, label in scenarios["real"]] == ["keep"] * 5 + ["grayscale"]
    assert sum(label == "dup_near" for *_, label in scenarios["copies"]) == 1  # every fifth colour photo
    report = bench_curation.run(quick=True, photos=tmp_path)
    assert "| real | 6 | 0 | 0 | 0 |" in report
    assert "| grayscale | " in report and "rejects.csv rows naming a rule and its evidence" in report
    rows = report.split("rejects.csv rows naming a rule and its evidence: ")[1].split(".")[0].split(" of ")
    assert rows[0] == rows[1] and int(rows[0]) > 0


def test_a_skipped_section_keeps_the_previous_reports_tables():
    previous = ("# old\n\n### Compositing methods\n\nold speed table\n\n"
                "### Real portraits (calibration)\n\n| method | rim2 |\n|---|---|\n| lens | 1.09 |\n\nhand-written calibration\n")
    report = ("# new\n\n### Compositing methods\n\nnew speed table\n\n_(compositing: 3 s wall)_\n\n"
              "### Real portraits\n\nSkipped: no folder given (`--real-photos DIR`).\n\n_(realphotos: 0 s wall)_\n")
    merged = benchmark.keep_skipped(report, previous)
    assert "new speed table" in merged and "old speed table" not in merged  # measured sections are new
    assert "| lens | 1.09 |" in merged and "hand-written calibration" in merged
    assert "### Real portraits (calibration)" in merged and "Skipped:" not in merged
    assert "this run skipped it (no folder given (`--real-photos DIR`))" in merged
    # kept twice: one note, not two
    again = benchmark.keep_skipped(report, merged)
    assert again.count("Kept from the previous report") == 1 and "| lens | 1.09 |" in again
    # nothing to keep: the skip is reported as it is
    assert benchmark.keep_skipped(report, "# empty\n") == report
