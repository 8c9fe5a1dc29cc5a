"""Crash- and interrupt-safe runs (docs/crash-safety.md): real worker processes, real signals.

The slow tests run `fbench run` on a tiny config in two worker processes and kill a worker,
kill the parent, or send it SIGTERM once the first process is stored, then check the file
and finish the run with `--resume`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from fbench.bench import config as config_module
from fbench.bench import results
from fbench.bench.errors import EXIT_INCOMPLETE, EXIT_INTERRUPTED, FbenchError
from fbench.bench.measure.pooling import processes_of, worker_rows_of
from fbench.bench.measure.processes import _pooled
from fbench.bench.plan.rows import plan_rows
from fbench.commands.run_resume import left_to_do
from fbench.devices.cpu import CPU_SETTINGS, CpuSession
from tests.conftest import FIXTURES, fbench, start_fbench, start_run, tiny_tmpfs
from tests.test_processes import _config, _worker_row

# Two processes, rows that never reach their (unreachable) target and so sample for their
# whole, small, budget: each worker takes a second or two after its imports.
TWO_PROCESSES = """\
[experiment]
operators = ["conv", "dwconv"]
layers = 1
[[stages]]
channels = 16
height = 8
width = 8
[timing]
processes = 2
ci_target = 0.0001
min_samples = 6
min_rounds = 1
round_s = 0.02
max_row_s = 1.0
warmup_min_s = 0.0
warmup_max_s = 0.02
host_probe = false
[devices.cpu]
pin_core = "none"
"""


@contextlib.contextmanager
def _watchdog(process: subprocess.Popen, seconds: float = 400) -> Iterator[None]:
    """Kill a run that hangs, so the test fails instead of blocking the suite."""
    timer = threading.Timer(seconds, process.kill)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _wait_for(process: subprocess.Popen, fragment: str) -> None:
    seen = []
    for line in process.stderr:
        seen.append(line)
        if fragment in line:
            return
    raise AssertionError(f"{fragment!r} never came; stderr: {''.join(seen)}")


def _workers(process: subprocess.Popen) -> list[psutil.Process]:
    """The parent's workers, oldest first: the first is the one timing now."""
    return sorted(psutil.Process(process.pid).children(), key=lambda child: child.create_time())


