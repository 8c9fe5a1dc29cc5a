"""The roofline's maths: where each stored row sits against its device's measured ceilings.

Pure arithmetic on result rows and a calibration (reads results, never measures):
- arithmetic intensity I = multiply-adds per call / bytes moved per call. A row's `flops`
  is per sample (Table 1's column) while its memory access is for the whole batch, so the
  numerator is flops × batch. Bytes come from the paper's eqs. 2/3/5 (`memory_access_bytes`,
  the minimum an ideal kernel moves) and, separately, from what the implementation moves
  (`implementation_memory_access_bytes`: PConv's slicing clone included);
- attainable FLOPS at I = min(compute ceiling, I × bandwidth) (Williams et al., 2009), in
  G multiply-adds/s like the paper's FLOPS, with the best measured compute ceiling (GEMM or
  convolution probes) as the roof and the best DRAM-sized bandwidth as the slope;
- a row is memory-bound when I is left of the ridge point (compute / bandwidth);
- a ceiling bounds the data or it is no ceiling: a row whose 95% interval lies wholly above
  the roof's is marked "ceiling too low" (the calibration did not find the device's real
  ceiling there), in the table and the plot. It is not explained away.

The table, prose and CSV are in reports/roofline/report.py, the picture in
reports/plots/roofline.py; measured rooflines in docs/roofline.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fbench.bench.calibration import Calibration
from fbench.bench.results import ResultRow
from fbench.reports.rows import RowPlace, operator_rank, row_place


def arithmetic_intensity(flops_per_sample: int, batch: int, memory_access_bytes: int) -> float:
    """Multiply-adds per byte moved: flops × batch / bytes (bytes are for the whole batch)."""
    if memory_access_bytes <= 0:
        raise ValueError(f"memory access must be positive, got {memory_access_bytes}")
    return flops_per_sample * batch / memory_access_bytes


def attainable_gflops_per_s(
    intensity: float, compute_gflops_per_s: float, bandwidth_gb_per_s: float
) -> float:
    """The roofline at `intensity`: min(compute, intensity × bandwidth), G multiply-adds/s.

    Multiply-adds per byte × GB/s = G multiply-adds/s, so no unit factor is needed.
    """
    return min(compute_gflops_per_s, intensity * bandwidth_gb_per_s)


def ridge_point(compute_gflops_per_s: float, bandwidth_gb_per_s: float) -> float:
    """The intensity (multiply-adds per byte) where the bandwidth slope meets the compute roof."""
    return compute_gflops_per_s / bandwidth_gb_per_s


def bound(intensity: float, compute_gflops_per_s: float, bandwidth_gb_per_s: float) -> str:
    """ "memory" left of the ridge point (bandwidth caps it), else "compute"."""
    return (
        "memory" if intensity < ridge_point(compute_gflops_per_s, bandwidth_gb_per_s) else "compute"
    )


@dataclass(frozen=True)
class RooflinePoint(RowPlace):
    """One row placed on its device's roofline."""

    layers: int
    batch: int
    dtype: str
    flops_per_call: int  # multiply-adds of the stack for the whole batch
    memory_access_bytes: int  # paper eqs. 2/3/5
    implementation_memory_access_bytes: int
    intensity_paper: float  # multiply-adds per byte
    intensity_implementation: float
    attainable_paper_gflops_per_s: float
    attainable_gflops_per_s: float  # at the implementation's intensity
    attainable_cache_gflops_per_s: float | None  # with the cached-copy bandwidth instead
    measured_gflops_per_s: float | None
    status: str  # the row's: "ok", "imprecise" or "disturbed" (failed rows have no FLOPS)
    fraction_of_attainable: float | None  # measured / attainable (implementation bytes)
    fraction_of_compute: float | None  # measured / the compute ceiling
    achieved_gb_per_s: float | None  # implementation bytes / latency
    bound: str  # "memory" or "compute", at the implementation's intensity
    compute_gflops_per_s: float
    bandwidth_gb_per_s: float
    cache_bandwidth_gb_per_s: float | None
    compute_ceiling: str = "gemm"  # which ceiling is the roof ("gemm" or "conv")
    roof: str = "under"  # "under" or CEILING_TOO_LOW


