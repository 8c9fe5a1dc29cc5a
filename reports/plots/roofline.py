"""The `roofline` plot kind (`fbench plot roofline`): each device's operators against its
measured ceilings, as a generic `Figure`. The maths is reports/roofline/maths.py; the
stand-alone `fbench roofline --output` picture is reports/roofline/plot.py."""

from __future__ import annotations

from collections.abc import Sequence

from bench.calibration import calibration_for_run
from bench.errors import FbenchError
from bench.results import RunResult
from bench.results.status import FAILED
from reports.plots.model import FLOPS_LABEL, Figure, Panel, Series
from reports.roofline.maths import (
    CEILING_TOO_LOW,
    ceiling_lines,
    intensity_range,
    roofline_points,
)


def roofline_figure(runs: Sequence[RunResult], with_paper: bool) -> Figure:
    """A panel per run and device; `with_paper` is ignored (the paper has no roofline)."""
    panels = [
        _device_panel(run, device)
        for run in runs
        for device in dict.fromkeys(row.device for row in run.rows)
    ]
    if not panels:
        raise FbenchError("no rows in the given results to place on a roofline")
    return Figure("Roofline: measured FLOPS against the device's measured ceilings", panels)


def _device_panel(run: RunResult, device: str) -> Panel:
    """The device's ceilings as lines, a series per operator, and the rows above the roof."""
    calibration = calibration_for_run(run, device)
    if calibration is None:
        raise FbenchError(
            f"{run.run_id}: no calibration for {device}; run "
            f"fbench calibrate --device {device} first"
        )
    rows = [r for r in run.rows if r.device == device and r.status != FAILED]
    points = roofline_points(rows, calibration)
    low, high = intensity_range(points, calibration)
    series = [
        Series(label, xs, ys, points=[""] * len(xs), style="line")
        for label, xs, ys in ceiling_lines(calibration, low, high, points=50)
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
    too_low = [p for p in points if p.roof == CEILING_TOO_LOW and p.measured_gflops_per_s]
    if too_low:
        series.append(
            Series(
                f"{CEILING_TOO_LOW} (above the measured roof)",
                [p.intensity_implementation for p in too_low],
                [p.measured_gflops_per_s for p in too_low],
                [f"{p.title} {p.shape_label}" for p in too_low],
                highlight=True,
                key="ceiling_too_low",
            )
        )
    return Panel(
        f"{device} ({calibration.identity})",
        "arithmetic intensity (multiply-adds per byte moved)",
        FLOPS_LABEL,
        series,
        xlog=True,
        ylog=True,
    )
