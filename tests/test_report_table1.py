"""Table 1 across devices from three hand-made result files (cuda batch 32, cpu, arm)."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from statistics import fmean

import pandas
import pytest

from fbench.bench.results import read_result
from fbench.reports import paper
from fbench.reports.render import FORMATS, render
from fbench.reports.table1.columns import COLUMN_SETS, ColumnSet, DeviceColumn, register_columns
from fbench.reports.table1.devices import table1_devices
from tests.conftest import FIXTURES, assert_one_line_error, fbench

FILES = [FIXTURES / f"{device}_table1.json" for device in ("cuda", "cpu", "arm")]


@pytest.fixture
def runs():
    return [read_result(path) for path in FILES]


def _line(table, operator_title, feature_map):
    current = None
    for line in table.rows:
        current = line[0] or current
        if current == operator_title and line[1] == feature_map:
            return line
    raise AssertionError(f"no line {operator_title} {feature_map}")


def _cell(table, operator_title, feature_map, header):
    return _line(table, operator_title, feature_map)[table.headers.index(header)]


def _gflops(run, operator, ok_only=True):
    return [
        r.gflops_per_s
        for r in run.rows
        if r.operator == operator and (r.in_averages or not ok_only) and r.gflops_per_s
    ]


def test_each_device_gets_its_metric_and_flops_in_the_right_cells(runs):
    table = table1_devices(runs)
    assert table.headers[:5] == [
        "Operator",
        "Feature map",
        "FLOPs (M), ×10 layers",
        "cuda throughput (fps)",
        "cuda FLOPS (G/s)",
    ]
    assert _cell(table, "Conv 3×3", "96×56×56", "cuda throughput (fps)") == 3200
    assert _cell(table, "PConv 3×3", "384×14×14", "cuda throughput (fps)") == 25600
    # 2601.12384 M multiply-adds × 32 images in 10 ms
    assert _cell(table, "Conv 3×3", "96×56×56", "cuda FLOPS (G/s)") == pytest.approx(8323.596288)
    assert _cell(table, "Conv 3×3", "96×56×56", "cpu latency (ms)") == 40.0
    assert _cell(table, "DWConv 3×3", "192×28×28", "arm latency (ms)") == 80.0
    assert _cell(table, "Conv 3×3", "96×56×56", "FLOPs (M), ×10 layers") == pytest.approx(
        2601.12384
    )
    # the arm run has no GConv: its cells are empty, the line is still there for the others
    assert _cell(table, "GConv 3×3", "768×7×7", "arm latency (ms)") is None
    assert _cell(table, "GConv 3×3", "768×7×7", "cpu latency (ms)") == 4.0
    assert table.headers.count("cpu latency (ms)") == 1


def test_averages_per_device_leave_out_rows_that_are_not_ok(runs):
    table = table1_devices(runs)
    cuda, cpu, arm = runs
    assert _cell(table, "Conv 3×3", "Average", "cuda FLOPS (G/s)") == pytest.approx(
        fmean(_gflops(cuda, "conv"))
    )
    assert _cell(table, "DWConv 3×3", "Average", "cpu FLOPS (G/s)") == pytest.approx(
        fmean(_gflops(cpu, "dwconv"))
    )
    assert len(_gflops(cpu, "dwconv")) == 4  # the imprecise row is in
    assert _cell(table, "DWConv 3×3", "768×7×7", "cpu status") == "imprecise"
    assert _cell(table, "DWConv 3×3", "Average", "cpu status") == "3 of 4 rows ok, 4 averaged"
    assert _cell(table, "PConv 3×3", "768×7×7", "arm status").startswith("failed: RuntimeError")
    assert _cell(table, "PConv 3×3", "768×7×7", "arm FLOPS (G/s)") is None
    assert _cell(table, "PConv 3×3", "Average", "arm FLOPS (G/s)") == pytest.approx(
        fmean(_gflops(arm, "pconv"))
    )
    assert _cell(table, "PConv 3×3", "Average", "arm status") == "3 of 4 rows ok, 3 averaged"
    assert _cell(table, "GConv 3×3", "Average", "arm FLOPS (G/s)") is None
    # arm's disturbed DWConv row (too hot) is shown but would move the average if counted
    assert _cell(table, "DWConv 3×3", "768×7×7", "arm latency (ms)") == 160.0
    assert _cell(table, "DWConv 3×3", "768×7×7", "arm status") == "disturbed"
    arm_dwconv = _cell(table, "DWConv 3×3", "Average", "arm FLOPS (G/s)")
    assert arm_dwconv == pytest.approx(fmean(_gflops(arm, "dwconv")))
    assert arm_dwconv != pytest.approx(fmean(_gflops(arm, "dwconv", ok_only=False)))
    assert _cell(table, "DWConv 3×3", "Average", "arm status") == "3 of 4 rows ok, 3 averaged"
    assert "cuda status" not in table.headers  # every cuda row is ok: no status column
    assert any("2 row(s) failed or disturbed" in note for note in table.notes)
    assert any("1 imprecise row(s) are in the averages" in note for note in table.notes)


def test_pconv_dwconv_ratio_per_device_beside_the_papers(runs):
    table = table1_devices(runs, with_paper=True)
    for run, device, column in zip(
        runs, ("cuda", "cpu", "arm"), ("gpu", "cpu", "arm"), strict=True
    ):
        measured = fmean(_gflops(run, "pconv")) / fmean(_gflops(run, "dwconv"))
        everything = fmean(_gflops(run, "pconv", False)) / fmean(_gflops(run, "dwconv", False))
        if device == "arm":
            assert measured != pytest.approx(everything)  # the disturbed row is left out
        ratio_line = _line(table, "PConv/DWConv", "FLOPS ratio (×)")
        assert ratio_line[table.headers.index(f"{device} FLOPS (G/s)")] == pytest.approx(measured)
        paper_ratio = ratio_line[table.headers.index(f"{device} paper FLOPS (G/s)")]
        if device == "arm":  # PConv 768×7×7 failed, DWConv's disturbed: the paper's 3 others
            assert paper_ratio == pytest.approx(_paper_mean("pconv") / _paper_mean("dwconv"))
        else:
            assert paper_ratio == pytest.approx(paper.pconv_dwconv_ratio(column))
        assert ratio_line[table.headers.index(f"{device} FLOPS measured/paper")] == pytest.approx(
            measured / paper_ratio
        )
    notes = "\n".join(table.notes)
    assert "(paper 10.5× on GPU)" in notes and "(paper 6.2× on CPU)" in notes
    assert (
        "PConv on arm: 16× fewer FLOPs than Conv, 15.4× the FLOPS of DWConv over 96×56×56, "
        "192×28×28, 384×14×14 only: the stages both operators have usable rows (paper at those "
        "stages 16.1× on ARM), 0.5–0.8× the latency of DWConv"
    ) in notes


def _paper_mean(operator, stages=(96, 192, 384)):
    """The paper's mean ARM FLOPS of an operator over the stages with these channels."""
    return fmean(
        row.arm_gflops
        for key, row in paper.table1().items()
        if key[0] == operator and row.channels in stages
    )


