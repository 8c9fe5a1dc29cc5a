"""The measurement procedure: plan rows, build and check them, warm up, sample, summarise.

Why the procedure looks like this (docs/methodology.md has the measurements):
- Host noise comes in spells of seconds. Timing one row after another lets a slow spell land
  on one row only, which then looks slow, and two runs disagree on that row. So rows are
  sampled in interleaved rounds: each round gives every unfinished row a short slice, and
  every row is sampled in at least `min_rounds` rounds, so a slow spell is shared by all
  rows and the ratios between operators (the paper's point) hold.
- A row is finished when the 95% interval of its median is within ±`ci_target` (after
  `min_samples` and `min_rounds`), or when its sampling time reaches `max_row_s`; it is
  then `imprecise`, reported with its real interval rather than a tidy wrong number. A row
  the device reports a problem for (throttled...) or whose warm-up never settled is
  `disturbed` (bench/results/status.py: the words and their reason codes).
- The host itself speeds up and slows down (every row by the same few percent, for tens of
  seconds). A fixed GEMM, the host probe (bench/measure/host_probe.py), takes a slice of every
  round like a row; each row stores the probe's median in the rounds it was sampled in, so
  readers and `fbench compare` can tell a slower host from slower code.
- `--method official` reproduces the FasterNet script instead: untimed warm-up calls, then
  the mean of 200 calls, one row after another.

The runner returns rows as they finish and writes nothing: the CLI stores each row
atomically as it arrives, so an interrupted run keeps every finished row.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import RunConfig, TimingConfig
from bench.errors import one_line
from bench.flop_count import CountMismatch, FvcoreCount
from bench.measure import host_probe
from bench.plan import plan_key, row_identity
from bench.results import ResultRow, now_iso
from bench.results import status as row_status
from bench.stats import timing
from operators import StageShape, get_operator
from operators.counting import DTYPE_BYTES


@dataclass(frozen=True)
class RowPlan:
    """What one row measures (kept apart from how it was measured, like a TaskSpec)."""

    operator: str
    params: dict[str, Any]
    shape: StageShape
    layers: int
    batch: int
    dtype: str
    device: str
    backend: str
    backend_options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    @property
    def label(self) -> str:
        return f"{self.operator} {self.shape.label}"

    def flops(self) -> int:
        return get_operator(self.operator).flops(self.shape, self.params, self.layers)

    def memory_access_bytes(self) -> tuple[int, int]:
        """(paper eqs. 2/3/5, implementation) in bytes for the row's batch and dtype."""
        spec, width = get_operator(self.operator), DTYPE_BYTES[self.dtype]
        paper = spec.memory_access_elements(self.shape, self.params, self.layers, self.batch)
        actual = spec.implementation_memory_access_elements(
            self.shape, self.params, self.layers, self.batch
        )
        return paper * width, actual * width

    def build(self) -> tuple[Any, Any]:
        """The stack (eval mode, weights from `seed`) and an input batch, on CPU in fp32.

        The runner counts FLOPs on these with fvcore (`check_count`), then moves them to the
        device. Any plan type with `build`, `flops`, `check_count`, `key`, `skeleton` and
        `label` can be measured (the network suite's is `networks.plan.NetworkPlan`).
        """
        import torch

        torch.manual_seed(self.seed)
        module = get_operator(self.operator).build(self.shape, self.params, self.layers)
        generator = torch.Generator().manual_seed(self.seed)
        size = (self.batch, self.shape.channels, self.shape.height, self.shape.width)
        return module, torch.randn(size, generator=generator)

    def check_count(self, counted: FvcoreCount) -> None:
        """fvcore's count of the built stack must equal the analytic one (paper eqs.)."""
        expected = self.flops()
        if counted.flops != expected:
            raise CountMismatch(
                f"FLOPs disagree: analytic {expected:,} vs fvcore {counted.flops:,} multiply-adds"
            )

    def key(self) -> tuple:
        return plan_key(self)

    def skeleton(self, **values: Any) -> ResultRow:
        """A ResultRow with this plan's identity and counts filled in."""
        paper_bytes, implementation_bytes = self.memory_access_bytes()
        return ResultRow(
            **row_identity(self),
            flops=self.flops(),
            memory_access_bytes=paper_bytes,
            implementation_memory_access_bytes=implementation_bytes,
            **values,
        )


def plan_rows(config: RunConfig) -> list[Any]:
    """Every operator at every stage (and depth), in config order (operator-major, like
    Table 1), or with `suite = "networks"` every selected network (Table 3)."""
    if config.suite == "networks":
        from networks.plan import plan_networks

        return plan_networks(config)
    if config.custom_operators:
        from operators.plan import plan_custom

        return plan_custom(config, RowPlan)
    return [
        RowPlan(
            operator=name,
            params=dict(config.operator_params[name]),
            shape=stage,
            layers=layers,
            batch=config.batch,
            dtype=config.dtype,
            device=config.device,
            backend=config.backend,
            backend_options=dict(config.backend_options),
            seed=config.seed,
        )
        for name in config.operators
        for stage in config.stages
        for layers in config.depths
    ]


