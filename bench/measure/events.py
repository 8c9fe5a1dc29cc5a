"""What measuring tells its caller while it runs: progress events, and the row count they carry.

The runner, the worker processes and their parent emit these; the CLI renders them
(fbench/progress.py). Nothing that measures prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fbench.bench.results import ResultRow
from fbench.bench.stats import timing


@dataclass(frozen=True)
class RowFinished:
    row: ResultRow
    done: int
    total: int


@dataclass(frozen=True)
class RoundFinished:
    round: int
    active: list[tuple[str, timing.LatencySummary]]  # (row label, estimate so far)
    done: int
    total: int
    process: str = ""  # "process 2/4" when a worker of a multi-process run reports it
    # At most this many seconds of sampling are left in this process: every active row run
    # to its time limit (the stopping rule usually ends them sooner). None: not known.
    left_s: float | None = None


@dataclass(frozen=True)
class Phase:
    message: str  # "building 16 rows", "warming up conv 96×56×56", "waited 30 s to cool"


@dataclass(frozen=True)
class ProcessFinished:
    """A worker of a multi-process run (bench/measure/processes.py) has timed its rows."""

    label: str  # "process 2/4", "extra process 1"
    rows: int
    seconds: float
    failure: str | None = None  # it died: why (its rows are left short of a process)


Event = RowFinished | RoundFinished | Phase | ProcessFinished
Emit = Callable[[Event], None]


class RowCount:
    """How many of a run's rows are final; `finished` announces one more (RowFinished)."""

    def __init__(self, emit: Emit, done: int, total: int) -> None:
        self.emit, self.done, self.total = emit, done, total

    def finished(self, row: ResultRow) -> ResultRow:
        self.done += 1
        self.emit(RowFinished(row, self.done, self.total))
        return row
