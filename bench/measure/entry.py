"""Where measuring starts: `measure` times planned rows in this process (bench/measure/runner.py)
or, with `processes` > 1 and the adaptive method, in worker processes one after another
(bench/measure/processes.py). The CLI calls this; nothing below it picks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.config import RunConfig
from bench.measure.events import Emit, RowCount
from bench.measure.processes import Checkpoint, measure_in_processes
from bench.measure.runner import measure_in_process
from bench.results import ResultRow


def measure(
    plans: list[Any],
    config: RunConfig,
    session: Any,
    emit: Emit,
    done_before: int = 0,
    cache_dir: Path | None = None,
    checkpoint: Callable[[Checkpoint], None] | None = None,
    stored: Sequence[ResultRow] = (),
    stop_at: float | None = None,
) -> Iterator[ResultRow]:
    """Measure `plans` on an open device session; yield each row as soon as it is final.

    `done_before` rows of the run are already final (the progress counts on from there).
    `cache_dir` is where backends may keep what they build (exported ONNX models). With
    several processes, `checkpoint` gets the pooled rows after every process, and the
    processes of `stored` rows (an earlier attempt's, for --resume) count towards the
    planned ones. `stop_at` (time.time()) is a time budget's deadline for the measuring
    (bench/measure/budget.py).
    """
    settings = config.timing
    if settings.method == "adaptive" and settings.processes > 1:
        count = RowCount(emit, done_before, done_before + len(plans))
        yield from measure_in_processes(
            plans, config, session, emit, count.finished, cache_dir, checkpoint, stored, stop_at
        )
    else:
        yield from measure_in_process(
            plans, config, session, emit, done_before, cache_dir, stop_at=stop_at
        )
