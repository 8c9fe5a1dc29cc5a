"""The calibration file format (`fbench.calibration/2`): a device's measured ceilings.

A roofline needs two numbers the paper never gives for its devices: how many multiply-adds
per second the device can do at best and how many bytes per second it can move.
`fbench calibrate` measures them as the best of a small sweep of probes (GEMM sizes, 3×3
convolutions through the operators' own library, copy sizes) and this module stores every
probe, the best per ceiling, and the device's theoretical peak where it can be derived. One
file per device identity (device kind + model + dtype), with the same environment block as
a result file so a reader can tell whether a calibration belongs to a run. Writes are atomic
(`bench.results.write_atomic`); loading validates, migrates older formats, and names the
file and field that is wrong.

Format history:
  /1  ceilings gemm, memory_copy, memory_triad, cache_copy: one problem size each.
  /2  `probes` (every size measured), ceilings are the best probe of each kind (adds `conv`),
      `peak` (vector lanes × FMA units × measured clock). /1 files are migrated on load:
      each ceiling is its own single probe, and the peak is unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bench
from bench.errors import FbenchError
from bench.results import read_json, write_atomic
from bench.results.identity import device_identity, device_model
from bench.stats.timing import LatencySummary

if TYPE_CHECKING:
    from bench.results import RunResult

SCHEMA = "fbench.calibration/2"
SCHEMA_V1 = "fbench.calibration/1"
SCHEMAS = (SCHEMA_V1, SCHEMA)
DEFAULT_CALIBRATIONS_DIR = "calibrations"
KINDS = ("compute", "bandwidth")
# The roofline's compute roof is the best compute ceiling (GEMM or convolution) and its slope
# the best DRAM-sized bandwidth ceiling; cache-sized copies are a separate, dashed slope.
COMPUTE_CEILING = "gemm"  # every calibration has one; /1 files have no other compute ceiling
BANDWIDTH_CEILING = "memory_copy"
DRAM_CEILINGS = ("memory_copy", "memory_triad")
CACHE_CEILINGS = ("cache_copy",)


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
    ceilings: dict[str, Ceiling]  # the best probe of each kind of kernel, by ceiling name
    quick: bool = False  # --quick: tiny sizes, a smoke test, not a ceiling
    fbench_version: str = bench.__version__
    schema: str = SCHEMA
    # Every probe measured (e.g. "gemm_512", "conv3x3_192x28x28"), best or not; each one's
    # details.ceiling names the ceiling it competes for.
    probes: dict[str, Ceiling] = field(default_factory=dict)
    peak: Peak | None = None  # the theoretical compute peak, where derivable
    migrated_from: str | None = None  # the schema the file was stored in, if older

    @property
    def compute_ceiling(self) -> Ceiling:
        """The compute roof: the best compute ceiling measured (GEMM or convolution)."""
        return _best(self.ceilings, lambda c: c.kind == "compute")

    @property
    def bandwidth_ceiling(self) -> Ceiling:
        """The memory slope: the best DRAM-sized bandwidth ceiling (copy or triad)."""
        return _best(self.ceilings, lambda c: c.name in DRAM_CEILINGS)

    @property
    def compute_gflops_per_s(self) -> float:
        """G multiply-adds/s (the paper's FLOPS unit) of the compute roof."""
        return self.compute_ceiling.median

    @property
    def bandwidth_gb_per_s(self) -> float:
        """GB/s, reads plus writes, of the memory slope."""
        return self.bandwidth_ceiling.median

    @property
    def cache_bandwidth_gb_per_s(self) -> float | None:
        found = [self.ceilings[name] for name in CACHE_CEILINGS if name in self.ceilings]
        return max(c.median for c in found) if found else None

    def fraction_of_peak(self, ceiling: Ceiling) -> float | None:
        """A compute ceiling's share of the theoretical peak (None: no peak, or bandwidth)."""
        if ceiling.kind != "compute" or self.peak is None or not self.peak.gflops_per_s:
            return None
        return ceiling.median / self.peak.gflops_per_s

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
            "ceilings": {name: self._stored(c) for name, c in self.ceilings.items()},
            "probes": {name: self._stored(probe) for name, probe in self.probes.items()},
            "peak": self.peak.to_dict() if self.peak else None,
            **({"migrated_from": self.migrated_from} if self.migrated_from else {}),
        }

    def _stored(self, ceiling: Ceiling) -> dict[str, Any]:
        """A ceiling as stored, with its share of the peak (derived, for readers; not read)."""
        share = self.fraction_of_peak(ceiling)
        return {**ceiling.to_dict(), **({"fraction_of_peak": share} if share is not None else {})}

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
            "compute_ceiling": self.compute_ceiling.name,
            "bandwidth_ceiling": self.bandwidth_ceiling.name,
            "peak": self.peak.to_dict() if self.peak else None,
        }


