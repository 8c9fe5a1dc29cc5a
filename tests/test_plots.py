"""Plots from fixture results: the points each kind shows, and the files fbench plot writes."""

from __future__ import annotations

import io
from pathlib import Path

import pandas
import pytest

from bench.results import read_result
from reports import paper
from reports.plots import (
    PLOT_KINDS,
    Figure,
    Panel,
    PlotKind,
    Series,
    figure2,
    figure_csv,
    operators_figure,
    paper_family,
    register_plot,
)
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
    assert cuda.xlog and cuda.xlabel.startswith("FLOPs") and "G multiply-adds/s" in cuda.ylabel
    conv = _series(cuda, "Conv 3×3")
    assert conv.x == pytest.approx([2601.12384] * 4)
    assert conv.y == pytest.approx([r.gflops_per_s for r in runs[0].rows if r.operator == "conv"])
    assert conv.points == ["96×56×56", "192×28×28", "384×14×14", "768×7×7"]
    # not-ok rows are drawn apart, failed ones not at all
    assert _series(cpu, "DWConv 3×3 (imprecise)").y == pytest.approx([6.77376])
    assert len(_series(cpu, "DWConv 3×3").x) == 3
    assert len(_series(arm, "PConv 3×3").x) == 3
    assert not any(s.label.startswith("GConv") for s in arm.series)
    paper_points = _series(cpu, "PConv 3×3 (paper, CPU)")
    assert paper_points.y == [29.67, 52.43, 45.25, 32.27] and not paper_points.filled
    assert not any("paper" in s.label for s in operators_figure(runs).panels[0].series)


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
    assert _series(flops_panel, "MobileNetV2 (not ok: imprecise)").marker == "x"
    assert not any("PVT-Tiny" in s.points for s in flops_panel.series if s.filled)  # failed
    # the paper's points: latency as printed, FLOPS derived as FLOPs / latency
    resnet_paper = _series(flops_panel, "ResNet (paper)")
    assert resnet_paper.points == ["ResNet50"] and not resnet_paper.filled
    assert resnet_paper.y == pytest.approx([4.11 / 0.073])
    assert _series(latency_panel, "FasterNet (paper)").y[:2] == [9.2, 17.7]
    swin = _series(latency_panel, "Swin (paper)")
    assert swin.legend  # a family only the paper has still gets a legend entry
    assert not _series(latency_panel, "FasterNet (paper)").legend
    paper_networks = {p for s in latency_panel.series if not s.filled for p in s.points}
    assert paper_networks == set(paper.table3())


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


def test_a_new_kind_is_one_registration(monkeypatch):
    monkeypatch.setattr("reports.plots.PLOT_KINDS", {})

    def build(runs, with_paper):
        return Figure("t", [Panel("p", "x", "y", [Series("s", [1.0], [2.0], ["a"])])])

    register_plot(PlotKind("ceiling", "a test kind", build))
    from reports import plots

    assert list(plots.PLOT_KINDS) == ["ceiling"]
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
    result = fbench(
        "plot", "figure2", str(NETWORKS), "--results-dir", str(tmp_path), "--formats", "png"
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "plots" / "figure2-fixture-networks.png").is_file()
    assert (tmp_path / "plots" / "figure2-fixture-networks.csv").is_file()
    assert not (tmp_path / "plots" / "figure2-fixture-networks.svg").exists()


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


def test_an_extension_module_registers_a_kind_and_gets_a_cli_choice(tmp_path, monkeypatch):
    """What the roofline will do: a module listed in reports.EXTENSIONS registers itself."""
    module = tmp_path / "fbench_test_extension.py"
    module.write_text(
        "from reports.plots import Figure, Panel, PlotKind, Series, register_plot\n"
        "series = Series('s', [1.0, 2.0], [3.0, 4.0], ['a', 'b'])\n"
        "figure = Figure('t', [Panel('p', 'FLOPs', 'FLOPS', [series])])\n"
        "register_plot(PlotKind('ceiling', 'a test kind', lambda runs, paper: figure))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr("reports.EXTENSIONS", ("fbench_test_extension",))
    monkeypatch.setattr("reports.plots.PLOT_KINDS", dict(PLOT_KINDS))
    from bench.cli import main

    prefix = tmp_path / "c"
    assert main(["plot", "ceiling", str(NETWORKS), "-o", str(prefix), "--formats", "svg"]) == 0
    assert pandas.read_csv(prefix.with_suffix(".csv"))["y"].tolist() == [3.0, 4.0]
