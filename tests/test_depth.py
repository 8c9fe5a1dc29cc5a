"""The depth check: the least-squares fit recovers a known line; `fbench depth` on fixtures."""

from __future__ import annotations

import json
import random

import pytest

from fbench.bench.results import read_result
from fbench.reports.depth import depth_fits, fit_line
from tests.conftest import assert_one_line_error, fbench


def test_fit_recovers_an_exact_line():
    fit = fit_line([1, 5, 10], [0.3 + 0.05 * n for n in (1, 5, 10)])
    assert fit.slope == pytest.approx(0.05)
    assert fit.intercept == pytest.approx(0.3)
    assert fit.r_squared == pytest.approx(1.0)
    assert fit.intercept_stderr == pytest.approx(0.0, abs=1e-12)
    assert fit.n == 3


def test_fit_recovers_slope_and_intercept_through_noise():
    noise = random.Random(7)
    xs = [n for n in (1, 5, 10) for _ in range(40)]
    ys = [0.2 + 0.08 * x + noise.gauss(0, 0.01) for x in xs]
    fit = fit_line(xs, ys)
    assert fit.slope == pytest.approx(0.08, abs=0.002)
    assert fit.intercept == pytest.approx(0.2, abs=0.01)
    assert 0 < fit.intercept_stderr < 0.01


def test_fit_needs_two_depths():
    with pytest.raises(ValueError, match="two distinct"):
        fit_line([10, 10], [1.0, 1.1])


def _sweep_files(fixture_path, tmp_path, depths, overhead_ms=0.2, per_layer_ms=0.1):
    """The fixture run re-labelled at other depths, latency = overhead + layers × per layer."""
    paths = []
    for layers in depths:
        data = json.loads(fixture_path.read_text())
        data["run_id"] = f"depth-{layers}"
        for row in data["rows"]:
            row["flops"] = row["flops"] // row["layers"] * layers
            row["layers"] = layers
            median = overhead_ms + layers * per_layer_ms
            # The interval, samples, FLOPS and throughput move with the median: a file whose
            # numbers contradict each other is invalid.
            scale = median / row["latency_ms"]["median"]
            row["samples_ms"] = [sample * scale for sample in row["samples_ms"]]
            row["latency_ms"].update(median=median, ci95_low=median * 0.99, ci95_high=median * 1.01)
            row["gflops_per_s"] = row["flops"] * row["batch"] / (median / 1000.0) / 1e9
            row["throughput_per_s"] = row["batch"] * 1000.0 / median
        path = tmp_path / f"depth-{layers}.json"
        path.write_text(json.dumps(data))
        paths.append(path)
    return paths


def test_depth_fits_per_operator_and_shape(fixture_path, tmp_path):
    paths = _sweep_files(fixture_path, tmp_path, (1, 5, 10))
    rows = [row for path in paths for row in read_result(path).rows]
    fits, skipped = depth_fits(rows)
    assert len(fits) == 16 and skipped == []
    dwconv = next(f for f in fits if f.operator == "dwconv" and f.stage == 4)
    assert dwconv.layers == (1, 5, 10)
    assert dwconv.per_layer_ms == pytest.approx(0.1)
    assert dwconv.overhead_ms == pytest.approx(0.2)
    assert dwconv.overhead_share(10) == pytest.approx(0.2 / 1.2)
    # one DWConv layer at 768×7×7: 7·7·9·768 multiply-adds in 0.1 ms
    assert dwconv.per_layer_gflops_per_s == pytest.approx(7 * 7 * 9 * 768 / 1e-4 / 1e9)


def test_single_depth_is_skipped_with_a_reason(fixture_path):
    fits, skipped = depth_fits(read_result(fixture_path).rows)
    assert fits == [] and len(skipped) == 16
    assert "only at 10 layers" in skipped[0]


def test_cli_depth_table(fixture_path, tmp_path):
    paths = _sweep_files(fixture_path, tmp_path, (1, 5, 10))
    result = fbench("depth", "--wide", *map(str, paths))
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if "DWConv" in x and "768×7×7" in x)
    assert "0.100" in line and "0.200" in line and "17%" in line


def test_cli_depth_needs_two_depths(fixture_path):
    assert_one_line_error(fbench("depth", str(fixture_path)), "two or more depths", "layers 10")


def test_layers_sweep_plans_every_depth_and_survives_a_result_file():
    from fbench.bench import config
    from fbench.bench.plan.rows import plan_rows

    resolved = config.load(
        None, config.Overrides(operators=["dwconv"], stages=[4], layers_sweep=[10, 1, 5, 5])
    )
    assert resolved.layers_sweep == (1, 5, 10) and resolved.layers == 10
    assert [plan.layers for plan in plan_rows(resolved)] == [1, 5, 10]
    assert config.RunConfig.from_dict(resolved.to_dict()) == resolved
    # A stored config from before the sweep existed still loads: one depth.
    old = resolved.to_dict()
    del old["layers_sweep"]
    assert config.RunConfig.from_dict(old).depths == (10,)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"layers_sweep": [10]}, "two or more positive depths"),
        ({"layers_sweep": [0, 5]}, "two or more positive depths"),
        ({"layers_sweep": [1, 10], "layers": 5}, "give one of them"),
    ],
)
def test_layers_sweep_rejects_bad_depths(overrides, fragment):
    from fbench.bench import config
    from fbench.bench.errors import FbenchError

    with pytest.raises(FbenchError, match=fragment):
        config.load(None, config.Overrides(**overrides))


@pytest.mark.slow
def test_cli_sweep_run_prints_the_depth_table(tmp_path):
    result = fbench(
        "run", "--quick", "--layers-sweep", "1,3", "--operators", "dwconv", "--stages", "4",
        "--results-dir", str(tmp_path), "--calibration", "none",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (path,) = tmp_path.glob("*.json")
    assert sorted(row["layers"] for row in json.loads(path.read_text())["rows"]) == [1, 3]
    assert "1: " in result.stdout and "3: " in result.stdout and "at N layers" in result.stdout
    again = fbench("depth", str(path))
    assert again.returncode == 0 and "DWConv" in again.stdout
