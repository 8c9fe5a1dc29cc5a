"""Statistics of the host-speed probe's round medians: how much the host moved within a run,
how much slower it ran in one run than in another, and the probe records of rows pooled from
several processes. Pure functions over stored numbers; the probe itself (what it times, and
why a GEMM) is bench/measure/host_probe.py, and docs/methodology.md ("The host's own speed")
has the measurements.

A row's `host_probe` is {"workload", "round_medians_ms"} and, when the probe failed while the
row was still being sampled, "failure": {"round", "error"} ("process" too in a row pooled
from several processes): round 0 is building and warming the probe, before the first timed
round; the row's round_medians_ms then stop at that round (empty for round 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fbench.bench.stats.timing import median, quantile

SIZE = 256  # the probe multiplies two SIZE×SIZE matrices (bench/measure/host_probe.py)
# Stored with every probe sample set: two runs' probes are comparable only if this matches.
WORKLOAD = f"torch.mm {SIZE}×{SIZE} @ {SIZE}×{SIZE} float32"
# The bandwidth anchor copies COPY_MIB MiB into another COPY_MIB MiB: 32 MiB in all, as
# large as the last-level cache of the project's EPYC guests (which other guests share), so
# it streams from memory as DWConv's reorders do, and a call fits in a 50 ms round slice.
COPY_MIB = 16
COPY_WORKLOAD = f"torch copy_ {COPY_MIB} MiB float32 → {COPY_MIB} MiB"
# The latency anchor: one small 3×3 convolution (SMALL_CONV channels, SMALL_CONV_HW²), a
# call of tens of microseconds whose time is mostly dispatch and cache-resident work. On
# shared EPYC guests small rows switch between a fast and a +40–70% slow mode for rounds at a
# time (a sibling hyperthread's tenant) that neither the GEMM nor the copy follows; a small
# convolution follows it (docs/methodology.md, "A third anchor").
SMALL_CONV, SMALL_CONV_HW = 32, 14
SMALL_CONV_WORKLOAD = (
    f"torch conv2d 3×3 {SMALL_CONV}→{SMALL_CONV} ch {SMALL_CONV_HW}×{SMALL_CONV_HW} float32"
)


def round_median(samples_ms: Sequence[float]) -> float:
    """The probe's value for one round: the median of its calls in that round (ms)."""
    if not samples_ms:
        raise ValueError("a probe round needs at least one call")
    return median(samples_ms)


def speed_ratio(baseline_ms: Sequence[float], current_ms: Sequence[float]) -> float:
    """How much slower the host ran in `current` than in `baseline`: probe latency ratio.

    The inputs are per-round probe medians; the ratio of their medians (1.05 = the host ran
    5% slower). Round medians, not calls, so a round hit by a burst counts once.
    """
    if not baseline_ms or not current_ms:
        raise ValueError("speed_ratio needs probe rounds from both runs")
    return median(current_ms) / median(baseline_ms)


def spread(round_medians_ms: Sequence[float]) -> float:
    """How much the host's speed moved during a run: the 5th–95th percentile range of the
    probe's round medians, relative to their median (a single stalled round does not count)."""
    if not round_medians_ms:
        raise ValueError("spread of no probe rounds")
    ordered = sorted(round_medians_ms)
    return (quantile(ordered, 0.95) - quantile(ordered, 0.05)) / quantile(ordered, 0.5)


# Fewer probe rounds than this (in one process) say too little to tell a spike from a shift.
MIN_ROUNDS_TO_JUDGE = 8
# The shortest running-median window, in rounds: a spike of up to two rounds is absorbed.
MIN_LEVEL_WINDOW = 5
LEVEL_METHOD = (
    "running median of the host probe's round medians over max(5, rounds/5) rounds, in each "
    "process on its own; the level's max/min - 1 bounds how far a sustained shift moved the "
    "row's median"
)