def test_paper_columns_and_measured_over_paper(runs):
    table = table1_devices(runs, with_paper=True)
    assert _cell(table, "Conv 3×3", "96×56×56", "cuda paper throughput (fps)") == 3010
    assert _cell(table, "Conv 3×3", "96×56×56", "cpu paper latency (ms)") == 35.67
    assert _cell(table, "PConv 3×3", "768×7×7", "arm paper FLOPS (G/s)") == 3.35
    assert _cell(table, "Conv 3×3", "96×56×56", "cuda FLOPS measured/paper") == pytest.approx(
        8323.596288 / 7824
    )
    assert _cell(table, "Conv 3×3", "Average", "cpu paper FLOPS (G/s)") == 71.89
    # the paper's average needs all four of its feature maps: arm has them for DWConv
    assert _cell(table, "DWConv 3×3", "Average", "arm paper FLOPS (G/s)") == 0.12
    assert not any("paper" in header for header in table1_devices(runs).headers)


def test_missing_devices_leave_their_columns_out(runs):
    table = table1_devices(runs[1:])
    assert not any(header.startswith("cuda") for header in table.headers)
    assert "arm latency (ms)" in table.headers and "cpu latency (ms)" in table.headers


def test_two_runs_of_one_device_are_told_apart(runs):
    cpu = runs[1]
    other = replace(cpu, run_id="fixture-cpu-again")
    table = table1_devices([cpu, other])
    assert "cpu (fixture-cpu) latency (ms)" in table.headers
    assert "cpu (fixture-cpu-again) latency (ms)" in table.headers