CEILING_TOO_LOW = "ceiling too low"


def above_roof(
    measured_low: float | None, intensity: float, compute_high: float, bandwidth_high: float
) -> bool:
    """Whether a row's FLOPS interval lies wholly above the roofline's upper interval.

    Medians alone would flag a row that matches the ceiling's own kernel half of the time;
    comparing intervals flags only what the noise cannot explain.
    """
    if measured_low is None:
        return False
    return measured_low > attainable_gflops_per_s(intensity, compute_high, bandwidth_high)


def _measured_low(row: ResultRow) -> float | None:
    """The row's FLOPS at the slow end of its latency interval (the median's if none)."""
    if row.gflops_per_s is None or row.latency_ms is None or not row.latency:
        return row.gflops_per_s
    slowest = row.latency_ms.ci95_high or row.latency
    return row.gflops_per_s * row.latency / slowest


def roofline_point(row: ResultRow, calibration: Calibration) -> RooflinePoint | None:
    """The row on the roofline, or None where it has no memory-access count (networks) or no
    multiply-adds (a custom layer that only moves data: intensity 0, no place on log axes)."""
    if row.memory_access_bytes is None or row.flops <= 0:
        return None
    implementation_bytes = row.implementation_memory_access_bytes or row.memory_access_bytes
    compute = calibration.compute_gflops_per_s
    bandwidth = calibration.bandwidth_gb_per_s
    cache = calibration.cache_bandwidth_gb_per_s
    paper_i = arithmetic_intensity(row.flops, row.batch, row.memory_access_bytes)
    actual_i = arithmetic_intensity(row.flops, row.batch, implementation_bytes)
    attainable = attainable_gflops_per_s(actual_i, compute, bandwidth)
    measured = row.gflops_per_s if row.status != "failed" else None
    latency = row.latency if row.status != "failed" else None
    roof_compute, roof_bandwidth = calibration.compute_ceiling, calibration.bandwidth_ceiling
    too_low = measured is not None and above_roof(
        _measured_low(row),
        actual_i,
        roof_compute.ci95_high or compute,
        roof_bandwidth.ci95_high or bandwidth,
    )
    return RooflinePoint(
        **row_place(row),
        layers=row.layers,
        flops_per_call=row.flops * row.batch,
        memory_access_bytes=row.memory_access_bytes,
        implementation_memory_access_bytes=implementation_bytes,
        intensity_paper=paper_i,
        intensity_implementation=actual_i,
        attainable_paper_gflops_per_s=attainable_gflops_per_s(paper_i, compute, bandwidth),
        attainable_gflops_per_s=attainable,
        attainable_cache_gflops_per_s=(
            attainable_gflops_per_s(actual_i, compute, cache) if cache else None
        ),
        measured_gflops_per_s=measured,
        status=row.status,
        fraction_of_attainable=measured / attainable if measured is not None else None,
        fraction_of_compute=measured / compute if measured is not None else None,
        achieved_gb_per_s=(implementation_bytes / (latency / 1000.0) / 1e9 if latency else None),
        bound=bound(actual_i, compute, bandwidth),
        compute_gflops_per_s=compute,
        bandwidth_gb_per_s=bandwidth,
        cache_bandwidth_gb_per_s=cache,
        compute_ceiling=roof_compute.name,
        roof=CEILING_TOO_LOW if too_low else "under",
    )


def calibration_for(
    calibrations: Calibration | Mapping[str, Calibration], device: str
) -> Calibration | None:
    """The calibration that applies to a device's rows: one for all, or one per device name."""
    if isinstance(calibrations, Calibration):
        return calibrations
    return calibrations.get(device)


