"""Timing a run in several worker processes (bench/measure/processes.py), with real workers
and torch."""

from __future__ import annotations

import json
import math
import random
import signal
import time
from dataclasses import replace

import psutil
import pytest

from fbench.bench import config as config_module
from fbench.bench.errors import FbenchError
from fbench.bench.measure.entry import measure
from fbench.bench.measure.events import RoundFinished
from fbench.bench.measure.pooling import needs_another_process, pool_rows, worker_timing
from fbench.bench.measure.protocol import WorkerProcess, draw_hash_seed
from fbench.bench.plan.rows import plan_rows
from fbench.bench.results.status import DeviceProblem
from fbench.bench.stats.timing import between_processes_halfwidth, medians_spread, summarize
from fbench.devices.cpu import CPU_SETTINGS, CpuSession
from fbench.reports.table1.averages import counts_in_averages
from tests.conftest import assert_one_line_error, fbench, start_run


def _config(**overrides):
    values = {"stages": [4], "layers": 1, "quick": True, "pin_core": "none"} | overrides
    return config_module.load(None, config_module.Overrides(**values))


def _worker_row(samples_ms, rounds=2, settled=True, probe=(0.17, 0.18)):
    """A row as a worker stores it: a real plan's skeleton with these samples."""
    plan = plan_rows(_config(operators=["dwconv"]))[0]
    return plan.skeleton(
        status="ok",
        method="adaptive",
        samples_ms=list(samples_ms),
        latency_ms=summarize(samples_ms),
        rounds=rounds,
        sampled_s=0.1,
        warmup={"calls": 10, "seconds": 0.2, "settled": settled},
        host_probe={"workload": "gemm", "round_medians_ms": list(probe)},
        telemetry={"before": {"t": 1}, "after": {"t": 2}},
    )


def test_worker_timing_splits_the_budget_so_the_pool_meets_the_run_target():
    run = config_module.TimingConfig(processes=4)
    worker = worker_timing(run, 4)
    assert worker.processes == 1  # a worker never starts workers of its own
    assert worker.min_rounds == 2 and worker.min_samples == 6 and worker.max_row_s == 1.5
    assert worker.warmup_min_s == run.warmup_min_s / 4
    assert worker.warmup_max_s == run.warmup_max_s  # a slow-settling row still gets its time
    assert worker.ci_target == run.ci_target  # each process meets the run's target itself
    assert worker_timing(replace(run, processes=1), 1) == replace(run, processes=1)


def test_pooled_row_holds_every_sample_and_each_process_median():
    # Processes that agree: the pooled calls' summary, centred on the process medians'
    # geometric mean, with the calls' interval (the wider one here) around it.
    first = _worker_row([1.000 + i * 1e-4 for i in range(60)], rounds=4, probe=(0.17, 0.18))
    second = _worker_row([1.001 + i * 1e-4 for i in range(40)], rounds=4, probe=(0.19,))
    pooled = pool_rows([first, second], config_module.TimingConfig(processes=2))
    assert pooled.samples_ms == first.samples_ms + second.samples_ms
    calls = summarize(first.samples_ms + second.samples_ms)
    centre = (first.latency_ms.median * second.latency_ms.median) ** 0.5
    assert pooled.latency_ms.median == pytest.approx(centre)
    assert pooled.latency_ms.ci95_high / centre == pytest.approx(1 + calls.ci95_halfwidth_rel)
    assert (pooled.latency_ms.n, pooled.latency_ms.iqr) == (calls.n, calls.iqr)
    assert pooled.status == "ok" and pooled.notes == []
    assert [p["median_ms"] for p in pooled.processes] == [
        first.latency_ms.median,
        second.latency_ms.median,
    ]
    assert [p["n"] for p in pooled.processes] == [60, 40]
    assert pooled.rounds == 8 and pooled.sampled_s == pytest.approx(0.2)
    assert pooled.gflops_per_s == pytest.approx(pooled.flops / (pooled.latency_ms.median * 1e6))
    assert pooled.host_probe["round_medians_ms"] == [0.17, 0.18, 0.19]
    assert pooled.warmup == {"calls": 20, "seconds": 0.4, "settled": True}
    assert medians_spread(pooled.process_medians_ms) == pytest.approx(
        second.latency_ms.median / first.latency_ms.median - 1
    )


