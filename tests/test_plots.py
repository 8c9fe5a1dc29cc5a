"""Plots from fixture results: the points each kind shows, and the files fbench plot writes."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pandas
import pytest

from fbench.bench.results import read_result
from fbench.reports import paper
from fbench.reports.plots import (
    PLOT_KINDS,
    Figure,
    Panel,
    PlotKind,
    Series,
    build_figure,
    draw,
    figure2,
    figure_csv,
    operators_figure,
    register_plot,
    run_caption,
)
from fbench.reports.plots.draw import plain_number
from fbench.reports.plots.model import fill_caption, status_fill
from fbench.reports.plots.networks import paper_family
from tests.conftest import FIXTURES, assert_one_line_error, fbench

OPERATOR_FILES = [FIXTURES / f"{device}_table1.json" for device in ("cuda", "cpu", "arm")]
NETWORKS = FIXTURES / "cpu_networks.json"


def _series(panel: Panel, label: str) -> Series:
    return next(series for series in panel.series if series.label == label)


def test_operators_one_panel_per_device_with_the_measured_points():
    runs = [read_result(path) for path in OPERATOR_FILES]
    figure = operators_figure(runs, with_paper=True)
    assert [panel.title.split(":")[0] for panel in figure.panels] == ["cuda", "cpu", "arm"]
    cuda, cpu, arm = figure.panels
    assert "batch 32, float32, run fixture-cuda" in cuda.title  # what, where, which run
    assert cuda.xlog and cuda.xlabel.startswith("FLOPs") and "G multiply-adds/s" in cuda.ylabel
    conv = _series(cuda, "Conv 3×3")
    assert conv.x == pytest.approx([2601.12384] * 4)
    assert conv.y == pytest.approx([r.gflops_per_s for r in runs[0].rows if r.operator == "conv"])
    assert conv.points == ["96×56×56", "192×28×28", "384×14×14", "768×7×7"]
    assert conv.texts == ["S1", "S2", "S3", "S4"] and conv.annotate
    # one series per operator whatever the status (fill shows it), failed rows not drawn
    dwconv = _series(cpu, "DWConv 3×3")
    assert dwconv.statuses == ["ok", "ok", "ok", "imprecise"]
    assert not any("imprecise" in s.label for p in figure.panels for s in p.series)
    assert len(_series(arm, "PConv 3×3").x) == 3
    assert not any(s.label.startswith("GConv") for s in arm.series)
    assert "1 failed row(s) have no value and are not plotted." in figure.notes
    paper_points = _series(cpu, "PConv 3×3 (paper, CPU)")
    assert paper_points.y == [29.67, 52.43, 45.25, 32.27] and not paper_points.filled
    assert not paper_points.legend and figure.hollow_label == "paper (Table 1)"
    # a stage is named at its measured point; at the paper's only where it failed (arm S4)
    assert paper_points.texts == ["", "", "", ""]
    assert _series(arm, "PConv 3×3 (paper, ARM)").texts == ["", "", "", "S4"]
    assert not any("paper" in s.label for s in operators_figure(runs).panels[0].series)


def test_operators_interval_bars_are_the_latency_interval_as_flops():
    cpu = operators_figure([read_result(OPERATOR_FILES[1])]).panels[0]
    dwconv = _series(cpu, "DWConv 3×3")
    # stage 4: median 0.5 ms, 95% interval 0.495–0.525 ms; FLOPS ∝ 1/latency
    assert dwconv.y[3] == pytest.approx(6.77376)
    assert dwconv.y_low[3] == pytest.approx(6.77376 * 0.5 / 0.525)
    assert dwconv.y_high[3] == pytest.approx(6.77376 * 0.5 / 0.495)


def test_operators_of_equal_flops_are_spread_apart_along_x():
    cpu = operators_figure([read_result(OPERATOR_FILES[1])], with_paper=True).panels[0]
    gconv, pconv = _series(cpu, "GConv 3×3"), _series(cpu, "PConv 3×3")
    assert gconv.x == pytest.approx(pconv.x)  # equal FLOPs, as the paper builds them
    drawn_g = [x * shift for x, shift in zip(gconv.x, gconv.x_shift, strict=True)]
    drawn_p = [x * shift for x, shift in zip(pconv.x, pconv.x_shift, strict=True)]
    assert max(drawn_g) < min(drawn_p)  # GConv's four stages left of PConv's
    assert drawn_g == sorted(drawn_g) and len(set(drawn_g)) == 4  # S1..S4, left to right
    # each measured point is joined to the paper's value of the same stage, at the same x
    links = [link for link in cpu.links if link.key == "pconv"]
    assert [link.start[0] for link in links] == pytest.approx(drawn_p)
    assert [link.end[1] for link in links] == [29.67, 52.43, 45.25, 32.27]


def test_status_fill_maps_the_result_statuses():
    assert status_fill("ok") == "full"
    assert status_fill("imprecise") == "pale"
    assert status_fill("disturbed") == "grey"
    assert fill_caption(["ok", "ok"]) is None  # nothing to explain
    caption = fill_caption(["ok", "imprecise", "disturbed", "imprecise"])
    assert caption.startswith("Marker fill: filled = ok; pale = imprecise")
    assert caption.count("imprecise") == 1 and "grey = disturbed" in caption


def test_the_new_status_words_draw_too(tmp_path: Path):
    """Rows with the /2 vocabulary (imprecise, disturbed) draw and are explained once."""
    run = read_result(OPERATOR_FILES[1])
    words = ["ok", "imprecise", "disturbed", "failed"]
    rows = [replace(row, status=words[index % 4]) for index, row in enumerate(run.rows)]
    figure = operators_figure([replace(run, rows=rows)])
    assert "4 failed row(s) have no value and are not plotted." in figure.notes
    assert any(
        note.startswith("Marker fill: filled = ok; pale = imprecise") for note in figure.notes
    )
    written = draw(figure, tmp_path / "new-words", ["png"])
    frame = pandas.read_csv(written[-1])
    assert sorted(set(frame["status"])) == ["disturbed", "imprecise", "ok"]


def test_every_figure_names_its_runs_in_the_caption():
    run = read_result(OPERATOR_FILES[1])
    figure = build_figure(PLOT_KINDS["operators"], [run], with_paper=False)
    assert figure.notes[-1] == run_caption(run)
    assert run_caption(run) == (
        "Run fixture-cpu: cpu/torch on Hand-made Test CPU, batch 1, float32, method adaptive."
    )
    # A quick run's picture says so: it travels without the terminal's header.
    quick = replace(run, config={**run.config, "quick": True})
    assert run_caption(quick).endswith("Quick run: smoke-sized, not comparable with the paper.")


def test_figure2_panels_families_and_paper_overlay():
    figure = figure2([read_result(NETWORKS)], with_paper=True)
    flops_panel, latency_panel = figure.panels
    assert flops_panel.title.startswith("(a)") and latency_panel.title.startswith("(b)")
    assert flops_panel.xlog and latency_panel.ylabel == "Latency (ms)"
    fasternet = _series(flops_panel, "FasterNet")
    assert fasternet.highlight and fasternet.points == ["FasterNet-T0", "FasterNet-T1"]
    assert fasternet.x == pytest.approx([0.34, 0.85]) and fasternet.y == pytest.approx([34.0, 42.5])
    assert _series(latency_panel, "ResNet").y == [80.0]
    assert not _series(flops_panel, "ResNet").highlight
    assert _series(flops_panel, "MobileNetV2").statuses == ["imprecise"]
    assert not any("PVT-Tiny" in s.points for s in flops_panel.series if s.filled)  # failed
    # the paper's points: latency as printed, FLOPS derived as FLOPs / latency
    resnet_paper = _series(flops_panel, "ResNet (paper)")
    assert resnet_paper.points == ["ResNet50"] and not resnet_paper.filled
    assert resnet_paper.y == pytest.approx([4.11 / 0.073])
    assert resnet_paper.texts == [""]  # named once, at the measured point
    assert _series(latency_panel, "FasterNet (paper)").y[:2] == [9.2, 17.7]
    swin = _series(latency_panel, "Swin (paper)")
    assert swin.legend and all(swin.texts)  # only the paper has it: legend entry and names
    assert not _series(latency_panel, "FasterNet (paper)").legend
    paper_networks = {p for s in latency_panel.series if not s.filled for p in s.points}
    assert paper_networks == set(paper.table3())
    # a thin line from each measured network to the paper's point for it
    t0 = next(link for link in latency_panel.links if link.start == (0.34, 10.0))
    assert t0.end == (0.34, 9.2) and t0.highlight


def test_paper_family_names():
    assert paper_family("FasterNet-T0") == "FasterNet"
    assert paper_family("ResNet50") == "ResNet"
    assert paper_family("ShuffleNetV2 x1.5") == "ShuffleNetV2"
    assert paper_family("MobileNetV2 x1.4") == "MobileNetV2"
    assert paper_family("GhostNet x1.3") == "GhostNet"


def test_csv_holds_every_plotted_point():
    figure = figure2([read_result(NETWORKS)], with_paper=True)
    frame = pandas.read_csv(io.StringIO(figure_csv(figure)))
    total = sum(len(s.x) for p in figure.panels for s in p.series)
    assert len(frame) == total
    row = frame[(frame["point"] == "FasterNet-T0") & (frame["source"] == "measured")]
    assert sorted(row["y"]) == pytest.approx([10.0, 34.0])  # latency and FLOPS


def test_csv_has_the_interval_and_status_of_each_point():
    figure = operators_figure([read_result(OPERATOR_FILES[1])])
    frame = pandas.read_csv(io.StringIO(figure_csv(figure)))
    row = frame[(frame["series"] == "DWConv 3×3") & (frame["point"] == "768×7×7")].iloc[0]
    assert row["status"] == "imprecise" and row["y_low"] < row["y"] < row["y_high"]
    assert "\n" not in row["panel"]


def test_log_ticks_are_plain_numbers():
    assert [plain_number(v) for v in (0.02, 0.5, 1, 20, 2601, 50000)] == [
        "0.02",
        "0.5",
        "1",
        "20",
        "2\u2009601",
        "50\u2009000",
    ]


@pytest.fixture
def plot_kinds():
    """The registry as it is; kinds a test registers are gone after it."""
    saved = dict(PLOT_KINDS)
    yield PLOT_KINDS
    PLOT_KINDS.clear()
    PLOT_KINDS.update(saved)


def test_a_new_kind_is_one_registration(plot_kinds):
    def build(runs, with_paper):
        return Figure("t", [Panel("p", "x", "y", [Series("s", [1.0], [2.0], ["a"])])])

    register_plot(PlotKind("ceiling", "a test kind", build))
    assert list(plot_kinds) == ["operators", "figure2", "roofline", "ceiling"]
    with pytest.raises(ValueError, match="already registered"):
        register_plot(PlotKind("ceiling", "again", build))


@pytest.mark.parametrize(
    ("kind", "files", "point", "y"),
    [
        ("operators", OPERATOR_FILES, "96×56×56", 65.028096),
        ("figure2", [NETWORKS], "ResNet50", 51.375),
    ],
)
def test_cli_writes_png_svg_and_csv(tmp_path: Path, kind, files, point, y):
    prefix = tmp_path / "out" / kind
    result = fbench("plot", kind, *map(str, files), "--paper", "--output", str(prefix))
    assert result.returncode == 0, result.stderr
    png, svg, data = (prefix.with_suffix(suffix) for suffix in (".png", ".svg", ".csv"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "<svg" in svg.read_text()[:1000]
    frame = pandas.read_csv(data)
    measured = frame[(frame["point"] == point) & (frame["source"] == "measured")]
    assert y in [pytest.approx(value) for value in measured["y"]]
    assert (frame["source"] == "paper").any()
    assert f"wrote {png}" in result.stdout


def test_cli_default_output_goes_under_the_results_dir(tmp_path: Path):
    # The default name is built from the run id only when it has the form fbench makes.
    data = json.loads(NETWORKS.read_text())
    data["run_id"] = "20261123-090523-cpu-torch"
    networks = tmp_path / "networks.json"
    networks.write_text(json.dumps(data))
    result = fbench(
        "plot", "figure2", str(networks), "--results-dir", str(tmp_path), "--formats", "png"
    )
    assert result.returncode == 0, result.stderr
    prefix = tmp_path / "plots" / "figure2-20261123-090523-cpu-torch"
    assert prefix.with_suffix(".png").is_file()
    assert prefix.with_suffix(".csv").is_file()
    assert not prefix.with_suffix(".svg").exists()


def test_cli_errors_are_one_line(tmp_path: Path):
    assert_one_line_error(
        fbench("plot", "figure2", str(OPERATOR_FILES[1]), "-o", str(tmp_path / "x")),
        "no network rows",
    )
    assert_one_line_error(
        fbench("plot", "operators", str(NETWORKS), "-o", str(tmp_path / "x")), "no operator rows"
    )
    assert_one_line_error(
        fbench("plot", "figure2", str(NETWORKS), "--formats", "bmpx", "-o", str(tmp_path / "x")),
        "--formats",
    )
    assert set(PLOT_KINDS) >= {"operators", "figure2"}


@pytest.mark.parametrize("kind", ["operators", "figure2", "roofline"])
def test_a_run_with_no_rows_is_one_line_for_every_kind(tmp_path: Path, kind):
    # A run interrupted before its first row is a valid file with no rows to draw.
    empty = tmp_path / "empty.json"
    data = json.loads(OPERATOR_FILES[0].read_text())
    empty.write_text(json.dumps({**data, "rows": [], "state": "interrupted"}))
    result = fbench("plot", kind, str(empty), "-o", str(tmp_path / "x"))
    assert_one_line_error(result, "no ")
    assert not list(tmp_path.glob("x.*"))


def test_a_registered_kind_gets_a_cli_choice(tmp_path, plot_kinds):
    """register_plot is all a kind needs to be a choice of `fbench plot`."""
    series = Series("s", [1.0, 2.0], [3.0, 4.0], ["a", "b"])
    figure = Figure("t", [Panel("p", "FLOPs", "FLOPS", [series])])
    register_plot(PlotKind("ceiling", "a test kind", lambda runs, paper: figure))
    from fbench.cli import main

    prefix = tmp_path / "c"
    assert main(["plot", "ceiling", str(NETWORKS), "-o", str(prefix), "--formats", "svg"]) == 0
    assert pandas.read_csv(prefix.with_suffix(".csv"))["y"].tolist() == [3.0, 4.0]


def test_an_operator_looks_the_same_in_every_figure():
    """Colour and marker come from the operator registry, not from a plot's order: a run of
    PConv alone draws it as the Table 1 run and the roofline do."""
    from fbench.bench.calibration import read_calibration
    from fbench.reports.plots.model import operator_style
    from fbench.reports.plots.roofline import roofline_rows_figure

    run = read_result(OPERATOR_FILES[1])
    pconv_only = replace(run, rows=[r for r in run.rows if r.operator == "pconv"])
    calibration = read_calibration(FIXTURES / "cpu_calibration.json")
    figures = [
        operators_figure([run]),
        operators_figure([pconv_only]),
        roofline_rows_figure(run.rows, calibration),
    ]
    looks = {
        (s.colour, s.marker)
        for figure in figures
        for s in figure.panels[0].series
        if s.label.startswith("PConv 3×3")
    }
    assert looks == {operator_style("pconv")}
    styles = [operator_style(name) for name in ("conv", "gconv", "dwconv", "pconv")]
    assert len(set(styles)) == 4  # four operators, four looks
    assert operator_style("my_block") == operator_style("my_block")  # a custom one keeps its own


def test_every_point_figure_shows_status_and_interval():
    from fbench.bench.calibration import read_calibration
    from fbench.reports.plots.roofline import roofline_rows_figure

    run = read_result(OPERATOR_FILES[1])
    calibration = read_calibration(FIXTURES / "cpu_calibration.json")
    for figure in (operators_figure([run]), roofline_rows_figure(run.rows, calibration)):
        measured = [s for s in figure.panels[0].series if s.filled and s.style == "points"]
        assert measured and all(s.statuses and s.y_low and s.y_high for s in measured)
        dwconv = next(s for s in measured if s.label == "DWConv 3×3")
        assert dwconv.statuses[-1] == "imprecise"
        assert all(
            low < y < high
            for low, y, high in zip(dwconv.y_low, dwconv.y, dwconv.y_high, strict=True)
        )


def test_a_depth_sweep_names_each_points_depth():
    run = read_result(OPERATOR_FILES[1])
    deeper = [replace(r, layers=5, flops=r.flops // 2) for r in run.rows]
    figure = operators_figure([replace(run, rows=[*run.rows, *deeper])])
    conv = _series(figure.panels[0], "Conv 3×3")
    assert "S1 L10" in conv.texts and "S1 L5" in conv.texts
    assert any("S1 L5 is stage 1 stacked 5 layers" in note for note in figure.notes)


def test_plot_roofline_on_a_networks_run_says_what_it_draws(tmp_path: Path):
    result = fbench("plot", "roofline", str(NETWORKS), "-o", str(tmp_path / "x"))
    assert_one_line_error(result, "networks run has no memory-access counts")
    assert "calibration" not in result.stderr


def test_an_l2_copy_below_dram_is_not_drawn_as_a_ceiling():
    from fbench.bench.calibration import read_calibration
    from fbench.reports.plots.roofline import roofline_rows_figure

    calibration = read_calibration(FIXTURES / "cpu_calibration.json")
    cache = calibration.ceilings["cache_copy"]
    slow = replace(calibration, ceilings={**calibration.ceilings, "cache_copy": replace(
        cache, median=10.0, ci95_low=9.0, ci95_high=11.0)})  # fmt: skip
    run = read_result(OPERATOR_FILES[1])
    lines = [s.label for s in roofline_rows_figure(run.rows, calibration).panels[0].series
             if s.style == "line"]  # fmt: skip
    assert len(lines) == 2 and lines[1].startswith("L2")
    figure = roofline_rows_figure(run.rows, slow)
    assert [s.label for s in figure.panels[0].series if s.style == "line"] == lines[:1]
    assert any("no L2 line" in note and "below the DRAM slope" in note for note in figure.notes)


def test_the_roofline_of_a_depth_sweep_names_depths_in_registry_order():
    from fbench.bench.calibration import read_calibration
    from fbench.reports.plots.roofline import roofline_rows_figure

    run = read_result(OPERATOR_FILES[1])
    deeper = [replace(r, layers=5, flops=r.flops // 2) for r in reversed(run.rows)]
    calibration = read_calibration(FIXTURES / "cpu_calibration.json")
    panel = roofline_rows_figure([*deeper, *run.rows], calibration).panels[0]
    measured = [s for s in panel.series if s.style == "points" and s.filled]
    assert [s.label for s in measured] == ["Conv 3×3", "GConv 3×3", "DWConv 3×3", "PConv 3×3"]
    assert {"S1 L5", "S1 L10"} <= set(measured[0].texts)
