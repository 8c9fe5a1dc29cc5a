"""The calibration file format (`fbench.calibration/2`): reading, writing and finding a device's
calibration, and choosing the one each run's rows are drawn against.

One file per device identity (device kind + model + dtype, bench/results/identity.py), with
the same environment block as a result file so a reader can tell whether a calibration
belongs to a run. Writes are atomic (`fbench.bench.results.write_atomic`); loading validates,
migrates older formats, and names the file and field that is wrong (docs/roofline.md).

Format history:
  /1  ceilings gemm, memory_copy, memory_triad, cache_copy: one problem size each.
  /2  `probes` (every size measured), ceilings are the best probe of each kind (adds `conv`),
      `peak` (vector lanes × FMA units × measured clock). /1 files are migrated on load:
      each ceiling is its own single probe, and the peak is unknown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fbench.bench.calibration.model import (
    BANDWIDTH_CEILING,
    COMPUTE_CEILING,
    DRAM_CEILINGS,
    SCHEMA,
    Calibration,
    Ceiling,
    Peak,
)
from fbench.bench.calibration.schema import validate_calibration
from fbench.bench.errors import FbenchError
from fbench.bench.results import read_json, write_atomic
from fbench.bench.results.identity import device_identity
from fbench.bench.stats.timing import LatencySummary

if TYPE_CHECKING:
    from fbench.bench.results import RunResult

SCHEMA_V1 = "fbench.calibration/1"
SCHEMAS = (SCHEMA_V1, SCHEMA)
DEFAULT_CALIBRATIONS_DIR = "calibrations"


def default_path(directory: Path, identity: str) -> Path:
    return directory / f"{identity}.json"


def write_calibration(path: Path, calibration: Calibration) -> None:
    write_atomic(path, calibration.to_dict())


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """An older calibration's decoded JSON in the current format (a new dict; files stay as
    they are). /1 → /2: each ceiling was one problem size, so it is also its only probe."""
    if data.get("schema") != SCHEMA_V1:
        return data
    ceilings = data.get("ceilings")
    probes = {}
    if isinstance(ceilings, dict):
        for name, raw in ceilings.items():
            if isinstance(raw, dict):
                details = raw.get("details", {})
                if isinstance(details, dict):  # else the validator names it, after this
                    details = {**details, "ceiling": name}
                probes[name] = {**raw, "details": details}
    return {**data, "schema": SCHEMA, "probes": probes, "peak": None, "migrated_from": SCHEMA_V1}


def parse_calibration(data: Any, source: str) -> Calibration:
    """Validate decoded JSON as a calibration (migrating /1); errors name `source` and the field."""
    if not isinstance(data, dict) or "schema" not in data:
        raise FbenchError(f"{source}: not an fbench calibration (no 'schema' field)")
    if data["schema"] not in SCHEMAS:
        hint = " (that is a result file; give it as RESULT)" if "rows" in data else ""
        raise FbenchError(
            f"{source}: schema {data['schema']!r} is not supported; this fbench reads "
            f"{' and '.join(repr(s) for s in SCHEMAS)}{hint}"
        )
    data = migrate(data)
    validate_calibration(data, source)  # every field a roofline reads, typed and in range
    ceilings = _parse_ceilings(data["ceilings"])
    probes = _parse_ceilings(data.get("probes") or {})
    for needed in (COMPUTE_CEILING, BANDWIDTH_CEILING):
        if needed not in ceilings:
            raise FbenchError(
                f"{source}: not a valid fbench calibration: no {needed!r} ceiling "
                "(re-run fbench calibrate)"
            )
    peak = data.get("peak")
    peak = Peak.from_dict(peak) if peak is not None else None
    return Calibration(
        identity=data["identity"],
        device=data["device"],
        dtype=data["dtype"],
        created=data["created"],
        environment=data["environment"],
        settings=dict(data.get("settings") or {}),
        ceilings=ceilings,
        quick=bool(data.get("quick", False)),
        fbench_version=data.get("fbench_version", "unknown"),
        probes=probes,
        peak=peak,
        migrated_from=data.get("migrated_from"),
    )


def _parse_ceilings(raw_ceilings: Mapping[str, Any]) -> dict[str, Ceiling]:
    """Validated ceilings (bench/calibration/schema.py) by name; the key names a ceiling
    whose record does not."""
    return {name: Ceiling.from_dict({"name": name, **raw}) for name, raw in raw_ceilings.items()}


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
    if not any(c.kind == "compute" for c in ceilings.values()) or not any(
        name in DRAM_CEILINGS for name in ceilings
    ):
        return None
    peak = recorded.get("peak")
    return Calibration(
        identity=recorded.get("identity", "unknown"),
        device=device,
        dtype=recorded.get("dtype", "unknown"),
        created=recorded.get("created", "unknown"),
        environment={"device_name": recorded["model"]} if recorded.get("model") else {},
        settings={},
        ceilings=ceilings,
        quick=bool(recorded.get("quick", False)),
        peak=Peak.from_dict(peak) if isinstance(peak, dict) else None,
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
            if calibration.dtype not in (dtype, "unknown"):
                # Another dtype's ceilings are another roofline: no point drawn against them.
                raise FbenchError(
                    f"{result.run_id}: calibration {calibration.identity} ({source}) is for "
                    f"{calibration.dtype}, the run's {device} rows are {dtype}; calibrate "
                    f"with --dtype {dtype}"
                )
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
