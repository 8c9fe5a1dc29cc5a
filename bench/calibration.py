"""The calibration file format (`fbench.calibration/1`): a device's measured ceilings.

A roofline needs two numbers the paper never gives for its devices: how many multiply-adds
per second the device can do at best (dense GEMM) and how many bytes per second it can move
(a streaming copy). `fbench calibrate` measures them and this module stores them, one file
per device identity (device kind + model + dtype), with the same environment block as a
result file so a reader can tell whether a calibration belongs to a run. Writes are atomic
(`bench.results.write_atomic`); loading validates and names the file and field that is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bench
from bench.errors import FbenchError
from bench.identity import device_identity, device_model
from bench.results import read_json, write_atomic
from bench.timing import LatencySummary

if TYPE_CHECKING:
    from bench.results import RunResult

SCHEMA = "fbench.calibration/1"
DEFAULT_CALIBRATIONS_DIR = "calibrations"
KINDS = ("compute", "bandwidth")
# The ceilings a roofline uses: the compute roof and the (DRAM) bandwidth slope.
COMPUTE_CEILING = "gemm"
BANDWIDTH_CEILING = "memory_copy"


@dataclass(frozen=True)
class Ceiling:
    """One measured ceiling: a rate (G multiply-adds/s or GB/s) with its 95% interval.

    The rate is work per call / per-call latency; the interval is the latency median's
    distribution-free interval turned into rates (so low and high swap sides).
    """

    name: str  # "gemm", "memory_copy", "memory_triad", "cache_copy"
    kind: str  # "compute" (unit G multiply-adds/s) or "bandwidth" (GB/s, reads + writes)
    median: float
    ci95_low: float | None
    ci95_high: float | None
    work_per_call: float  # multiply-adds or bytes (reads + writes) of one timed call
    latency_ms: LatencySummary
    details: dict[str, Any] = field(default_factory=dict)  # sizes, what is counted

    @property
    def unit(self) -> str:
        return "GMAC/s" if self.kind == "compute" else "GB/s"

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["latency_ms"] = self.latency_ms.to_dict()
        data["unit"] = self.unit
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ceiling:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["latency_ms"] = LatencySummary.from_dict(values["latency_ms"])
        return cls(**values)


def ceiling_from_latencies(
    name: str,
    kind: str,
    work_per_call: float,
    latency_ms: LatencySummary,
    details: Mapping[str, Any] | None = None,
) -> Ceiling:
    """A rate ceiling from per-call latencies: work / latency, in G units per second."""
    if kind not in KINDS:
        raise ValueError(f"ceiling kind must be one of {KINDS}, got {kind!r}")

    def rate(ms: float | None) -> float | None:
        return None if ms is None or ms <= 0 else work_per_call / (ms / 1000.0) / 1e9

    return Ceiling(
        name=name,
        kind=kind,
        median=rate(latency_ms.median) or 0.0,
        ci95_low=rate(latency_ms.ci95_high),  # the slowest plausible call is the lowest rate
        ci95_high=rate(latency_ms.ci95_low),
        work_per_call=work_per_call,
        latency_ms=latency_ms,
        details=dict(details or {}),
    )


@dataclass(frozen=True)
class Calibration:
    """A device's ceilings, measured once under a run's thread and pinning rules."""

    identity: str  # e.g. "cpu-amd-epyc-9r14-float32": the file name in calibrations/
    device: str
    dtype: str
    created: str
    environment: dict[str, Any]
    settings: dict[str, Any]  # the device settings it was measured under (threads, pin_core)
    ceilings: dict[str, Ceiling]
    quick: bool = False  # --quick: tiny sizes, a smoke test, not a ceiling
    fbench_version: str = bench.__version__
    schema: str = SCHEMA

    @property
    def compute_gflops_per_s(self) -> float:
        """The compute roof: G multiply-adds/s of dense GEMM (the paper's FLOPS unit)."""
        return self.ceilings[COMPUTE_CEILING].median

    @property
    def bandwidth_gb_per_s(self) -> float:
        """The memory slope: GB/s of a large streaming copy, reads plus writes."""
        return self.ceilings[BANDWIDTH_CEILING].median

    @property
    def cache_bandwidth_gb_per_s(self) -> float | None:
        ceiling = self.ceilings.get("cache_copy")
        return ceiling.median if ceiling else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "identity": self.identity,
            "model": device_model(self.environment),
            "device": self.device,
            "dtype": self.dtype,
            "created": self.created,
            "fbench_version": self.fbench_version,
            "quick": self.quick,
            "settings": dict(self.settings),
            "environment": dict(self.environment),
            "ceilings": {name: ceiling.to_dict() for name, ceiling in self.ceilings.items()},
        }

    def summary(self, path: Path | str | None = None) -> dict[str, Any]:
        """What a result file records about the calibration it was measured beside.

        The ceilings' values are copied in, not only the file name, so a report can draw the
        roofline from the result file alone years later.
        """
        return {
            "file": str(path) if path is not None else None,
            "identity": self.identity,
            "model": device_model(self.environment),
            "device": self.device,
            "dtype": self.dtype,
            "created": self.created,
            "quick": self.quick,
            "ceilings": {
                name: {
                    "kind": c.kind,
                    "unit": c.unit,
                    "median": c.median,
                    "ci95_low": c.ci95_low,
                    "ci95_high": c.ci95_high,
                }
                for name, c in self.ceilings.items()
            },
        }


