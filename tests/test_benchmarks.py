"""`make bench` smoke test: every benchmark runs in quick mode and reports a table."""
import sys

import pytest

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
