"""The measurement procedure in one process: build and check the planned rows (bench/plan),
warm up, sample, summarise.

Why the procedure looks like this (docs/methodology.md has the measurements):
- Host noise comes in spells of seconds. Timing one row after another lets a slow spell land
  on one row only, which then looks slow, and two runs disagree on that row. So rows are
  sampled in interleaved rounds: each round gives every unfinished row a short slice, and
  every row is sampled in at least `min_rounds` rounds, so a slow spell is shared by all
  rows and the ratios between operators (the paper's point) hold.
- A row is finished when the 95% interval of its median is within ±`ci_target` (after
  `min_samples` and `min_rounds`: bench/measure/stopping.py), or when its sampling time
  reaches `max_row_s`; it is then `imprecise`, reported with its real interval rather than
  a tidy wrong number. A row the device reports a problem for (throttled...) or whose
  warm-up never settled is `disturbed` (bench/results/status.py: the words and their
  reason codes).
- The host itself speeds up and slows down (every row by the same few percent, for tens of
  seconds). A fixed GEMM, the host probe (bench/measure/host_probe.py), takes a slice of every
  round like a row; each row stores the probe's median in the rounds it was sampled in, so
  readers and `fbench compare` can tell a slower host from slower code.
- `--method official` reproduces the FasterNet script instead: untimed warm-up calls, then
  the mean of 200 calls, one row after another.

The runner returns rows as they finish and writes nothing: the CLI stores each row
atomically as it arrives, so an interrupted run keeps every finished row. A run timed in
several worker processes starts at bench/measure/entry.py; each worker runs this procedure.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fbench.bench.config import RunConfig, TimingConfig
from fbench.bench.config.model import BUILD_DTYPE
from fbench.bench.errors import one_line
from fbench.bench.measure import host_probe
from fbench.bench.measure.events import Emit, Phase, RoundFinished, RowCount
from fbench.bench.measure.stopping import has_converged, interval_note
from fbench.bench.plan.rows import RowPlan
from fbench.bench.results import ResultRow, now_iso
from fbench.bench.results import status as row_status
from fbench.bench.stats import host_probe as probe_stats
from fbench.bench.stats import timing
from fbench.bench.stats.paired import ANCHORS


@dataclass
class _Row:
    """A row being measured: its prepared call and the samples gathered so far."""

    plan: RowPlan
    call: Callable[[], object]
    flops_fvcore: int
    uncounted_ops: dict[str, int]
    details: dict[str, Any]
    started: str
    telemetry_before: dict[str, Any]
    keepalive: tuple = ()  # module and input: the call needs them alive
    warmup: dict[str, Any] = field(default_factory=dict)
    samples_s: list[float] = field(default_factory=list)
    rounds: int = 0
    # Per round sampled (from `first_round` on, consecutive): the row's median and each
    # anchor's (ANCHORS: "gemm" is the host probe), for estimates paired in time
    # (bench/stats/paired.py); an anchor that failed while the row was active: its failure.
    first_round: int | None = None
    round_ms: list[float] = field(default_factory=list)
    anchor_ms: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in ANCHORS})
    anchor_failures: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warmup_cut_by_budget: bool = False  # a time budget shortened its warm-up's maximum
    # The device's waits (cooling a Pi) before the rounds this row was sampled in.
    cooling_waits: int = 0
    cooling_s: float = 0.0

    @property
    def probe_ms(self) -> list[float]:  # the host probe's median in each round sampled
        return self.anchor_ms["gemm"]

    @property
    def probe_failure(self) -> dict[str, Any] | None:
        return self.anchor_failures.get("gemm")

    # Wall time spent sampling. Not sum(samples_s): a device that times blocks of calls
    # (CUDA events) returns one per-call average per block, which sums to far less.
    sampled_s: float = 0.0

    def summary(self) -> timing.LatencySummary:
        return timing.summarize([s * 1000.0 for s in self.samples_s])


def _prepare(plan: RowPlan, session: Any, cache_dir: Path | None = None) -> _Row:
    """Build the stack, check its FLOPs with fvcore, hand it to the backend."""
    import torch

    from fbench.bench.flop_count import count_flops
    from fbench.devices import get_backend

    module, example = plan.build()
    counted = count_flops(module, example[:1])
    plan.check_count(counted)

    dtype = getattr(torch, BUILD_DTYPE.get(plan.dtype, plan.dtype))
    module = module.to(device=session.torch_device, dtype=dtype)
    example = example.to(device=session.torch_device, dtype=dtype)
    telemetry_before = session.telemetry()
    options = {**plan.backend_options, "cache_dir": cache_dir, "dtype": plan.dtype}
    prepared = get_backend(plan.backend).prepare(module, example, session, options)
    _check_finite(prepared.call())
    return _Row(
        plan=plan,
        call=prepared.call,
        flops_fvcore=counted.flops,
        uncounted_ops=counted.uncounted_ops,
        details=dict(prepared.details),
        started=now_iso(),
        telemetry_before=telemetry_before,
        keepalive=(module, example),
        notes=list(prepared.details.get("notes") or ()),
    )


class NonFiniteOutput(Exception):
    """The timed module computes NaN or infinity: its timings are not those of real work
    (NaN and denormal paths run at other speeds), so the row fails."""


def _check_finite(output: object) -> None:
    """One untimed call's output, checked once per row: every value finite."""
    import numpy
    import torch

    if isinstance(output, (list, tuple)):
        for item in output:
            _check_finite(item)
        return
    if isinstance(output, torch.Tensor) and output.is_floating_point():
        bad = int((~torch.isfinite(output.detach())).sum())
        total = output.numel()
    elif isinstance(output, numpy.ndarray) and output.dtype.kind in "fc":
        bad = int((~numpy.isfinite(output)).sum())
        total = output.size
    else:
        return
    if bad:
        raise NonFiniteOutput(
            f"the module's output holds NaN or infinity ({bad:,} of {total:,} values); "
            "its timings would not be those of real inputs"
        )


