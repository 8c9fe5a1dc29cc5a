"""Precision and honesty of back-to-back sweeps, from their result files (pure; issue 15).

Per sweep: its wall time and how wide its rows' 95% intervals are. Between sweeps: the
honesty figure, the number of rows whose medians moved by more than the two intervals
combined (process_effect.exceeds_combined). Intervals that are honest should rarely do that:
process_effect.exceedance_if_exact gives the share to expect when they are exact.
benchmarks/reliability.py prints these figures; docs/methodology.md says what each means.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.analysis import process_effect
from fbench.bench.results import ResultRow, RunResult

# Issue 15 item 4: the goals on the 2-core VM for the default `fbench run --device cpu`.
GOAL_SWEEP_S = 75.0
GOAL_EVERY_ROW = 0.015
GOAL_MEDIAN_ROW = 0.010
GOAL_EXCEEDING_PER_16 = 1.0  # rows per pair of sweeps, on average, out of 16
GOAL_SWEEPS = 5  # "over ≥ 5 back-to-back sweeps"
WITHIN = (0.010, 0.015)  # half-widths whose rows each sweep counts
# A row stored at exactly ±1% reads back a few ulps wider (median and bounds are floats).
_ROUNDING = 1e-9


def is_within(halfwidth_rel: float, limit: float) -> bool:
    """Is the half-width within ±limit, up to the floats' rounding?"""
    return halfwidth_rel <= limit + _ROUNDING


@dataclass(frozen=True)
class SweepFigures:
    """How long one sweep took and how wide its rows' intervals are (relative half-widths)."""

    run_id: str
    wall_s: float | None  # finished − created; None if unfinished or resumed
    rows: int
    median_halfwidth: float  # the median over rows; inf when no row has an interval
    worst_halfwidth: float  # inf when a row has no interval (failed, or too few calls)
    worst_row: str
    within: dict[float, int]  # limit → rows whose half-width is within ±limit
    statuses: dict[str, int]  # status → rows


@dataclass(frozen=True)
class Move:
    """One row that moved between two sweeps by more than its combined interval."""

    label: str
    change: float  # median 2 / median 1 − 1
    combined: float  # √(h₁² + h₂²) on the log scale, as a relative half-width


@dataclass(frozen=True)
class PairHonesty:
    """The honesty figure of one pair of sweeps (indices into the sweeps, in time order)."""

    first: int
    second: int
    rows: int  # rows with a median and an interval in both sweeps
    moves: tuple[Move, ...]

    @property
    def exceeding(self) -> int:
        return len(self.moves)

    @property
    def per_16(self) -> float:
        """Exceeding rows scaled to Table 1's 16 rows, the unit of the issue's goal."""
        return 16 * self.exceeding / self.rows if self.rows else math.nan


@dataclass(frozen=True)
class Honesty:
    """The honesty figure over a set of pairs: mean exceeding rows per pair and the worst."""

    pairs: tuple[PairHonesty, ...]

    @property
    def mean_exceeding(self) -> float:
        return statistics.fmean(p.exceeding for p in self.pairs) if self.pairs else math.nan

    @property
    def mean_per_16(self) -> float:
        return statistics.fmean(p.per_16 for p in self.pairs) if self.pairs else math.nan

    @property
    def worst(self) -> PairHonesty | None:
        return max(self.pairs, key=lambda p: (p.exceeding, -p.first)) if self.pairs else None


@dataclass(frozen=True)
class Goal:
    """One goal line of issue 15 item 4: what was measured and whether it meets the goal."""

    goal: str
    measured: str
    met: bool


def halfwidth(row: ResultRow) -> float:
    """The row's 95% interval half-width relative to its median, the larger side (as fbench
    judges its target); inf for a row without one, which no target is met by."""
    if row.latency_ms is None:
        return math.inf
    value = row.latency_ms.ci95_halfwidth_rel
    return math.inf if value is None or not math.isfinite(value) else value


def label(row: ResultRow) -> str:
    return f"{row.operator} {row.shape_label}"


def wall_seconds(run: RunResult) -> float | None:
    """Seconds from the file's creation to the run's end. None for a run that did not finish
    or was resumed (the pause would count). Leaves out the start-up (interpreter, imports)
    before the file is created."""
    if run.finished is None or run.resumed:
        return None
    try:
        start = dt.datetime.fromisoformat(run.created)
        end = dt.datetime.fromisoformat(run.finished)
    except ValueError:
        return None
    return (end - start).total_seconds()


def sweep_figures(run: RunResult, limits: Sequence[float] = WITHIN) -> SweepFigures:
    widths = [halfwidth(row) for row in run.rows]
    if not widths:
        return SweepFigures(run.run_id, wall_seconds(run), 0, math.inf, math.inf, "", {}, {})
    worst = max(range(len(widths)), key=lambda i: widths[i])
    return SweepFigures(
        run_id=run.run_id,
        wall_s=wall_seconds(run),
        rows=len(widths),
        median_halfwidth=statistics.median(widths),
        worst_halfwidth=widths[worst],
        worst_row=label(run.rows[worst]),
        within={limit: sum(is_within(w, limit) for w in widths) for limit in limits},
        statuses=dict(Counter(row.status for row in run.rows)),
    )


