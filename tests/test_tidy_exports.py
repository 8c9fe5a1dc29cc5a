"""The machine exports of every table verb (`--format csv|json`, issue 25): long and tidy, one
record per measured thing, snake_case columns that do not change with the run, numbers that
pandas reads as numbers, null for a missing value, and summaries only under --summary; and
the same output flags on every verb that prints a table. Fixtures and examples only."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import pandas
import pytest

from fbench.bench.results import load_results, read_result
from fbench.cli import build_parser, main
from fbench.reports.table1.averages import pconv_dwconv_ratio
from tests.conftest import FIXTURES, REPO, assert_one_line_error, fbench

FX = {device: str(FIXTURES / f"{device}_table1.json") for device in ("cpu", "cuda", "arm")}
FX_NETWORKS = str(FIXTURES / "cpu_networks.json")
FX_CALIBRATION = str(FIXTURES / "cpu_calibration.json")
# The examples the goldens use (tests/golden/cases.py names them once).
sys.path.insert(0, str(REPO / "tests" / "golden"))
from cases import CPU as _CPU  # noqa: E402
from cases import CPU_DEPTH as _CPU_DEPTH  # noqa: E402

EX_CPU = str(REPO / _CPU)
EX_DEPTH = str(REPO / _CPU_DEPTH)

ROW_NUMBERS = (
    "batch",
    "stage",
    "channels",
    "height",
    "width",
    "layers",
    "flops_m",
    "latency_ms",
    "ci95_low_ms",
    "ci95_high_ms",
    "throughput_per_s",
    "gflops_per_s",
)
PAPER_NUMBERS = ("paper_latency_ms", "paper_gflops_per_s", "gflops_over_paper")
SUMMARY_NUMBERS = ("value", "paper_value", "value_over_paper", "rows", "rows_ok", "rows_used")
DEPTH_NUMBERS = ("layers", "latency_ms", "fitted_latency_ms", "per_layer_ms", "overhead_ms")
DEPTH_NUMBERS += ("overhead_share", "per_layer_gflops_per_s", "r_squared", "points")
ROOFLINE_NUMBERS = ("stage", "layers", "intensity_implementation_mac_per_byte")
ROOFLINE_NUMBERS += ("attainable_gflops_per_s", "measured_gflops_per_s", "fraction_of_compute")

# verb argv (before --format) → (numeric columns, the number of records)
CASES = {
    "table1-paper": (("report", "table1", "--paper", *FX.values()), ROW_NUMBERS + PAPER_NUMBERS),
    "table1-roofline": (("report", "table1", "--roofline", EX_CPU), ROW_NUMBERS),
    "show": (("show", FX["arm"]), ROW_NUMBERS + PAPER_NUMBERS),
    "show-networks": (("show", FX_NETWORKS), (*ROW_NUMBERS, "params_m", "paper_latency_ms")),
    "depth": (("depth", EX_DEPTH), DEPTH_NUMBERS),
    "roofline": (("roofline", "--calibration", FX_CALIBRATION, FX["cpu"]), ROOFLINE_NUMBERS),
    "compare": (("compare", FX["cpu"], FX["cpu"]), ("baseline_latency_ms", "change", "p_value")),
}


def output(capsys, *argv: str) -> str:
    main(list(argv))  # compare exits 3 on the fixture (a row not judged): its output is whole
    captured = capsys.readouterr()
    assert not captured.err.startswith("fbench"), captured.err
    return captured.out


def read(text: str, fmt: str) -> pandas.DataFrame:
    if fmt == "csv":
        return pandas.read_csv(io.StringIO(text))
    return pandas.read_json(io.StringIO(text))


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize("case", CASES)
def test_every_export_reads_into_pandas_with_numeric_columns(capsys, case, fmt):
    argv, numbers = CASES[case]
    frame = read(output(capsys, *argv, "--format", fmt), fmt)
    assert len(frame) > 0
    for column in numbers:
        assert pandas.api.types.is_numeric_dtype(frame[column]), f"{case} {fmt}: {column}"
    assert all(column == column.lower() and " " not in column for column in frame.columns)
    # no summary or average line among the data
    text_cells = frame.select_dtypes(exclude="number").astype(str)
    assert not text_cells.isin(["Average", "PConv/DWConv"]).any().any()
    if "status" in frame:
        assert frame["status"].notna().all()  # ok is written "ok", not left empty


def test_json_writes_a_missing_value_as_null_never_as_an_empty_string(capsys):
    records = json.loads(
        output(capsys, "report", "table1", "--paper", *FX.values(), "--format", "json")
    )
    assert all(value != "" for record in records for value in record.values())
    failed = next(r for r in records if r["device"] == "arm" and r["status"] == "failed")
    assert failed["latency_ms"] is None and failed["gflops_per_s"] is None
    assert failed["reasons"] == "error; RuntimeError: killed by the fixture"
    ok = next(r for r in records if r["status"] == "ok")
    assert ok["reasons"] is None and isinstance(ok["latency_ms"], float)


def test_table1_has_a_record_per_stored_row_and_device(capsys):
    runs = load_results(list(FX.values()), REPO)
    stored = sum(len(run.rows) for run in runs)
    frame = read(output(capsys, "report", "table1", *FX.values(), "--format", "csv"), "csv")
    assert len(frame) == stored
    conv = frame[(frame.device == "cuda") & (frame.operator == "conv") & (frame.stage == 1)]
    assert conv["gflops_per_s"].item() == pytest.approx(8323.596288)
    assert conv["flops_m"].item() == pytest.approx(2601.12384)
    assert conv["latency_ms"].item() < conv["ci95_high_ms"].item()


def test_columns_do_not_change_with_the_depth_of_the_run(capsys):
    ten = output(capsys, "report", "table1", EX_CPU, "--format", "csv").splitlines()[0]
    swept = output(capsys, "report", "table1", EX_DEPTH, "--format", "csv").splitlines()[0]
    assert ten == swept
    assert "flops_m" in ten.split(",") and "layers" in ten.split(",")


def test_table1_summary_holds_the_averages_and_the_ratio(capsys):
    text = output(
        capsys, "report", "table1", "--paper", *FX.values(), "--format", "csv", "--summary"
    )
    summary = read(text, "csv")
    for column in SUMMARY_NUMBERS:
        assert pandas.api.types.is_numeric_dtype(summary[column]), column
    ratio = summary[summary.statistic == "pconv_over_dwconv_gflops"].set_index("device")
    cpu_rows = [row for run in load_results([FX["cpu"]], REPO) for row in run.rows]
    assert ratio.loc["cpu", "value"] == pytest.approx(pconv_dwconv_ratio(cpu_rows))
    assert ratio.loc["cpu", "paper_value"] == pytest.approx(6.2, abs=0.05)
    means = summary[summary.statistic == "mean_gflops_per_s"]
    assert set(means.operator) == {"conv", "gconv", "dwconv", "pconv"}
    arm_dwconv = means[(means.device == "arm") & (means.operator == "dwconv")]
    assert (arm_dwconv.rows.item(), arm_dwconv.rows_used.item()) == (4, 3)  # one left out


def test_depth_has_one_record_per_depth_and_no_packed_cells(capsys):
    frame = read(output(capsys, "depth", EX_DEPTH, "--format", "csv"), "csv")
    fits = read(output(capsys, "depth", EX_DEPTH, "--format", "csv", "--summary"), "csv")
    assert len(frame) == fits["points"].sum() and sorted(set(frame.layers)) == [1, 5, 10]
    assert (
        not frame.select_dtypes(exclude="number")
        .astype(str)
        .apply(lambda column: column.str.contains(": "))
        .any()
        .any()
    )
    conv = frame[(frame.operator == "conv") & (frame.stage == 1)].set_index("layers")
    stored = next(
        row
        for row in read_result(Path(EX_DEPTH)).rows
        if row.operator == "conv" and row.stage == 1 and row.layers == 1
    )
    assert conv.loc[1, "latency_ms"] == pytest.approx(stored.latency_ms.median, rel=1e-3)
    line = fits[(fits.operator == "conv") & (fits.stage == 1)]
    assert conv.loc[10, "fitted_latency_ms"] == pytest.approx(
        line.overhead_ms.item() + 10 * line.per_layer_ms.item()
    )
    assert (line.min_layers.item(), line.max_layers.item()) == (1, 10)


def test_roofline_summary_is_one_record_per_device_and_operator(capsys):
    argv = ("roofline", "--calibration", FX_CALIBRATION, FX["cpu"], "--format", "json")
    summary = read(output(capsys, *argv, "--summary"), "json")
    assert list(summary.operator) == ["conv", "gconv", "dwconv", "pconv"]
    dwconv = summary.set_index("operator").loc["dwconv"]
    assert dwconv.rows_memory_bound == dwconv.rows == 4
    assert math.isclose(dwconv.fraction_of_compute_max, 0.07, abs_tol=0.01)


def test_summary_of_a_text_format_is_one_line_error():
    result = fbench("depth", EX_DEPTH, "--summary")
    assert_one_line_error(result, "--summary needs --format csv or json")


TABLE_VERBS = (("show",), ("report", "table1"), ("compare",), ("roofline",), ("depth",))


def _subparser(parser, names):
    for name in names:
        action = next(a for a in parser._actions if a.dest in ("command", "table"))
        parser = action.choices[name]
    return parser


@pytest.mark.parametrize("verb", TABLE_VERBS, ids=" ".join)
def test_every_table_verb_takes_the_same_output_flags(verb):
    parser = _subparser(build_parser(), verb)
    options = {option: action for action in parser._actions for option in action.option_strings}
    assert {"-o", "--output", "--summary", "--format"} <= set(options)
    assert {"text", "md", "csv", "json"} <= set(options["--format"].choices)
    assert options["-o"] is options["--output"]


def test_devices_takes_format_and_output_but_has_no_summary():
    options = {
        a: x for x in _subparser(build_parser(), ("devices",))._actions for a in x.option_strings
    }
    assert {"text", "md", "csv", "json"} <= set(options["--format"].choices)
    assert options["-o"] is options["--output"] and "--summary" not in options


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_devices_export_is_one_record_per_device_and_backend(capsys, fmt):
    from fbench.devices import DEVICES, backends_for

    frame = read(output(capsys, "devices", "--format", fmt), fmt)
    assert list(frame.columns) == ["device", "backend", "available", "measures", "reason"]
    pairs = [(device, backend) for device in DEVICES for backend in backends_for(device)]
    assert list(zip(frame.device, frame.backend, strict=True)) == pairs
    assert pandas.api.types.is_bool_dtype(frame["available"])
    assert frame[frame.available].reason.isna().all()  # null where it can run
    assert frame[~frame.available].reason.notna().all()


@pytest.mark.parametrize(
    "argv",
    [
        ("devices",),
        ("roofline", "--calibration", FX_CALIBRATION, FX["cpu"]),
        ("depth", EX_DEPTH),
        ("show", FX["cpu"]),
        ("compare", FX["cpu"], FX["cpu"]),
    ],
    ids=lambda argv: argv[0],
)
def test_md_and_output_file_on_every_table_verb(tmp_path, capsys, argv):
    out = tmp_path / "out" / "table.md"
    main([*argv, "--format", "md", "-o", str(out)])
    assert capsys.readouterr().out == f"wrote {out}\n"
    pipes = [line for line in out.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    assert len(pipes) >= 3 and all(line.endswith("|") for line in pipes)


def test_claims_csv_is_one_record_per_claim_and_device(capsys):
    text = output(capsys, "report", "claims", FX["cpu"], FX["cuda"], FX_NETWORKS, "--format", "csv")
    frame = read(text, "csv")
    for column in ("measured", "ci95_low", "ci95_high", "paper"):
        assert pandas.api.types.is_numeric_dtype(frame[column]), column
    assert frame["verdict"].notna().all()
    assert not frame.duplicated(["claim", "device"]).any()
    ratio = frame[(frame.claim == "pconv-dwconv-ratio") & (frame.device == "cpu")]
    assert ratio.measured.item() == pytest.approx(6.5) and ratio.runs.item() == "fixture-cpu"


def test_records_write_missing_values_as_null_and_keep_numbers():
    from fbench.reports.tidy import Records, to_csv, to_json

    records = Records.of(
        ("name", "latency_ms", "reasons", "ok"),
        [
            {"name": "a", "latency_ms": 1.25, "reasons": "", "ok": True},
            {"name": "b", "latency_ms": math.nan, "ok": False},  # a column it lacks: missing
        ],
    )
    assert to_csv(records) == "name,latency_ms,reasons,ok\na,1.25,,True\nb,,,False"
    assert json.loads(to_json(records)) == [
        {"name": "a", "latency_ms": 1.25, "reasons": None, "ok": True},
        {"name": "b", "latency_ms": None, "reasons": None, "ok": False},
    ]


@pytest.mark.parametrize(
    "run", [FX["cpu"], FX_NETWORKS, FX["cuda"]], ids=["cpu", "networks", "cuda"]
)
def test_show_md_header_is_a_markdown_list(capsys, run):
    # Plain lines would run together into one paragraph once rendered.
    text = output(capsys, "show", "--format", "md", run)
    header = text.split("\n\n", 1)[0].splitlines()
    assert len(header) >= 3 and all(line.startswith("- ") for line in header), header
    assert text.split("\n\n", 1)[1].startswith("| ")
