"""The user's code in a worker process, also in a one-process run: custom operators and zoo
models are checked (the preflight) and timed in `python -m fbench.bench.measure.worker` processes,
never in fbench's own, so that nothing they do can take fbench over (docs/crash-safety.md,
"Code that is not fbench's"): a `sys.exit`, an `os._exit`, a signal, a hang or a fork ends
or stops the worker, and the parent stores what that cost. A one-process run times its rows
in the worker that checked the custom operators (one start of torch fewer; as before, when
both ran in fbench's process, the check and the timing share a process).

A worker that ends before its rows are done fails the rows whose code it was running: the
operator it was building or warming up (all of that operator's unfinished rows: its code
is the same at every shape), or, while it sampled all its rows in interleaved rounds, the
unfinished rows of user code. Its end is recorded in the run's `worker_failures`. With
`keep_going` the other rows are timed in a fresh worker; without, they are left for
`fbench run --resume`, and the CLI ends the run with exit 4. With several processes
(bench/measure/processes.py) the same rule picks the rows a dead worker fails, and the
other rows get the worker's turn again. Rows of fbench's own operators
and networks without user code are timed in fbench's process as before (bench/measure/runner.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fbench.bench.config import RunConfig
from fbench.bench.measure.events import Emit, ProcessFinished
from fbench.bench.measure.protocol import WorkerDied, WorkerProcess, check_request, request_message
from fbench.bench.plan.rows import plan_rows
from fbench.bench.results import ResultRow, now_iso
from fbench.bench.results import status as row_status
from fbench.networks.registry import ZOOS


def is_user_code(plan: Any) -> bool:
    """A row whose module comes from code fbench does not ship: a custom operator (its
    `definition`) or a zoo model (timm:NAME, torchvision:NAME)."""
    return getattr(plan, "definition", None) is not None or str(
        getattr(plan, "operator", "")
    ).startswith(ZOOS)


def runs_user_code(config: RunConfig) -> bool:
    """Does this run build modules from code fbench does not ship?"""
    zoo = config.suite == "networks" and any(str(m).startswith(ZOOS) for m in config.models)
    return bool(config.custom_operators) or zoo


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


def check_custom_operators(
    config: RunConfig, keep_going: bool, silence_s: float | None
) -> tuple[list[str], WorkerProcess | None]:
    """operators/custom_build.py's preflight of every custom operator, run in a worker: one
    line per operator that cannot run ("operator NAME: reason"), and the worker that
    checked the last of them, alive (a one-process run times in it: `measure_in_worker`'s
    `first`; the caller stops it otherwise). An operator whose code ends the worker (or
    hangs past `silence_s`) has that as its reason; the others are checked in a fresh
    worker. Without `keep_going` it stops at the first problem."""
    names = [operator.name for operator in config.custom_operators]
    problems: list[str] = []
    while names:
        worker = WorkerProcess(silence_s=silence_s, relay_output=True)
        try:
            for name, problem in worker.check(
                check_request(config, names), "the process checking it"
            ):
                names.remove(name)
                if problem is not None:
                    problems.append(f"operator {name}: {problem}")
                    if not keep_going:
                        worker.stop()
                        return problems, None
        except WorkerDied as error:
            worker.stop()
            problems.append(f"operator {names.pop(0)}: {error}")  # checked in order
            if not keep_going:
                return problems, None
            continue
        except BaseException:
            worker.stop()
            raise
        return problems, worker
    return problems, None


def measure_in_worker(
    plans: Sequence[Any],
    config: RunConfig,
    emit: Emit,
    finished: Callable[[ResultRow], ResultRow],
    cache_dir: Path | None,
    keep_going: bool,
    silence_s: float | None,
    worker_failed: Callable[[dict[str, Any]], None],
    first: WorkerProcess | None = None,
) -> Iterator[ResultRow]:
    """Time `plans` (one process: `config.timing.processes` is 1) in a worker; yield each
    row as it is final. A worker that ends early: `worker_failed` gets its record, the rows
    its code was running are yielded as failed, and with `keep_going` the rest go to a
    fresh worker (else they stay untimed). `first`: the worker that checked the custom
    operators, used first (as a one-process run once checked and timed in one process)."""
    index_of = {plan.key(): index for index, plan in enumerate(plan_rows(config))}
    left = list(plans)
    attempt = 0
    while left:
        attempt += 1
        label = f"process {attempt}"  # a fresh one each time (`fbench show`: "worker process 2")
        request = request_message(config, [index_of[p.key()] for p in left], config.seed, cache_dir)
        worker, first = first or WorkerProcess(silence_s=silence_s, relay_output=True), None
        begin = time.monotonic()
        done: set[tuple] = set()
        try:
            for row in worker.run(request, label, emit, None):
                done.add(row.key())
                yield finished(row)
            return
        except WorkerDied as error:
            unfinished = [plan for plan in left if plan.key() not in done]
            worker_failed(worker_failure(error, attempt, label, [p.label for p in unfinished]))
            culprits = culprits_of(unfinished, error.activity)
            for plan in culprits:
                yield finished(ended_row(plan, config, error))
            left = [plan for plan in unfinished if plan not in culprits]
            if not keep_going:
                return
            if left:
                emit(ProcessFinished(label, len(done), time.monotonic() - begin, str(error)))
        finally:
            worker.stop()


def culprits_of(unfinished: Sequence[Any], activity: str) -> list[Any]:
    """The rows whose code a worker was running when it ended: the operator of the row it
    was building or warming up; while sampling (every row in turn), the unfinished rows of
    user code (or every unfinished row, if none is)."""
    for plan in unfinished:
        if activity.startswith(f"building {plan.label} (") or activity == (
            f"warming up {plan.label}"
        ):
            operator = getattr(plan, "operator", plan.label)
            return [p for p in unfinished if getattr(p, "operator", p.label) == operator]
    return [plan for plan in unfinished if is_user_code(plan)] or list(unfinished)


def ended_row(plan: Any, config: RunConfig, error: WorkerDied) -> ResultRow:
    """The failed row of `plan`, whose code ended the worker: the exit code (or signal) and
    the last activity are in its error."""
    message = f"its code ended the worker process: {error}"
    return plan.skeleton(
        status=row_status.FAILED,
        reasons=[row_status.ERROR],
        why=message,
        method=config.timing.method,
        error=message,
        started=now_iso(),
        finished=now_iso(),
    )
