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

How: the parent runs `processes` workers (`python -m fbench.bench.measure.worker`) one after
another, never timing at the same time (they would share cores and caches). The one thing
that overlaps is start-up: the next worker imports torch on the other cores while the
current one builds and warms up, and the current one starts sampling only once those
imports are done (bench/measure/worker.py), which takes most of a torch import off every
process after the first. Each worker builds, checks and warms every row itself and samples
all rows in interleaved rounds, like a single-process run, with 1/processes of the budget.
The parent pools every row's samples (bench/measure/pooling.py: the maths); rows still
short of the target whose processes agree, with sampling time left, get up to as many
extra workers. A row that fails in a worker is stored as failed at once and not retried.
The messages and the parent's end of the conversation are bench/measure/protocol.py.

Nothing finished is lost (docs/crash-safety.md): after every worker the run's file gets the
pooled rows of all processes so far (`Checkpoint`: state `partial`), so killing the parent
at any moment leaves every finished process. A worker that dies (a signal, any exit before
its rows are done) is recorded (`worker_failure`) and the run goes on with the next. When
the user's code was running (a custom operator or zoo model: bench/measure/isolated.py's
`culprits_of`), its rows fail, as in one process, and the other rows get the dead worker's
turn again, so they end with every planned process; otherwise (fbench's own code: an
out-of-memory kill, say) the turn is lost and its rows end short of a process. On Ctrl-C or
SIGTERM the rows that at least one worker finished are stored. Rows timed in fewer
processes than planned are `disturbed` (reason `interrupted`), with a note saying in how
many, and `--resume` gives them the missing processes (pooling.worker_rows_of rebuilds the
per-process rows of a stored row).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fbench.bench.config import RunConfig, TimingConfig
from fbench.bench.measure import budget, runner
from fbench.bench.measure.events import Emit, Phase, ProcessFinished
from fbench.bench.measure.isolated import culprits_of, ended_row, is_user_code, worker_failure
from fbench.bench.measure.pooling import (
    needs_another_process,
    with_process_details,
    worker_rows_of,
    worker_timing,
)
from fbench.bench.measure.protocol import WorkerDied, WorkerProcess, request_message
from fbench.bench.measure.stack import ensure_environment
from fbench.bench.plan.rows import plan_rows
from fbench.bench.results import ResultRow
from fbench.bench.results import status as row_status


@dataclass(frozen=True)
class Checkpoint:
    """What the run's file should hold now: the pooled rows of every process so far."""

    rows: list[ResultRow]
    processes_finished: int  # how many of the planned processes every row has had
    processes_planned: int
    failure: dict[str, Any] | None = None  # a worker that has just died (WorkerFailure)