def test_the_pooled_interval_counts_the_process_not_the_call_as_the_unit():
    # Six processes, each tight (±0.1%), their medians 0–10% apart: 600 pooled calls alone
    # would claim about ±1%, but another six processes could land anywhere in that range.
    rows = [_worker_row([1.0 + k * 0.02 + i * 1e-5 for i in range(100)], 4) for k in range(6)]
    pooled = pool_rows(rows, config_module.TimingConfig(processes=6))
    calls_only = summarize(pooled.samples_ms).ci95_halfwidth_rel
    process_medians = [row.latency_ms.median for row in rows]
    expected = between_processes_halfwidth(process_medians)
    assert expected > 2 * calls_only
    assert pooled.latency_ms.ci95_halfwidth_rel == pytest.approx(expected)
    # The interval's centre is the estimate: the geometric mean of the process medians.
    centre = math.exp(sum(math.log(m) for m in process_medians) / 6)
    assert pooled.latency_ms.median == pytest.approx(centre)
    assert pooled.latency_ms.ci95_low == pytest.approx(centre / (1 + expected))
    assert pooled.status == "imprecise"
    assert pooled.reasons == ["interval_wide", "processes_differ"]
    assert pooled.notes[1].startswith("the interval is the processes': their 6 medians differ by")
    assert pooled.why == "; ".join(pooled.notes[:2])
    # The same calls from processes that agree: the calls' own interval stands, and it is ok.
    agreeing = [_worker_row([1.0 + i * 1e-5 + k * 1e-6 for i in range(100)], 4) for k in range(6)]
    pooled = pool_rows(agreeing, config_module.TimingConfig(processes=6))
    assert pooled.status == "ok"
    calls = summarize(pooled.samples_ms)
    assert pooled.latency_ms.ci95_halfwidth_rel == pytest.approx(calls.ci95_halfwidth_rel)


def test_the_pooled_probe_comes_from_the_processes_that_probed():
    unprobed = replace(_worker_row([1.0 + i * 1e-4 for i in range(50)], 4), host_probe=None)
    probed = _worker_row([1.0 + i * 1e-4 for i in range(50)], 4, probe=(0.19, 0.2))
    pooled = pool_rows([unprobed, probed], config_module.TimingConfig(processes=2))
    assert pooled.host_probe == {"workload": "gemm", "round_medians_ms": [0.19, 0.2]}


def test_a_host_shift_within_a_process_disturbs_a_row_but_spikes_and_processes_do_not():
    settings = config_module.TimingConfig(processes=2, min_samples=6, min_rounds=2)
    samples = [1.0, 1.001, 0.999, 1.0, 1.002, 0.998, 1.0, 1.001]
    steady = [0.170, 0.171, 0.169, 0.170, 0.172, 0.170, 0.171, 0.170] * 2
    spiky = list(steady)
    spiky[3], spiky[11] = 0.204, 0.187  # two single-round spikes, +20% and +10%
    calm = pool_rows(
        [_worker_row(samples, probe=steady), _worker_row(samples, probe=spiky)], settings
    )
    assert "host_moved" not in calm.reasons and calm.status == "ok"
    assert calm.host_probe["drift"]["median_shift_bound"] < 0.02
    # A second process on a host 25% slower throughout: the processes differ (their layout
    # or the host between them, which the processes' interval weighs), not a moved host.
    slowed = [value * 1.25 for value in steady]
    between = pool_rows(
        [_worker_row(samples, probe=steady), _worker_row(samples, probe=slowed)], settings
    )
    assert "host_moved" not in between.reasons
    # Within the second process the host slowed by 25% halfway and stayed slow: the row's
    # median mixes two speeds and may have moved by as much.
    stepped = steady[:8] + slowed[8:]
    moved = pool_rows(
        [_worker_row(samples, probe=steady), _worker_row(samples, probe=stepped)], settings
    )
    assert moved.status == "disturbed" and "host_moved" in moved.reasons
    assert moved.host_probe["drift"]["median_shift_bound"] > 0.2
    assert "in process 2 of 2" in moved.why and "host_moved_above = 0.1" in moved.why
    # Too few rounds in each process to tell a shift from a spike: no verdict.
    few = pool_rows(
        [_worker_row(samples, probe=steady[:4]), _worker_row(samples, probe=stepped[6:10])],
        settings,
    )
    assert "host_moved" not in few.reasons and "drift" not in few.host_probe


