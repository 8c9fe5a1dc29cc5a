"""A device's measured ceilings and theoretical peak: the data a roofline is drawn against.

A roofline needs two numbers the paper never gives for its devices: how many multiply-adds
per second the device can do at best and how many bytes per second it can move. A
`Calibration` holds the best of a small sweep of probes per ceiling (bench/calibration/
ceilings.py measures them) and the theoretical peak where it can be derived. Pure: the file
format is bench/calibration/store.py; docs/roofline.md shows measured ceilings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from fbench import bench
from fbench.bench.results.identity import device_model
from fbench.bench.results.schema import CEILING_KINDS
from fbench.bench.stats.timing import LatencySummary

SCHEMA = "fbench.calibration/2"  # the version this fbench writes; its history: store.py
KINDS = CEILING_KINDS  # "compute" (G multiply-adds/s) and "bandwidth" (GB/s)
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
