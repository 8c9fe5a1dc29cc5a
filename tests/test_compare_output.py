"""What `fbench compare` shows: each row's reason in text and Markdown, the overall verdict
and row identities in the tidy CSV and JSON exports, the threshold as given, and runs that
did not finish. Hand-made result files (copies of tests/fixtures/cpu_table1.json); nothing
is timed."""

from __future__ import annotations

import io
import json

import pandas
import pytest

from tests.conftest import FIXTURES
from tests.test_compare import _capture, fbench, mark, synthetic_run, write  # noqa: F401 (autouse)

FX_CPU = str(FIXTURES / "cpu_table1.json")


def _row(run: dict, operator: str, channels: int) -> dict:
    return next(r for r in run["rows"] if r["operator"] == operator and r["channels"] == channels)


def _line_of(output: str, label: str) -> str:
    """The one line that starts with `label` (a table row) or contains it (prose)."""
    rows = [line for line in output.splitlines() if line.lstrip("| ").startswith(label)]
    (line,) = rows or [line for line in output.splitlines() if label in line]
    return line


@pytest.mark.parametrize("fmt", ["text", "md"])
def test_a_row_not_judged_says_why_and_plain_same_rows_stay_quiet(fmt):
    out = fbench("compare", "--wide", "--format", fmt, FX_CPU, FX_CPU).stdout
    assert "reason" in out.splitlines()[2]  # the header of the table
    held_back = _line_of(out, "dwconv 768×7×7")
    assert "not judged" in held_back and "baseline row imprecise: 95% CI" in held_back
    same = _line_of(out, "conv 96×56×56").rstrip(" |")
    assert same.endswith("same")  # no reason beside a plain `same`


def test_a_table_of_plain_same_rows_has_no_reason_column(tmp_path):
    base, cur = write(tmp_path, synthetic_run("base", 1)), write(tmp_path, synthetic_run("cur", 2))
    result = fbench("compare", str(base), str(cur))
    assert result.returncode == 0 and "reason" not in result.stdout


@pytest.mark.parametrize("fmt", ["text", "md"])
def test_allow_unstable_says_the_row_was_judged_because_of_the_flag(tmp_path, fmt):
    current = synthetic_run("cur", 2)
    mark(_row(current, "conv", 768), "disturbed", "throttled", why="process 1: throttled")
    base, cur = write(tmp_path, synthetic_run("base", 1)), write(tmp_path, current)
    result = fbench("compare", str(base), str(cur), "--allow-unstable", "--wide", "--format", fmt)
    assert result.returncode == 0, result.stdout
    line = _line_of(result.stdout, "conv 768×7×7")
    assert "same" in line and "current row disturbed: process 1: throttled" in line
    assert "judged because of --allow-unstable" in line


def test_a_slower_row_shows_its_test_and_a_failed_row_its_error(tmp_path):
    current = synthetic_run("cur", 2, {"conv 96×56×56": 1.5})
    failed = _row(current, "pconv", 384)
    mark(failed, "failed", "error", why="RuntimeError: out of memory")
    failed.update(error="RuntimeError: out of memory", latency_ms=None, samples_ms=[])
    base, cur = write(tmp_path, synthetic_run("base", 1)), write(tmp_path, current)
    out = fbench("compare", "--wide", str(base), str(cur)).stdout
    assert "|+50." in _line_of(out, "conv 96×56×56") and "> 5%" in _line_of(out, "conv 96×56×56")
    assert "current: RuntimeError: out of memory" in _line_of(out, "pconv 384×14×14")


@pytest.mark.parametrize(
    ("scale", "flags", "verdict", "code"),
    [
        (1.0, (), "pass", 0),
        (1.5, (), "regression", 1),
        (0.5, ("--fail-on-improvement",), "improvement", 1),
    ],
)
def test_json_has_the_overall_verdict_and_the_summary_line(tmp_path, scale, flags, verdict, code):
    current = synthetic_run("cur", 2, {"conv 96×56×56": scale})
    base, cur = write(tmp_path, synthetic_run("base", 1)), write(tmp_path, current)
    result = fbench("compare", str(base), str(cur), "--format", "json", "--summary", *flags)
    (report,) = json.loads(result.stdout)
    assert result.returncode == code == report["exit_code"]
    assert report["verdict"] == verdict
    text = fbench("compare", str(base), str(cur), *flags).stdout
    assert report["summary"] == text.rstrip("\n").splitlines()[-1]


def test_json_verdict_when_not_trustworthy_or_not_comparable(tmp_path):
    (report,) = json.loads(
        fbench("compare", "--format", "json", "--summary", FX_CPU, FX_CPU).stdout
    )
    assert report["verdict"] == "not trustworthy" and report["summary"].startswith("NOT TRUST")
    assert (report["same"], report["not_judged"], report["rows"]) == (15, 1, 16)
    cuda = str(FIXTURES / "cuda_table1.json")
    (other,) = json.loads(fbench("compare", "--format", "json", "--summary", FX_CPU, cuda).stdout)
    assert other["verdict"] == "not comparable" and other["exit_code"] == 3
    assert "device differs" in other["not_comparable"]


