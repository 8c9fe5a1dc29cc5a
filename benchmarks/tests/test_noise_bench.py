"""benchmarks/noise.py's own machinery, on a tiny run: passes pooled by row (a pass yields its
rows as they finish, in no fixed order), and every decision judged by every gate. The gate's
numbers themselves are the bench's output, not something a test can pin."""

from __future__ import annotations

import pytest

from benchmarks import noise

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    pytest.importorskip("torch")
    config = tmp_path_factory.mktemp("noise") / "bench.toml"
    config.write_text(noise.TIMING.replace("max_row_s = 0.4", "max_row_s = 0.2"))
    return noise.InProcess(config, processes=2)


def test_passes_are_pooled_row_by_row(runner):
    result, seconds = runner.run(0.0)
    assert seconds > 0
    assert sorted(row.operator for row in result.rows) == ["conv", "dwconv", "extra"]
    for row in result.rows:
        assert len(row.processes) == 2 and len(row.round_medians) == 2
        # Pooled from the same row: every pass's medians lie near the pooled one, not at
        # another operator's (extra's 20 convolutions take ~20× conv's time).
        medians = [process["median_ms"] for process in row.processes]
        assert max(medians) / min(medians) < 3, (row.operator, medians)
        assert {"gemm_ms", "copy_ms", "smallconv_ms"} <= set(row.round_medians[0])


def test_a_condition_judges_every_decision_by_every_gate(runner):
    out = noise.run_condition("quiet", 1, core=0, seed=1, runner=runner)
    kinds = sorted({d["kind"] for d in out["decisions"]})
    assert kinds == ["+10%", "+5%", "unchanged"]
    for kind in kinds:
        gates = sorted(d["gate"] for d in out["decisions"] if d["kind"] == kind)
        assert gates == sorted(noise.gate_name(*pair) for pair in noise.GATES)
    assert all(d["exit_code"] in (0, 1, 3) for d in out["decisions"])
    assert "| quiet | plain 5% |" in noise.table([out])
