"""The status vocabulary (bench/results/status.py) and the run's one-line summary."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fbench.bench.results import read_result, status
from fbench.devices import arm_telemetry
from fbench.reports.run_summary import precision_line
from tests.conftest import FIXTURES, fbench

SIX_PROCESSES = FIXTURES / "v1" / "reference-six-processes-cpu.json"


def test_the_status_is_that_of_the_gravest_reason():
    assert status.status_of([]) == "ok"
    assert status.status_of(["interval_wide", "processes_differ"]) == "imprecise"
    assert status.status_of(["interval_wide", "throttled"]) == "disturbed"
    assert status.status_of(["error", "interrupted"]) == "failed"
    with pytest.raises(KeyError):
        status.status_of(["cosmic_rays"])


def test_every_reason_code_is_documented():
    documented = (FIXTURES.parent.parent / "docs" / "result-format.md").read_text()
    for code, reason in status.REASONS.items():
        assert f"`{code}`" in documented, code
        assert reason.status in status.STATUSES


def test_device_problems_carry_their_code_and_stay_strings():
    problem = status.DeviceProblem("SoC at 82.0 °C", status.TOO_HOT)
    assert problem == "SoC at 82.0 °C" and status.problem_code(problem) == "too_hot"
    assert status.problem_code(problem.prefixed("process 2: ")) == "too_hot"
    assert status.problem_code("something else") == "device_problem"
    with pytest.raises(ValueError):
        status.DeviceProblem("x", "cosmic_rays")


def test_the_pi_names_each_problem_s_code():
    def reading(throttled=0, max_mhz=1500.0, temp=50.0, governor="performance"):
        return {
            "throttled": arm_telemetry.decode_throttled(throttled),
            "cpu_max_mhz": max_mhz,
            "soc_temp_c": temp,
            "governor": governor,
        }

    problems = arm_telemetry.row_problems(
        reading(), reading(0x50000, max_mhz=1000.0, temp=82.5, governor="ondemand"), 80.0
    )
    assert [status.problem_code(p) for p in problems] == [
        "throttled",
        "clock_capped",
        "governor_changed",
        "too_hot",
    ]


def test_one_line_says_how_many_rows_reached_the_target_and_what_would_narrow_the_widest():
    run = read_result(SIX_PROCESSES)
    line = precision_line(run.rows, run.config["timing"])
    assert line.startswith("target ±1.0%: 5 of 16 rows reached it; widest ±6.9% (dwconv ")
    assert "processes differ by memory layout); --processes " in line
    assert "unstable" not in line and "\n" not in line
    # A disturbed and a failed row are named by their count and reasons.
    rows = list(run.rows)
    rows[0] = replace(rows[0], status="disturbed", reasons=["throttled"], why="throttled")
    rows[1] = replace(rows[1], status="failed", reasons=["error"], latency_ms=None)
    line = precision_line(rows, run.config["timing"])
    assert line.endswith("1 disturbed (throttled), left out of averages; 1 failed")
    # A host that moved: said as the cause, with what to do, and no --processes hint.
    moved = [
        replace(row, status="disturbed", reasons=[*row.reasons, "host_moved"], why="moved")
        if "interval_wide" in row.reasons
        else row
        for row in run.rows
    ]
    line = precision_line(moved, run.config["timing"])
    assert "(dwconv 192×28×28, the host's speed moved)" in line and "--processes" not in line
    assert line.endswith("repeat on a quiet machine (or raise [timing] host_moved_above)")
    every_ok = [replace(row, status="ok", reasons=[], why=None) for row in run.rows]
    assert precision_line(every_ok, run.config["timing"]) == "target ±1.0%: all 16 rows reached it"


def test_show_ends_with_the_one_line_summary():
    shown = fbench("show", "--wide", str(SIX_PROCESSES))  # fitted, the line wraps at 100
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().splitlines()[-1].startswith("target ±1.0%: 5 of 16 rows")