def _warm_up(row: _Row, session: Any, settings: TimingConfig, limit_s: float | None = None) -> None:
    """Call until two consecutive windows agree (see `timing.has_settled`), within bounds;
    `limit_s` (a time budget's share) shortens the maximum, never the minimum."""
    if limit_s is not None and limit_s < settings.warmup_max_s:
        settings = replace(settings, warmup_max_s=max(settings.warmup_min_s, limit_s))
        row.warmup_cut_by_budget = True
    window_s = max(settings.warmup_min_s / 2, 0.02)
    previous: list[float] = []
    spent, calls, settled = 0.0, 0, False
    while True:
        begin = time.perf_counter()
        window = session.measure(row.call, budget_s=window_s)
        calls += len(window)
        spent += time.perf_counter() - begin
        if spent >= settings.warmup_min_s and timing.has_settled(
            previous, window, settings.warmup_tolerance
        ):
            settled = True
            break
        if spent >= settings.warmup_max_s:
            break
        previous = window
    row.warmup = {"calls": calls, "seconds": round(spent, 4), "settled": settled}
    if not settled:
        row.notes.append(
            f"warm-up did not settle within {settings.warmup_max_s:g} s "
            f"(windows differed by more than {settings.warmup_tolerance:.0%})"
        )


def _finish(row: _Row, session: Any, settings: TimingConfig, converged: bool) -> ResultRow:
    method = settings.method
    summary = row.summary()
    estimator = "mean" if method == "official" else "median"
    latency = getattr(summary, estimator)
    telemetry_after = session.telemetry()
    # The device may know the row is not trustworthy (throttled, clock capped...).
    problems = session.problems(row.telemetry_before, telemetry_after)
    causes = [(row_status.problem_code(problem), str(problem)) for problem in problems]
    if (
        row.warmup.get("settled") is False
        and not row.warmup_cut_by_budget
        and row_status.unsettled_disturbs(settings.warmup_max_s)
    ):
        causes.append((row_status.WARMUP_UNSETTLED, row.notes[0] if row.notes else ""))
    moved = probe_stats.moved_words([row.probe_ms], settings.host_moved_above)
    if moved:
        causes.append((row_status.HOST_MOVED, moved))
    interval = []
    if method == "adaptive" and not converged:
        interval = [interval_note(summary, row.sampled_s, row.rounds, settings)]
    reasons = row_status.unique(
        [code for code, _ in causes] + [row_status.INTERVAL_WIDE] * bool(interval)
    )
    telemetry_notes = session.telemetry_notes(row.telemetry_before, telemetry_after)
    notes = [*interval, *(str(problem) for problem in problems), *row.notes, *telemetry_notes]
    return row.plan.skeleton(
        status=row_status.status_of(reasons),
        reasons=reasons,
        why=row_status.sentence([text for _, text in causes], interval),
        device_problems=[str(problem) for problem in problems],
        method=method,
        hardware_counters=_hardware_counters(row, settings) if settings.perf_counters else None,
        latency_ms=summary,
        latency_estimator=estimator,
        samples_ms=[round(s * 1000.0, 6) for s in row.samples_s],
        throughput_per_s=timing.throughput_per_s(latency, row.plan.batch),
        gflops_per_s=timing.gflops_per_s(row.plan.flops(), row.plan.batch, latency),
        notes=notes,
        flops_fvcore=row.flops_fvcore,
        fvcore_uncounted_ops=row.uncounted_ops,
        backend_details=row.details,
        warmup=row.warmup,
        rounds=row.rounds,
        sampled_s=round(row.sampled_s, 4),
        telemetry={
            "before": row.telemetry_before,
            "after": telemetry_after,
            **(
                {"cooling": {"waits": row.cooling_waits, "waited_s": round(row.cooling_s, 1)}}
                if row.cooling_waits
                else {}
            ),
        },
        host_probe=host_probe.record(
            row.probe_ms, row.probe_failure, probe_stats.drift([row.probe_ms])
        ),
        round_medians=[_round_record(row)] if row.round_ms else None,
        started=row.started,
        finished=now_iso(),
    )