def test_a_registered_column_set_adds_a_column_per_device(runs, monkeypatch):
    monkeypatch.setattr("fbench.reports.table1.columns.COLUMN_SETS", {})
    register_columns(
        ColumnSet(
            "doubled",
            "twice the FLOPS (a test column)",
            (
                DeviceColumn(
                    "{device} 2×FLOPS",
                    lambda row, group: 2 * row.gflops_per_s,
                    lambda v: f"{v:.1f}",
                    average=True,
                ),
            ),
        )
    )
    table = table1_devices(runs[1:2], extras=["doubled"])
    assert _cell(table, "Conv 3×3", "96×56×56", "cpu 2×FLOPS") == pytest.approx(2 * 65.028096)
    assert _cell(table, "DWConv 3×3", "Average", "cpu 2×FLOPS") == pytest.approx(2 * 6.77376)
    with pytest.raises(ValueError, match="already taken"):
        register_columns(ColumnSet("doubled", "", ()))
    with pytest.raises(ValueError, match="unknown column set"):
        table1_devices(runs, extras=["nope"])


# --- every export format parses back --------------------------------------------------------


def test_csv_parses_back_with_pandas(runs):
    table = table1_devices(runs, with_paper=True)
    frame = pandas.read_csv(io.StringIO(render(table, "csv")))
    assert list(frame.columns) == table.headers
    assert len(frame) == len(table.rows)
    conv = frame[(frame["Operator"] == "Conv 3×3") & (frame["Feature map"] == "96×56×56")]
    assert conv["cuda FLOPS (G/s)"].item() == pytest.approx(8323.596288)
    assert conv["cpu latency (ms)"].item() == 40.0
    # filled down: every row names its operator
    assert (frame["Operator"] == "DWConv 3×3").sum() == 5
    assert pandas.isna(frame.loc[frame["Operator"] == "GConv 3×3", "arm latency (ms)"]).all()


def test_json_parses_back(runs):
    table = table1_devices(runs)
    data = json.loads(render(table, "json"))
    assert data["headers"] == table.headers
    row = next(
        r for r in data["rows"] if r["Operator"] == "PConv 3×3" and r["Feature map"] == "768×7×7"
    )
    assert row["cuda throughput (fps)"] == 32000
    assert row["arm FLOPS (G/s)"] is None
    assert row["arm status"].startswith("failed")
    assert data["notes"] == table.notes


def test_markdown_is_a_pipe_table_of_the_right_shape(runs):
    table = table1_devices(runs)
    lines = render(table, "md").splitlines()
    table_lines = [line for line in lines if line.startswith("|")]
    assert len(table_lines) == 2 + len(table.rows)  # header, separator, rows
    for line in table_lines:
        assert line.endswith("|")
        assert line.count("|") == len(table.headers) + 1
    assert set(table_lines[1]) <= set("|-: ")
    assert "| Conv 3×3" in table_lines[2]


