"""The result file format (`fbench.result/2`, bench/results/schema.py): the only module that
reads or writes it.

One JSON file per run, `results/<run-id>.json`. It is rewritten atomically (temp file,
fsync, rename) after every finished row (with several worker processes, after every
worker), so Ctrl-C, a crash or a full disk leaves either the previous complete file or the
new one, never a torn one; `fbench run --resume` finishes what is missing. While a run
writes it, it holds a lock (`RunLock`) that keeps a second writer out. Loading migrates
`fbench.result/1` files in memory and validates every known field (bench/results/schema.py),
naming the file and field that is wrong.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bench
from bench.errors import FbenchError
from bench.results import status as row_status
from bench.results.schema import RUN_STATES as RUN_STATES  # re-exported for readers
from bench.results.schema import SCHEMA, upgrade
from bench.stats.timing import LatencySummary

if TYPE_CHECKING:
    import pandas

# The row statuses and reason codes live in bench/results/status.py; re-exported for readers.
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
    state: str = "running"  # one of RUN_STATES
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


def json_text(data: Mapping[str, Any]) -> str:
    """The JSON text a result (or calibration) file holds."""
    return json.dumps(_json_safe(data), indent=1, allow_nan=False, ensure_ascii=False)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class StorageError(FbenchError):
    """A file that could not be written (read-only, full disk, not a directory)."""


def cannot_write(path: Path, error: OSError) -> StorageError:
    """One line for a file that cannot be written (read-only, full disk, not a directory)."""
    if isinstance(error, FileExistsError | NotADirectoryError) or error.errno == errno.ENOTDIR:
        reason = f"{path.parent} is not a directory"
    else:
        reason = error.strerror or str(error)
    return StorageError(f"{path}: cannot write ({reason})")


def write_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON so that `path` is always either the old complete file or the new one.

    The file gets the permissions of any new file (0666 less the umask), not mkstemp's 0600.
    A directory or disk that cannot take it is one line naming the path (FbenchError); the
    old file is then left as it was.
    """
    text = json_text(data)
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            os.fchmod(stream.fileno(), 0o666 & ~_umask())
            stream.write(text + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as error:
        _remove_quietly(temporary)
        raise cannot_write(path, error) from None
    except BaseException:
        _remove_quietly(temporary)
        raise
    try:  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError:
        pass


def _remove_quietly(path: str | None) -> None:
    if path is not None:
        # On a full or read-only disk the temp file is the lesser problem.
        with contextlib.suppress(OSError):
            os.unlink(path)


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


class RunLock:
    """An exclusive lock on a run's file, so that two `fbench run`s (say two `--resume`s)
    cannot both write it: flock on a sidecar `.<name>.lock`, since the file itself is
    replaced by every write. The kernel drops it when the process dies, even by SIGKILL."""

    def __init__(self, path: Path) -> None:
        self.path = path.parent / f".{path.name}.lock"
        while True:
            try:
                descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
            except OSError as error:
                raise cannot_write(self.path, error) from None
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(descriptor, 32).decode("ascii", "replace").strip() or "?"
                os.close(descriptor)
                raise FbenchError(
                    f"{path}: another fbench run (pid {holder}) is writing this run; let it "
                    "finish (or stop it) before resuming"
                ) from None
            # The holder before us may have removed the file after we opened it: then we
            # locked an orphan, and a third run could lock the new one. Try again.
            try:
                current = os.stat(self.path).st_ino == os.fstat(descriptor).st_ino
            except FileNotFoundError:
                current = False
            if current:
                break
            os.close(descriptor)
        self._descriptor: int | None = descriptor
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self._descriptor is None:
            return
        with contextlib.suppress(OSError):  # removed while still held: see above
            self.path.unlink(missing_ok=True)
        os.close(self._descriptor)
        self._descriptor = None


class RunStore:
    """A run's file on disk: created once, then rewritten atomically as rows finish.

    It holds the run's lock (`RunLock`) from `create` or `open` until `close`."""

    def __init__(self, path: Path, result: RunResult, lock: RunLock | None = None) -> None:
        self.path = path
        self.result = result
        self.lock = lock

    @classmethod
    def create(cls, path: Path, result: RunResult) -> RunStore:
        if path.exists():
            raise FbenchError(f"{path}: already exists; refusing to overwrite a stored run")
        lock = RunLock(path)
        store = cls(path, result, lock)
        try:
            store.save()
        except BaseException:
            lock.release()
            raise
        return store

    @classmethod
    def open(cls, path: Path) -> RunStore:
        """A stored run, locked for this process (one line if another holds it), then read."""
        lock = RunLock(path)
        try:
            return cls(path, read_result(path), lock)
        except BaseException:
            lock.release()
            raise

    def close(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def save(self) -> None:
        write_atomic(self.path, self.result.to_dict())

    def append(self, row: ResultRow) -> None:
        """Store a finished row: in place of a stored row with its key, else at the end."""
        self.put_rows([row])

    def put_rows(self, rows: Sequence[ResultRow], **changes: Any) -> None:
        """Store `rows` (each in place of a stored row with its key, else at the end) and
        `changes` to the run's fields, in one write."""
        stored = list(self.result.rows)
        position = {row.key(): index for index, row in enumerate(stored)}
        for row in rows:
            index = position.get(row.key())
            if index is None:
                position[row.key()] = len(stored)
                stored.append(row)
            else:
                stored[index] = row
        self.update(rows=stored, **changes)

    def update(self, **changes: Any) -> None:
        # In memory first: if this write fails (a full disk), the next one still has it.
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
    every known field validated (bench/results/schema.py). Errors name `source` and the field."""
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
        processes_planned=data.get("processes_planned"),
        processes_finished=data.get("processes_finished"),
        worker_failures=list(data.get("worker_failures", [])),
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
    except RecursionError:
        raise FbenchError(f"{path}: corrupt {kind} file (nested too deeply)") from None
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