def _round_record(row: _Row) -> dict[str, Any]:
    """This process's per-round medians of the row and of the anchors timed in the same
    rounds (the anchors' lists stop where an anchor failed: its `failure` says where)."""
    record: dict[str, Any] = {
        "first_round": row.first_round or 1,
        "row_ms": [round(value, 6) for value in row.round_ms],
        **{
            f"{kind}_ms": [round(value, 6) for value in values]
            for kind, values in row.anchor_ms.items()
        },
    }
    if row.anchor_failures:
        record["anchor_failures"] = dict(row.anchor_failures)
    return record


def _hardware_counters(row: _Row, settings: TimingConfig) -> dict[str, Any]:
    """Per-call perf counters over a short extra window of the row's calls (not timed)."""
    import torch

    from fbench.devices import perf_counters

    with torch.inference_mode():
        return perf_counters.count(row.call, budget_s=max(4 * settings.round_s, 0.05))


def _failed(plan: RowPlan, method: str, error: BaseException, started: str) -> ResultRow:
    message = one_line(error)
    return plan.skeleton(
        status=row_status.FAILED,
        reasons=[row_status.ERROR],
        why=message,
        method=method,
        error=message,
        started=started,
        finished=now_iso(),
    )


def measure_in_process(
    plans: list[Any],
    config: RunConfig,
    session: Any,
    emit: Emit,
    done_before: int = 0,
    cache_dir: Path | None = None,
    order_seed: int | None = None,
    before_sampling: Callable[[], None] | None = None,
    stop_at: float | None = None,
) -> Iterator[ResultRow]:
    """Measure `plans` in this process on an open device session; yield each row as soon as
    it is final.

    `cache_dir` is where backends may keep what they build (exported ONNX models).
    `order_seed` shuffles the rounds (default: the config's seed). `before_sampling` is
    called once every row is built and warm, just before the first timed round (a worker
    waits there for its parent: bench/measure/worker.py). Runs timed in several processes
    start at bench/measure/entry.py, which picks this or the worker processes.

    `stop_at` (wall clock, time.time()): a time budget's deadline (bench/measure/budget.py).
    Warm-ups are shortened to fit it, sampling stops before it (rows with enough samples for
    an interval are finished, imprecise if short of the target), and cool-down waits may use
    what is left; a row without enough samples by then is not yielded (the run is left
    incomplete, for --resume).
    """
    settings = config.timing
    count = RowCount(emit, done_before, done_before + len(plans))
    finished = count.finished

    rows: list[_Row] = []
    for index, plan in enumerate(plans, 1):
        emit(Phase(f"building {plan.label} ({index}/{len(plans)})"))
        started = now_iso()
        try:
            row = _prepare(plan, session, cache_dir)
            if settings.method == "adaptive":
                emit(Phase(f"warming up {plan.label}"))
                limit = None
                if stop_at is not None:  # at most a third of what is left, shared by the rows
                    left = len(plans) - index + 1
                    limit = max(0.0, stop_at - time.time()) / 3 / left
                _warm_up(row, session, settings, limit)
        except Exception as error:  # a row that cannot run is stored as failed; the run goes on
            yield finished(_failed(plan, settings.method, error, started))
            continue
        if settings.method == "official":
            yield from _official(row, session, config, finished)
        else:
            rows.append(row)

    if settings.method == "adaptive":
        seed = config.seed if order_seed is None else order_seed
        if before_sampling is not None:
            before_sampling()
        yield from _interleaved(rows, session, config, emit, count, seed, stop_at)


