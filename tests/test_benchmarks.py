"""`make bench` smoke test: every benchmark runs in quick mode and reports a table."""
import sys

import pytest
import torch

sys.path.insert(0, ".")
from scripts import benchmark  # noqa: E402


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