def roofline_points(
    rows: Sequence[ResultRow], calibrations: Calibration | Mapping[str, Calibration]
) -> list[RooflinePoint]:
    """Every row that can be placed, in Table 1's order: device, operator, stage."""
    points = []
    for row in rows:
        calibration = calibration_for(calibrations, row.device)
        point = roofline_point(row, calibration) if calibration else None
        if point is not None:
            points.append(point)
    devices = list(dict.fromkeys(point.device for point in points))
    return sorted(
        points,
        key=lambda p: (devices.index(p.device), operator_rank(p.operator), p.stage, p.layers),
    )


@dataclass(frozen=True)
class OperatorSummary:
    """One operator on one device across its stages (`report.summary_sentence` says it)."""

    device: str
    operator: str
    title: str
    rows: int
    memory_bound: int  # rows left of the ridge point (implementation bytes)
    fraction_of_compute: tuple[float, float]  # (min, max) over the rows
    fraction_of_attainable: tuple[float, float]
    achieved_gb_per_s: tuple[float, float]
    above_roof: int = 0  # rows marked "ceiling too low"


def operator_summaries(points: Sequence[RooflinePoint]) -> list[OperatorSummary]:
    """Per device and operator, over the rows with a measured FLOPS (any status but failed)."""
    groups: dict[tuple[str, str], list[RooflinePoint]] = {}
    for point in points:
        if point.measured_gflops_per_s is not None:
            groups.setdefault((point.device, point.operator), []).append(point)
    summaries = []
    for (device, operator), group in groups.items():

        def span(name: str, group: list[RooflinePoint] = group) -> tuple[float, float]:
            values = [getattr(point, name) for point in group]
            return min(values), max(values)

        summaries.append(
            OperatorSummary(
                device=device,
                operator=operator,
                title=group[0].title,
                rows=len(group),
                memory_bound=sum(point.bound == "memory" for point in group),
                fraction_of_compute=span("fraction_of_compute"),
                fraction_of_attainable=span("fraction_of_attainable"),
                achieved_gb_per_s=span("achieved_gb_per_s"),
                above_roof=sum(point.roof == CEILING_TOO_LOW for point in group),
            )
        )
    return summaries


def ceiling_lines(
    calibration: Calibration, low: float, high: float, points: int = 200
) -> list[tuple[str, list[float], list[float]]]:
    """The roofline(s) between intensities `low` and `high`: (label, x, y) for a log-log plot.

    The DRAM roofline (GEMM roof, copy slope) first, then the L2-resident one if measured.
    """
    if not 0 < low < high:
        raise ValueError(f"need 0 < low < high, got {low}, {high}")
    ratio = (high / low) ** (1 / (points - 1))
    xs = [low * ratio**i for i in range(points)]
    compute, bandwidth = calibration.compute_gflops_per_s, calibration.bandwidth_gb_per_s
    compute_name = calibration.compute_ceiling.name
    bandwidth_name = calibration.bandwidth_ceiling.name
    lines = [
        (
            f"roofline: {compute_name} {compute:.1f} G/s, {bandwidth_name} {bandwidth:.1f} GB/s",
            xs,
            [attainable_gflops_per_s(x, compute, bandwidth) for x in xs],
        )
    ]
    cache = calibration.cache_bandwidth_gb_per_s
    if cache:
        lines.append(
            (
                f"L2-resident copy {cache:.1f} GB/s",
                xs,
                [attainable_gflops_per_s(x, compute, cache) for x in xs],
            )
        )
    return lines


def intensity_range(
    points: Sequence[RooflinePoint], calibration: Calibration
) -> tuple[float, float]:
    """An x range that shows every point and both ridge points, with a margin of 3×."""
    compute = calibration.compute_gflops_per_s
    bandwidth = calibration.bandwidth_gb_per_s
    cache = calibration.cache_bandwidth_gb_per_s
    intensities = [p.intensity_implementation for p in points] + [p.intensity_paper for p in points]
    low = min([*intensities, ridge_point(compute, cache or bandwidth)]) / 3
    high = max([*intensities, ridge_point(compute, bandwidth)]) * 3
    return low, high