def _official(row: _Row, session: Any, config: RunConfig, finished: Callable) -> Iterator:
    """The FasterNet script: untimed warm-up calls, then the mean of `official_calls` calls."""
    from fbench.devices import get_device

    warmup_calls = get_device(config.device).official_warmup_calls
    try:
        session.wait_until_ready()
        session.measure(row.call, calls=warmup_calls)
        row.warmup = {"calls": warmup_calls, "settled": None}
        row.samples_s = session.measure(row.call, calls=config.timing.official_calls)
        row.rounds = 1
    except Exception as error:
        yield finished(_failed(row.plan, "official", error, row.started))
        return
    yield finished(_finish(row, session, config.timing, converged=True))


def _interleaved(
    rows: list[_Row],
    session: Any,
    config: RunConfig,
    emit: Emit,
    count: RowCount,
    order_seed: int,
    stop_at: float | None = None,
) -> Iterator[ResultRow]:
    settings = config.timing
    finished = count.finished
    # Shuffled each round (fixed seed: reproducible) so no row always follows the same one.
    order = random.Random(order_seed)
    # The anchors that run (kind → call); none is warmed for a round that times nothing.
    anchors = _start_anchors(session, settings, config.seed, emit, rows) if rows else {}
    active = list(rows)
    # One untimed call of every row, in a shuffled order, before the first timed round: each
    # row's warm-up came before the other rows were built and warmed, so its first call in
    # round 1 was not like the rest: it was far slower than the row's median without this
    # call, and like the others with it (docs/methodology.md, step 6).
    for row in order.sample(active, len(active)):
        try:
            session.measure(row.call, calls=1)
            row.warmup["calls"] = row.warmup.get("calls", 0) + 1
        except Exception as error:
            active.remove(row)
            yield finished(_failed(row.plan, "adaptive", error, row.started))
    round_number = 0
    round_took = 0.0
    while active:
        round_number += 1
        if stop_at is not None:
            # The device's wait comes out of the budget too: what is left after one round.
            waited = session.wait_until_ready(
                max_wait_s=max(0.0, stop_at - time.time() - round_took)
            )
        else:
            waited = session.wait_until_ready()
        if waited:
            emit(Phase(f"waited for the device: {waited}"))
            for row in active:
                row.cooling_waits += 1
                row.cooling_s += float(waited.get("waited_s") or 0.0)
        if stop_at is not None and (
            (waited and waited.get("out_of_budget")) or time.time() + round_took > stop_at
        ):
            yield from map(finished, _stop_for_budget(active, session, settings, emit, waited))
            return
        round_began = time.monotonic()
        scheduled = active if settings.schedule == "interleaved" else active[:1]
        sampled = []
        anchor_ms: dict[str, float] = {}
        # The anchors (their kinds: strings) take their slices at random places in the
        # round, like rows.
        slots = [*scheduled, *anchors]
        for row in order.sample(slots, len(slots)):
            if isinstance(row, str):
                try:
                    anchor_ms[row] = host_probe.sample(anchors[row], session, settings, row)
                except Exception as error:
                    del anchors[row]
                    _anchor_off(row, round_number, error, active, emit)
                continue
            try:
                begin = time.perf_counter()
                calls_s = session.measure(row.call, budget_s=settings.round_s)
                row.sampled_s += time.perf_counter() - begin
                row.samples_s.extend(calls_s)
                row.rounds += 1
                if calls_s:
                    row.first_round = row.first_round or round_number
                    row.round_ms.append(timing.median(calls_s) * 1000.0)
                sampled.append(row)
            except Exception as error:
                active.remove(row)
                yield finished(_failed(row.plan, "adaptive", error, row.started))
        for row in sampled:
            # An anchor's list stays a prefix of the row's rounds: it stops when it fails.
            for kind, value in anchor_ms.items():
                if len(row.anchor_ms[kind]) == len(row.round_ms) - 1:
                    row.anchor_ms[kind].append(value)
        # One summary per row and round serves both the stopping rule and the progress line.
        still_active, estimates = [], []
        for row in active:
            summary = row.summary() if row.samples_s else None
            converged = summary is not None and has_converged(summary, row.rounds, settings)
            if converged or row.sampled_s >= settings.max_row_s:
                yield finished(_finish(row, session, settings, converged))
            else:
                still_active.append(row)
                if summary is not None:
                    estimates.append((row.plan.label, summary))
        active = still_active
        round_took = time.monotonic() - round_began
        left_s = sum(max(settings.max_row_s - row.sampled_s, 0.0) for row in active)
        emit(RoundFinished(round_number, estimates, count.done, count.total, left_s=left_s))


