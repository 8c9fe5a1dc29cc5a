"""The roofline: where each stored row sits against its device's measured ceilings.

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
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from bench.calibration import Calibration
from bench.results import ResultRow
from bench.results.identity import device_model
from reports.formatting import fixed
from reports.rows import operator_rank, operator_title

_one_decimal = fixed(1)


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
class RooflinePoint:
    """One row placed on its device's roofline."""

    device: str
    operator: str
    title: str
    stage: int
    channels: int
    height: int
    width: int
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

    @property
    def shape_label(self) -> str:
        return f"{self.channels}×{self.height}×{self.width}"


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
    """The row on the roofline, or None where it has no memory-access count (networks)."""
    if row.memory_access_bytes is None:
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
        device=row.device,
        operator=row.operator,
        title=operator_title(row.operator),
        stage=row.stage,
        channels=row.channels,
        height=row.height,
        width=row.width,
        layers=row.layers,
        batch=row.batch,
        dtype=row.dtype,
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


# The extra Table 1 columns (`fbench report table1 --roofline`), in order.
ROOFLINE_HEADERS = (
    "MAC/B (paper)",
    "MAC/B (impl.)",
    "Attainable GMAC/s",
    "of attainable",
    "of compute roof",
    "GB/s moved",
    "Bound",
    "Roof",
)


def _cells(point: RooflinePoint) -> list[str]:
    return [
        f"{point.intensity_paper:.2f}",
        f"{point.intensity_implementation:.2f}",
        f"{point.attainable_gflops_per_s:.1f}",
        _percent(point.fraction_of_attainable),
        _percent(point.fraction_of_compute),
        _one_decimal(point.achieved_gb_per_s),
        point.bound,
        point.roof,
    ]


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def calibration_for(
    row: ResultRow, calibrations: Calibration | Mapping[str, Calibration]
) -> Calibration | None:
    """The calibration that applies to a row: one for all, or one per device name."""
    if isinstance(calibrations, Calibration):
        return calibrations
    return calibrations.get(row.device)


def roofline_points(
    rows: Sequence[ResultRow], calibrations: Calibration | Mapping[str, Calibration]
) -> list[RooflinePoint]:
    """Every row that can be placed, in Table 1's order: device, operator, stage."""
    points = []
    for row in rows:
        calibration = calibration_for(row, calibrations)
        point = roofline_point(row, calibration) if calibration else None
        if point is not None:
            points.append(point)
    devices = list(dict.fromkeys(point.device for point in points))
    return sorted(
        points,
        key=lambda p: (devices.index(p.device), operator_rank(p.operator), p.stage, p.layers),
    )


def table_rows(points: Sequence[RooflinePoint]) -> tuple[list[str], list[list[str]]]:
    """(headers, cells) of the per-row roofline table; a Layers column if depths differ."""
    with_layers = len({point.layers for point in points}) > 1
    headers = [
        "Device",
        "Operator",
        "Feature map",
        *(["Layers"] if with_layers else []),
        "GMAC/s measured",
        *ROOFLINE_HEADERS,
        "Status",
    ]
    cells = [
        [
            point.device,
            point.title,
            point.shape_label,
            *([str(point.layers)] if with_layers else []),
            _one_decimal(point.measured_gflops_per_s),
            *_cells(point),
            point.status,
        ]
        for point in points
    ]
    return headers, cells


@dataclass(frozen=True)
class OperatorSummary:
    """One operator on one device across its stages: the sentence the README's goal asks for."""

    device: str
    operator: str
    title: str
    rows: int
    memory_bound: int  # rows left of the ridge point (implementation bytes)
    fraction_of_compute: tuple[float, float]  # (min, max) over the rows
    fraction_of_attainable: tuple[float, float]
    achieved_gb_per_s: tuple[float, float]
    above_roof: int = 0  # rows marked "ceiling too low"

    def sentence(self) -> str:
        bound = (
            "memory-bound"
            if self.memory_bound == self.rows
            else "compute-bound"
            if self.memory_bound == 0
            else f"memory-bound at {self.memory_bound} of {self.rows} shapes"
        )
        too_low = (
            f"; {CEILING_TOO_LOW} at {self.above_roof} of {self.rows} shapes"
            if self.above_roof
            else ""
        )
        return (
            f"{self.device} {self.title}: {bound}; {_span(self.fraction_of_compute)} of the "
            f"compute ceiling, {_span(self.fraction_of_attainable)} of attainable, "
            f"{self.achieved_gb_per_s[0]:.1f}–{self.achieved_gb_per_s[1]:.1f} GB/s moved"
            f"{too_low}"
        )


def _span(values: tuple[float, float]) -> str:
    low, high = values
    return f"{low:.0%}" if f"{low:.0%}" == f"{high:.0%}" else f"{low:.0%}–{high:.0%}"


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


CSV_FIELDS = tuple(f for f in RooflinePoint.__dataclass_fields__ if f != "title")


