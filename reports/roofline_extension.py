"""Registers the roofline with the generic reports: `fbench plot roofline` and
`fbench report table1 --roofline`. Light at import (no torch, no matplotlib)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bench.calibration import calibration_for_run
from bench.errors import FbenchError
from bench.results import ResultRow, RunResult
from reports import roofline
from reports.device_groups import ColumnSet, DeviceColumn, DeviceGroup, register_columns
from reports.plots import Figure, Panel, PlotKind, Series, register_plot


def _field(name: str) -> Callable[[ResultRow, DeviceGroup], float | None]:
    """A Table 1 column reading one attribute of the row's roofline point."""

    def value(row: ResultRow, group: DeviceGroup) -> float | None:
        calibration = calibration_for_run(group.run, row.device)
        point = roofline.roofline_point(row, calibration) if calibration else None
        return None if point is None else getattr(point, name)

    return value


register_columns(
    ColumnSet(
        "roofline",
        "arithmetic intensity, attainable FLOPS and the share reached (needs fbench calibrate)",
        (
            DeviceColumn(
                "{device} MAC/B", _field("intensity_implementation"), lambda v: f"{v:.2f}"
            ),
            DeviceColumn(
                "{device} attainable G/s", _field("attainable_gflops_per_s"), lambda v: f"{v:.1f}"
            ),
            DeviceColumn(
                "{device} of attainable",
                _field("fraction_of_attainable"),
                lambda v: f"{v:.0%}",
                average=True,
            ),
            DeviceColumn(
                "{device} of compute roof",
                _field("fraction_of_compute"),
                lambda v: f"{v:.0%}",
                average=True,
            ),
        ),
    )
)


def roofline_figure(runs: Sequence[RunResult], with_paper: bool) -> Figure:
    panels = []
    for run in runs:
        for device in dict.fromkeys(row.device for row in run.rows):
            calibration = calibration_for_run(run, device)
            if calibration is None:
                raise FbenchError(
                    f"{run.run_id}: no calibration for {device}; run "
                    f"fbench calibrate --device {device} first"
                )
            rows = [r for r in run.rows if r.device == device and r.status != "failed"]
            points = roofline.roofline_points(rows, calibration)
            low, high = roofline.intensity_range(points, calibration)
            series = [
                Series(label, xs, ys, points=[""] * len(xs), style="line")
                for label, xs, ys in roofline.ceiling_lines(calibration, low, high, points=50)
            ]
            for operator in dict.fromkeys(p.operator for p in points):
                mine = [p for p in points if p.operator == operator and p.measured_gflops_per_s]
                if mine:
                    series.append(
                        Series(
                            mine[0].title,
                            [p.intensity_implementation for p in mine],
                            [p.measured_gflops_per_s for p in mine],
                            [p.shape_label for p in mine],
                            key=operator,
                        )
                    )
            too_low = [
                p for p in points if p.roof == roofline.CEILING_TOO_LOW and p.measured_gflops_per_s
            ]
            if too_low:
                series.append(
                    Series(
                        f"{roofline.CEILING_TOO_LOW} (above the measured roof)",
                        [p.intensity_implementation for p in too_low],
                        [p.measured_gflops_per_s for p in too_low],
                        [f"{p.title} {p.shape_label}" for p in too_low],
                        highlight=True,
                        key="ceiling_too_low",
                    )
                )
            panels.append(
                Panel(
                    f"{device} ({calibration.identity})",
                    "arithmetic intensity (multiply-adds per byte moved)",
                    "FLOPS (G multiply-adds/s)",
                    series,
                    xlog=True,
                    ylog=True,
                )
            )
    return Figure("Roofline: measured FLOPS against the device's measured ceilings", panels)


register_plot(
    PlotKind("roofline", "operators against the device's measured ceilings", roofline_figure)
)