BUDGET_NOTE = "sampling stopped at the time budget's deadline"


def _stop_for_budget(
    active: list[_Row],
    session: Any,
    settings: TimingConfig,
    emit: Emit,
    waited: dict[str, Any] | None,
) -> Iterator[ResultRow]:
    """The time budget's deadline: finish the rows that have an interval; leave the rest.

    A device still cooling when the time ran out (`out_of_budget`) measures nothing more:
    its rows would be timed hot, the state the wait was for avoiding."""
    cooling = bool(waited and waited.get("out_of_budget"))
    kept = [] if cooling else [r for r in active if len(r.samples_s) >= timing.MIN_SAMPLES_FOR_CI]
    for row in kept:
        row.notes.append(BUDGET_NOTE)
        yield _finish(row, session, settings, converged=False)
    left = len(active) - len(kept)
    if left:
        why = (
            f"the device was still cooling ({waited.get('to_c')} °C, waiting for < "
            f"{waited.get('below_c')} °C)"
            if cooling and waited
            else f"fewer than {timing.MIN_SAMPLES_FOR_CI} calls timed"
        )
        emit(Phase(f"time budget reached: {left} row(s) left unmeasured, {why}"))


# Each anchor's name in messages.
ANCHOR_NAMES = {"gemm": "host probe", "copy": "copy anchor", "smallconv": "small-conv anchor"}


def _anchor_off(
    kind: str, round_number: int, error: Exception, rows: Sequence[_Row], emit: Emit
) -> None:
    """An anchor that fails is context, never a reason to lose the run: say so and store the
    failure (round 0: it never started) with the rows it leaves without it, so a report can
    say why they lack it."""
    emit(Phase(f"{ANCHOR_NAMES[kind]} off: {one_line(error)}"))
    failure = probe_stats.failure_record(round_number, one_line(error))
    for row in rows:
        row.anchor_failures[kind] = failure


def _start_anchors(
    session: Any, settings: TimingConfig, seed: int, emit: Emit, rows: Sequence[_Row]
) -> dict[str, Callable[[], object]]:
    """The anchors (ANCHORS), warmed, with `[timing] host_probe`; one that cannot run is
    left out, its failure stored with the rows."""
    if not settings.host_probe:
        return {}
    anchors = {}
    for kind in ANCHORS:
        try:
            anchors[kind] = host_probe.start(session, settings, seed, kind=kind)
        except Exception as error:
            _anchor_off(kind, 0, error, rows, emit)
    return anchors
