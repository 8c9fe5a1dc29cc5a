"""A custom operator cannot take fbench over (issue 27; docs/crash-safety.md, "Code that is not
fbench's"): its exit, signal, hang, fork, prints and NaN each get their documented outcome.
The operators are tests/fixtures/hostile/; `after=N` acts on the N-th forward call in a
process (the preflight makes one call a shape, the timing worker thousands)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from fbench.bench import config as config_module
from fbench.bench.measure.protocol import WorkerDied, WorkerProcess, request_message
from fbench.bench.results import read_result
from tests.conftest import FIXTURES, assert_one_line_error, fbench

HOSTILE = FIXTURES / "hostile"
OPS = HOSTILE / "ops.py"
# One tiny shape, dwconv beside the hostile operator: two rows, one process.
RUN = ["run", "--quick", "--shape", "8x8x8", "--no-table"]


def _only_result(results: Path):
    (path,) = results.glob("*.json")
    assert not list(results.glob(".*.lock")), "the run left its lock behind"
    return path, read_result(path), json.loads(path.read_text())


def _rows(result) -> dict:
    return {row.operator: row for row in result.rows}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("factory", "code"),
    [(f"{HOSTILE / 'exits_at_import.py'}:make_layer", 5), (f"{OPS}:make_sys_exit:code=0", 0)],
    ids=["sys.exit(5) at import", "sys.exit(0) in the first forward"],
)
def test_an_exit_in_the_check_is_one_line_and_exit_2(tmp_path, factory, code):
    results = tmp_path / "r"
    result = fbench(
        *RUN, "--operators", "evil", "--operator", f"evil={factory}", "--results-dir", str(results)
    )
    assert_one_line_error(result, "operator evil", f"exited with code {code}")
    assert not results.exists()  # refused before anything was created


@pytest.mark.slow
def test_os_exit_midway_fails_its_rows_and_ends_the_run_with_exit_4(tmp_path):
    results = tmp_path / "r"
    evil = f"evil={OPS}:make_os_exit:code=3,after=300"  # past the check, while timing
    result = fbench(
        *RUN, "--operators", "dwconv", "--operator", evil, "--results-dir", str(results)
    )
    assert result.returncode == 4, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("fbench run: error: incomplete: 1 row(s) failed and 1 not timed")
    assert "exited with code 3" in last and "fbench run --resume" in last
    assert "Traceback" not in result.stderr
    _, stored, data = _only_result(results)
    assert stored.state == "incomplete"  # not `running`: the parent saw the end
    (failure,) = data["worker_failures"]
    assert failure["exit_code"] == 3 and failure["last_activity"]  # building, warming, sampling
    assert failure["rows_unfinished"] == ["dwconv 8×8×8", "evil 8×8×8"]
    assert set(_rows(stored)) == {"evil"}  # dwconv is left for --resume
    assert _rows(stored)["evil"].status == "failed"
    assert "exited with code 3" in _rows(stored)["evil"].error


@pytest.mark.slow
def test_sys_exit_0_midway_with_keep_going_fails_its_rows_and_times_the_rest(tmp_path):
    results = tmp_path / "r"
    evil = f"evil={OPS}:make_sys_exit:code=0,after=300"
    result = fbench(
        *RUN, "--operators", "dwconv", "--operator", evil, "--keep-going",
        "--results-dir", str(results),
    )  # fmt: skip
    assert result.returncode == 4, result.stderr
    assert "the run goes on" in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "fbench run: error: 1 of 2 row(s) failed and were not measured (first: evil 8×8×8"
        )
    )
    _, stored, data = _only_result(results)
    assert stored.state == "complete"
    (failure,) = data["worker_failures"]  # an exit 0 before the rows were done is listed
    assert failure["exit_code"] == 0 and failure["signal"] is None
    rows = _rows(stored)
    assert rows["evil"].status == "failed" and "exited with code 0" in rows["evil"].error
    assert rows["dwconv"].status != "failed" and rows["dwconv"].samples_ms


@pytest.mark.slow
def test_a_run_whose_only_row_failed_exits_4_and_prints_stay_off_the_table(tmp_path):
    results = tmp_path / "r"
    nan = f"nan={OPS}:make_prints_nan"  # prints in every forward, returns NaN
    result = fbench(
        "run", "--quick", "--shape", "8x8x8", "--operators", "nan", "--operator", nan,
        "--results-dir", str(results),
    )  # fmt: skip
    assert result.returncode == 4, result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("fbench run: error: 1 of 1 row(s) failed and were not measured")
    )
    assert "nan " in result.stdout and "Operator" in result.stdout  # the table is there...
    assert "HOSTILE PRINT" not in result.stdout  # ...and the operator's prints are not:
    assert "HOSTILE PRINT from forward" in result.stderr  # they go to stderr
    _, stored, _ = _only_result(results)
    (row,) = stored.rows
    assert row.status == "failed" and "NaN or infinity (512 of 512 values)" in row.error


@pytest.mark.slow
def test_a_forward_that_hangs_fails_its_row_after_row_timeout(tmp_path):
    results = tmp_path / "r"
    hang = f"hang={OPS}:make_hang:after=2"  # the check's one call passes; the build hangs
    begin = time.monotonic()
    result = fbench(
        *RUN, "--operators", "hang", "--operator", hang, "--row-timeout", "2",
        "--results-dir", str(results),
    )  # fmt: skip
    assert time.monotonic() - begin < 200  # the forward sleeps for an hour
    assert result.returncode == 4, result.stderr
    assert "no sign of progress for 2 s (--row-timeout)" in result.stderr.splitlines()[-1]
    _, stored, data = _only_result(results)
    (row,) = stored.rows
    assert row.status == "failed" and "--row-timeout" in row.error
    assert data["worker_failures"][0]["signal"] == "SIGKILL"


@pytest.mark.slow
def test_children_a_forward_forks_cannot_hold_stdout_open(tmp_path):
    pids = tmp_path / "pids"
    fork = f"fork={OPS}:make_fork:pidfile={pids}"
    # capture_output: a pipe, as `fbench run … | wc -l` has; a child holding it would keep
    # the read from ending for the five minutes it sleeps, past the timeout.
    result = fbench(
        *RUN, "--operators", "fork", "--operator", fork, "--results-dir", str(tmp_path / "r"),
        timeout=200,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    children = [int(pid) for pid in pids.read_text().split()]
    assert len(children) == 1  # one process checks and times: its first forward forks
    for child in children:  # killed with their worker's process group
        assert _gone(child), child


def _gone(pid: int) -> bool:
    """No such process, or a zombie nobody has reaped yet (it holds nothing open)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.slow
