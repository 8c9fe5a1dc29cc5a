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

from bench.stats.timing import median, quantile

SIZE = 256  # the probe multiplies two SIZE×SIZE matrices (bench/measure/host_probe.py)
# Stored with every probe sample set: two runs' probes are comparable only if this matches.
WORKLOAD = f"torch.mm {SIZE}×{SIZE} @ {SIZE}×{SIZE} float32"


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


# Fewer probe rounds than this say too little about a row's 5–95% range to call it moved.
MIN_ROUNDS_TO_JUDGE = 8


def moved_words(round_medians_ms: Sequence[float], threshold: float) -> str | None:
    """A sentence when the host's own speed moved by more than `threshold` (a 5–95% range,
    `spread`) over the rounds a row was sampled in; None when it did not, or when there are
    too few rounds to tell. Such a row was timed on a host that was not in a steady state:
    its median mixes two speeds, so it is `disturbed` (bench/results/status.py, `host_moved`)."""
    if len(round_medians_ms) < MIN_ROUNDS_TO_JUDGE:
        return None
    moved = spread(round_medians_ms)
    if moved <= threshold:
        return None
    return (
        f"the host probe moved {moved:.1%} (5–95% range of {len(round_medians_ms)} rounds) "
        f"while the row was sampled, beyond host_moved_above = {threshold:g}"
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
