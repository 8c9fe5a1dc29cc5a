"""Timing a run in several worker processes, one after another, and pooling their samples.

Why: a row's median moves from one fresh process to the next by more than its own interval
says. What decides it is the process's memory layout, drawn at start-up from address-space
randomisation and from the hash seed (which orders Python's own allocations); it is fixed
for the life of a process, so sampling one process longer cannot average it out
(docs/methodology.md, "Processes and memory layout", has the measurements and
`benchmarks/layout.py` reproduces them). pyperf meets the same effect the same way: spread
the samples over several processes. Each worker gets a fresh hash seed of its own
(`draw_hash_seed`, stored per process), so an environment that fixes PYTHONHASHSEED does not
make the draws less independent than the interval assumes.

How: the parent runs `processes` workers (`python -m bench.measure.worker`) one after another, never
timing at the same time (they would share cores and caches). The one thing that overlaps is
start-up: the next worker imports torch on the other cores while the current one builds
and warms up, and the current one starts sampling only once those imports are done
(bench/measure/worker.py), which takes most of a torch import off every process after the first.
Each worker builds, checks and
warms every row itself and samples all rows in interleaved rounds, like a single-process
run, with 1/processes of the budget (`worker_timing`). The parent pools every row's samples
and judges the pooled row against the run's own targets (`pool_rows`); its interval is the
wider of the pooled calls' and the one from the process medians, since the calls of one
process share its luck. Rows still short of the target whose processes agree (their calls
fall short), with sampling time left, get up to as many extra workers. A row that fails in
a worker is stored as failed at once and not retried.

Nothing finished is lost (docs/crash-safety.md): after every worker the run's file gets the
pooled rows of all processes so far (`Checkpoint`: state `partial`), so killing the parent
at any moment leaves every finished process. A worker that dies (a signal, a non-zero exit)
is recorded (`worker_failure`) and the run goes on with the next; its rows end short of a
process. On Ctrl-C or SIGTERM the rows that at least one worker finished are stored. Rows
timed in fewer processes than planned are `disturbed` (reason `interrupted`), with a note
saying in how many, and `--resume` gives them the missing processes: each process's samples,
warm-up, telemetry and probe are kept in the row's `processes` entries, from which
`worker_rows_of` rebuilds the per-process rows to pool them again.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.config import RunConfig, TimingConfig
from bench.errors import FbenchError
from bench.measure import host_probe
from bench.measure.runner import (
    Emit,
    Phase,
    ProcessFinished,
    RoundFinished,
    has_converged,
    interval_note,
    plan_rows,
)
from bench.results import ResultRow, now_iso
from bench.results import status as row_status
from bench.stats import timing

WORKER_MODULE = "bench.measure.worker"


def worker_timing(settings: TimingConfig, processes: int) -> TimingConfig:
    """One worker's share of the budget: rounds, samples, the per-row cap and the minimum
    warm-up split evenly.

    The interval target is not split: every worker times each row to the run's own target,
    so the pooled interval meets it too unless the processes disagree, which it then shows.
    (Widening a worker's target by √processes, as if the processes agreed, left most
    pooled rows just over the target: docs/methodology.md, "One process against several".)
    """
    return replace(
        settings,
        processes=1,
        min_samples=max(timing.MIN_SAMPLES_FOR_CI, math.ceil(settings.min_samples / processes)),
        min_rounds=max(1, math.ceil(settings.min_rounds / processes)),
        max_row_s=settings.max_row_s / processes,
        # Warm-up gets a process past its first-call costs (allocations, kernel choice),
        # and the runner's untimed first round puts each row in the state it is sampled in;
        # the full minimum in every process made warm-up a large part of the sweep, and
        # 1/processes of it (the settling test unchanged) left the first calls of each
        # process as close to its median as the full warm-up did (docs/methodology.md).
        warmup_min_s=settings.warmup_min_s / processes,
    )


@dataclass(frozen=True)
class _Pooled:
    """What the processes measured of one row, together."""

    samples_ms: list[float]
    summary: timing.LatencySummary  # its interval counts the process as the unit
    process_medians_ms: list[float]
    calls_halfwidth: float | None  # the interval of the pooled calls alone (relative)
    processes_halfwidth: float | None  # the interval from the process medians (relative)
    rounds: int
    sampled_s: float

    @classmethod
    def of(cls, worker_rows: Sequence[ResultRow]) -> _Pooled:
        """The pooled calls' median, with an interval that is the wider of the calls' own
        and the one from the process medians (`timing.between_processes_halfwidth`)."""
        samples_ms = [sample for row in worker_rows for sample in row.samples_ms]
        summary = timing.summarize(samples_ms)
        calls_halfwidth = summary.ci95_halfwidth_rel
        medians = [row.latency_ms.median for row in worker_rows if row.latency_ms]
        processes_halfwidth = timing.between_processes_halfwidth(medians)
        if processes_halfwidth is not None:
            summary = timing.widened(summary, processes_halfwidth)
        return cls(
            samples_ms,
            summary,
            medians,
            calls_halfwidth,
            processes_halfwidth,
            sum(row.rounds for row in worker_rows),
            sum(row.sampled_s or 0.0 for row in worker_rows),
        )

    def converged(self, settings: TimingConfig) -> bool:
        return has_converged(self.summary, self.rounds, settings)


def pool_rows(
    worker_rows: Sequence[ResultRow],
    settings: TimingConfig,
    problems: Sequence[str] = (),
    interrupted: str | None = None,
) -> ResultRow:
    """One row from the same row timed in several processes (none of them `failed`).

    The samples are pooled and summarised as in one process; the row is `ok` when the pooled
    median's interval meets the run's target after the run's samples and rounds, `imprecise`
    when it does not (reason `interval_wide`, plus `processes_differ` when the processes'
    medians, not the calls, make it wide), and `disturbed` when the device reported
    `problems` (throttling...: bench.results.status.DeviceProblem carries the code), a process's
    warm-up never settled, or the run was `interrupted` (that sentence) before every planned
    process timed it. Each process's median, n, rounds and sampling time are kept in
    `processes`.
    """
    if not worker_rows:
        raise ValueError("pool_rows needs at least one worker row")
    first, last = worker_rows[0], worker_rows[-1]
    pooled = _Pooled.of(worker_rows)
    summary = pooled.summary
    causes = [(row_status.INTERRUPTED, interrupted)] if interrupted else []
    causes += [(row_status.problem_code(problem), str(problem)) for problem in problems]
    interval: list[str] = []
    interval_reasons: list[str] = []
    if not pooled.converged(settings):
        interval.append(interval_note(summary, pooled.sampled_s, pooled.rounds, settings))
        interval_reasons.append(row_status.INTERVAL_WIDE)
        if (pooled.processes_halfwidth or 0.0) > (pooled.calls_halfwidth or 0.0):
            medians = pooled.process_medians_ms
            interval.append(
                f"the interval is the processes': their {len(medians)} medians differ by "
                f"{timing.medians_spread(medians):.1%} (the pooled calls alone: "
                f"±{pooled.calls_halfwidth or 0.0:.1%})"
            )
            interval_reasons.append(row_status.PROCESSES_DIFFER)
    unsettled = [i for i, row in enumerate(worker_rows, 1) if row.warmup.get("settled") is False]
    unsettled_note = (
        f"warm-up did not settle within {settings.warmup_max_s:g} s in process(es) "
        f"{', '.join(map(str, unsettled))} of {len(worker_rows)}"
    )
    if unsettled and row_status.unsettled_disturbs(settings.warmup_max_s):
        causes.append((row_status.WARMUP_UNSETTLED, unsettled_note))
    probe = host_probe.pool([row.host_probe for row in worker_rows])
    probe_rounds = (probe or {}).get("round_medians_ms") or []
    moved = host_probe.moved_words(probe_rounds, settings.host_moved_above)
    if moved:
        causes.append((row_status.HOST_MOVED, moved))
    reasons = row_status.unique([code for code, _ in causes] + interval_reasons)
    notes = [*interval, *(text for _, text in causes)]
    if unsettled and not row_status.unsettled_disturbs(settings.warmup_max_s):
        notes.append(unsettled_note)
    return replace(
        first,
        status=row_status.status_of(reasons),
        reasons=reasons,
        why=row_status.sentence([text for _, text in causes], interval),
        notes=notes,
        device_problems=[str(problem) for problem in problems],
        latency_ms=summary,
        latency_estimator="median",
        samples_ms=pooled.samples_ms,
        throughput_per_s=timing.throughput_per_s(summary.median, first.batch),
        gflops_per_s=timing.gflops_per_s(first.flops, first.batch, summary.median),
        rounds=pooled.rounds,
        sampled_s=round(pooled.sampled_s, 4),
        processes=[
            {
                "median_ms": row.latency_ms.median if row.latency_ms else None,
                "n": len(row.samples_ms),
                "rounds": row.rounds,
                "sampled_s": row.sampled_s,
                "hash_seed": (row.processes or [{}])[0].get("hash_seed"),
            }
            for row in worker_rows
        ],
        warmup={
            "calls": sum(row.warmup.get("calls", 0) for row in worker_rows),
            "seconds": round(sum(row.warmup.get("seconds", 0.0) for row in worker_rows), 4),
            "settled": not unsettled,
        },
        telemetry={"before": first.telemetry.get("before"), "after": last.telemetry.get("after")},
        # The processes' probe rounds together, and a failure with its process number.
        host_probe=probe,
        started=first.started,
        finished=last.finished,
    )


def needs_another_process(worker_rows: Sequence[ResultRow], settings: TimingConfig) -> bool:
    """The pooled row misses the run's target, has sampling time left under its cap, and it
    is the calls, not the processes, that fall short: their medians agree within the target.

    Why not also when the processes disagree: giving such rows more processes made sweeps
    markedly longer, and back-to-back sweeps agreed no better; the rows stayed `imprecise`
    (docs/methodology.md, "One process against several").
    """
    if not any(row.samples_ms for row in worker_rows):
        return False
    pooled = _Pooled.of(worker_rows)
    if pooled.converged(settings) or pooled.sampled_s >= settings.max_row_s:
        return False
    return pooled.processes_halfwidth is None or pooled.processes_halfwidth <= settings.ci_target


@dataclass(frozen=True)
class Checkpoint:
    """What the run's file should hold now: the pooled rows of every process so far."""

    rows: list[ResultRow]
    processes_finished: int  # how many of the planned processes every row has had
    processes_planned: int
    failure: dict[str, Any] | None = None  # a worker that has just died (WorkerFailure)