def test_json_rows_carry_their_identity_so_rows_of_another_depth_are_told_apart(tmp_path):
    baseline, current = synthetic_run("base", 1), synthetic_run("cur", 2)
    for run in (baseline, current):  # the same shape again, at another depth
        run["rows"].append({**_row(run, "pconv", 96), "layers": 5})
    base, cur = write(tmp_path, baseline), write(tmp_path, current)
    rows = json.loads(fbench("compare", str(base), str(cur), "--format", "json").stdout)
    twins = [row for row in rows if (row["operator"], row["channels"]) == ("pconv", 96)]
    assert sorted(row["layers"] for row in twins) == [5, 10]
    twin = twins[0]
    assert json.loads(twin["operator_params"]) == {"partial_ratio": 0.25}
    assert (twin["channels"], twin["height"], twin["width"]) == (96, 56, 56)
    assert (twin["batch"], twin["dtype"], twin["device"], twin["backend"]) == (
        1, "float32", "cpu", "torch",
    )  # fmt: skip
    assert (twin["baseline_run_id"], twin["current_run_id"]) == ("base", "cur")


def test_csv_rows_and_summary_read_into_pandas_with_numeric_columns(tmp_path):
    current = synthetic_run("cur", 2, {"conv 96×56×56": 1.5})
    base, cur = write(tmp_path, synthetic_run("base", 1)), write(tmp_path, current)
    out = tmp_path / "gate.csv"
    result = fbench("compare", str(base), str(cur), "--format", "csv", "-o", str(out))
    assert result.returncode == 1 and result.stdout == f"wrote {out}\n"
    frame = pandas.read_csv(out)
    assert len(frame) == 16  # one record per compared row, no summary line among them
    for column in ("baseline_latency_ms", "current_latency_ms", "change", "p_value", "layers"):
        assert pandas.api.types.is_numeric_dtype(frame[column]), column
    slower = frame[frame["verdict"] == "slower"]
    assert slower[["operator", "channels"]].values.tolist() == [["conv", 96]]
    assert slower["change"].item() == pytest.approx(0.5, abs=0.05)
    summary = pandas.read_csv(
        io.StringIO(fbench("compare", str(base), str(cur), "--format", "csv", "--summary").stdout)
    )
    assert summary[["verdict", "exit_code", "slower"]].values.tolist() == [["regression", 1, 1]]


@pytest.mark.parametrize(
    ("given", "shown"), [("0.5%", "0.5%"), ("5%", "5%"), ("0.001", "0.1%"), ("0.125", "12.5%")]
)
def test_the_threshold_is_printed_as_given(tmp_path, given, shown):
    current = synthetic_run("cur", 2, {"conv 96×56×56": 1.5})
    base, cur = write(tmp_path, synthetic_run("base", 1)), write(tmp_path, current)
    out = fbench("compare", "--wide", str(base), str(cur), "--threshold", given).stdout
    assert f"(threshold {shown}, α=0.05)" in out
    assert f"> {shown}" in _line_of(out, "conv 96×56×56")


@pytest.mark.parametrize("bad", ["5%%", "0", "0%", "1", "100%", "-5%", "five"])
def test_a_threshold_outside_0_to_1_or_with_two_percent_signs_is_refused(bad):
    result = fbench("compare", "--threshold", bad, FX_CPU, FX_CPU)
    assert result.returncode == 2 and "--threshold" in result.stderr


@pytest.mark.parametrize("state", ["interrupted", "partial"])
def test_a_run_that_did_not_finish_is_named_in_one_line(tmp_path, state):
    current = synthetic_run("cur", 2)
    del current["rows"][-1]
    current.update(state=state, rows_planned=16)
    base, cur = write(tmp_path, synthetic_run("base", 1)), write(tmp_path, current)
    for fmt in ("text", "md"):
        result = fbench("compare", str(base), str(cur), "--format", fmt)
        assert result.returncode == 3  # the missing row, as before
        line = _line_of(result.stdout, "current run cur is")
        assert f"is {state} (15 of 16 rows): `fbench run --resume cur` completes it" in line
    (report,) = json.loads(
        fbench("compare", str(base), str(cur), "--format", "json", "--summary").stdout
    )
    assert report["unfinished_runs"] == line.rstrip()
    swapped = fbench("compare", str(cur), str(base)).stdout
    assert "baseline run cur is" in swapped
    assert "run base is" not in swapped  # a complete run says nothing


@pytest.mark.parametrize("made", [True, False])
def test_an_empty_or_missing_baselines_dir_is_no_baseline_exit_3(tmp_path, made):
    baselines = tmp_path / "baselines"
    if made:
        baselines.mkdir()
    result = fbench("compare", "auto", FX_CPU, "--baselines-dir", str(baselines))
    assert result.returncode == 3 and "no baseline for this device" in result.stderr