def pair_honesty(first: RunResult, second: RunResult, i: int = 0, j: int = 1) -> PairHonesty:
    """Rows matched by identity; those with a median and an interval in both are compared
    with process_effect.exceeds_combined (|log(m₂/m₁)| > √(log(1+h₁)² + log(1+h₂)²))."""
    later = {row.key(): row for row in second.rows}
    rows, moves = 0, []
    for a in first.rows:
        b = later.get(a.key())
        if b is None or a.latency is None or b.latency is None:
            continue
        h1, h2 = halfwidth(a), halfwidth(b)
        if not (math.isfinite(h1) and math.isfinite(h2)) or a.latency <= 0 or b.latency <= 0:
            continue
        rows += 1
        if process_effect.exceeds_combined(a.latency, h1, b.latency, h2):
            combined = math.expm1(math.hypot(math.log1p(h1), math.log1p(h2)))
            moves.append(Move(label(a), b.latency / a.latency - 1.0, combined))
    return PairHonesty(i, j, rows, tuple(moves))


def honesty(runs: Sequence[RunResult], back_to_back: bool = False) -> Honesty:
    """Every pair of `runs` (in the order given, which should be time order), or only the
    neighbours (1–2, 2–3, ...) with `back_to_back`."""
    indices = (
        [(i, i + 1) for i in range(len(runs) - 1)]
        if back_to_back
        else list(itertools.combinations(range(len(runs)), 2))
    )
    return Honesty(tuple(pair_honesty(runs[i], runs[j], i, j) for i, j in indices))


def processes_per_row(runs: Sequence[RunResult]) -> int | None:
    """The fewest worker processes that timed a measured row in any run; None when a row was
    timed in one process (then exceedance_if_exact has no P to use)."""
    counts = [len(row.processes or []) for run in runs for row in run.rows if row.latency]
    return min(counts) if counts and min(counts) >= 2 else None


def goals(sweeps: Sequence[SweepFigures], pairs: Honesty) -> list[Goal]:
    """Issue 15 item 4's goals, each over every sweep (the slowest sweep, the widest row of
    any sweep, the widest median row of any sweep) and the mean over every pair."""
    times = [s.wall_s for s in sweeps if s.wall_s is not None]
    slowest = max(times) if len(times) == len(sweeps) and times else None
    worst_row = max((s.worst_halfwidth for s in sweeps), default=math.inf)
    worst_median = max((s.median_halfwidth for s in sweeps), default=math.inf)
    mean = pairs.mean_per_16
    enough = len(sweeps) >= GOAL_SWEEPS
    return [
        Goal(
            f"sweep ≤ {GOAL_SWEEP_S:g} s",
            "slowest sweep " + (f"{slowest:.0f} s" if slowest is not None else "unknown"),
            slowest is not None and slowest <= GOAL_SWEEP_S,
        ),
        Goal(
            f"every row ±{GOAL_EVERY_ROW:.1%}",
            f"widest row of any sweep {percent(worst_row)}",
            is_within(worst_row, GOAL_EVERY_ROW),
        ),
        Goal(
            f"median row ±{GOAL_MEDIAN_ROW:.1%}",
            f"widest median row of any sweep {percent(worst_median)}",
            is_within(worst_median, GOAL_MEDIAN_ROW),
        ),
        Goal(
            f"honesty ≤ {GOAL_EXCEEDING_PER_16:g} of 16 rows per pair on average, "
            f"≥ {GOAL_SWEEPS} sweeps",
            (f"{mean:.2f} of 16 per pair" if math.isfinite(mean) else "no pairs")
            + f" over {len(pairs.pairs)} pairs of {len(sweeps)} sweeps",
            enough and math.isfinite(mean) and mean <= GOAL_EXCEEDING_PER_16,
        ),
    ]


def percent(halfwidth_rel: float) -> str:
    return f"±{halfwidth_rel:.1%}" if math.isfinite(halfwidth_rel) else "no interval"


def as_dict(
    sweeps: Sequence[SweepFigures],
    all_pairs: Honesty,
    back_to_back: Honesty,
    goal_lines: Sequence[Goal],
    exact_share: float | None = None,
) -> dict:
    """The figures as JSON-ready data (benchmarks/reliability.py --json); inf becomes None."""

    def number(value: float | None) -> float | None:
        return value if value is not None and math.isfinite(value) else None

    def pairs(figure: Honesty) -> dict:
        worst = figure.worst
        return {
            "pairs": len(figure.pairs),
            "mean_exceeding": number(figure.mean_exceeding),
            "mean_exceeding_per_16": number(figure.mean_per_16),
            "worst_pair": [worst.first, worst.second] if worst else None,
            "worst_exceeding": worst.exceeding if worst else None,
            "per_pair": [
                {
                    "sweeps": [p.first, p.second],
                    "rows": p.rows,
                    "exceeding": p.exceeding,
                    "moves": [
                        {"row": m.label, "change": m.change, "combined": m.combined}
                        for m in p.moves
                    ],
                }
                for p in figure.pairs
            ],
        }

    return {
        "sweeps": [
            {
                "run_id": s.run_id,
                "wall_s": number(s.wall_s),
                "rows": s.rows,
                "median_halfwidth": number(s.median_halfwidth),
                "worst_halfwidth": number(s.worst_halfwidth),
                "worst_row": s.worst_row,
                "rows_within": {f"{limit:.3f}": n for limit, n in s.within.items()},
                "statuses": s.statuses,
            }
            for s in sweeps
        ],
        "honesty": {
            "all_pairs": pairs(all_pairs),
            "back_to_back": pairs(back_to_back),
            "exact_intervals_share": number(exact_share),
        },
        "goals": [{"goal": g.goal, "measured": g.measured, "met": g.met} for g in goal_lines],
    }
