"""Where measuring starts: `measure` times planned rows in this process (bench/measure/runner.py);
with `processes` > 1 and the adaptive method, in worker processes one after another
(bench/measure/processes.py); and in one process, rows of code fbench does not ship (custom
operators, zoo models) in one worker process, where that code cannot take fbench over
(bench/measure/isolated.py). The CLI calls this; nothing below it picks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fbench.bench.config import RunConfig
from fbench.bench.measure.events import Emit, RowCount
from fbench.bench.measure.isolated import measure_in_worker, runs_user_code
from fbench.bench.measure.processes import Checkpoint, measure_in_processes
from fbench.bench.measure.protocol import WorkerProcess
from fbench.bench.measure.runner import measure_in_process
from fbench.bench.results import ResultRow


def measure(
    plans: list[Any],
    config: RunConfig,
    session: Any,
    emit: Emit,
    done_before: int = 0,
    cache_dir: Path | None = None,
    checkpoint: Callable[[Checkpoint], None] | None = None,
    stored: Sequence[ResultRow] = (),
    keep_going: bool = False,
    row_timeout_s: float | None = None,
    worker_failed: Callable[[dict[str, Any]], None] | None = None,
    checker: WorkerProcess | None = None,
    stop_at: float | None = None,
) -> Iterator[ResultRow]:
    """Measure `plans` on an open device session; yield each row as soon as it is final.

    `done_before` rows of the run are already final (the progress counts on from there).
    `cache_dir` is where backends may keep what they build (exported ONNX models). With
    several processes, `checkpoint` gets the pooled rows after every process, and the
    processes of `stored` rows (an earlier attempt's, for --resume) count towards the
    planned ones. `stop_at` (time.time()) is a time budget's deadline for the measuring
    (bench/measure/budget.py; not applied to one isolated worker's run of user code).

    Worker processes that say nothing for `row_timeout_s` seconds are stopped and count as
    dead. In one process, a worker that ends before its rows are done goes to
    `worker_failed`, fails the rows it was running, and with `keep_going` the rest go on
    in a fresh worker (bench/measure/isolated.py). `checker`: the worker that checked the
    custom operators, still alive: a one-process run times in it; else it is stopped.
    """
    settings = config.timing
    count = RowCount(emit, done_before, done_before + len(plans))
    # A run in another environment (config.stack) is timed in workers even in one process.
    in_processes = settings.method == "adaptive" and (settings.processes > 1 or bool(config.stack))
    one_worker = runs_user_code(config) and not in_processes
    if checker is not None and not one_worker:
        checker.stop()  # each of several processes starts fresh (bench/measure/processes.py)
    if in_processes:
        yield from measure_in_processes(
            plans,
            config,
            session,
            emit,
            count.finished,
            cache_dir,
            checkpoint,
            stored,
            row_timeout_s,
            stop_at=stop_at,
        )
    elif one_worker:
        yield from measure_in_worker(
            plans,
            config,
            emit,
            count.finished,
            cache_dir,
            keep_going,
            row_timeout_s,
            worker_failed or (lambda failure: None),
            checker,
        )
    else:
        yield from measure_in_process(
            plans, config, session, emit, done_before, cache_dir, stop_at=stop_at
        )