def test_processes_that_disagree_leave_the_pooled_row_imprecise_not_ok():
    # Each process alone is tight; together they say the row's speed depends on the process.
    fast = _worker_row([1.00 + i * 1e-5 for i in range(50)])
    slow = _worker_row([1.20 + i * 1e-5 for i in range(50)])
    assert fast.latency_ms.ci95_halfwidth_rel < 0.01
    pooled = pool_rows([fast, slow], config_module.TimingConfig(processes=2))
    assert pooled.status == "imprecise" and counts_in_averages(pooled)
    assert pooled.notes[0].startswith("95% CI of the median is")
    assert medians_spread(pooled.process_medians_ms) == pytest.approx(0.2, rel=1e-3)


def test_rows_short_of_their_target_get_another_process_while_under_their_cap():
    run = config_module.TimingConfig(processes=2)  # max_row_s 6 s
    noisy = _worker_row([1.0 + (i % 10) * 0.01 for i in range(20)], rounds=4)  # calls: ±3%
    assert needs_another_process([noisy, noisy], run)  # more calls will narrow it
    tight = _worker_row([1.00 + i * 1e-5 for i in range(50)], rounds=4)
    assert not needs_another_process([tight, tight], run)  # agree: the target is met
    spent = [replace(row, sampled_s=3.0) for row in (noisy, noisy)]
    assert not needs_another_process(spent, run)  # the cap is used up: stays imprecise


def test_processes_that_disagree_get_no_more_processes():
    # Six tight processes 0–20% apart: more calls cannot help, and more processes did not
    # (README); the row stays imprecise with its honest interval.
    rows = [_worker_row([1.0 + k * 0.04 + i * 1e-5 for i in range(50)], 4) for k in range(6)]
    assert not needs_another_process(rows, config_module.TimingConfig(processes=6))
    assert pool_rows(rows, config_module.TimingConfig(processes=6)).status == "imprecise"


def test_device_problems_and_unsettled_warm_ups_are_kept_in_the_pooled_row():
    rows = [_worker_row([1.0 + i * 1e-5 for i in range(50)], 4, s) for s in (True, False)]
    throttled = DeviceProblem("process 2: throttled", "throttled")
    pooled = pool_rows(rows, config_module.TimingConfig(processes=2), [throttled])
    assert pooled.status == "disturbed"
    assert pooled.reasons == ["throttled", "warmup_unsettled"]
    assert pooled.notes[0] == pooled.why == "process 2: throttled"
    assert "process(es) 2 of 2" in pooled.notes[1] and pooled.warmup["settled"] is False
    # Kept apart too, so Table 1 leaves this doubtful value out of its averages.
    assert pooled.device_problems == ["process 2: throttled"]
    assert not counts_in_averages(pooled)
    # A device that gives a plain sentence: its problem is still a disturbance.
    plain = pool_rows(rows[:1], config_module.TimingConfig(processes=2), ["hot"])
    assert plain.status == "disturbed" and plain.reasons[0] == "device_problem"
    # A warm-up capped too short to settle (--quick: 0.1 s) keeps its note, not a status.
    short = pool_rows(rows, config_module.TimingConfig(processes=2, warmup_max_s=0.1))
    assert short.status == "ok" and "process(es) 2 of 2" in short.notes[-1]
    stopped = pool_rows(rows[:1], config_module.TimingConfig(processes=2), [], "interrupted")
    assert stopped.status == "disturbed" and stopped.reasons[0] == "interrupted"


