"""Pooling a row timed in several processes: rows in, one row out. Pure (no processes, no I/O).

Each worker samples every row like a single-process run, with 1/processes of the budget
(`worker_timing`). The parent pools every row's samples and judges the pooled row against
the run's own targets (`pool_rows`); its estimate is the geometric mean of the process
medians and its interval, centred on that estimate, the wider of the pooled calls' and the
one from the process medians, since the calls of one process share its luck
(docs/methodology.md, "Processes and memory layout"). Rows still short of the target whose
processes agree (their calls fall short), with sampling time left, get another process
(`needs_another_process`). Each process's samples, warm-up, telemetry and probe are kept in
the row's `processes` entries (`with_process_details`), from which `worker_rows_of`
rebuilds the per-process rows, so that `--resume` can pool them again with more processes.
The scheduling of the workers is bench/measure/processes.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from fbench.bench.config import TimingConfig
from fbench.bench.measure.stopping import has_converged, interval_note
from fbench.bench.results import ResultRow
from fbench.bench.results import status as row_status
from fbench.bench.stats import host_probe as probe_stats
from fbench.bench.stats import timing


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
        """The geometric mean of the process medians, with an interval centred on it that is
        the wider of the calls' own and the processes' (`timing.processes_summary`)."""
        samples_ms = [sample for row in worker_rows for sample in row.samples_ms]
        calls_halfwidth = timing.summarize(samples_ms).ci95_halfwidth_rel
        medians = [row.latency_ms.median for row in worker_rows if row.latency_ms]
        processes_halfwidth = timing.between_processes_halfwidth(medians)
        summary = timing.processes_summary(samples_ms, medians)
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
    `problems` (throttling...: fbench.bench.results.status.DeviceProblem carries the code), a
    process's warm-up never settled, or the run was `interrupted` (that sentence) before every
    planned process timed it. Each process's median, n, rounds and sampling time are kept in
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
    probe = probe_stats.pool([row.host_probe for row in worker_rows])
    # Each process on its own rounds: a probe that differs between processes is their
    # memory layout, not the host moving (docs/methodology.md, "Spikes and shifts").
    per_process = [probe_stats.rounds_of(row) for row in worker_rows]
    drift = probe_stats.drift(per_process)
    if probe is not None and drift is not None:
        probe = {**probe, "drift": drift}
    moved = probe_stats.moved_words(per_process, settings.host_moved_above)
    if moved:
        causes.append((row_status.HOST_MOVED, moved))
    reasons = row_status.unique([code for code, _ in causes] + interval_reasons)
    notes = [*interval, *(text for _, text in causes), *(first.backend_details.get("notes") or ())]
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
                **_versions_of((row.processes or [{}])[0]),
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
        # Each process's per-round medians, in process order (None: a process without).
        round_medians=_round_medians(worker_rows),
        started=first.started,
        finished=last.finished,
    )


def _round_medians(worker_rows: Sequence[ResultRow]) -> list[dict[str, Any] | None] | None:
    entries = [(row.round_medians or [None])[0] for row in worker_rows]
    return entries if any(entries) else None


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


def processes_of(row: ResultRow) -> int:
    """How many worker processes timed a stored row (1 for a one-process row)."""
    return len(row.processes) if row.processes else 1


def _versions_of(entry: dict) -> dict:
    """A process's imported versions, kept when the worker reported them (--with)."""
    return {"versions": entry["versions"]} if entry.get("versions") else {}


def worker_rows_of(row: ResultRow) -> list[ResultRow]:
    """The per-process rows a stored pooled row was made of, rebuilt from its `processes`
    entries (their samples are consecutive in `samples_ms`), so that `--resume` can pool
    them again with the processes still to come."""
    rebuilt, start = [], 0
    workload = (row.host_probe or {}).get("workload")
    rounds = list(row.round_medians or ())
    for number, entry in enumerate(row.processes or ()):
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
                processes=[{"hash_seed": entry.get("hash_seed"), **_versions_of(entry)}],
                round_medians=[rounds[number]] if number < len(rounds) else None,
            )
        )
    return rebuilt


def with_process_details(
    worker_rows: Sequence[ResultRow],
    settings: TimingConfig,
    problems: Sequence[str] = (),
    planned: int = 0,
    reason: str = "interrupted",
) -> ResultRow:
    """`pool_rows`, and for a row timed in fewer than the `planned` processes a note saying
    so and why (`reason`). Each process's warm-up, telemetry and probe are kept in its
    `processes` entry, so that `--resume` can pool the row again with more processes
    (`worker_rows_of`)."""
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
