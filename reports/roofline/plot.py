"""`fbench roofline --output`: the log-log roofline per device drawn with matplotlib
(ceilings, the ridge point, every operator × stage as a point), with the points as CSV beside
it. The generic `fbench plot roofline` kind is reports/plots/roofline.py. Example pictures are
in docs/figures/ (docs/roofline.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.calibration import Calibration
from bench.errors import FbenchError
from bench.results import ResultRow
from bench.results.identity import device_model
from reports.roofline.maths import (
    CEILING_TOO_LOW,
    RooflinePoint,
    calibration_for,
    ceiling_lines,
    intensity_range,
    ridge_point,
    roofline_points,
)
from reports.roofline.report import write_csv

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
        raise FbenchError("no row has both a memory-access count and a calibration")
    devices = list(dict.fromkeys(point.device for point in points))
    figure, axes = plt.subplots(1, len(devices), figsize=(7.5 * len(devices), 5.5), squeeze=False)
    for axis, device in zip(axes[0], devices, strict=True):
        mine = [point for point in points if point.device == device]
        _draw_device(axis, device, mine, calibration_for(calibration, device))
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