def test_the_official_method_stays_in_one_process():
    session = CpuSession({**CPU_SETTINGS, "pin_core": "none"})
    config = _config(method="official", operators=["pconv"])
    config = replace(config, timing=replace(config.timing, processes=3))  # as bench.toml's
    rows = list(measure(plan_rows(config), config, session, lambda event: None))
    # Measured (its status is the host's business), and in this one process.
    assert [row.status != "failed" for row in rows] == [True] and rows[0].processes is None
    with pytest.raises(FbenchError, match="official method times every row in one process"):
        _config(method="official", processes=3)  # asked for both on the command line


@pytest.mark.slow
def test_a_worker_that_fails_is_one_line_naming_the_process():
    config = _config(processes=2)
    config = replace(config, timing=worker_timing(config.timing, 2))
    request = {"config": config.to_dict(), "rows": [999], "order_seed": 1, "cache_dir": None}
    with pytest.raises(FbenchError, match=r"^process 1/2: the parent asked for a row"):
        list(WorkerProcess().run(request, "process 1/2", lambda event: None, None))


@pytest.mark.slow
def test_the_next_worker_has_imported_before_this_one_samples():
    # Its imports overlap this worker's build and warm-up only, never a timed round.
    config = _config(processes=2, operators=["dwconv"])
    config = replace(config, timing=worker_timing(config.timing, 2))  # as the parent sends it
    request = {"config": config.to_dict(), "rows": [0], "order_seed": 1, "cache_dir": None}
    started: list[WorkerProcess] = []
    next_ready_at_each_round = []

    def start_next():
        started.append(WorkerProcess())
        return started[-1]

    def emit(event):
        if isinstance(event, RoundFinished):
            next_ready_at_each_round.append(started[0].ready)

    try:
        rows = list(WorkerProcess().run(request, "process 1/2", emit, start_next))
    finally:
        for worker in started:
            worker.stop()
    # Measured; whether ok, imprecise or disturbed is the host's business, not this test's.
    assert len(rows) == 1 and rows[0].status != "failed" and rows[0].samples_ms
    assert len(started) == 1 and next_ready_at_each_round
    assert all(next_ready_at_each_round)


@pytest.mark.slow
def test_a_worker_started_ahead_and_not_needed_exits_quietly():
    worker = WorkerProcess()
    worker.wait_until_ready()
    assert worker.ready
    worker._process.stdin.close()  # what the parent's end of input means: not needed
    assert worker._process.wait(timeout=60) == 0
    worker.stop()