def level_window(rounds: int) -> int:
    """The running median's window for a process of `rounds` probe rounds: odd, at least
    `MIN_LEVEL_WINDOW`, about a fifth of the rounds. A slow spell shorter than half of it
    touches under a tenth of the row's calls, which the row's median absorbs."""
    window = max(MIN_LEVEL_WINDOW, rounds // 5)
    return window if window % 2 else window + 1


def sustained_levels(round_medians_ms: Sequence[float], window: int) -> list[float]:
    """The host's sustained speed: the running median of `window` consecutive probe rounds
    (full windows only), so a spike shorter than half a window leaves no trace."""
    if window < 1 or len(round_medians_ms) < window:
        return []
    return [
        median(round_medians_ms[start : start + window])
        for start in range(len(round_medians_ms) - window + 1)
    ]


def median_shift_bound(round_medians_ms: Sequence[float]) -> float | None:
    """How far a sustained change of the host's speed could have moved the median of a row
    sampled in these rounds of one process: the sustained level's max / min - 1 (None: fewer
    than `MIN_ROUNDS_TO_JUDGE` rounds).

    Why a bound of this form: if every call of the row in round r is slowed by the host's
    factor level_r / level_min, the row's median lies between its speed at the lowest and at
    the highest level. A spike is a few rounds; the running median removes it, as the row's
    median absorbs the calls it slowed (docs/methodology.md, "Spikes and shifts")."""
    if len(round_medians_ms) < MIN_ROUNDS_TO_JUDGE:
        return None
    levels = sustained_levels(round_medians_ms, level_window(len(round_medians_ms)))
    return max(levels) / min(levels) - 1.0


def drift(per_process_rounds: Sequence[Sequence[float]]) -> dict[str, Any] | None:
    """A row's record of the host's sustained drift, each process judged on its own rounds
    (a probe that differs between processes is their memory layout, not host motion):
    {"method", "median_shift_bound": the largest process's bound, "per_process": each
    process's bound or None}. None when no process had enough rounds to judge."""
    bounds = [median_shift_bound(rounds) for rounds in per_process_rounds]
    judged = [bound for bound in bounds if bound is not None]
    if not judged:
        return None
    return {
        "method": LEVEL_METHOD,
        "median_shift_bound": round(max(judged), 6),
        "per_process": [None if b is None else round(b, 6) for b in bounds],
    }


def moved_words(per_process_rounds: Sequence[Sequence[float]], threshold: float) -> str | None:
    """A sentence when a sustained shift of the host's speed, within one process's rounds,
    could have moved the row's median by more than `threshold` (`median_shift_bound`); None
    when it could not, or when no process had enough rounds to tell. Such a row's median
    mixes two host speeds, so it is `disturbed` (bench/results/status.py, `host_moved`).
    Spikes the median absorbs do not count."""
    record = drift(per_process_rounds)
    if record is None or record["median_shift_bound"] <= threshold:
        return None
    bounds = record["per_process"]
    where = ""
    if len(bounds) > 1:
        worst = max(range(len(bounds)), key=lambda i: bounds[i] or 0.0)
        where = f" in process {worst + 1} of {len(bounds)}"
    return (
        f"the host's sustained speed moved {record['median_shift_bound']:.1%}{where} while the "
        f"row was sampled (running median of the host probe's rounds), beyond "
        f"host_moved_above = {threshold:g}: the row's median may have moved as far"
    )


def failure_record(round_number: int, error: str) -> dict[str, Any]:
    """What the runner stores when the probe fails: the round it failed in and the error."""
    return {"round": round_number, "error": error}


def rounds_of(row: Any) -> list[float]:
    """A row's probe round medians (ms); empty when it has none (no probe, or it failed)."""
    return list((row.host_probe or {}).get("round_medians_ms") or [])


def pool(records: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    """One row's probe record from the records of the processes that timed it, in order:
    their round medians together, and the first failure with its (1-based) process."""
    present = [(number, r) for number, r in enumerate(records, 1) if r]
    if not present:
        return None
    pooled: dict[str, Any] = {
        "workload": present[0][1].get("workload", WORKLOAD),
        "round_medians_ms": [v for _, r in present for v in r.get("round_medians_ms") or []],
    }
    failed = [(number, r["failure"]) for number, r in present if r.get("failure")]
    if failed:
        number, failure = failed[0]
        pooled["failure"] = {**failure, "process": failure.get("process", number)}
    elif not pooled["round_medians_ms"]:
        return None
    return pooled


def run_failure(rows: Sequence[Any]) -> dict[str, Any] | None:
    """The run's first host-probe failure (by process, then round), or None."""
    failures = [row.host_probe["failure"] for row in rows if (row.host_probe or {}).get("failure")]
    if not failures:
        return None
    return min(failures, key=lambda f: (f.get("process") or 0, f.get("round", 0)))


def failure_words(failure: dict[str, Any], run_id: str | None = None) -> str:
    """e.g. "host probe failed in round 3 of run r1 (process 2) (RuntimeError: ...)"."""
    number = failure.get("round")
    where = f"in round {number}" if number else "before round 1"
    of_run = f" of run {run_id}" if run_id else ""
    process = f" (process {failure['process']})" if failure.get("process") else ""
    return f"host probe failed {where}{of_run}{process} ({failure.get('error')})"