# --- progress events (the CLI renders them; the runner never prints) ------------------------


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


# --- the procedure --------------------------------------------------------------------------


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
    probe_ms: list[float] = field(default_factory=list)  # host probe median, per round sampled
    probe_failure: dict[str, Any] | None = None  # the probe failed while this row was active
    notes: list[str] = field(default_factory=list)

    # Wall time spent sampling. Not sum(samples_s): a device that times blocks of calls
    # (CUDA events) returns one per-call average per block, which sums to far less.
    sampled_s: float = 0.0

    def summary(self) -> timing.LatencySummary:
        return timing.summarize([s * 1000.0 for s in self.samples_s])


def _prepare(plan: RowPlan, session: Any, cache_dir: Path | None = None) -> _Row:
    """Build the stack, check its FLOPs with fvcore, hand it to the backend."""
    import torch

    from bench.flop_count import count_flops
    from devices import get_backend

    module, example = plan.build()
    counted = count_flops(module, example[:1])
    plan.check_count(counted)

    dtype = getattr(torch, plan.dtype)
    module = module.to(device=session.torch_device, dtype=dtype)
    example = example.to(device=session.torch_device, dtype=dtype)
    telemetry_before = session.telemetry()
    options = {**plan.backend_options, "cache_dir": cache_dir}
    prepared = get_backend(plan.backend).prepare(module, example, session, options)
    return _Row(
        plan=plan,
        call=prepared.call,
        flops_fvcore=counted.flops,
        uncounted_ops=counted.uncounted_ops,
        details=dict(prepared.details),
        started=now_iso(),
        telemetry_before=telemetry_before,
        keepalive=(module, example),
    )


def _warm_up(row: _Row, session: Any, settings: TimingConfig) -> None:
    """Call until two consecutive windows agree (see `timing.has_settled`), within bounds."""
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


def has_converged(summary: timing.LatencySummary, rounds: int, settings: TimingConfig) -> bool:
    """Enough samples, in enough rounds, and the median's 95% interval within the target."""
    if summary.n < settings.min_samples or rounds < settings.min_rounds:
        return False
    halfwidth = summary.ci95_halfwidth_rel
    return halfwidth is not None and halfwidth <= settings.ci_target


def interval_note(
    summary: timing.LatencySummary, sampled_s: float, rounds: int, settings: TimingConfig
) -> str:
    """Why a row that never reached its target is `imprecise`, with its real interval."""
    halfwidth = summary.ci95_halfwidth_rel
    interval = f"±{halfwidth:.1%}" if halfwidth is not None else "undefined"
    return (
        f"95% CI of the median is {interval} after {sampled_s:.1f} s of sampling "
        f"(n={summary.n}, {rounds} rounds); target ±{settings.ci_target:.1%}"
    )


def _is_converged(row: _Row, settings: TimingConfig) -> bool:
    if len(row.samples_s) < settings.min_samples:  # also spares summarising no samples
        return False
    return has_converged(row.summary(), row.rounds, settings)


def _finish(row: _Row, session: Any, settings: TimingConfig, converged: bool) -> ResultRow:
    method = settings.method
    summary = row.summary()
    estimator = "mean" if method == "official" else "median"
    latency = getattr(summary, estimator)
    telemetry_after = session.telemetry()
    # The device may know the row is not trustworthy (throttled, clock capped...).
    problems = session.problems(row.telemetry_before, telemetry_after)
    causes = [(row_status.problem_code(problem), str(problem)) for problem in problems]
    if row.warmup.get("settled") is False and row_status.unsettled_disturbs(settings.warmup_max_s):
        causes.append((row_status.WARMUP_UNSETTLED, row.notes[0] if row.notes else ""))
    moved = host_probe.moved_words(row.probe_ms, settings.host_moved_above)
    if moved:
        causes.append((row_status.HOST_MOVED, moved))
    interval = []
    if method == "adaptive" and not converged:
        interval = [interval_note(summary, row.sampled_s, row.rounds, settings)]
    reasons = row_status.unique(
        [code for code, _ in causes] + [row_status.INTERVAL_WIDE] * bool(interval)
    )
    notes = [*interval, *(str(problem) for problem in problems), *row.notes]
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
        telemetry={"before": row.telemetry_before, "after": telemetry_after},
        host_probe=_probe_record(row.probe_ms, row.probe_failure),
        started=row.started,
        finished=now_iso(),
    )