def _assert_all_gone(workers: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not [w for w in alive if w.status() != psutil.STATUS_ZOMBIE], alive


def _resume(path: Path) -> subprocess.CompletedProcess:
    return fbench("run", "--resume", path.stem, "--results-dir", str(path.parent), "--no-table")


def _assert_completed_in_two_processes(path: Path, before: results.RunResult) -> None:
    """Every row in both processes; the first process's samples are the stored ones."""
    final = results.read_result(path)
    assert final.state == "complete" and len(final.resumed) == 1
    assert final.processes_planned == 2 and final.processes_finished == 2
    assert len(final.rows) == 2
    earlier = {row.key(): row for row in before.rows}
    for row in final.rows:
        assert len(row.processes) == 2
        assert not any("planned processes" in note for note in row.notes)
        first = earlier[row.key()].samples_ms
        assert row.samples_ms[: len(first)] == first
        assert row.latency_ms.n == len(row.samples_ms) == sum(p["n"] for p in row.processes)


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_is_recorded_and_resume_adds_its_process(tmp_path):
    parent, results_dir = start_run(tmp_path, TWO_PROCESSES)
    with _watchdog(parent):
        _wait_for(parent, "process 1/2 timed")
        _workers(parent)[0].send_signal(signal.SIGKILL)  # process 2, given its rows now
        rest = parent.stderr.read()
        parent.wait()
    assert parent.returncode == EXIT_INCOMPLETE, rest
    assert "Traceback" not in rest
    assert "process 2/2 was killed by SIGKILL" in rest and "the run goes on" in rest
    last = rest.strip().splitlines()[-1]
    assert last.startswith("fbench run: error: incomplete: 2 row(s) timed in fewer than 2")
    assert "--resume" in last
    (path,) = results_dir.glob("*.json")
    stored = results.read_result(path)
    assert stored.state == "incomplete"
    assert stored.processes_planned == 2 and stored.processes_finished == 1
    (failure,) = stored.worker_failures
    assert failure["process"] == 2 and failure["label"] == "process 2/2"
    assert failure["signal"] == "SIGKILL" and failure["exit_code"] is None
    assert failure["last_activity"] and failure["message"] in rest
    assert set(failure["rows_unfinished"]) <= {"conv 16×8×8", "dwconv 16×8×8"}
    for row in stored.rows:
        assert len(row.processes) == 1 and row.status == "disturbed"
        assert "interrupted" in row.reasons
        assert "incomplete: timed in 1 of 2 planned processes" in row.notes

    resumed = _resume(path)
    assert resumed.returncode == 0, resumed.stderr
    assert "process 2/2 timed 2 row(s)" in resumed.stderr
    _assert_completed_in_two_processes(path, stored)
    assert results.read_result(path).worker_failures == stored.worker_failures


@pytest.mark.slow
def test_sigkill_of_the_parent_keeps_every_finished_process_and_one_resume_at_a_time(tmp_path):
    parent, results_dir = start_run(tmp_path, TWO_PROCESSES)
    with _watchdog(parent):
        _wait_for(parent, "process 1/2 timed")  # printed once it is stored
        workers = _workers(parent)
        parent.kill()
        parent.wait()
    _assert_all_gone(workers)  # they die with the parent (PR_SET_PDEATHSIG)
    (path,) = results_dir.glob("*.json")
    stored = results.read_result(path)  # valid, whatever the moment of the kill
    assert stored.state == "partial"
    assert stored.processes_planned == 2 and stored.processes_finished == 1
    assert [len(row.processes) for row in stored.rows] == [1, 1]
    assert all("partial: timed in 1 of 2 planned processes" in row.notes for row in stored.rows)

    # Two resumes at once: the first holds the run's lock, the second stops with one line.
    first = start_fbench("run", "--resume", str(path), "--no-table")
    lock = results_dir / f".{path.name}.lock"
    with _watchdog(first):
        while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None, first.stderr.read()
        before = path.read_bytes()
        second = fbench("run", "--resume", str(path), "--no-table")
        assert second.returncode == 2, second.stderr
        assert second.stderr.strip() == (
            f"fbench run: error: {path}: another fbench run (pid {first.pid}) is writing this "
            "run; let it finish (or stop it) before resuming"
        )
        assert path.read_bytes() == before  # the second one wrote nothing
        _, stderr = first.communicate()
    assert first.returncode == 0, stderr
    _assert_completed_in_two_processes(path, stored)
    assert not lock.exists()


@pytest.mark.slow
def test_sigterm_keeps_finished_processes_a_second_signal_loses_nothing_and_resume_completes(
    tmp_path,
):
    parent, results_dir = start_run(tmp_path, TWO_PROCESSES)
    with _watchdog(parent):
        _wait_for(parent, "process 1/2 timed")
        workers = _workers(parent)
        parent.send_signal(signal.SIGTERM)  # what `timeout` and CI cancellation send
        parent.send_signal(signal.SIGINT)  # and an impatient Ctrl-C during the handling
        rest = parent.stderr.read()
        parent.wait()
    assert parent.returncode == EXIT_INTERRUPTED, rest
    assert "Traceback" not in rest and "2 of 2 rows kept" in rest
    _assert_all_gone(workers)
    (path,) = results_dir.glob("*.json")
    stored = results.read_result(path)
    assert stored.state == "interrupted" and stored.processes_finished == 1
    for row in stored.rows:
        assert len(row.processes) == 1
        assert "interrupted: timed in 1 of 2 planned processes" in row.notes

    resumed = _resume(path)
    assert resumed.returncode == 0, resumed.stderr
    _assert_completed_in_two_processes(path, stored)


# --- the pieces, without timing anything --------------------------------------------------


def _session() -> CpuSession:
    return CpuSession({**CPU_SETTINGS, "pin_core": "none"})


def test_a_stored_pooled_row_splits_back_into_its_processes_for_resume():
    settings = config_module.TimingConfig(processes=3)
    first = _worker_row([1.000 + i * 1e-4 for i in range(30)], rounds=3, probe=(0.17, 0.18))
    second = _worker_row([1.002 + i * 1e-4 for i in range(20)], rounds=2, settled=False)
    second = replace(second, telemetry={"before": {"t": 3}, "after": {"t": 4}})
    third = _worker_row([1.001 + i * 1e-4 for i in range(25)], rounds=2, probe=(0.2,))
    session = _session()
    stored = _pooled([first, second], settings, session, 3, "partial")
    assert "partial: timed in 2 of 3 planned processes" in stored.notes
    assert stored.processes[1]["warmup"]["settled"] is False
    assert stored.processes[1]["telemetry"] == {"before": {"t": 3}, "after": {"t": 4}}
    from_file = results.ResultRow.from_dict(json.loads(json.dumps(stored.to_dict())))
    rebuilt = worker_rows_of(from_file)
    assert [row.samples_ms for row in rebuilt] == [first.samples_ms, second.samples_ms]
    # Pooled again with the process --resume adds: as if all three had run in one go.
    assert _pooled([*rebuilt, third], settings, session, 3).to_dict() == (
        _pooled([first, second, third], settings, session, 3).to_dict()
    )
    assert processes_of(stored) == 2 and processes_of(first) == 1


def test_resume_times_rows_short_of_their_processes_and_missing_rows_not_failed_ones(tmp_path):
    config = _config(processes=2, operators=["conv", "dwconv", "pconv", "gconv"])
    conv, dwconv, pconv, _ = plan_rows(config)
    one_process = replace(
        conv.skeleton(status="disturbed", method="adaptive", samples_ms=[1.0] * 6),
        processes=[{"n": 6, "median_ms": 1.0}],
    )
    failed = dwconv.skeleton(status="failed", method="adaptive", error="RuntimeError: no")
    both = replace(
        pconv.skeleton(status="ok", method="adaptive", samples_ms=[1.0] * 12),
        processes=[{"n": 6}, {"n": 6}],
    )
    stored = results.RunResult(
        "r", "now", {}, config.to_dict(), [one_process, failed, both], rows_planned=4
    )
    plans, retimed = left_to_do(stored, config, tmp_path / "r.json")
    assert [plan.label for plan in plans] == ["conv 768×2×2", "gconv 768×2×2"]
    assert retimed == [one_process]
    stray = _config(processes=2, operators=["conv"])
    with pytest.raises(FbenchError, match="row dwconv 768×2×2 is not one its config plans"):
        left_to_do(stored, stray, tmp_path / "r.json")


def test_the_store_replaces_rows_by_key_and_honours_the_umask(fixture_path, tmp_path):
    run = results.read_result(fixture_path)
    path = tmp_path / "run.json"
    previous = os.umask(0o027)
    try:
        store = results.RunStore.create(path, replace(run, rows=[]))
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o640
    store.put_rows(run.rows[:2], state="partial", processes_finished=1)
    store.put_rows([replace(run.rows[0], notes=["again"])])
    store.close()
    again = results.read_result(path)
    assert [row.notes for row in again.rows] == [["again"], run.rows[1].notes]
    assert again.state == "partial" and again.processes_finished == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_a_held_lock_refuses_a_second_writer_until_released(fixture_path, tmp_path):
    path = tmp_path / "run.json"
    path.write_bytes(fixture_path.read_bytes())
    holder = results.RunLock(path)
    with pytest.raises(FbenchError, match=rf"another fbench run \(pid {os.getpid()}\)"):
        results.RunStore.open(path)
    holder.release()
    assert not (tmp_path / ".run.json.lock").exists()
    results.RunStore.open(path).close()


def test_a_write_that_fails_keeps_the_last_good_file(tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    results.write_atomic(path, {"rows": [1]})
    before = path.read_bytes()

    def full_disk(descriptor):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(results.StorageError, match=r"run.json: cannot write \(No space left"):
        results.write_atomic(path, {"rows": [1, 2]})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temp file left


@pytest.mark.slow
def test_a_disk_that_fills_mid_run_is_one_line_exit_4_and_a_valid_file(tmp_path):
    with tiny_tmpfs(tmp_path / "disk", "12k") as disk:
        result = fbench(
            "run", "--quick", "--operators", "dwconv", "--stages", "4", "--layers", "1",
            "--pin-core", "none", "--results-dir", str(disk), "--no-table",
        )  # fmt: skip
        (path,) = disk.glob("*.json")
        stored = results.read_result(path)  # the last good file
    assert result.returncode == EXIT_INCOMPLETE, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "cannot write (No space left on device)" in last and "--resume" in last
    assert stored.rows == [] and stored.state == "running"
    # The row it measured but could not store is shown, and the run is printed whole.
    assert "dwconv 768×2×2" in result.stderr
    printed = results.parse_result(json.loads(result.stdout), "stdout")
    assert [row.operator for row in printed.rows] == ["dwconv"] and printed.rows[0].samples_ms


@pytest.mark.slow
def test_sigterm_of_a_one_process_run_keeps_its_finished_rows(tmp_path):
    parent, results_dir = start_run(
        tmp_path,
        TWO_PROCESSES.replace("processes = 2", "processes = 1")
        .replace('["conv", "dwconv"]', '["conv", "dwconv", "pconv"]')
        .replace("max_row_s = 1.0", 'max_row_s = 1.0\nschedule = "sequential"'),
    )
    with _watchdog(parent):
        _wait_for(parent, "[ 1/3]")  # printed once the row is stored
        parent.send_signal(signal.SIGTERM)
        rest = parent.stderr.read()
        parent.wait()
    assert parent.returncode == EXIT_INTERRUPTED, rest
    assert "Traceback" not in rest and "rows kept" in rest and "--resume" in rest
    (path,) = results_dir.glob("*.json")
    stored = results.read_result(path)
    assert stored.state == "interrupted" and 1 <= len(stored.rows) <= 3
    assert stored.processes_planned is None and stored.rows[0].processes is None


def test_show_says_how_far_a_run_got_and_which_worker_died(tmp_path):
    data = json.loads((FIXTURES / "cpu_table1.json").read_text())
    data.update(
        state="incomplete",
        processes_planned=6,
        processes_finished=3,
        worker_failures=[
            {
                "process": 4,
                "label": "process 4/6",
                "exit_code": None,
                "signal": "SIGKILL",
                "last_activity": "sampling (round 7)",
                "rows_unfinished": ["conv 96×56×56"],
                "message": "killed",
                "at": "2026-11-30T01:00:00+00:00",
            }
        ],
    )
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data))
    shown = fbench("show", "--wide", str(path))  # the header's lines unwrapped
    assert shown.returncode == 0, shown.stderr
    assert f"at least 3 of 6 planned; finish with: fbench run --resume {data['run_id']}" in (
        shown.stdout
    )
    assert "worker process 4/6 died (SIGKILL) while sampling (round 7): killed" in shown.stdout