def write_csv(target: Path | TextIO, points: Sequence[RooflinePoint]) -> None:
    """The points as CSV, one per row, to a file path or an open text stream."""
    if not isinstance(target, Path):
        writer = csv.DictWriter(target, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(asdict(point) for point in points)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as stream:
        write_csv(stream, points)


MARKERS = {"conv": "s", "gconv": "D", "dwconv": "v", "pconv": "o"}
STAGE_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")


def plot_roofline(
    rows: Sequence[ResultRow],
    calibration: Calibration | Mapping[str, Calibration],
    path_prefix: Path | str,
) -> list[Path]:
    """Log-log roofline per device: ceilings, and every operator × stage as a point.

    Writes PATH_PREFIX.png, .svg and .csv (the points and ceilings, for other tools) and
    returns their paths. Filled markers sit at the implementation's intensity; where the
    paper's equations give another intensity (PConv's copy), a hollow marker shows it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prefix = Path(path_prefix)
    points = roofline_points(rows, calibration)
    if not points:
        raise ValueError("no row has both a memory-access count and a calibration")
    devices = list(dict.fromkeys(point.device for point in points))
    figure, axes = plt.subplots(1, len(devices), figsize=(7.5 * len(devices), 5.5), squeeze=False)
    for axis, device in zip(axes[0], devices, strict=True):
        mine = [point for point in points if point.device == device]
        _draw_device(axis, device, mine, calibration_for_device(calibration, device))
    figure.tight_layout()
    written = []
    for suffix in (".png", ".svg"):
        path = prefix.with_name(prefix.name + suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=150)
        written.append(path)
    plt.close(figure)
    csv_path = prefix.with_name(prefix.name + ".csv")
    write_csv(csv_path, points)
    written.append(csv_path)
    return written


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
            f"roofline: {compute_name} {compute:.1f} GMAC/s, {bandwidth_name} {bandwidth:.1f} GB/s",
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


def calibration_for_device(
    calibrations: Calibration | Mapping[str, Calibration], device: str
) -> Calibration:
    if isinstance(calibrations, Calibration):
        return calibrations
    return calibrations[device]


def _draw_device(axis, device: str, points: Sequence[RooflinePoint], calibration) -> None:
    compute = calibration.compute_gflops_per_s
    bandwidth = calibration.bandwidth_gb_per_s
    for label, xs, ys in ceiling_lines(calibration, *intensity_range(points, calibration)):
        dashed = label.startswith("L2")
        axis.loglog(
            xs,
            ys,
            color="grey" if dashed else "black",
            linestyle="--" if dashed else "-",
            linewidth=1.5 if dashed else 2,
            label=label,
        )
    axis.axvline(ridge_point(compute, bandwidth), color="black", linestyle=":", linewidth=0.8)
    stages = sorted({p.stage for p in points})
    for point in points:
        colour = STAGE_COLOURS[stages.index(point.stage) % len(STAGE_COLOURS)]
        marker = MARKERS.get(point.operator, "P")
        if point.measured_gflops_per_s is None:
            continue
        axis.scatter(
            point.intensity_implementation,
            point.measured_gflops_per_s,
            marker=marker,
            color=colour,
            edgecolor="black",
            s=55,
            zorder=3,
        )
        if abs(point.intensity_paper - point.intensity_implementation) > 1e-9:
            axis.scatter(
                point.intensity_paper,
                point.measured_gflops_per_s,
                marker=marker,
                facecolor="none",
                edgecolor=colour,
                s=55,
                zorder=3,
            )
            axis.plot(
                [point.intensity_implementation, point.intensity_paper],
                [point.measured_gflops_per_s] * 2,
                color=colour,
                linewidth=0.6,
            )
    too_low = [p for p in points if p.roof == CEILING_TOO_LOW]
    if too_low:
        axis.scatter(
            [p.intensity_implementation for p in too_low],
            [p.measured_gflops_per_s for p in too_low],
            marker="o",
            facecolor="none",
            edgecolor="red",
            linewidth=1.5,
            s=160,
            zorder=4,
            label=f"{CEILING_TOO_LOW}: above the measured roof",
        )
    # Legend entries: operators by marker, stages by colour.
    for name in dict.fromkeys(p.operator for p in points):
        title = next(p.title for p in points if p.operator == name)
        axis.scatter(
            [], [], marker=MARKERS.get(name, "P"), color="white", edgecolor="black", label=title
        )
    for stage in stages:
        shape = next(p.shape_label for p in points if p.stage == stage)
        axis.scatter(
            [],
            [],
            marker="o",
            color=STAGE_COLOURS[stages.index(stage) % len(STAGE_COLOURS)],
            label=f"stage {stage}: {shape}",
        )
    if any(abs(p.intensity_paper - p.intensity_implementation) > 1e-9 for p in points):
        axis.scatter(
            [],
            [],
            marker="o",
            facecolor="none",
            edgecolor="black",
            label="hollow: paper eq. 5 intensity (no copies)",
        )
    model = device_model(calibration.environment)
    model = calibration.identity if model == "unknown" else model
    axis.set_title(f"{device}: {model} ({points[0].dtype}, batch {points[0].batch})", fontsize=10)
    axis.set_xlabel("arithmetic intensity (multiply-adds per byte moved)")
    axis.set_ylabel("performance (G multiply-adds/s, the paper's FLOPS)")
    axis.grid(True, which="both", linewidth=0.3, alpha=0.5)
    axis.legend(fontsize=7, loc="lower right")
