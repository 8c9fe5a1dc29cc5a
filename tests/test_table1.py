"""Table 1 from a hand-made result file: values land in the right cells, averages and ratio."""

from __future__ import annotations

import json
from dataclasses import replace
from statistics import fmean

import pytest

from fbench.bench.results import read_result
from fbench.reports import paper
from fbench.reports.render import render
from fbench.reports.table1.averages import pconv_dwconv_comparison, pconv_dwconv_ratio
from fbench.reports.table1.one_device import table1
from tests.conftest import FIXTURES, fbench


@pytest.fixture
def rows(fixture_path):
    return read_result(fixture_path).rows


def _cell(table, operator_title, feature_map, header):
    column = table.headers.index(header)
    current = None
    for line in table.rows:
        current = line[0] or current
        if current == operator_title and line[1] == feature_map:
            return line[column]
    raise AssertionError(f"no line {operator_title} {feature_map}")


def test_cells_hold_measured_and_paper_values(rows):
    table = table1(rows)
    assert _cell(table, "Conv 3×3", "96×56×56", "Latency (ms)") == "40.00"
    assert _cell(table, "Conv 3×3", "96×56×56", "FLOPs (M), ×10 layers") == "2601"
    assert _cell(table, "DWConv 3×3", "384×14×14", "FLOPs (M), ×10 layers") == "6.77"
    assert _cell(table, "Conv 3×3", "96×56×56", "Paper latency (ms)") == "35.67"
    assert _cell(table, "PConv 3×3", "768×7×7", "Paper FLOPS (G/s)") == "32.27"
    # 2601.12384 M multiply-adds in 40 ms
    assert _cell(table, "Conv 3×3", "96×56×56", "FLOPS (G/s)") == "65.03"


def test_operators_in_table1_order_whatever_the_row_order(rows):
    table = table1(list(reversed(rows)))
    titles = [line[0] for line in table.rows if line[0]]
    assert titles == ["Conv 3×3", "GConv 3×3", "DWConv 3×3", "PConv 3×3"]


def _disturbed(row):
    return replace(row, status="disturbed", reasons=["throttled"], why="throttled")


def test_averages_leave_out_disturbed_rows(rows):
    (imprecise,) = [r for r in rows if r.status == "imprecise"]
    table = table1([_disturbed(r) if r is imprecise else r for r in rows])
    dwconv_ok = [r.gflops_per_s for r in rows if r.operator == "dwconv" and r.status == "ok"]
    assert len(dwconv_ok) == 3
    assert _cell(table, "DWConv 3×3", "Average", "FLOPS (G/s)") == f"{fmean(dwconv_ok):.2f}"
    assert _cell(table, "DWConv 3×3", "Average", "Status") == "3 of 4 rows ok, 3 averaged"
    assert _cell(table, "DWConv 3×3", "Average", "Paper FLOPS (G/s)") == "6.42"
    assert any("left out of the averages" in note for note in table.notes)


def test_imprecise_rows_count_in_averages(rows):
    # Only the interval missed the target (the device reported nothing): counted.
    dwconv = [r for r in rows if r.operator == "dwconv"]
    table = table1(rows)
    every = fmean(r.gflops_per_s for r in dwconv)
    assert _cell(table, "DWConv 3×3", "Average", "FLOPS (G/s)") == f"{every:.2f}"
    assert _cell(table, "DWConv 3×3", "Average", "Status") == "3 of 4 rows ok, 4 averaged"
    assert any("1 imprecise row(s) are in the averages" in note for note in table.notes)
    pconv = fmean(r.gflops_per_s for r in rows if r.operator == "pconv")
    assert pconv_dwconv_ratio(rows) == pytest.approx(pconv / every)


def test_pconv_dwconv_ratio_beside_the_papers(rows):
    pconv = fmean(r.gflops_per_s for r in rows if r.operator == "pconv")
    dwconv = fmean(r.gflops_per_s for r in rows if r.operator == "dwconv" and r.in_averages)
    assert pconv_dwconv_ratio(rows) == pytest.approx(pconv / dwconv)
    note = next(n for n in table1(rows).notes if n.startswith("PConv:"))
    assert f"{pconv / dwconv:.1f}× the FLOPS of DWConv (paper 6.2× on CPU)" in note
    assert paper.pconv_dwconv_ratio("cpu") == pytest.approx(6.2, abs=0.05)
    assert paper.pconv_dwconv_ratio("gpu") == pytest.approx(10.5, abs=0.05)
    assert f"{paper.pconv_dwconv_ratio('arm'):.1f}" == "22.8"  # 2.73 / 0.12 = 22.75