def test_a_worker_that_exits_0_before_its_rows_are_done_is_a_death_in_any_mode():
    # The parent's end of every worker, --processes N included: an exit 0 with rows undone
    # was a success before (issue 27), and so never in worker_failures.
    flags = config_module.Overrides(
        quick=True, pin_core="none", shapes=["8x8x8"], operators=["evil"],
        operator_flags=[f"evil={OPS}:make_sys_exit:code=0,after=3"],
    )  # fmt: skip
    worker = WorkerProcess()
    request = request_message(config_module.load(None, flags), [0], 1, None)
    with pytest.raises(WorkerDied) as died:
        list(worker.run(request, "process 1/2", lambda event: None, None))
    assert (died.value.exit_code, died.value.signal_name) == (0, None)
    assert (
        str(died.value)
        == "process 1/2 exited with code 0 before it was done (building evil 8×8×8 (1/1))"
    )
    with pytest.raises(ProcessLookupError):  # its process group went with it
        os.killpg(worker._process.pid, 0)


@pytest.mark.slow
def test_with_processes_2_an_operator_ending_its_workers_fails_only_its_rows(tmp_path):
    # Before, each of the two workers died in turn and dwconv went untimed; now the killed
    # operator's rows fail (the one-process rule) and dwconv gets both processes.
    results = tmp_path / "r"
    evil = f"evil={OPS}:make_killed:after=300"  # past the check, in the first worker
    result = fbench(
        *RUN, "--processes", "2", "--pin-core", "none", "--operators", "dwconv",
        "--operator", evil, "--results-dir", str(results),
    )  # fmt: skip
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr and "the run goes on" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("fbench run: error: 1 of 2 row(s) failed and were not measured")
    assert "killed by SIGKILL" in last
    path, stored, data = _only_result(results)
    assert stored.state == "complete"
    (failure,) = data["worker_failures"]  # one worker: the turn was taken again
    assert failure["signal"] == "SIGKILL" and failure["last_activity"]
    rows = _rows(stored)
    assert rows["evil"].status == "failed" and "killed by SIGKILL" in rows["evil"].error
    assert rows["dwconv"].status != "failed" and len(rows["dwconv"].processes) >= 2

    # Nothing left to time, a row failed: --resume ends as the run did, exit 4 and the count.
    again = fbench("run", "--resume", str(path), "--no-table")
    assert again.returncode == 4, again.stderr
    assert "nothing to resume" in again.stderr
    assert (
        again.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "fbench run: error: 1 of 2 row(s) failed and were not measured (first: evil 8×8×8"
        )
    )


def test_check_runs_no_custom_operator_in_its_own_process(tmp_path):
    # `check` builds in fbench's process: an operator whose import exits 5 once made it
    # exit 5 with no message. Named, it is refused; from the config, left out.
    config = tmp_path / "bench.toml"
    config.write_text(
        '[experiment]\noperators = ["dwconv"]\n\n[[operator]]\nname = "evil"\n'
        f'factory = "{HOSTILE / "exits_at_import.py"}:make_layer"\n'
    )
    check = ["check", "--quick", "--quiet", "--stages", "1", "--config", str(config)]
    named = fbench(*check, "--operators", "evil")
    assert_one_line_error(named, "fbench check: error: operator evil is not fbench's")
    beside = fbench(*check, "--exporters", "torchscript")
    assert beside.returncode == 0, beside.stderr
    assert "warning: left out evil: check runs fbench's own operators only" in beside.stderr
    assert "dwconv" in beside.stdout and "evil" not in beside.stdout
