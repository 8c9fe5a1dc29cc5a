"""Roofline math on hand-computed cases, the plot from fixtures, and `fbench roofline`."""

from __future__ import annotations

import csv
import dataclasses

import pytest

from fbench.bench.calibration import calibration_for_run, read_calibration
from fbench.bench.results import read_result
from fbench.reports.plots import plot_roofline, roofline_figure
from fbench.reports.render import text_rows
from fbench.reports.roofline import (
    CEILING_TOO_LOW,
    ROOFLINE_HEADERS,
    above_roof,
    arithmetic_intensity,
    attainable_gflops_per_s,
    bound,
    ceiling_lines,
    intensity_range,
    operator_summaries,
    ridge_point,
    roofline_point,
    roofline_points,
    roofline_table,
    summary_sentence,
)
from tests.conftest import FIXTURES, REPO, assert_one_line_error, fbench

CALIBRATION = FIXTURES / "cpu_calibration.json"  # GEMM 100 GMAC/s, copy 20 GB/s, L2 80 GB/s


@pytest.fixture
def rows(fixture_path):
    return read_result(fixture_path).rows


@pytest.fixture
def calibration():
    return read_calibration(CALIBRATION)


def row_of(rows, operator, stage):
    return next(row for row in rows if row.operator == operator and row.stage == stage)


def test_intensity_counts_the_whole_batch():
    assert arithmetic_intensity(1000, 1, 400) == 2.5
    # flops are per sample, bytes per call: batch 2 doubles the work on the same bytes.
    assert arithmetic_intensity(1000, 2, 400) == 5.0
    with pytest.raises(ValueError):
        arithmetic_intensity(1000, 1, 0)


def test_attainable_is_the_lower_roof():
    assert ridge_point(100.0, 20.0) == 5.0
    assert attainable_gflops_per_s(2.0, 100.0, 20.0) == 40.0  # on the bandwidth slope
    assert attainable_gflops_per_s(5.0, 100.0, 20.0) == 100.0  # at the ridge
    assert attainable_gflops_per_s(50.0, 100.0, 20.0) == 100.0  # under the compute roof
    assert bound(4.99, 100.0, 20.0) == "memory"
    assert bound(5.0, 100.0, 20.0) == "compute"


def test_a_row_without_multiply_adds_has_no_place_on_the_roofline(rows, calibration):
    # A custom layer that only moves data (fvcore counts 0) has intensity 0: nothing to
    # divide its FLOPS by, and no place on log axes; the table and plots leave it out.
    moves_only = dataclasses.replace(rows[0], flops=0, gflops_per_s=0.0)
    assert roofline_point(moves_only, calibration) is None
    assert len(roofline_points([moves_only, *rows[1:]], calibration)) == len(rows) - 1


def test_dwconv_stage1_by_hand(rows, calibration):
    point = roofline_point(row_of(rows, "dwconv", 1), calibration)
    # 10 layers of 56·56·9·96 multiply-adds; bytes 10 · (2·96·56·56 + 9·96) · 4 (eq. 3).
    flops = 10 * 56 * 56 * 9 * 96
    memory = 10 * (2 * 96 * 56 * 56 + 9 * 96) * 4
    assert point.flops_per_call == flops == 27_095_040
    assert point.memory_access_bytes == memory == 24_119_040
    intensity = flops / memory  # ≈ 1.123 multiply-adds per byte
    assert point.intensity_paper == pytest.approx(intensity)
    assert point.intensity_implementation == pytest.approx(intensity)
    assert point.attainable_gflops_per_s == pytest.approx(intensity * 20.0)  # ≈ 22.5
    assert point.attainable_cache_gflops_per_s == pytest.approx(intensity * 80.0)
    assert point.bound == "memory"
    # measured 6.77376 GMAC/s (27.09504 M multiply-adds in 4 ms)
    assert point.fraction_of_attainable == pytest.approx(6.77376 / (intensity * 20.0))
    assert point.fraction_of_compute == pytest.approx(0.0677376)
    assert point.achieved_gb_per_s == pytest.approx(memory / 0.004 / 1e9)  # 6.03 GB/s


def test_conv_is_compute_bound_and_held_to_gemm(rows, calibration):
    point = roofline_point(row_of(rows, "conv", 2), calibration)
    assert point.intensity_paper == pytest.approx(2_601_123_840 / 25_313_280)  # ≈ 102.8
    assert point.bound == "compute"
    assert point.attainable_gflops_per_s == 100.0
    assert point.fraction_of_attainable == pytest.approx(0.86704128)