def test_paper_columns_empty_when_the_row_is_not_the_papers(rows):
    changed = [replace(r, layers=5) if r.operator == "conv" else r for r in rows]
    table = table1(changed)
    assert _cell(table, "Conv 3×3", "96×56×56", "Paper latency (ms)") == "—"
    assert "FLOPs (M), per stack" in table.headers


def test_failed_rows_show_their_error(rows):
    failed = [
        replace(
            rows[0],
            status="failed",
            error="RuntimeError: out of memory",
            latency_ms=None,
            gflops_per_s=None,
        ),
        *rows[1:],
    ]
    table = table1(failed)
    assert _cell(table, "Conv 3×3", "96×56×56", "Status") == "failed: RuntimeError: out of memory"
    assert _cell(table, "Conv 3×3", "96×56×56", "Latency (ms)") == "—"


def test_without_paper_columns(rows):
    table = table1(rows, with_paper=False)
    assert not any(header.startswith("Paper") for header in table.headers)


def test_text_rendering_has_every_operator_and_the_notes(rows):
    text = render(table1(rows))
    for title in ("Conv 3×3", "GConv 3×3", "DWConv 3×3", "PConv 3×3", "the FLOPS of DWConv"):
        assert title in text


def _disturb_in_file(tmp_path, disturbed):
    """The CPU fixture with the rows at `disturbed` ((operator, channels), ...) marked
    disturbed, written as a real result file."""
    data = json.loads((FIXTURES / "cpu_table1.json").read_text(encoding="utf-8"))
    for row in data["rows"]:
        if (row["operator"], row["channels"]) in disturbed:
            row.update(status="disturbed", reasons=["throttled"], why="throttled")
    path = tmp_path / "cpu_table1.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_ratio_is_over_the_stages_both_operators_have_usable_rows(tmp_path):
    # DWConv usable at 96×56×56 only, PConv at 96 and 192: averaging each over its own rows
    # would set PConv's 27.1 and 54.2 G/s against DWConv's 96-channel row alone (6.0×).
    path = _disturb_in_file(
        tmp_path,
        {("dwconv", 192), ("dwconv", 384), ("dwconv", 768), ("pconv", 384), ("pconv", 768)},
    )
    rows = read_result(path).rows
    assert pconv_dwconv_ratio(rows) == pytest.approx(27.09504 / 6.77376)
    shown = fbench("show", "--wide", str(path))
    assert shown.returncode == 0, shown.stderr
    assert (
        "4.0× the FLOPS of DWConv over 96×56×56 only: the stages both operators have usable rows "
        "(paper at those stages 3.9× on CPU), 1.5× the latency of DWConv"  # 29.67 / 7.52 G/s
    ) in shown.stdout
    assert "6.0×" not in shown.stdout


def test_no_ratio_when_no_stage_has_usable_rows_of_both(tmp_path):
    path = _disturb_in_file(
        tmp_path, {("dwconv", 192), ("dwconv", 384), ("pconv", 96)} | {("dwconv", 768)}
    )
    table = table1(read_result(path).rows)
    assert pconv_dwconv_ratio(read_result(path).rows) is None
    assert (
        "PConv: 16× fewer FLOPs than Conv, no ratio: no feature map has usable rows of both "
        "PConv and DWConv"
    ) in table.notes


def test_ratio_over_every_stage_is_the_ratio_of_the_averages(rows):
    comparison = pconv_dwconv_comparison(rows)
    assert not comparison.partial and comparison.qualifier() == ""
    assert comparison.stages == ("96×56×56", "192×28×28", "384×14×14", "768×7×7")


def test_a_run_of_fewer_stages_is_set_beside_the_paper_at_those_stages(rows):
    # --stages 1: every row usable, so the ratio is over all it measured, but that is one of
    # the paper's four feature maps; its 4-stage headline (6.2×) would compare other maps.
    stage_one = [row for row in rows if row.stage == 1]
    comparison = pconv_dwconv_comparison(stage_one)
    assert not comparison.partial
    table = table1(stage_one)
    assert (
        "PConv: 16× fewer FLOPs than Conv, 4.0× the FLOPS of DWConv (paper at those stages "
        "3.9× on CPU), 1.5× the latency of DWConv"
    ) in table.notes
    assert "DWConv (paper 6.2× on CPU)" in table1(rows).notes[-2]  # all four: the headline