def default_path(directory: Path, identity: str) -> Path:
    return directory / f"{identity}.json"


def write_calibration(path: Path, calibration: Calibration) -> None:
    write_atomic(path, calibration.to_dict())


def parse_calibration(data: Any, source: str) -> Calibration:
    """Validate decoded JSON as `fbench.calibration/1`; errors name `source` and the field."""
    if not isinstance(data, dict) or "schema" not in data:
        raise FbenchError(f"{source}: not an fbench calibration (no 'schema' field)")
    if data["schema"] != SCHEMA:
        hint = " (that is a result file; give it as RESULT)" if "rows" in data else ""
        raise FbenchError(
            f"{source}: schema {data['schema']!r} is not supported; this fbench reads "
            f"{SCHEMA!r}{hint}"
        )
    required = ("identity", "device", "dtype", "created", "environment", "ceilings")
    missing = [name for name in required if name not in data]
    if missing:
        raise FbenchError(
            f"{source}: not a valid fbench calibration: missing "
            f"{', '.join(repr(m) for m in missing)}"
        )
    if not isinstance(data["ceilings"], dict):
        raise FbenchError(f"{source}: not a valid fbench calibration: 'ceilings' is not an object")
    ceilings = {}
    for name, raw in data["ceilings"].items():
        try:
            ceilings[name] = Ceiling.from_dict(raw)
        except (TypeError, KeyError, AttributeError) as error:
            raise FbenchError(f"{source}: ceiling {name!r} is malformed ({error})") from None
        if ceilings[name].kind not in KINDS:
            raise FbenchError(f"{source}: ceiling {name!r} has unknown kind {raw.get('kind')!r}")
    for needed in (COMPUTE_CEILING, BANDWIDTH_CEILING):
        if needed not in ceilings:
            raise FbenchError(
                f"{source}: not a valid fbench calibration: no {needed!r} ceiling "
                "(re-run fbench calibrate)"
            )
    return Calibration(
        identity=data["identity"],
        device=data["device"],
        dtype=data["dtype"],
        created=data["created"],
        environment=data["environment"],
        settings=dict(data.get("settings", {})),
        ceilings=ceilings,
        quick=bool(data.get("quick", False)),
        fbench_version=data.get("fbench_version", "unknown"),
    )


def read_calibration(path: Path) -> Calibration:
    data = read_json(path, "calibration", " (make one with: fbench calibrate --device ...)")
    return parse_calibration(data, str(path))


def find_calibration(
    directory: Path, device: str, environment: Mapping[str, Any], dtype: str
) -> tuple[Path, Calibration] | None:
    """The stored calibration for this device identity, if `fbench calibrate` made one."""
    path = default_path(
        directory, device_identity(environment, device, dtype=dtype).calibration_name()
    )
    return (path, read_calibration(path)) if path.is_file() else None


def from_result_environment(environment: Mapping[str, Any], device: str) -> Calibration | None:
    """The calibration a run recorded (`environment.calibration`), rebuilt for reports.

    Only the ceilings' rates are kept in a result file, so the rebuilt ceilings have no
    latency samples (an empty summary); the rates and intervals are exact.
    """
    recorded = environment.get("calibration")
    if not isinstance(recorded, dict) or "ceilings" not in recorded:
        return None
    empty = LatencySummary(0.0, None, None, 0.0, 0.0, 0.0, 0)
    ceilings = {
        name: Ceiling(
            name=name,
            kind=raw["kind"],
            median=raw["median"],
            ci95_low=raw.get("ci95_low"),
            ci95_high=raw.get("ci95_high"),
            work_per_call=0.0,
            latency_ms=empty,
        )
        for name, raw in recorded["ceilings"].items()
    }
    if COMPUTE_CEILING not in ceilings or BANDWIDTH_CEILING not in ceilings:
        return None
    return Calibration(
        identity=recorded.get("identity", "unknown"),
        device=device,
        dtype=recorded.get("dtype", "unknown"),
        created=recorded.get("created", "unknown"),
        environment={"device_name": recorded["model"]} if recorded.get("model") else {},
        settings={},
        ceilings=ceilings,
        quick=bool(recorded.get("quick", False)),
    )


