"""Fitting a whole run into a time budget (`fbench run --time-budget`, [run] time_budget).

Before measuring, `plan` chooses from what this process has measured so far (its own
start-up, which a worker process repeats: mostly torch's import) and the config: how many
worker processes, how long each row may sample (`max_row_s`) and warm up, so that every
process's start-up, building and warm-up, every row's sampling and the anchors' slices of
each round fit: fewer processes when their start-ups and warm-ups would take more than
half the time, then as much sampling a row as the rest allows. It refuses a budget that cannot
hold one process per row with a few rounds each. While measuring, each worker gets a
deadline, its share of the time left when it starts (bench/measure/processes.py), so a slow
first process leaves the later ones less rather than running over; the runner stops
sampling at it and cool-down waits come out of the same time (bench/measure/runner.py).
Pure: numbers in, a plan out (docs/configuration.md, "Time budget").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from fbench.bench.config import TimingConfig
from fbench.bench.errors import FbenchError
from fbench.bench.stats.paired import ANCHORS

# Writing the result file, printing the table, the last worker's and this process's exits:
# kept out of the measuring time, at least this long, or this share of the budget (a slow
# board's interpreters exit slowly: 2% left an emulated A72's 240 s run 6 s over, the
# worker's exit taking 4 s of it).
RESERVE_S = 2.0
RESERVE_SHARE = 0.05


def reserve_s(budget_s: float) -> float:
    return max(RESERVE_S, RESERVE_SHARE * budget_s)


# Building one row before it is timed (the stack, fvcore's count, the backend), per process:
# about 0.1-0.3 s for Table 1's rows with torch on a 2-core VM; the larger, to be safe.
BUILD_ROW_S = 0.3
# Every row gets at least this many rounds in every process, or the budget is refused.
MIN_ROUNDS = 2
# At most this share of the measuring time goes to the processes' fixed costs: more
# processes than that leave too little sampling for any row to reach its target.
FIXED_SHARE = 0.5


@dataclass(frozen=True)
class BudgetPlan:
    """What a budget allows: the timing actually used and the estimates it came from."""

    budget_s: float
    processes: int
    max_row_s: float
    warmup_max_s: float
    planned_processes: int  # what the config asked for
    planned_max_row_s: float
    estimates: dict[str, float]

    def timing(self, timing: TimingConfig) -> TimingConfig:
        return replace(
            timing,
            processes=self.processes,
            max_row_s=round(self.max_row_s, 3),
            warmup_max_s=max(timing.warmup_min_s, round(self.warmup_max_s, 3)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget_s": self.budget_s,
            "chose": {
                "processes": self.processes,
                "max_row_s": round(self.max_row_s, 3),
                "warmup_max_s": round(self.warmup_max_s, 3),
            },
            "config": {"processes": self.planned_processes, "max_row_s": self.planned_max_row_s},
            "estimates": {key: round(value, 3) for key, value in self.estimates.items()},
        }

    def sentence(self) -> str:
        """The line a run prints before measuring: what precision the budget allows."""
        words = (
            f"time budget {format_seconds(self.budget_s)}: {self.processes} process(es) "
            f"(config: {self.planned_processes}), ≤ {self.max_row_s:.3g} s of sampling a row "
            f"(config: {self.planned_max_row_s:g} s)"
        )
        if self.max_row_s >= self.planned_max_row_s and self.processes == self.planned_processes:
            return words + ": the configured precision"
        widen = math.sqrt(self.planned_max_row_s / self.max_row_s)
        return (
            words + f": a row that needs its whole cap ends about {widen:.1f}× as wide as "
            "with the configured plan (imprecise); rows that converge sooner are unaffected"
        )


def format_seconds(seconds: float) -> str:
    if seconds >= 120 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def plan(
    budget_s: float,
    elapsed_s: float,
    rows: int,
    timing: TimingConfig,
    worker_start_s: float,
    round_floor_s: float = 0.0,
) -> BudgetPlan:
    """The plan that fits `budget_s`, `elapsed_s` of it already spent by this process.

    `worker_start_s`: what starting a worker costs before it can build (its imports; only
    the first worker's is not hidden behind the one before it). `round_floor_s`: the least
    time a row's round can take (one call of the slowest row, where known). Raises one line
    when even one process per row does not fit.
    """
    processes_wanted = timing.processes if timing.method == "adaptive" else 1
    available = budget_s - elapsed_s - reserve_s(budget_s)
    round_s = max(timing.round_s, round_floor_s)

    def fixed(processes: int) -> float:
        warmup = timing.warmup_min_s / processes if processes > 1 else timing.warmup_min_s
        return worker_start_s * (processes > 1) + processes * rows * (BUILD_ROW_S + warmup)

    # Every round also gives each anchor a slice (bench/measure/host_probe.py).
    slices = rows + (len(ANCHORS) if timing.host_probe else 0)

    # The least sampling: MIN_ROUNDS rounds of every row in every process, plus the anchors.
    def least_sampling(processes: int) -> float:
        return processes * MIN_ROUNDS * slices * round_s

    if fixed(1) + least_sampling(1) > available:
        needed = elapsed_s + reserve_s(budget_s) + fixed(1) + least_sampling(1)
        raise FbenchError(
            f"--time-budget {format_seconds(budget_s)} cannot hold one process per row: "
            f"{rows} row(s) need about {needed:.0f} s (start-up {elapsed_s:.1f} s, building and "
            f"warming {fixed(1):.1f} s, {MIN_ROUNDS} rounds {least_sampling(1):.1f} s); "
            f"give at least {math.ceil(needed * 1.2)}s"
        )
    processes = processes_wanted
    while processes > 1 and (
        fixed(processes) > FIXED_SHARE * available
        or fixed(processes) + least_sampling(processes) > available
    ):
        processes -= 1
    # Sampling: each row up to max_row_s in all, each round also one slice of every anchor.
    sampling = available - fixed(processes)
    max_row_s = min(timing.max_row_s, sampling / slices if rows else timing.max_row_s)
    max_row_s = max(max_row_s, processes * MIN_ROUNDS * round_s)
    warmup_max_s = min(
        timing.warmup_max_s,
        max(timing.warmup_min_s, 0.1 * available / max(1, rows * processes)),
    )
    return BudgetPlan(
        budget_s=budget_s,
        processes=processes,
        max_row_s=max_row_s,
        warmup_max_s=warmup_max_s,
        planned_processes=processes_wanted,
        planned_max_row_s=timing.max_row_s,
        estimates={
            "elapsed_before_measuring_s": elapsed_s,
            "worker_start_s": worker_start_s,
            "fixed_s": fixed(processes),
            "sampling_s": sampling,
        },
    )


def worker_deadline(now: float, stop_at: float, workers_left: int) -> float:
    """A worker's deadline: its even share of the time left (a slow worker before it has
    already taken its toll; a quick one left more)."""
    return now + max(0.0, stop_at - now) / max(1, workers_left)
