"""`fbench run --time-budget` and [run] time_budget (issue 24): the duration, the plan that
fits it (pure), the deadline in the runner (real torch, tiny shapes), and the bad inputs."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from fbench.bench import config as config_module
from fbench.bench.config import TimingConfig, parse_duration
from fbench.bench.errors import FbenchError
from fbench.bench.measure import budget
from fbench.bench.measure.entry import measure
from fbench.bench.plan.rows import plan_rows
from fbench.devices.cpu import CPU_SETTINGS, CpuSession
from tests.conftest import assert_one_line_error, cli


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("20m", 1200), ("1.5h", 5400), (45, 45)]
)
def test_durations(text, seconds):
    assert parse_duration(text, "--time-budget") == seconds


@pytest.mark.parametrize("text", ["0", "-5", "abc", "1e9h", "", "s", "inf", "nan", "0s"])
def test_bad_durations_are_one_line(text):
    with pytest.raises(FbenchError, match="--time-budget"):
        parse_duration(text, "--time-budget")


@pytest.mark.parametrize(
    ("value", "words"),
    [("0", "more than 0"), ("-5", "more than 0"), ("abc", "a duration"), ("1e9h", "at most 24h")],
)
def test_bad_time_budget_flag_exits_2_in_one_line(capsys, tmp_path, value, words):
    result = cli(capsys, "run", "--quick", "--time-budget", value, "--results-dir", str(tmp_path))
    assert_one_line_error(result, "--time-budget", words)
    assert not list(tmp_path.iterdir())  # nothing created


def test_run_table_time_budget_in_bench_toml(tmp_path):
    path = tmp_path / "bench.toml"
    path.write_text('[run]\ntime_budget = "20m"\n')
    assert config_module.load_run_settings(path) == {"time_budget": 1200.0}
    config_module.load(path)  # the rest of the file still resolves
    for text, words in (
        ('[run]\ntime_budget = "-5"\n', "[run] time_budget must be more than 0"),
        ("[run]\ntime_budget = true\n", "[run] time_budget must be"),
        ("[run]\nbudget = 5\n", "unknown key 'budget'"),
    ):
        path.write_text(text)
        with pytest.raises(FbenchError, match=words.replace("[", r"\[").replace("]", r"\]")):
            config_module.load(path)
    assert config_module.load_run_settings(None) == {"time_budget": None}


# --- the plan (pure) ---------------------------------------------------------------------


def test_a_minute_for_table1_keeps_every_row_and_fits():
    timing = TimingConfig()  # the default: 6 processes, 6 s a row
    plan = budget.plan(60.0, elapsed_s=3.0, rows=16, timing=timing, worker_start_s=2.6)
    available = 60.0 - 3.0 - budget.reserve_s(60.0)
    assert 1 <= plan.processes < 6
    fixed = plan.estimates["fixed_s"]
    assert fixed <= budget.FIXED_SHARE * available
    assert fixed + 17 * plan.max_row_s <= available + 1e-9
    assert plan.max_row_s < timing.max_row_s
    chosen = plan.timing(timing)
    assert (chosen.processes, chosen.max_row_s) == (plan.processes, round(plan.max_row_s, 3))
    assert "a row that needs its whole cap ends about" in plan.sentence()
    record = plan.to_dict()
    assert record["budget_s"] == 60.0 and record["config"] == {"processes": 6, "max_row_s": 6.0}


def test_a_generous_budget_changes_nothing():
    timing = TimingConfig()
    plan = budget.plan(3600.0, elapsed_s=3.0, rows=16, timing=timing, worker_start_s=2.6)
    assert plan.timing(timing) == replace(timing, warmup_max_s=plan.timing(timing).warmup_max_s)
    assert (plan.processes, plan.max_row_s) == (6, 6.0)
    assert plan.sentence().endswith("the configured precision")


def test_a_budget_too_small_for_one_process_per_row_is_refused():
    with pytest.raises(FbenchError, match=r"cannot hold one process per row.*give at least"):
        budget.plan(5.0, elapsed_s=3.0, rows=16, timing=TimingConfig(), worker_start_s=2.6)


def test_worker_deadlines_share_what_is_left():
    assert budget.worker_deadline(100.0, 160.0, 3) == 120.0
    assert budget.worker_deadline(100.0, 90.0, 2) == 100.0  # already late: no time at all


# --- the deadline in the runner (real torch, tiny shapes) --------------------------------


def _quick_config(**overrides):
    values = {"stages": [4], "layers": 1, "quick": True, "pin_core": "none", "processes": 1}
    return config_module.load(None, config_module.Overrides(**(values | overrides)))


@pytest.mark.slow
def test_sampling_stops_at_the_deadline_with_every_row_measured():
    config = _quick_config()
    # No host probe: on a loaded host it moves and the rows are `disturbed` (host_moved).
    timing = replace(config.timing, max_row_s=60.0, ci_target=0.0001, host_probe=False)
    config = replace(config, timing=timing)
    session = CpuSession({**CPU_SETTINGS, "pin_core": "none"})
    began = time.time()
    rows = list(measure(plan_rows(config), config, session, lambda e: None, stop_at=began + 8))
    took = time.time() - began
    assert len(rows) == len(plan_rows(config))
    # At most one round past it, plus finishing the rows: on a loaded 2-core host a round of
    # these rows has taken up to a few seconds; without the deadline they sample for 60 s.
    assert took < 8 + 10, took
    for row in rows:
        assert row.status == "imprecise", row.why
        assert "sampling stopped at the time budget's deadline" in row.notes


class NeverCools(CpuSession):
    """A CPU session that behaves like a board stuck above its cool-down threshold: a wait
    limited by the budget always ends out of budget (devices/arm.py's contract)."""

    def wait_until_ready(self, max_wait_s=None):
        if max_wait_s is None:
            return None
        time.sleep(min(max_wait_s, 0.2))
        return {
            "waited_s": 0.2,
            "from_c": 75.0,
            "to_c": 75.0,
            "below_c": 60.0,
            "cooled": False,
            "out_of_budget": True,
        }


def test_a_device_that_never_cools_measures_nothing_hot():
    config = _quick_config()
    events = []
    rows = list(
        measure(
            plan_rows(config),
            config,
            NeverCools({**CPU_SETTINGS, "pin_core": "none"}),
            events.append,
            stop_at=time.time() + 30,
        )
    )
    assert rows == []  # every row left for --resume, none timed at 75 °C
    said = [getattr(e, "message", "") for e in events]
    assert any("time budget reached" in m and "still cooling (75.0 °C" in m for m in said)


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_a_budgeted_run_stores_its_budget_and_what_it_chose(capsys, tmp_path, processes):
    result = cli(
        capsys,
        "run",
        "--quick",
        "--processes",
        str(processes),
        "--stages",
        "4",
        "--operators",
        "conv,pconv",
        "--time-budget",
        "5m",
        "--results-dir",
        str(tmp_path),
        "--no-table",
    )
    assert result.returncode == 0, result.stderr
    assert f"time budget 5 min: {processes} process(es)" in result.stderr
    (path,) = tmp_path.glob("*.json")
    data = json.loads(path.read_text())
    record = data["time_budget"]
    assert record["budget_s"] == 300.0 and record["ran_out"] is False
    assert record["chose"]["processes"] == data["config"]["timing"]["processes"] == processes
    assert 0 < record["left_s"] < 300 and data["state"] == "complete"


def test_a_budget_that_cannot_hold_the_rows_is_refused_before_measuring(capsys, tmp_path):
    result = cli(capsys, "run", "--quick", "--time-budget", "1", "--results-dir", str(tmp_path))
    assert_one_line_error(result, "--time-budget 1 s cannot hold one process per row")
    assert not list(tmp_path.glob("*.json"))
