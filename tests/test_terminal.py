"""What the terminal shows (issue 25): every verb's default text fits 100 columns (the
terminal's width when wider, COLUMNS honoured, nonsense ignored), long explanations become
numbered footnotes, --wide keeps one line a row; the headline says FLOPs, FLOPS and latency
side by side; mistyped names get a "did you mean" and usage errors point at their verb's help.
The layout functions are pure and tested on hand-made tables; the verbs on the goldens."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fbench.bench.errors import did_you_mean
from fbench.bench.results import read_result
from fbench.reports.fit import DEFAULT_WIDTH, fit_table, text_width, wrap_lines
from fbench.reports.render import render, text_rows
from fbench.reports.table import Table
from fbench.reports.table1.headline import headline
from tests.conftest import FIXTURES, REPO, fbench

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from cases import CASES
from cases import CPU as EXAMPLE_CPU_RELATIVE

EXAMPLE_CPU = REPO / EXAMPLE_CPU_RELATIVE  # the Table 1 example the goldens use


def _stdout(case) -> str:
    text = case.path.read_text(encoding="utf-8")
    return text.split("--- stdout\n", 1)[1].split("--- stderr\n", 1)[0]


def _is_default_text(case) -> bool:
    argv = case.argv
    fmt = argv[argv.index("--format") + 1] if "--format" in argv else "text"
    return fmt == "text" and "--wide" not in argv and text_width(case.columns) == DEFAULT_WIDTH


DEFAULT_TEXT = [case for case in CASES if _is_default_text(case)]


def test_every_verb_has_a_golden_at_100_columns():
    verbs = {
        " ".join(case.argv[:2]) if case.argv[0] == "report" else case.argv[0]
        for case in DEFAULT_TEXT
    }
    assert verbs >= {"show", "report table1", "report claims", "compare", "roofline", "depth"}


@pytest.mark.parametrize("case", DEFAULT_TEXT, ids=lambda case: case.name)
def test_no_line_of_a_verbs_default_text_is_over_100_columns(case):
    # The goldens are the verbs' outputs (tests/test_golden.py checks them byte for byte).
    widest = max(_stdout(case).splitlines(), key=len)
    assert len(widest) <= DEFAULT_WIDTH, f"{case.name}: {len(widest)} columns: {widest}"


@pytest.mark.parametrize("args", [("devices",), ("devices", "--available")])
def test_devices_fits_100_columns(args):
    # Machine-dependent (which backends run here), so measured live rather than recorded.
    result = fbench(*args)
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= DEFAULT_WIDTH


def test_wide_keeps_one_line_a_row():
    wide = fbench("show", "--wide", str(EXAMPLE_CPU)).stdout
    assert any(len(line) > 200 for line in wide.splitlines())
    assert "Paper latency (ms)" in wide and "[1]" not in wide


@pytest.mark.parametrize("columns", ["0", "abc", "20", "", "-5", "1e3"])
def test_a_columns_that_is_not_a_width_gives_100_and_no_traceback(columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", columns)
    result = fbench("show", str(EXAMPLE_CPU))
    assert result.returncode == 0 and result.stderr == ""
    assert max(len(line) for line in result.stdout.splitlines()) <= DEFAULT_WIDTH


def test_the_width_is_the_terminals_when_wider():
    assert text_width("160") == 160 and text_width(None, 130) == 130
    assert text_width("60", 200) == 100  # COLUMNS first, as the shell sets it
    assert text_width(None, None) == text_width("abc", None) == text_width("0", 50) == 100
    assert text_width("abc", 150) == 150  # nonsense in COLUMNS: the terminal's


# --- the pure layout ----------------------------------------------------------------------


def _table(**fields) -> Table:
    rows = [
        ["Conv 3×3", "96×56×56", 29.43, "ok"],
        ["", "Average", 75.45, "2 of 4 rows ok, 4 averaged and a long explanation"],
        ["DWConv 3×3", "96×56×56", 3.22, "2 of 4 rows ok, 4 averaged and a long explanation"],
    ]
    headers = ["Operator", "Feature map", "Latency (ms)", "Status"]
    return Table(headers, rows, formats=[str, str, "{:.2f}".format, str], **fields)


def test_a_table_that_fits_keeps_every_cell_on_its_line():
    table = _table()
    fitted, wide = render(table, "text", width=200), render(table, "text")
    assert "[1]" not in fitted and len(fitted.splitlines()) == len(wide.splitlines())
    assert [line.split() for line in fitted.splitlines()[2:]] == [
        line.split() for line in wide.splitlines()[2:]
    ]


def test_long_prose_cells_become_numbered_footnotes_shared_by_equal_texts():
    text = render(_table(), "text", width=50)
    assert max(len(line) for line in text.splitlines()) <= 50
    lines = text.splitlines()
    assert " ".join(" ".join(lines[-2:]).split()) == (
        "[1] 2 of 4 rows ok, 4 averaged and a long explanation"
    )
    assert sum("[1]" in line for line in lines) == 3  # two cells cite it, one note says it
    assert "29.43" in text  # numbers are never footnoted


def test_short_heads_are_used_when_fitting():
    table = _table(short_headers=["Op", "Map", "ms", "Status"])
    assert render(table, "text", width=90).startswith("Op")
    assert render(table, "text").startswith("Operator")  # --wide: the full heads


def test_a_table_too_wide_for_footnotes_is_split_into_panels_repeating_its_key_columns():
    headers = ["Operator", "Feature map", *(f"device{i} FLOPS (G/s)" for i in range(8))]
    rows = [["Conv 3×3", "96×56×56", *(f"{1000 + i}.25" for i in range(8))]]
    body, notes = fit_table(Table(headers, rows), 60, text_rows)
    panels = body.split("\n\n")
    assert len(panels) > 1 and not notes
    assert all(panel.startswith("Operator") for panel in panels)
    assert all(len(line) <= 60 for line in body.splitlines())


def test_prose_wraps_with_a_hanging_indent():
    lines = wrap_lines(["word " * 30, "[12] " + "note " * 30], 40)
    assert all(len(line) <= 40 for line in lines)
    assert lines[1].startswith("  word") and any(line.startswith("     note") for line in lines)


def test_prose_with_multibyte_characters_fits_the_width_in_bytes_too():
    # ×, ± and – are one column in a terminal and 2-3 bytes each: prose fits either count.
    lines = wrap_lines(["96×56×56 ±1.0% 5–95% " * 12], 100)
    assert len(lines) > 1 and all(len(line.encode()) <= 100 for line in lines)
    assert max(len(line.encode()) for line in lines) > 90  # narrower only by what it needs
    show = next(case for case in DEFAULT_TEXT if case.name == "show-cpu")
    assert max(len(line.encode()) for line in _stdout(show).splitlines()) <= DEFAULT_WIDTH


# --- the headline --------------------------------------------------------------------------


def test_the_headline_says_flops_flops_and_latency_side_by_side():
    fixture = FIXTURES / "cpu_table1.json"
    rows = read_result(fixture).rows
    # The hand-made fixture: DWConv 4, 2, 1, 0.5 ms; PConv 6, 3, 3, 4 ms. PConv is slower at
    # every stage (1.5×, 1.5×, 3×, 8×) though its FLOPS is higher: both must be said.
    assert headline(rows, "cpu") == (
        "PConv: 16× fewer FLOPs than Conv, 6.5× the FLOPS of DWConv (paper 6.2× on CPU), "
        "1.5–8.0× the latency of DWConv"
    )
    for verb in (("show",), ("report", "table1")):
        assert "1.5–8.0× the latency of DWConv" in fbench(*verb, "--wide", str(fixture)).stdout


def test_the_claims_report_carries_the_headline_per_device():
    result = fbench("report", "claims", "--wide", str(FIXTURES / "cpu_table1.json"))
    assert "PConv on cpu: 16× fewer FLOPs than Conv, 6.5× the FLOPS of DWConv" in result.stdout
    assert "Table 1: PConv 6.2× the FLOPS of DWConv (CPU)" in result.stdout


def test_no_headline_without_pconv_and_dwconv():
    rows = [row for row in read_result(EXAMPLE_CPU).rows if row.operator != "dwconv"]
    assert headline(rows) is None


# --- did you mean --------------------------------------------------------------------------


def test_did_you_mean_names_the_closest_and_nothing_when_none_is_close():
    assert did_you_mean("pcnov", ["conv", "pconv", "dwconv"]).startswith(" (did you mean 'pconv'")
    assert did_you_mean("shwo", ["run", "show"]) == " (did you mean 'show'?)"
    assert did_you_mean("xyz", ["conv", "pconv"]) == ""


@pytest.mark.parametrize(
    ("args", "hint", "help_of"),
    [
        (("shwo",), "did you mean 'show'?", "see fbench --help"),
        (("run", "--operatrs", "pconv"), "did you mean '--operators'?", "see fbench run --help"),
        (("show", "--wdie"), "did you mean '--wide'?", "see fbench show --help"),
        (("report", "tabel1", "x"), "did you mean 'table1'?", "see fbench report --help"),
        (
            ("report", "table1", "--format", "jsn", "x"),
            "did you mean 'json'?",
            "see fbench report table1 --help",
        ),
        (
            ("report", "claims", "x", "--calibraton", "y"),
            "did you mean '--calibration'?",
            "see fbench report claims --help",
        ),
        (("run", "--operators", "pcnov", "--quick"), "did you mean 'pconv'", "fbench run: error"),
        (
            ("show", EXAMPLE_CPU.stem[:-1], "--results-dir", "examples/results"),
            f"did you mean '{EXAMPLE_CPU.stem}'?",
            "fbench show: error",
        ),
    ],
)
def test_a_mistyped_name_gets_one_line_with_the_closest_and_its_verbs_help(args, hint, help_of):
    result = fbench(*args)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert hint in line and help_of in line and "Traceback" not in line