def measure_in_processes(
    plans: Sequence[Any],
    config: RunConfig,
    session: Any,
    emit: Emit,
    finished: Callable[[ResultRow], ResultRow],
    cache_dir: Path | None,
    checkpoint: Callable[[Checkpoint], None] | None = None,
    stored: Sequence[ResultRow] = (),
    silence_s: float | None = None,
    stop_at: float | None = None,
) -> Iterator[ResultRow]:
    """Time `plans` in `config.timing.processes` workers in turn; yield each pooled row.

    Then, like a single process that keeps sampling a row until its interval is narrow
    enough, up to as many extra workers time only the rows that `needs_another_process`
    picks: short of the target, under `max_row_s`, and with processes that agree.

    After every worker, `checkpoint` gets the pooled rows of the processes so far, so the
    file never holds less than every finished process. A worker that dies is recorded
    and the run goes on: the rows whose user code ended it are yielded failed and the
    others get its turn again; with no user code running, its rows end short of the
    planned processes (`--resume` adds them). `stored`: rows of an earlier attempt of
    these plans (`--resume`), whose processes count towards the planned ones. A worker
    silent for `silence_s` seconds once ready (`--row-timeout`) is stopped and counts as
    dead. `stop_at` (time.time()): a time budget's deadline; each worker gets its share of
    the time left (bench/measure/budget.py), and extra workers start only while a worker's
    time is left.
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
        yield from _time_in_workers(
            plans, config, emit, finished, cache_dir, gathered, save, silence_s, stop_at
        )
    except KeyboardInterrupt:
        # Keep what the finished processes measured (Ctrl-C keeps finished work), marked
        # disturbed: a row timed in fewer processes than planned is not the planned method.
        save("interrupted")
        raise
    for row in pooled_rows("incomplete"):
        yield finished(row)


def _process_entry(worker: WorkerProcess) -> dict[str, Any]:
    """What a row records of the worker that timed it: its hash seed and, when it ran in
    another environment (--with), the versions it imported."""
    entry: dict[str, Any] = {"hash_seed": worker.hash_seed}
    if worker.versions and (worker.versions.get("python_prefix") != sys.prefix):
        entry["versions"] = {k: v for k, v in worker.versions.items() if k != "python_prefix"}
    return entry


def _pooled(
    worker_rows: Sequence[ResultRow],
    settings: TimingConfig,
    session: Any,
    planned: int = 0,
    reason: str = "interrupted",
) -> ResultRow:
    """`with_process_details` with the device's verdict on each process's telemetry."""
    problems = [
        row_status.DeviceProblem(str(problem), row_status.problem_code(problem)).prefixed(
            f"process {number}: "
        )
        for number, row in enumerate(worker_rows, 1)
        for problem in session.problems(
            row.telemetry.get("before") or {}, row.telemetry.get("after") or {}
        )
    ]
    pooled = with_process_details(worker_rows, settings, problems, planned, reason)
    # What each process's telemetry or deadline noted, which pooling's own notes leave out.
    carried = [
        f"process {number}: {note}"
        for number, row in enumerate(worker_rows, 1)
        for note in row.notes
        if note == runner.BUDGET_NOTE or note in _telemetry_notes(session, row)
    ]
    if carried:
        pooled = replace(pooled, notes=[*pooled.notes, *carried])
    coolings = [row.telemetry.get("cooling") for row in worker_rows if row.telemetry.get("cooling")]
    if coolings:  # every process's waits in the rounds this row was sampled in
        cooling = {
            "waits": sum(c["waits"] for c in coolings),
            "waited_s": round(sum(c["waited_s"] for c in coolings), 1),
        }
        pooled = replace(pooled, telemetry={**pooled.telemetry, "cooling": cooling})
    return pooled


def _telemetry_notes(session: Any, row: ResultRow) -> list[str]:
    return session.telemetry_notes(
        row.telemetry.get("before") or {}, row.telemetry.get("after") or {}
    )


def _time_in_workers(
    plans: Sequence[Any],
    config: RunConfig,
    emit: Emit,
    finished: Callable[[ResultRow], ResultRow],
    cache_dir: Path | None,
    gathered: dict[tuple, list[ResultRow]],
    save: Callable[..., None],
    silence_s: float | None = None,
    stop_at: float | None = None,
) -> Iterator[ResultRow]:
    """The workers, in turn; each row they time goes into `gathered`, failed rows out.

    The planned phase gives each row the processes it lacks (all of them in a fresh run),
    one worker per missing process; a worker that dies costs its turn, unless user code
    ended it (its rows fail, and the turn is taken again for the rest). Then up to as many
    extra workers for the rows `needs_another_process` picks. After every worker, `save`.

    Each worker is started while the one before it builds and warms up, so its imports are
    done by the time it is needed (bench/measure/worker.py); one started in case an extra
    process is needed is stopped if none is.
    """
    settings = config.timing
    count = settings.processes
    planned_turns = count - min((len(rows) for rows in gathered.values()), default=count)
    last = planned_turns + count
    index_of = {plan.key(): index for index, plan in enumerate(plan_rows(config))}
    worker_config = replace(config, timing=worker_timing(settings, count))
    # --with: the workers run in the stack's environment (built before the run; cached).
    stack = (
        ensure_environment(config.stack, lambda line: emit(Phase(line))) if config.stack else None
    )
    upcoming: WorkerProcess | None = WorkerProcess(silence_s=silence_s, stack=stack)

    def start_next() -> WorkerProcess:
        nonlocal upcoming
        upcoming = WorkerProcess(silence_s=silence_s, stack=stack)
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

    longest = 0.0  # the longest worker so far: an extra one starts only if that much is left
    turn = 0
    try:
        while turn < last:
            turn += 1
            wanted = wanted_in(turn)
            if not wanted:
                if turn <= planned_turns:
                    continue
                break
            deadline = None
            if stop_at is not None:
                now = time.time()
                if turn > planned_turns and stop_at - now < longest:
                    break  # no time for an extra process
                if stop_at - now <= 0:
                    emit(Phase(f"time budget reached: process {turn} of {count} not started"))
                    break
                left = planned_turns - turn + 1 if turn <= planned_turns else 1
                deadline = budget.worker_deadline(now, stop_at, left)
            if turn <= planned_turns:
                label = f"process {count - planned_turns + turn}/{count}"
            else:
                label = f"extra process {turn - planned_turns}"
            rows = [index_of[plan.key()] for plan in wanted]
            # Each worker shuffles its rounds differently: no row always follows another.
            request = request_message(worker_config, rows, config.seed + turn, cache_dir, deadline)
            worker, upcoming = upcoming or WorkerProcess(silence_s=silence_s, stack=stack), None
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
                        gathered[row.key()].append(replace(row, processes=[_process_entry(worker)]))
            except WorkerDied as error:
                unfinished = [plan for plan in wanted if plan.key() not in timed]
                labels = [plan.label for plan in unfinished]
                save("partial", worker_failure(error, turn, label, labels))
                emit(ProcessFinished(label, len(timed), time.monotonic() - begin, str(error)))
                culprits = [
                    plan for plan in culprits_of(unfinished, error.activity) if is_user_code(plan)
                ]
                for plan in culprits:  # the one-process rule: the user's code fails its rows
                    gathered.pop(plan.key(), None)
                    yield finished(ended_row(plan, config, error))
                if culprits and turn <= planned_turns:
                    # The other rows did nothing wrong: the turn is theirs again. Each
                    # repeat fails at least one row, so the repeats end.
                    planned_turns, last = planned_turns + 1, last + 1
                continue
            save("partial")  # stored before it is announced: the line means it is kept
            longest = max(longest, time.monotonic() - begin)
            emit(ProcessFinished(label, len(wanted), time.monotonic() - begin))
    finally:
        if upcoming is not None:
            upcoming.stop()