def test_pconv_implementation_moves_more_than_eq5(rows, calibration):
    point = roofline_point(row_of(rows, "pconv", 1), calibration)
    assert point.intensity_paper == pytest.approx(162_570_240 / 6_228_480)  # ≈ 26.1
    assert point.intensity_implementation == pytest.approx(162_570_240 / 36_334_080)  # ≈ 4.47
    # eq. 5 alone would call it compute-bound; with the slicing clone it is memory-bound.
    assert point.attainable_paper_gflops_per_s == 100.0
    assert point.attainable_gflops_per_s == pytest.approx(4.474 * 20.0, rel=1e-3)
    assert point.bound == "memory"


def test_batch_scales_intensity(rows, calibration):
    row = dataclasses.replace(row_of(rows, "dwconv", 1), batch=4)
    point = roofline_point(row, calibration)
    assert point.intensity_paper == pytest.approx(4 * 27_095_040 / 24_119_040)


def test_table_columns_of_a_row(rows, calibration):
    table = roofline_table([roofline_point(row_of(rows, "dwconv", 1), calibration)])
    headers, (line,) = table.headers, text_rows(table)
    first = headers.index(ROOFLINE_HEADERS[0])
    cells = line[first : first + len(ROOFLINE_HEADERS)]
    assert headers[first : first + len(ROOFLINE_HEADERS)] == list(ROOFLINE_HEADERS)
    assert cells[0] == "1.12" and cells[-2] == "memory" and cells[3] == "30%"
    assert cells[-1] == "under"
    network = dataclasses.replace(
        row_of(rows, "conv", 1), memory_access_bytes=None, implementation_memory_access_bytes=None
    )
    assert roofline_point(network, calibration) is None