class WorkerDied(FbenchError):
    """A worker process that ended without finishing its rows: killed by a signal, a
    non-zero exit, or an error it reported."""

    def __init__(
        self, message: str, exit_code: int | None, signal_name: str | None, activity: str
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.signal_name = signal_name
        self.activity = activity


def worker_failure(
    error: WorkerDied, number: int, label: str, unfinished: Sequence[str]
) -> dict[str, Any]:
    """The run record's entry for a worker that died (`RunResult.worker_failures`)."""
    return {
        "process": number,
        "label": label,
        "exit_code": error.exit_code,
        "signal": error.signal_name,
        "last_activity": error.activity,
        "rows_unfinished": list(unfinished),
        "message": str(error),
        "at": now_iso(),
    }


def processes_of(row: ResultRow) -> int:
    """How many worker processes timed a stored row (1 for a one-process row)."""
    return len(row.processes) if row.processes else 1


def worker_rows_of(row: ResultRow) -> list[ResultRow]:
    """The per-process rows a stored pooled row was made of, rebuilt from its `processes`
    entries (their samples are consecutive in `samples_ms`), so that `--resume` can pool
    them again with the processes still to come."""
    rebuilt, start = [], 0
    workload = (row.host_probe or {}).get("workload")
    for entry in row.processes or ():
        samples = row.samples_ms[start : start + int(entry.get("n") or 0)]
        start += len(samples)
        if not samples:
            continue
        probe_ms = entry.get("host_probe_ms")
        rebuilt.append(
            replace(
                row,
                status="ok",
                notes=[],
                samples_ms=samples,
                latency_ms=timing.summarize(samples),
                rounds=int(entry.get("rounds") or 0),
                sampled_s=entry.get("sampled_s"),
                warmup=dict(entry.get("warmup") or {}),
                telemetry=dict(entry.get("telemetry") or {}),
                host_probe={"workload": workload, "round_medians_ms": probe_ms}
                if probe_ms
                else None,
                processes=[{"hash_seed": entry.get("hash_seed")}],
            )
        )
    return rebuilt


def measure_in_processes(
    plans: Sequence[Any],
    config: RunConfig,
    session: Any,
    emit: Emit,
    finished: Callable[[ResultRow], ResultRow],
    cache_dir: Path | None,
    checkpoint: Callable[[Checkpoint], None] | None = None,
    stored: Sequence[ResultRow] = (),
) -> Iterator[ResultRow]:
    """Time `plans` in `config.timing.processes` workers in turn; yield each pooled row.

    Then, like a single process that keeps sampling a row until its interval is narrow
    enough, up to as many extra workers time only the rows that `needs_another_process`
    picks: short of the target, under `max_row_s`, and with processes that agree.

    After every worker, `checkpoint` gets the pooled rows of the processes so far, so the
    file never holds less than every finished process. A worker that dies is recorded
    and the run goes on; its rows end short of the planned processes (`--resume` adds
    them). `stored`: rows of an earlier attempt of these plans (`--resume`), whose
    processes count towards the planned ones.
    """
    settings = config.timing
    count = settings.processes
    earlier = {row.key(): row for row in stored}
    gathered: dict[tuple, list[ResultRow]] = {
        plan.key(): worker_rows_of(earlier[plan.key()]) if plan.key() in earlier else []
        for plan in plans
    }

    def pooled_rows(reason: str) -> list[ResultRow]:
        return [
            _pooled(gathered[plan.key()], settings, session, count, reason)
            for plan in plans
            if gathered.get(plan.key())
        ]

    def save(reason: str, failure: dict[str, Any] | None = None) -> None:
        if checkpoint is not None:
            done = min((len(rows) for rows in gathered.values()), default=count)
            checkpoint(Checkpoint(pooled_rows(reason), min(done, count), count, failure))

    try:
        yield from _time_in_workers(plans, config, emit, finished, cache_dir, gathered, save)
    except KeyboardInterrupt:
        # Keep what the finished processes measured (Ctrl-C keeps finished work), marked
        # disturbed: a row timed in fewer processes than planned is not the planned method.
        save("interrupted")
        raise
    for row in pooled_rows("incomplete"):
        yield finished(row)


def _pooled(
    worker_rows: Sequence[ResultRow],
    settings: TimingConfig,
    session: Any,
    planned: int = 0,
    reason: str = "interrupted",
) -> ResultRow:
    """`pool_rows` with the device's verdict on each process's telemetry, and, for a row
    timed in fewer than the `planned` processes, a note saying so and why (`reason`).
    Each process's warm-up, telemetry and probe are kept in its `processes` entry, so that
    `--resume` can pool the row again with more processes (`worker_rows_of`)."""
    problems = [
        row_status.DeviceProblem(str(problem), row_status.problem_code(problem)).prefixed(
            f"process {number}: "
        )
        for number, row in enumerate(worker_rows, 1)
        for problem in session.problems(
            row.telemetry.get("before") or {}, row.telemetry.get("after") or {}
        )
    ]
    stopped = None
    if planned and len(worker_rows) < planned:
        stopped = f"{reason}: timed in {len(worker_rows)} of {planned} planned processes"
    pooled = pool_rows(worker_rows, settings, problems, stopped)
    entries = [
        {**entry, **_process_details(row)}
        for entry, row in zip(pooled.processes or (), worker_rows, strict=True)
    ]
    return replace(pooled, processes=entries)


def _process_details(row: ResultRow) -> dict[str, Any]:
    telemetry = row.telemetry or {}
    return {
        "warmup": dict(row.warmup),
        "telemetry": {"before": telemetry.get("before"), "after": telemetry.get("after")},
        "host_probe_ms": list((row.host_probe or {}).get("round_medians_ms") or []) or None,
    }


def _time_in_workers(
    plans: Sequence[Any],
    config: RunConfig,
    emit: Emit,
    finished: Callable[[ResultRow], ResultRow],
    cache_dir: Path | None,
    gathered: dict[tuple, list[ResultRow]],
    save: Callable[..., None],
) -> Iterator[ResultRow]:
    """The workers, in turn; each row they time goes into `gathered`, failed rows out.

    The planned phase gives each row the processes it lacks (all of them in a fresh run),
    one worker per missing process; a worker that dies costs its turn. Then up to as many
    extra workers for the rows `needs_another_process` picks. After every worker, `save`.

    Each worker is started while the one before it builds and warms up, so its imports are
    done by the time it is needed (bench/measure/worker.py); one started in case an extra process is
    needed is stopped if none is.
    """
    settings = config.timing
    count = settings.processes
    planned_turns = count - min((len(rows) for rows in gathered.values()), default=count)
    last = planned_turns + count
    index_of = {plan.key(): index for index, plan in enumerate(plan_rows(config))}
    worker_config = replace(config, timing=worker_timing(settings, count))
    upcoming: _Worker | None = _Worker()

    def start_next() -> _Worker:
        nonlocal upcoming
        upcoming = _Worker()
        return upcoming

    def wanted_in(turn: int) -> list[Any]:
        if turn <= planned_turns:
            return [p for p in plans if len(gathered.get(p.key(), [None] * count)) < count]
        return [
            plan
            for plan in plans
            if len(gathered.get(plan.key(), ())) >= count
            and needs_another_process(gathered[plan.key()], settings)
        ]

    try:
        for turn in range(1, last + 1):
            wanted = wanted_in(turn)
            if not wanted:
                if turn <= planned_turns:
                    continue
                break
            if turn <= planned_turns:
                label = f"process {count - planned_turns + turn}/{count}"
            else:
                label = f"extra process {turn - planned_turns}"
            request = {
                "config": worker_config.to_dict(),
                "rows": [index_of[plan.key()] for plan in wanted],
                # Each worker shuffles its rounds differently: no row always follows another.
                "order_seed": config.seed + turn,
                "cache_dir": str(cache_dir) if cache_dir is not None else None,
            }
            worker, upcoming = upcoming or _Worker(), None
            begin = time.monotonic()
            timed: set[tuple] = set()
            try:
                for row in worker.run(request, label, emit, start_next if turn < last else None):
                    timed.add(row.key())
                    if row.status == "failed":
                        del gathered[row.key()]
                        yield finished(row)
                    elif row.key() in gathered:
                        # A worker's row has one process: say which, so the pooled row can.
                        gathered[row.key()].append(
                            replace(row, processes=[{"hash_seed": worker.hash_seed}])
                        )
            except WorkerDied as error:
                unfinished = [plan.label for plan in wanted if plan.key() not in timed]
                save("partial", worker_failure(error, turn, label, unfinished))
                emit(ProcessFinished(label, len(timed), time.monotonic() - begin, str(error)))
                continue
            save("partial")  # stored before it is announced: the line means it is kept
            emit(ProcessFinished(label, len(wanted), time.monotonic() - begin))
    finally:
        if upcoming is not None:
            upcoming.stop()


def draw_hash_seed() -> int:
    """A fresh PYTHONHASHSEED for one worker (1 to 2**32 - 1).

    Why: a row's speed depends on where its process's allocations land, and that layout is
    drawn from address-space randomisation *and* the hash seed (which orders Python's own
    allocations): with either one left random, processes spread several times as far as
    with both fixed (docs/methodology.md; benchmarks/layout.py). The interval
    counts each process as an independent draw of that layout, so workers must not inherit
    one seed from an environment that fixes it (tox, CI scripts, `PYTHONHASHSEED=0`).
    """
    return random.SystemRandom().randrange(1, 2**32)


class _Worker:
    """One `python -m bench.measure.worker` process and the parent's side of its conversation."""

    def __init__(self, hash_seed: int | None = None) -> None:
        """Start it, with `hash_seed` as its PYTHONHASHSEED (None: a fresh one drawn here)."""
        self.hash_seed = draw_hash_seed() if hash_seed is None else hash_seed
        # Closed in stop(), which every path through run() and the run's cleanup reaches.
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self._process = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            # FBENCH_PARENT_PID: the worker dies with this process (bench/measure/worker.py).
            env={
                **os.environ,
                "PYTHONHASHSEED": str(self.hash_seed),
                "FBENCH_PARENT_PID": str(os.getpid()),
            },
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
        )
        self.ready = False  # its imports are done
        self._read_early: list[str] = []  # lines read while waiting for "ready", kept for run()

    def wait_until_ready(self) -> None:
        """Block until the worker has imported what it needs (or has died trying: its
        error comes out when it is given work)."""
        while not self.ready:
            line = self._process.stdout.readline()
            if not line:
                return
            self.ready = _decode(line).get("event") == "ready"
            if not self.ready:
                self._read_early.append(line)

    def _say(self, text: str) -> None:
        try:
            self._process.stdin.write(text + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it has exited; how, its output and exit code tell

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout, self._stderr):
            # A line `_say` could not deliver to a worker that had exited is still buffered;
            # closing retries it and fails the same way, after closing the stream anyway.
            with contextlib.suppress(BrokenPipeError):
                stream.close()

    def run(
        self,
        request: dict[str, Any],
        prefix: str,
        emit: Emit,
        start_next: Callable[[], _Worker] | None,
    ) -> Iterator[ResultRow]:
        """Give it `request`, relay its progress, yield its rows; one-line error if it
        fails. `start_next` (None: no worker follows) starts the next worker once this one
        is ready; this one starts sampling only when that one is ready too."""
        following: _Worker | None = None
        error = None
        activity = "starting"  # what it was doing last: a dead worker's record says
        try:
            self._say(json.dumps(request))
            if self.ready and start_next is not None:
                following = start_next()
            for line in itertools.chain(self._read_early, self._process.stdout):
                message = _decode(line)
                kind = message.get("event")
                if kind == "row":
                    yield ResultRow.from_dict(message["row"])
                elif kind == "ready":
                    self.ready = True
                    following = start_next() if start_next is not None else None
                elif kind == "warm":
                    activity = "waiting to sample"
                    if following is not None:
                        following.wait_until_ready()
                    self._say("go")
                elif kind == "phase":
                    activity = message["message"]
                    emit(Phase(f"{prefix}: {message['message']}"))
                elif kind == "round":
                    activity = f"sampling (round {message['round']})"
                    active = [
                        (label, timing.LatencySummary.from_dict(summary))
                        for label, summary in message["active"]
                    ]
                    emit(RoundFinished(message["round"], active, *message["progress"], prefix))
                elif kind == "error":
                    error = message["message"]
            returncode = self._process.wait()
            # The worker got the Ctrl-C (or the SIGTERM of `timeout`, CI cancellation) too.
            if returncode in (130, -signal.SIGINT, -signal.SIGTERM):
                raise KeyboardInterrupt
            if error is not None:
                raise WorkerDied(f"{prefix}: {error}", returncode, None, activity)
            if returncode < 0:
                name = _signal_name(-returncode)
                raise WorkerDied(
                    f"{prefix} was killed by {name} ({activity})", None, name, activity
                )
            if returncode != 0:
                self._stderr.seek(0)
                lines = [text.strip() for text in self._stderr.read().splitlines() if text.strip()]
                last = lines[-1] if lines else "no message"
                raise WorkerDied(
                    f"{prefix} exited with code {returncode}: {last}", returncode, None, activity
                )
        finally:
            self.stop()  # Ctrl-C or an error here: do not leave it running


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _decode(line: str) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except json.JSONDecodeError:
        return {}
    return message if isinstance(message, dict) else {}
