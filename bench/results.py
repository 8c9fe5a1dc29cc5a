"""The result file format (`fbench.result/2`, bench/schema.py): the only module that reads or
writes it.

One JSON file per run, `results/<run-id>.json`. It is rewritten atomically (temp file,
fsync, rename) after every finished row, so Ctrl-C, a crash or a full disk leaves either
the previous complete file or the new one, never a torn one; `fbench run --resume` finishes
what is missing. Loading migrates `fbench.result/1` files in memory and validates every
known field (bench/schema.py), naming the file and field that is wrong.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bench
from bench import status as row_status
from bench.errors import FbenchError
from bench.schema import RUN_STATES as RUN_STATES  # re-exported for readers
from bench.schema import SCHEMA, upgrade
from bench.timing import LatencySummary

if TYPE_CHECKING:
    import pandas

# The row statuses and reason codes live in bench/status.py; re-exported for readers.
STATUSES = row_status.STATUSES


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
    status: str  # "ok" | "imprecise" | "disturbed" | "failed" (bench/status.py)
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
    # Timed in several worker processes (bench/processes.py): one entry per process, in
    # order, {"median_ms", "n", "rounds", "sampled_s"}; samples_ms pools them all. None: the
    # row was timed in a single process.
    processes: list[dict[str, Any]] | None = None
    telemetry: dict[str, Any] = field(default_factory=dict)
    # --perf-counters: per-call cycles, instructions, LLC-load-misses (null if unsupported)
    hardware_counters: dict[str, Any] | None = None
    # The host probe (bench/host_probe.py): {"workload", "round_medians_ms"}, the probe's
    # median in each round this row was sampled in; None for --method official.
    host_probe: dict[str, Any] | None = None
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

    def key(self) -> tuple:
        """What makes two rows the same measurement (for --resume and comparisons)."""
        return row_key(
            self.operator,
            self.operator_params,
            self.channels,
            self.height,
            self.width,
            self.layers,
            self.batch,
            self.device,
            self.backend,
            self.dtype,
            self.backend_options,
        )

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
    state: str = "running"  # "running" | "complete" | "interrupted" | "failed"
    finished: str | None = None
    resumed: list[str] = field(default_factory=list)  # times the run was resumed
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
            "resumed",
            "environment",
            "config",
            "rows",
        ]
        return {**{key: data[key] for key in order}, **self.extra}

    def with_row(self, row: ResultRow) -> RunResult:
        return replace(self, rows=[*self.rows, row])


# --- writing --------------------------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    """NaN and infinities are not JSON: store them as null rather than a file others can't read."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def write_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON so that `path` is always either the old complete file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_json_safe(data), indent=1, allow_nan=False, ensure_ascii=False)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError:
        pass


def new_run_id(
    results_dir: Path, device: str, backend: str, when: dt.datetime | None = None
) -> str:
    """e.g. 20261123-071500-cpu-torch; a suffix -2, -3... if that name is taken."""
    stamp = (when or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{device}-{backend}"
    candidate, counter = base, 1
    while (results_dir / f"{candidate}.json").exists():
        counter += 1
        candidate = f"{base}-{counter}"
    return candidate


class RunStore:
    """A run's file on disk: created once, then rewritten atomically as rows finish."""

    def __init__(self, path: Path, result: RunResult) -> None:
        self.path = path
        self.result = result

    @classmethod
    def create(cls, path: Path, result: RunResult) -> RunStore:
        if path.exists():
            raise FbenchError(f"{path}: already exists; refusing to overwrite a stored run")
        store = cls(path, result)
        store.save()
        return store

    def save(self) -> None:
        write_atomic(self.path, self.result.to_dict())

    def append(self, row: ResultRow) -> None:
        self.result = self.result.with_row(row)
        self.save()

    def update(self, **changes: Any) -> None:
        self.result = replace(self.result, **changes)
        self.save()


# --- reading --------------------------------------------------------------------------------

_RUN_KEYS = {f.name for f in fields(RunResult)} - {"extra"}


def resolve_path(reference: str | Path, results_dir: Path) -> Path:
    """A result given as a file path, or as a run id looked up in `results_dir`."""
    candidate = Path(reference)
    if candidate.is_file():
        return candidate
    by_id = results_dir / f"{reference}.json"
    if by_id.is_file():
        return by_id
    if candidate.suffix == ".json" or os.sep in str(reference):
        raise FbenchError(f"{reference}: no such result file")
    raise FbenchError(f"no run {reference!r} in {results_dir}/ (and no file of that name)")


def parse_result(data: Any, source: str) -> RunResult:
    """Decoded JSON of a result file (/1 or /2) → a RunResult; /1 is migrated in memory and
    every known field validated (bench/schema.py). Errors name `source` and the field."""
    data = upgrade(data, source)
    try:
        rows = [ResultRow.from_dict(raw_row) for raw_row in data["rows"]]
    except (TypeError, KeyError, ValueError) as error:  # the validator should have said
        raise FbenchError(f"{source}: invalid result file: a row is malformed ({error})") from None
    return RunResult(
        run_id=data["run_id"],
        created=data["created"],
        environment=data["environment"],
        config=data["config"],
        rows=rows,
        rows_planned=data.get("rows_planned", len(rows)),
        state=data.get("state", "complete"),
        finished=data.get("finished"),
        resumed=list(data.get("resumed", [])),
        fbench_version=data.get("fbench_version", "unknown"),
        extra={key: value for key, value in data.items() if key not in _RUN_KEYS},
    )


def read_json(path: Path, kind: str, missing_hint: str = "") -> Any:
    """Decoded JSON of a `kind` file ("result", "calibration"), or one line saying what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FbenchError(f"{path}: no such {kind} file{missing_hint}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise FbenchError(f"{path}: cannot read {kind} file ({error})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise FbenchError(
            f"{path}: corrupt {kind} file (invalid JSON at line {error.lineno}, column "
            f"{error.colno}: {error.msg})"
        ) from None


def read_result(path: Path) -> RunResult:
    return parse_result(read_json(path, "result"), str(path))


def load_results(references: Sequence[str | Path], results_dir: Path) -> list[RunResult]:
    return [read_result(resolve_path(ref, results_dir)) for ref in references]


def load(paths: str | Path | Sequence[str | Path]) -> pandas.DataFrame:
    """Result files → one pandas DataFrame, one row per measured row.

    Latency statistics become `latency_ms.median`, ... columns and the run's environment is
    flattened into `env.<field>` columns, so rows from several files and devices can be
    filtered and grouped together (e.g. `df.groupby(["env.cpu_model", "operator"])`).
    """
    import pandas

    if isinstance(paths, str | Path):
        paths = [paths]
    records = []
    for path in paths:
        run = read_result(Path(path))
        environment = pandas.json_normalize(run.environment, sep=".").to_dict("records")[0]
        for row in run.rows:
            record = row.to_dict()
            record.pop("samples_ms")
            latency = record.pop("latency_ms") or {}
            record.update({f"latency_ms.{k}": v for k, v in latency.items()})
            record["latency"] = row.latency
            record.update({"run_id": run.run_id, "created": run.created, "file": str(path)})
            record.update({f"env.{k}": v for k, v in environment.items()})
            records.append(record)
    return pandas.DataFrame.from_records(records)