def test_plot_writes_png_svg_and_csv_with_every_point(rows, calibration, tmp_path):
    rows = list(reversed(rows))
    written = plot_roofline(rows, calibration, tmp_path / "out" / "roofline")
    assert [path.name for path in written] == ["roofline.png", "roofline.svg", "roofline.csv"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = written[1].read_text()
    assert "<svg" in svg and "arithmetic intensity" in svg
    with written[2].open() as stream:
        points = list(csv.DictReader(stream))
    assert len(points) == 16
    # Table 1's order whatever order the rows finished in: operator by operator, by stage.
    assert [(p["operator"], p["stage"]) for p in points[:5]] == [
        ("conv", "1"),
        ("conv", "2"),
        ("conv", "3"),
        ("conv", "4"),
        ("gconv", "1"),
    ]
    assert {(p["operator"], int(p["stage"])) for p in points} == {
        (op, stage) for op in ("conv", "gconv", "dwconv", "pconv") for stage in (1, 2, 3, 4)
    }
    dwconv = next(p for p in points if p["operator"] == "dwconv" and p["stage"] == "1")
    assert float(dwconv["intensity_paper_mac_per_byte"]) == pytest.approx(27_095_040 / 24_119_040)
    assert dwconv["bound"] == "memory"


def test_plot_one_panel_per_device(rows, calibration, tmp_path):
    arm_rows = [dataclasses.replace(row, device="arm") for row in rows]
    arm = dataclasses.replace(calibration, device="arm")
    written = plot_roofline(rows + arm_rows, {"cpu": calibration, "arm": arm}, tmp_path / "two")
    with written[2].open() as stream:
        devices = [p["device"] for p in csv.DictReader(stream)]
    assert devices.count("cpu") == devices.count("arm") == 16


def test_cli_table_and_plot(fixture_path, tmp_path):
    result = fbench(
        "roofline", str(fixture_path), "--calibration", str(CALIBRATION),
        "--plot", str(tmp_path / "r"), "--wide",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "ridge point 5.00 FLOPs/B" in result.stdout
    dwconv_lines = [line for line in result.stdout.splitlines() if "DWConv 3×3  " in line]
    assert len(dwconv_lines) == 4 and all(
        line.split()[-3:-1] == ["memory", "under"] for line in dwconv_lines
    )
    assert dwconv_lines[-1].split()[-1] == "imprecise"  # the fixture's 7×7 row: status kept
    assert "cpu DWConv 3×3: memory-bound; 7% of the compute ceiling" in result.stdout
    assert (tmp_path / "r.png").is_file() and (tmp_path / "r.csv").is_file()


def test_cli_without_a_calibration_says_how_to_get_one(fixture_path, tmp_path):
    result = fbench("roofline", str(fixture_path), "--calibrations-dir", str(tmp_path))
    assert_one_line_error(result, "no calibration", "fbench calibrate --device cpu")


def test_cli_finds_the_calibration_by_device_identity(fixture_path, tmp_path):
    (tmp_path / "cpu-hand-made-test-cpu-float32.json").write_text(CALIBRATION.read_text())
    result = fbench("roofline", str(fixture_path), "--calibrations-dir", str(tmp_path), "--wide")
    assert result.returncode == 0, result.stderr
    assert "compute 100.0 G/s (gemm), bandwidth 20.0 GB/s (memory_copy)" in result.stdout


def test_ceiling_lines_follow_the_roofs(calibration):
    (dram, cache) = ceiling_lines(calibration, 1.0, 100.0, points=3)
    assert dram[1] == pytest.approx([1.0, 10.0, 100.0])
    assert dram[2] == pytest.approx([20.0, 100.0, 100.0])  # 1 MAC/B × 20 GB/s, then the roof
    assert cache[2] == pytest.approx([80.0, 100.0, 100.0])
    assert dram[0].startswith("roofline") and cache[0].startswith("L2")


def test_intensity_range_shows_points_and_ridges(rows, calibration):
    points = roofline_points(rows, calibration)
    low, high = intensity_range(points, calibration)
    assert low == pytest.approx(3_386_880 / 3_287_040 / 3)  # DWConv 768×7×7, left of L2 ridge
    assert high == pytest.approx(2_601_123_840 / 25_313_280 * 3)  # Conv 192×28×28


def test_calibration_for_run_recorded_then_by_identity(fixture_path, tmp_path, calibration):
    run = read_result(fixture_path)
    assert calibration_for_run(run, "cpu", tmp_path) is None
    (tmp_path / "cpu-hand-made-test-cpu-float32.json").write_text(CALIBRATION.read_text())
    assert calibration_for_run(run, "cpu", tmp_path).bandwidth_gb_per_s == 20.0
    recorded = dataclasses.replace(
        run, environment={**run.environment, "calibration": _recorded(calibration, 33.0)}
    )
    assert calibration_for_run(recorded, "cpu", tmp_path).bandwidth_gb_per_s == 33.0


def _recorded(calibration, bandwidth):
    record = calibration.summary("x.json")
    record["ceilings"]["memory_copy"]["median"] = bandwidth
    return record


def test_operator_summaries_state_the_goal(rows, calibration):
    summaries = {s.operator: s for s in operator_summaries(roofline_points(rows, calibration))}
    conv, dwconv, pconv = summaries["conv"], summaries["dwconv"], summaries["pconv"]
    # Conv's fixture FLOPS: 40.6-86.7 GMAC/s against a 100 GMAC/s GEMM, all compute-bound
    assert conv.fraction_of_compute == pytest.approx((0.4064256, 0.86704128))
    assert conv.memory_bound == 0
    assert dwconv.memory_bound == dwconv.rows == 4
    assert pconv.memory_bound == 1  # 96×56×56 only, because of the slicing clone
    assert summary_sentence(dwconv).startswith(
        "cpu DWConv 3×3: memory-bound; 7% of the compute ceiling"
    )
    assert "memory-bound at 1 of 4 shapes" in summary_sentence(pconv)


def test_a_row_above_the_ceiling_is_ceiling_too_low(rows, calibration, tmp_path, fixture_path):
    # A compute roof of 50 GMAC/s: the Conv rows at 65-87 GMAC/s (±1%) are above it.
    low = dataclasses.replace(
        calibration,
        ceilings={
            **calibration.ceilings,
            "gemm": dataclasses.replace(
                calibration.ceilings["gemm"], median=50.0, ci95_low=49.0, ci95_high=51.0
            ),
        },
    )
    conv = roofline_point(row_of(rows, "conv", 2), low)
    assert conv.measured_gflops_per_s > 51.0 and conv.roof == CEILING_TOO_LOW
    assert roofline_point(row_of(rows, "conv", 4), low).roof == "under"  # 40.6 GMAC/s
    assert roofline_point(row_of(rows, "dwconv", 1), low).roof == "under"
    # The table says so, and the summary counts it; no word of cache.
    table = roofline_table(roofline_points(rows, low))
    headers, cells = table.headers, text_rows(table)
    roof = headers.index("Roof")
    conv_cells = [line for line in cells if line[1] == "Conv 3×3"]
    assert [line[roof] for line in conv_cells] == [CEILING_TOO_LOW] * 3 + ["under"]
    summaries = {s.operator: s for s in operator_summaries(roofline_points(rows, low))}
    assert summary_sentence(summaries["conv"]).endswith(f"{CEILING_TOO_LOW} at 3 of 4 shapes")
    # The plot's CSV and the generic plot's series mark the same rows.
    plot_roofline(rows, low, tmp_path / "r")
    with (tmp_path / "r.csv").open() as stream:
        marked = [line for line in csv.DictReader(stream) if line["roof"] == CEILING_TOO_LOW]
    expected = {("conv", "96"), ("conv", "192"), ("conv", "384")}
    expected |= {("pconv", "192"), ("pconv", "384")}  # 54.2 GMAC/s against a roof of 51
    assert {(line["operator"], line["channels"]) for line in marked} == expected
    run = read_result(fixture_path)
    run = dataclasses.replace(run, environment={**run.environment, "calibration": low.summary()})
    (panel,) = roofline_figure([run], with_paper=False).panels
    # Ringed in red within its operator's series: the ring does not hide which operator it is.
    ringed = {
        (series.label, point)
        for series in panel.series
        for point, ring in zip(
            series.points, series.ringed or [False] * len(series.points), strict=True
        )
        if ring
    }
    assert len(ringed) == len(expected) and ("Conv 3×3", "96×56×56") in ringed
    assert not any(series.label.startswith(CEILING_TOO_LOW) for series in panel.series)


def test_a_row_within_the_noise_of_the_roof_is_under_it():
    # Measured 101 ± 2 against a roof of 100 ± 2: the intervals overlap.
    assert not above_roof(99.0, 1000.0, 102.0, 20.0)
    assert above_roof(103.0, 1000.0, 102.0, 20.0)
    assert above_roof(30.0, 1.0, 102.0, 20.0)  # on the bandwidth slope: 20 at 1 MAC/B


def test_the_roof_is_the_best_compute_ceiling(rows, calibration):
    conv_ceiling = dataclasses.replace(
        calibration.ceilings["gemm"], name="conv", median=120.0, ci95_low=119.0, ci95_high=121.0
    )
    better = dataclasses.replace(
        calibration, ceilings={**calibration.ceilings, "conv": conv_ceiling}
    )
    assert better.compute_ceiling.name == "conv" and better.compute_gflops_per_s == 120.0
    point = roofline_point(row_of(rows, "conv", 2), better)
    assert point.attainable_gflops_per_s == 120.0 and point.compute_ceiling == "conv"


def test_roofline_text_never_explains_rows_by_cache(fixture_path):
    result = fbench("roofline", str(fixture_path), "--calibration", str(CALIBRATION), "--wide")
    assert result.returncode == 0, result.stderr
    assert "came from cache" not in result.stdout and CEILING_TOO_LOW in result.stdout


def test_table1_roofline_heads_are_short_and_say_flops_one_way(capsys):
    from fbench.cli import main

    cpu, cuda = (str(FIXTURES / f"{device}_table1.json") for device in ("cpu", "cuda"))
    main(["report", "table1", "--roofline", cpu, cuda])
    fitted = capsys.readouterr().out
    assert max(len(line) for line in fitted.splitlines()) <= 100
    assert "share, the measured FLOPS's share" in " ".join(fitted.split())  # the note
    from fbench.reports.table1.devices import table1_devices  # the column set registered above

    table = table1_devices([read_result(FIXTURES / "cpu_table1.json")], extras=["roofline"])
    assert table.short_headers[5:] == [
        "cpu FLOPs/B",
        "cpu attainable (G/s)",
        "cpu share",
        "cpu % of peak",
        "cpu status",
    ]
    main(["report", "table1", "--roofline", "--format", "md", cpu])
    heads = capsys.readouterr().out.splitlines()[0]
    assert "cpu attainable FLOPS (G/s)" in heads and "cpu share of compute roof" in heads
    assert "attainable G/s" not in heads and "GMAC" not in heads


def test_roofline_of_two_devices_fits_100_columns_with_roof_and_status_in_a_second_panel(capsys):
    from fbench.cli import main

    examples = REPO / "examples/results"
    argv = ["roofline", str(examples / "20261206-234220-cpu-torch.json")]
    argv += [str(examples / "20261123-075145-cuda-torch.json")]
    for calibration in (
        "cpu-amd-epyc-float32",
        "cuda-nvidia-h100-80gb-hbm3-float32",
    ):
        argv += ["--calibration", str(examples / f"{calibration}.json")]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 100
    heads = [line.split() for line in lines if line.startswith("Device")]
    assert len(heads) == 2 and "Roof" not in heads[0] and "Status" not in heads[0]
    assert heads[1] == ["Device", "Operator", "Feature", "Roof", "Status"]