def test_latex_structure(runs):
    table = table1_devices(runs, with_paper=True)
    text = render(table, "latex")
    lines = text.splitlines()
    begin = next(i for i, line in enumerate(lines) if line.startswith(r"\begin{tabular}"))
    assert lines[begin] == r"\begin{tabular}{ll" + "r" * (len(table.headers) - 2) + "}"
    assert lines[begin + 1] == r"\toprule" and lines[begin + 3] == r"\midrule"
    assert lines[-2:] == [r"\bottomrule", r"\end{tabular}"]
    body = lines[begin + 2 : -2]
    body.remove(r"\midrule")
    assert len(body) == 1 + len(table.rows)
    for line in body:
        assert line.endswith(r" \\")
        assert line.count(" & ") == len(table.headers) - 1  # no unescaped & inside cells
    assert "Conv 3$\\times$3" in text and "×" not in "\n".join(body)
    assert all(line.startswith("% ") for line in lines[:begin])


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self.inside = False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        self.inside = tag in ("td", "th")
        if self.inside:
            self.rows[-1].append("")

    def handle_endtag(self, tag):
        self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.rows[-1][-1] += data


def test_html_parses_back(runs):
    table = table1_devices(runs)
    parser = _Cells()
    parser.feed(render(table, "html"))
    assert parser.rows[0] == table.headers
    assert len(parser.rows) == 1 + len(table.rows)
    assert all(len(row) == len(table.headers) for row in parser.rows)
    assert parser.rows[1][:4] == ["Conv 3×3", "96×56×56", "2601", "3200"]


def test_every_format_is_offered_by_the_cli():
    result = fbench("report", "table1", "--help")
    assert "{" + ",".join(FORMATS) + "}" in result.stdout
    assert set(FORMATS) == {"text", "md", "csv", "latex", "html", "json"}


# --- the command ----------------------------------------------------------------------------


def test_cli_writes_every_format(tmp_path: Path):
    out = tmp_path / "t1.csv"
    result = fbench(
        "report", "table1", *map(str, FILES), "--paper", "--format", "csv", "-o", str(out)
    )
    assert result.returncode == 0, result.stderr
    frame = pandas.read_csv(out)
    arm = frame[frame["device"] == "arm"]
    assert arm["paper_gflops_per_s"].notna().all()
    text = fbench("report", "table1", "--wide", str(FILES[1]), str(FILES[2]))
    assert text.returncode == 0
    assert "cpu FLOPS (G/s)" in text.stdout and "cuda" not in text.stdout.split("\n")[0]
    assert "PConv on cpu: 16× fewer FLOPs than Conv, 6.5× the FLOPS of DWConv (paper" in text.stdout


def test_cli_column_set_flag_comes_from_the_registry(monkeypatch, capsys):
    from fbench.cli import main

    monkeypatch.setitem(
        COLUMN_SETS,
        "halved",
        ColumnSet(
            "halved",
            "half the FLOPS",
            (
                DeviceColumn(
                    "{device} FLOPS/2",
                    lambda row, group: row.gflops_per_s / 2,
                    lambda v: f"{v:.3f}",
                ),
            ),
        ),
    )
    assert main(["report", "table1", str(FILES[1]), "--halved", "--format", "csv"]) == 0
    frame = pandas.read_csv(io.StringIO(capsys.readouterr().out))
    # a column set without an export name gets one from its header
    assert frame["flops_2"].iloc[0] == pytest.approx(65.028096 / 2)


def test_cli_errors_are_one_line(tmp_path: Path):
    assert_one_line_error(
        fbench("report", "table1", str(FIXTURES / "cpu_networks.json")), "no operator rows"
    )
    assert_one_line_error(fbench("report", "table1", str(tmp_path / "none.json")), "no such result")
    result = fbench("report", "table1", str(FILES[0]), "--format", "xlsx")
    assert result.returncode == 2 and "invalid choice" in result.stderr