def calibration_record(
    choice: str | None, device: str, environment: Mapping[str, Any], dtype: str
) -> dict[str, Any] | None:
    """What `fbench run` records as `environment.calibration` (None: no calibration).

    `choice` is --calibration: None looks up calibrations/ by the run's device identity,
    "none" records nothing, anything else is a calibration file, which must be for the
    run's device and dtype.
    """
    if choice == "none":
        return None
    if choice is None:
        found = find_calibration(Path(DEFAULT_CALIBRATIONS_DIR), device, environment, dtype)
        return found[1].summary(found[0]) if found else None
    path = Path(choice)
    calibration = read_calibration(path)
    if (calibration.device, calibration.dtype) != (device, dtype):
        raise FbenchError(
            f"--calibration {path}: measured for {calibration.device}/{calibration.dtype}, "
            f"this run is {device}/{dtype}"
        )
    return calibration.summary(path)


def calibrations_for_runs(
    runs: Sequence[RunResult], paths: Sequence[Path], directory: Path
) -> tuple[dict[str, Calibration], list[str]]:
    """The calibration for each device of `runs`, and notes on doubtful matches.

    Per device, first match wins: a file given (`--calibration`, one per device), else the
    calibration the run recorded, else `directory`/<identity>.json. Reports use this for
    `--calibration`; a device with none is an error that says how to make one.
    """
    given: dict[str, tuple[Calibration, str]] = {}
    for path in paths:
        calibration = read_calibration(Path(path))
        if calibration.device in given:
            raise FbenchError(
                f"--calibration: two files for device {calibration.device!r} "
                f"({given[calibration.device][1]} and {path}); give one per device"
            )
        given[calibration.device] = (calibration, str(path))
    chosen: dict[str, Calibration] = {}
    notes: list[str] = []
    for result in runs:
        dtype = result.config.get("dtype", "float32")
        for device in dict.fromkeys(row.device for row in result.rows):
            found = _calibration_for_run(result, device, dtype, given, directory)
            if found is None:
                raise FbenchError(
                    f"{result.run_id}: no calibration for device {device!r}; make one with "
                    f"`fbench calibrate --device {device}` or give --calibration FILE"
                )
            calibration, source = found
            expected = device_identity(result.environment, device, dtype=dtype).calibration_name()
            if calibration.identity != expected:
                notes.append(
                    f"{result.run_id}: calibration {calibration.identity} ({source}) is for "
                    f"another device identity than the run's ({expected})"
                )
            if calibration.quick:
                notes.append(f"{source}: a --quick calibration (tiny sizes), not real ceilings")
            first = chosen.setdefault(device, calibration)
            if (first.identity, first.created) != (calibration.identity, calibration.created):
                notes.append(
                    f"{result.run_id}: its {device} rows are drawn against the first run's "
                    f"calibration ({first.identity}, {first.created})"
                )
    return chosen, list(dict.fromkeys(notes))


def calibration_for_run(
    result: RunResult, device: str, directory: Path = Path(DEFAULT_CALIBRATIONS_DIR)
) -> Calibration | None:
    """The calibration a run recorded for `device`, else the stored one for its identity.

    For reports that take no --calibration flag (e.g. a Table 1 column): None if neither.
    """
    dtype = result.config.get("dtype", "float32")
    found = _calibration_for_run(result, device, dtype, {}, directory)
    return found[0] if found else None


def _calibration_for_run(
    result: RunResult,
    device: str,
    dtype: str,
    given: Mapping[str, tuple[Calibration, str]],
    directory: Path,
) -> tuple[Calibration, str] | None:
    if device in given:
        return given[device]
    recorded = from_result_environment(result.environment, device)
    if recorded is not None:
        return recorded, f"recorded in {result.run_id}"
    found = find_calibration(directory, device, result.environment, dtype)
    return (found[1], str(found[0])) if found else None