def _probe_record(
    round_medians_ms: list[float], failure: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    if not round_medians_ms and failure is None:
        return None
    record = {
        "workload": host_probe.WORKLOAD,
        "round_medians_ms": [round(value, 6) for value in round_medians_ms],
    }
    return {**record, "failure": failure} if failure is not None else record


def _hardware_counters(row: _Row, settings: TimingConfig) -> dict[str, Any]:
    """Per-call perf counters over a short extra window of the row's calls (not timed)."""
    import torch

    from devices import perf_counters

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


def measure(
    plans: list[Any],
    config: RunConfig,
    session: Any,
    emit: Emit,
    done_before: int = 0,
    cache_dir: Path | None = None,
    order_seed: int | None = None,
    before_sampling: Callable[[], None] | None = None,
    checkpoint: Callable[[Any], None] | None = None,
    stored: Sequence[ResultRow] = (),
) -> Iterator[ResultRow]:
    """Measure `plans` on an open device session; yield each row as soon as it is final.

    `cache_dir` is where backends may keep what they build (exported ONNX models).
    `order_seed` shuffles the rounds (default: the config's seed). `before_sampling` is
    called once every row is built and warm, just before the first timed round (a worker
    waits there for its parent: bench/measure/worker.py). With `processes` > 1
    (adaptive method) the rows are timed in worker processes instead (bench/measure/processes.py),
    which hand `checkpoint` the pooled rows after every process and count the processes
    of `stored` rows (an earlier attempt's, for --resume) towards the planned ones.
    """
    settings = config.timing
    total = done_before + len(plans)
    done = done_before

    def finished(result: ResultRow) -> ResultRow:
        nonlocal done
        done += 1
        emit(RowFinished(result, done, total))
        return result

    if settings.method == "adaptive" and settings.processes > 1:
        from bench.measure.processes import measure_in_processes

        yield from measure_in_processes(
            plans, config, session, emit, finished, cache_dir, checkpoint, stored
        )
        return

    rows: list[_Row] = []
    for index, plan in enumerate(plans, 1):
        emit(Phase(f"building {plan.label} ({index}/{len(plans)})"))
        started = now_iso()
        try:
            row = _prepare(plan, session, cache_dir)
            if settings.method == "adaptive":
                emit(Phase(f"warming up {plan.label}"))
                _warm_up(row, session, settings)
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
        yield from _interleaved(rows, session, config, emit, finished, lambda: (done, total), seed)


def _official(row: _Row, session: Any, config: RunConfig, finished: Callable) -> Iterator:
    """The FasterNet script: untimed warm-up calls, then the mean of `official_calls` calls."""
    from devices import get_device

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
    finished: Callable[[ResultRow], ResultRow],
    progress: Callable[[], tuple[int, int]],
    order_seed: int,
) -> Iterator[ResultRow]:
    settings = config.timing
    # Shuffled each round (fixed seed: reproducible) so no row always follows the same one.
    order = random.Random(order_seed)
    probe = _start_probe(session, settings, config.seed, emit, rows) if rows else None
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
    while active:
        round_number += 1
        waited = session.wait_until_ready()
        if waited:
            emit(Phase(f"waited for the device: {waited}"))
        scheduled = active if settings.schedule == "interleaved" else active[:1]
        sampled = []
        probe_ms = None
        # The probe (None in the list) takes its slice at a random place in the round.
        slots = [*scheduled, None] if probe else list(scheduled)
        for row in order.sample(slots, len(slots)):
            if row is None:
                try:
                    probe_ms = _sample_probe(probe, session, settings)
                except Exception as error:  # context only: stop probing, keep measuring
                    probe = None
                    emit(Phase(f"host probe off: {one_line(error)}"))
                    # Stored with the rows still sampled, so a report can say why they lack it.
                    failure = host_probe.failure_record(round_number, one_line(error))
                    for other in active:
                        other.probe_failure = failure
                continue
            try:
                begin = time.perf_counter()
                row.samples_s.extend(session.measure(row.call, budget_s=settings.round_s))
                row.sampled_s += time.perf_counter() - begin
                row.rounds += 1
                sampled.append(row)
            except Exception as error:
                active.remove(row)
                yield finished(_failed(row.plan, "adaptive", error, row.started))
        if probe_ms is not None:
            for row in sampled:
                row.probe_ms.append(probe_ms)
        still_active = []
        for row in active:
            converged = _is_converged(row, settings)
            if converged or row.sampled_s >= settings.max_row_s:
                yield finished(_finish(row, session, settings, converged))
            else:
                still_active.append(row)
        active = still_active
        done, total = progress()
        estimates = [(row.plan.label, row.summary()) for row in active if row.samples_s]
        emit(RoundFinished(round_number, estimates, done, total))


def _start_probe(
    session: Any, settings: TimingConfig, seed: int, emit: Emit, rows: Sequence[_Row] = ()
) -> Callable[[], object] | None:
    """Build and warm the host probe; None (and a note) if it is switched off or cannot run:
    then the failure (round 0) is stored with `rows`."""
    if not settings.host_probe:
        return None
    try:
        probe = host_probe.build(session.torch_device, seed)
        session.measure(probe, budget_s=max(settings.warmup_min_s, settings.round_s))
    except Exception as error:  # the probe is context, never a reason to lose the run
        emit(Phase(f"host probe off: {one_line(error)}"))
        for row in rows:
            row.probe_failure = host_probe.failure_record(0, one_line(error))
        return None
    return probe


def _sample_probe(probe: Callable[[], object], session: Any, settings: TimingConfig) -> float:
    samples_s = session.measure(probe, budget_s=settings.round_s)
    return host_probe.round_median([s * 1000.0 for s in samples_s])