def _best(ceilings: Mapping[str, Ceiling], wanted: Callable[[Ceiling], bool]) -> Ceiling:
    """The highest-rate ceiling among `wanted`: a ceiling that is not the best bounds nothing."""
    found = [c for c in ceilings.values() if wanted(c)]
    if not found:
        raise ValueError("the calibration has no ceiling of that kind")
    return max(found, key=lambda c: c.median)


# --- the theoretical peak ---------------------------------------------------------------------

# fp32 lanes per FMA instruction by vector extension, widest first (Linux flag names: x86
# "flags", Arm "Features"). AVX-512 is 512 bits; AVX2+FMA 256; NEON (asimd) 128.
VECTOR_LANES_FP32 = (("avx512f", 16, "AVX-512"), ("fma", 8, "AVX2/FMA"), ("asimd", 4, "NEON"))
# Assumed, not read: two FMA pipes per core, as on most server x86 since Haswell and Zen 2
# and on Cortex-A72 and Neoverse N1. Some parts have one (e.g. AVX-512 on Xeon Silver/Bronze),
# where the stated peak is twice the true one.
FMA_UNITS_ASSUMED = 2


@dataclass(frozen=True)
class Peak:
    """Theoretical fp32 compute peak: lanes × FMA units × clock, in G multiply-adds/s."""

    gflops_per_s: float | None  # None: the clock is unknown
    lanes: int | None
    fma_units: int | None
    clock_mhz: float | None  # the highest clock read during calibration
    vector_isa: str | None
    assumption: str
    reason: str | None = None  # why there is no peak, where gflops_per_s is None
    # Where the clock was read. In a VM /proc/cpuinfo often reports the nominal clock, and a
    # core boosting above it reaches more than "100%" of the peak stated here.
    clock_source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Peak:
        return cls(
            **{f.name: data.get(f.name) for f in fields(cls) if f.name != "assumption"},
            assumption=data.get("assumption", ""),
        )


def theoretical_peak(
    flags: str | Iterable[str],
    dtype: str,
    clock_mhz: float | None,
    clock_source: str | None = None,
) -> Peak:
    """The fp32 peak from CPU flags and a clock: pure, so any flags string can be checked.

    One multiply-add per lane per FMA unit per cycle; GMAC/s = lanes × units × MHz / 1000.
    """
    names = set(flags.split() if isinstance(flags, str) else flags)
    assumption = f"{FMA_UNITS_ASSUMED} FMA units per core (assumed, not read from the CPU)"
    if dtype != "float32":
        return Peak(
            None, None, None, clock_mhz, None, assumption, f"derived for float32 only, not {dtype}"
        )
    for flag, lanes, isa in VECTOR_LANES_FP32:
        if flag in names and (flag != "fma" or "avx2" in names):
            gflops = lanes * FMA_UNITS_ASSUMED * clock_mhz / 1000.0 if clock_mhz else None
            reason = None if gflops else "clock unknown"
            return Peak(
                gflops, lanes, FMA_UNITS_ASSUMED, clock_mhz, isa, assumption, reason, clock_source
            )
    return Peak(
        None,
        None,
        None,
        clock_mhz,
        None,
        assumption,
        "no known FMA vector extension in the CPU flags",
    )


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
                details = {**raw.get("details", {}), "ceiling": name}
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
    required = ("identity", "device", "dtype", "created", "environment", "ceilings")
    missing = [name for name in required if name not in data]
    if missing:
        raise FbenchError(
            f"{source}: not a valid fbench calibration: missing "
            f"{', '.join(repr(m) for m in missing)}"
        )
    ceilings = _parse_ceilings(data["ceilings"], "ceiling", source)
    probes = _parse_ceilings(data.get("probes") or {}, "probe", source)
    for needed in (COMPUTE_CEILING, BANDWIDTH_CEILING):
        if needed not in ceilings:
            raise FbenchError(
                f"{source}: not a valid fbench calibration: no {needed!r} ceiling "
                "(re-run fbench calibrate)"
            )
    peak = data.get("peak")
    try:
        peak = Peak.from_dict(peak) if isinstance(peak, dict) else None
    except TypeError as error:
        raise FbenchError(f"{source}: 'peak' is malformed ({error})") from None
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
        probes=probes,
        peak=peak,
        migrated_from=data.get("migrated_from"),
    )


def _parse_ceilings(raw_ceilings: Any, what: str, source: str) -> dict[str, Ceiling]:
    if not isinstance(raw_ceilings, dict):
        raise FbenchError(f"{source}: not a valid fbench calibration: '{what}s' is not an object")
    ceilings = {}
    for name, raw in raw_ceilings.items():
        try:
            ceilings[name] = Ceiling.from_dict(raw)
        except (TypeError, KeyError, AttributeError) as error:
            raise FbenchError(f"{source}: {what} {name!r} is malformed ({error})") from None
        if ceilings[name].kind not in KINDS:
            raise FbenchError(f"{source}: {what} {name!r} has unknown kind {raw.get('kind')!r}")
    return ceilings


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