def test_a_worker_started_ahead_that_cannot_import_says_why(tmp_path, monkeypatch):
    # Its error arrives while the parent waits for it to be ready; it must still be the
    # one line the user sees when that worker is given work, not "no message".
    (tmp_path / "torch.py").write_text("raise ImportError('this torch is broken')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    worker = WorkerProcess()
    worker.wait_until_ready()
    assert not worker.ready
    config = _config(processes=2)
    config = replace(config, timing=worker_timing(config.timing, 2))
    request = {"config": config.to_dict(), "rows": [0], "order_seed": 1, "cache_dir": None}
    with pytest.raises(FbenchError, match=r"^process 2/2: ImportError: this torch is broken$"):
        list(worker.run(request, "process 2/2", lambda event: None, None))


def test_stopping_a_worker_that_exited_before_reading_its_request_is_quiet(tmp_path, monkeypatch):
    # The request it never read stays in the pipe's buffer; stop() must not turn the
    # worker's one-line error into a BrokenPipeError traceback (seen once in .ci/run).
    (tmp_path / "torch.py").write_text("raise ImportError('this torch is broken')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    worker = WorkerProcess()
    assert worker._process.wait(timeout=60) == 2
    worker._say('{"rows": [0]}')  # fits the buffer; its flush meets the closed pipe
    worker.stop()
    assert worker._process.stdin.closed and worker._process.stdout.closed


@pytest.mark.slow
def test_each_worker_runs_with_the_hash_seed_the_parent_drew(monkeypatch):
    # Even when the environment fixes one seed for everything (as tox or CI scripts do).
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    workers = [WorkerProcess() for _ in range(2)]
    try:
        seen = []
        for worker in workers:
            worker.wait_until_ready()  # past interpreter start-up: its environment is final
            environ = psutil.Process(worker._process.pid).environ()
            seen.append(environ["PYTHONHASHSEED"])
        assert seen == [str(worker.hash_seed) for worker in workers]
        assert len(set(seen)) == 2 and "0" not in seen
    finally:
        for worker in workers:
            worker.stop()


def test_hash_seeds_are_fresh_32_bit_values_from_the_os(monkeypatch):
    # Fresh: every draw reads new bytes from os.urandom (random.SystemRandom reads them
    # through random._urandom), so neither PYTHONHASHSEED nor random.seed() can repeat a
    # seed. Fed known bytes, the draws are exactly those bytes + 1, over the whole range
    # 1..2**32-1; a block that would give 2**32 is drawn again, not wrapped to a fixed seed.
    # Distinctness of real draws is not asserted: 1000 of them collide about 1 run in 8,600.
    blocks = iter([b"\x00\x00\x00\x00", b"\xff\xff\xff\xfe", b"\xff\xff\xff\xff",
                   b"\x12\x34\x56\x78"])  # fmt: skip
    requested = []

    def urandom(size: int) -> bytes:
        requested.append(size)
        return next(blocks)

    monkeypatch.setattr(random, "_urandom", urandom)
    assert [draw_hash_seed() for _ in range(3)] == [1, 2**32 - 1, 0x12345679]
    assert requested == [4, 4, 4, 4]  # 32 bits each, and one block refused


def test_real_hash_seeds_are_32_bit_values_that_vary():
    seeds = [draw_hash_seed() for _ in range(1000)]
    assert all(1 <= seed < 2**32 for seed in seeds)
    # Not one fixed or reused seed: one collision among 1000 real draws happens about once
    # in 8,600 runs, a hundred (below 1e-300) never; a fixed seed gives 999 every time.
    assert len(set(seeds)) > 900


@pytest.mark.slow
def test_a_run_in_two_processes_end_to_end(tmp_path):
    result = fbench(
        "run", "--quick", "--processes", "2", "--operators", "dwconv,pconv", "--stages", "1",
        "--pin-core", "none", "--results-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "process 1/2 timed 2 row(s)" in result.stderr
    assert "process 2/2 timed 2 row(s)" in result.stderr
    extra = result.stderr.count("extra process")  # rows short of ±5% get up to 2 more
    assert "pooled over 2 processes" in result.stdout
    assert "per-process medians differ by" in result.stdout
    (path,) = tmp_path.glob("*.json")
    stored = json.loads(path.read_text())
    assert stored["state"] == "complete" and stored["config"]["timing"]["processes"] == 2
    assert [row["operator"] for row in stored["rows"]] == ["dwconv", "pconv"]
    for row in stored["rows"]:
        assert row["status"] in ("ok", "imprecise", "disturbed")
        processes = row["processes"]
        assert 2 <= len(processes) <= 2 + extra
        assert row["latency_ms"]["n"] == len(row["samples_ms"]) == sum(p["n"] for p in processes)
        # Two processes time the row separately: their samples are not one list twice.
        first_n = processes[0]["n"]
        assert row["samples_ms"][:first_n] != row["samples_ms"][first_n:][:first_n]
        assert row["flops_fvcore"] == row["flops"]
        # Each process says which layout draw it was: its own hash seed.
        seeds = [p["hash_seed"] for p in processes]
        assert all(isinstance(seed, int) for seed in seeds) and len(set(seeds)) == len(seeds)
    assert stored["environment"]["aslr"] in ("off", "conservative", "full", None)


def test_bad_processes_values_are_one_line_errors(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[timing]\nprocesses = 0\n")
    assert_one_line_error(fbench("run", "--config", str(config)), "processes must be at least 1")
    bad_flag = fbench("run", "--processes", "0")
    assert bad_flag.returncode == 2 and "--processes" in bad_flag.stderr
    assert "Traceback" not in bad_flag.stderr


def test_quick_runs_use_one_process_unless_asked_and_old_results_were_one_process():
    assert _config().timing.processes == 1
    assert _config(processes=3).timing.processes == 3
    stored = _config(processes=3).to_dict()
    del stored["timing"]["processes"]  # a result file written before the key existed
    assert config_module.RunConfig.from_dict(stored).timing.processes == 1


SLOW_CONFIG = """\
[experiment]
operators = ["conv", "dwconv"]
layers = 2
[[stages]]
channels = 32
height = 16
width = 16
[timing]
processes = 2
ci_target = 0.0001
min_samples = 6
min_rounds = 1
round_s = 0.05
max_row_s = 2.0
warmup_min_s = 0.0
warmup_max_s = 0.05
[devices.cpu]
pin_core = "none"
"""


@pytest.mark.slow
def test_ctrl_c_stops_the_worker_and_resume_times_the_rows_in_processes(tmp_path):
    parent, results_dir = start_run(tmp_path, SLOW_CONFIG)
    deadline = time.monotonic() + 120
    workers: list[psutil.Process] = []
    while not workers and time.monotonic() < deadline:  # wait until process 1 is sampling
        assert parent.poll() is None, parent.communicate()
        workers = psutil.Process(parent.pid).children()
        time.sleep(0.2)
    time.sleep(3.0)
    parent.send_signal(signal.SIGINT)  # the parent only, as `kill -INT` would
    _, stderr = parent.communicate(timeout=60)
    assert parent.returncode == 130, stderr
    assert "Traceback" not in stderr and "0 of 2 rows kept" in stderr
    time.sleep(0.5)
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    (path,) = results_dir.glob("*.json")
    assert json.loads(path.read_text())["state"] == "interrupted"

    # --resume keeps the stored config, processes included (the rows' unreachable target
    # leaves them imprecise: what is checked here is that both processes timed them).
    resumed = fbench("run", "--resume", path.stem, "--results-dir", str(results_dir), timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(path.read_text())
    assert final["state"] == "complete" and len(final["rows"]) == 2
    assert all(len(row["processes"]) == 2 for row in final["rows"])


@pytest.mark.slow
def test_ctrl_c_after_a_finished_process_keeps_its_rows_as_disturbed(tmp_path):
    parent, results_dir = start_run(tmp_path, SLOW_CONFIG)
    for line in parent.stderr:  # progress lines, one per finished process
        if "process 1/2 timed" in line:
            break
    parent.send_signal(signal.SIGINT)
    rest = parent.stderr.read()
    parent.wait(timeout=60)
    assert parent.returncode == 130, rest
    assert "Traceback" not in rest and "2 of 2 rows kept" in rest
    (path,) = results_dir.glob("*.json")
    stored = json.loads(path.read_text())
    assert stored["state"] == "interrupted"
    for row in stored["rows"]:
        assert row["status"] == "disturbed" and len(row["processes"]) == 1
        assert row["reasons"][0] == "interrupted"
        assert "interrupted: timed in 1 of 2 planned processes" in row["notes"]
