"""The data a result file holds: `ResultRow` (one measured row of Table 1) and `RunResult` (a
whole run), their lossless JSON form, and the row key that says when two rows are the same
measurement. Pure: reading and writing files is bench/results/reading.py and store.py; every
field is described in docs/result-format.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from fbench import bench
from fbench.bench.results import status as row_status
from fbench.bench.results.schema import SCHEMA
from fbench.bench.stats.timing import LatencySummary


def now_iso() -> str:
    """Local time with its UTC offset, to the second (ISO 8601)."""
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")


@dataclass(frozen=True)
class ResultRow:
    """One operator × shape measured on one device and backend: a row of Table 1."""

    operator: str  # operator name, or the model key for the network suite (e.g. "resnet50")
    operator_params: dict[str, Any]
    stage: int
    channels: int
    height: int
    width: int
    layers: int
    batch: int
    device: str
    backend: str
    dtype: str
    method: str  # "adaptive" or "official"
    flops: int  # multiply-adds of the whole stack for ONE sample (Table 1's FLOPs column)
    memory_access_bytes: int | None  # paper eqs. 2, 3, 5, whole stack and batch (None: networks)
    implementation_memory_access_bytes: int | None  # plus the copies the implementation makes
    status: str  # "ok" | "imprecise" | "disturbed" | "failed" (bench/results/status.py)
    latency_ms: LatencySummary | None = None
    latency_estimator: str = "median"  # which latency_ms field FLOPS and throughput use
    samples_ms: list[float] = field(default_factory=list)
    throughput_per_s: float | None = None
    gflops_per_s: float | None = None
    error: str | None = None
    # Why the row is not `ok`: stable codes (bench/status.REASONS) and one sentence.
    reasons: list[str] = field(default_factory=list)
    why: str | None = None
    notes: list[str] = field(default_factory=list)  # the details: the interval, the processes...
    # What the device itself reported about the row (throttling, a capped clock...), one
    # sentence each; formerly `telemetry.problems` (fbench.result/1).
    device_problems: list[str] = field(default_factory=list)
    flops_fvcore: int | None = None
    fvcore_uncounted_ops: dict[str, int] = field(default_factory=dict)
    backend_options: dict[str, Any] = field(default_factory=dict)
    backend_details: dict[str, Any] = field(default_factory=dict)
    warmup: dict[str, Any] = field(default_factory=dict)
    rounds: int = 0
    sampled_s: float | None = None  # wall time spent sampling the row (not warm-up)
    # Timed in several worker processes (bench/measure/processes.py): one entry per process, in
    # order, {"median_ms", "n", "rounds", "sampled_s"}; samples_ms pools them all. None: the
    # row was timed in a single process.
    processes: list[dict[str, Any]] | None = None
    telemetry: dict[str, Any] = field(default_factory=dict)
    # --perf-counters: per-call cycles, instructions, LLC-load-misses (null if unsupported)
    hardware_counters: dict[str, Any] | None = None
    # The host probe (bench/measure/host_probe.py): {"workload", "round_medians_ms"}, the probe's
    # median in each round this row was sampled in; None for --method official.
    host_probe: dict[str, Any] | None = None
    # Per process (None for a process without them): this row's median in each round it was
    # sampled in and the anchors' medians in the same rounds, {"first_round", "row_ms",
    # "gemm_ms", "copy_ms", "anchor_failures"?}, for estimates paired in time
    # (bench/stats/paired.py). None: the file predates fbench.result/3 or the method is
    # official; such rows cannot be paired.
    round_medians: list[dict[str, Any] | None] | None = None
    # The network suite (Figure 2 / Table 3): which suite a row belongs to, the paper's name
    # for the network, its family (for plot markers) and its parameter count.
    suite: str = "operators"  # "operators" | "networks"
    network: str | None = None  # e.g. "FasterNet-T0", as the paper's Table 3 writes it
    family: str | None = None  # e.g. "FasterNet"
    params: int | None = None
    started: str | None = None
    finished: str | None = None
    # Custom operators (operators/custom.py): where the operator came from (factory, file
    # and its sha256, or package and version; params; whether FLOPs are analytic or fvcore's)
    # and torch's FlopCounterMode count beside fvcore's. None for built-ins and older files.
    operator_source: dict[str, Any] | None = None
    flops_torch: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # fields of a newer fbench, kept as-is

    @property
    def latency(self) -> float | None:
        """The headline latency in ms: the median (adaptive) or the mean (official method)."""
        if self.latency_ms is None:
            return None
        return getattr(self.latency_ms, self.latency_estimator)

    @property
    def process_medians_ms(self) -> list[float]:
        """The median of each worker process that timed the row; empty for one process."""
        return [entry["median_ms"] for entry in self.processes or () if entry.get("median_ms")]

    @property
    def in_averages(self) -> bool:
        """Measured and steady (`ok` or `imprecise`): its median goes into averages and ratios."""
        return row_status.in_averages(self.status)

    @property
    def shape_label(self) -> str:
        return f"{self.channels}×{self.height}×{self.width}"

    def key_fields(self) -> dict[str, Any]:
        """The fields of the row key (`row_key`) by name, for readers of JSON output."""
        return {name: getattr(self, name) for name in KEY_FIELDS}

    def key(self) -> tuple:
        """What makes two rows the same measurement (for --resume and comparisons)."""
        return row_key(**self.key_fields())

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        data["latency_ms"] = self.latency_ms.to_dict() if self.latency_ms else None
        data.update(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResultRow:
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {name: data[name] for name in known if name in data}
        if values.get("latency_ms") is not None:
            values["latency_ms"] = LatencySummary.from_dict(values["latency_ms"])
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})


# The parameters of `row_key`, in the order compare's JSON lists them.
KEY_FIELDS = (
    "operator",
    "operator_params",
    "channels",
    "height",
    "width",
    "layers",
    "batch",
    "dtype",
    "device",
    "backend",
    "backend_options",
)


def row_key(
    operator: str,
    operator_params: Mapping[str, Any],
    channels: int,
    height: int,
    width: int,
    layers: int,
    batch: int,
    device: str,
    backend: str,
    dtype: str,
    backend_options: Mapping[str, Any],
) -> tuple:
    """The identity of a measurement: same key, same thing measured (maybe at another time)."""
    return (
        operator,
        _freeze(operator_params),
        channels,
        height,
        width,
        layers,
        batch,
        device,
        backend,
        dtype,
        _freeze(backend_options),
    )


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class RunResult:
    """A whole run: what was measured (config), where (environment) and the rows."""

    run_id: str
    created: str
    environment: dict[str, Any]
    config: dict[str, Any]
    rows: list[ResultRow]
    rows_planned: int
    state: str = "running"  # one of RUN_STATES (bench/results/schema.py)
    finished: str | None = None
    resumed: list[str] = field(default_factory=list)  # times the run was resumed
    # A multi-process run (bench/measure/processes.py): the worker processes planned for every row,
    # and how many of them every stored row has been timed in so far (None: one process).
    processes_planned: int | None = None
    processes_finished: int | None = None
    # Worker processes that died: {"process", "label", "exit_code", "signal", "last_activity",
    # "rows_unfinished", "message", "at"} (bench/measure/processes.py WorkerFailure).
    worker_failures: list[dict[str, Any]] = field(default_factory=list)
    fbench_version: str = bench.__version__
    schema: str = SCHEMA
    extra: dict[str, Any] = field(default_factory=dict)  # run fields of a newer fbench, kept

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows"] = [row.to_dict() for row in self.rows]
        order = [
            "schema",
            "run_id",
            "created",
            "finished",
            "state",
            "fbench_version",
            "rows_planned",
            "processes_planned",
            "processes_finished",
            "resumed",
            "worker_failures",
            "environment",
            "config",
            "rows",
        ]
        return {**{key: data[key] for key in order}, **self.extra}
