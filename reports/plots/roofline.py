"""The roofline picture, one drawing for `fbench plot roofline` and `fbench roofline --plot`:
each device's operators against its measured ceilings, as a generic `Figure` (colour and
marker per operator, fill per status, interval bars, stages labelled, the ridge point, and a
red ring where a row is above the measured roof). The maths is reports/roofline/maths.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from fbench.bench.calibration import Calibration, calibration_for_run
from fbench.bench.errors import FbenchError
from fbench.bench.results import ResultRow, RunResult
from fbench.bench.results.identity import device_model
from fbench.bench.results.status import FAILED
from fbench.reports.plots.model import Figure, Link, Panel, Series, fill_caption, operator_style
from fbench.reports.plots.rows import gflops_interval
from fbench.reports.roofline.maths import (
    CEILING_TOO_LOW,
    RooflinePoint,
    attainable_gflops_per_s,
    calibration_for,
    ceiling_lines,
    intensity_range,
    ridge_point,
    roofline_point,
    roofline_points,
)
from fbench.reports.roofline.report import write_csv
from fbench.reports.rows import operator_rank

TITLE = "Roofline: measured FLOPS against the device's measured ceilings"
YLABEL = "FLOPS (G multiply-adds/s)"
XLABEL = "arithmetic intensity (multiply-adds per byte moved)"


def roofline_figure(runs: Sequence[RunResult], with_paper: bool) -> Figure:
    """`fbench plot roofline`: a panel per device, with the calibration each run recorded
    (else calibrations/ by the run's device identity); `with_paper` is ignored (the paper
    has no roofline)."""
    rows = [row for run in runs for row in run.rows]
    if not any(row.memory_access_bytes is not None for row in rows):
        suites = {row.suite for row in rows}
        if "networks" in suites:
            raise FbenchError(
                "plot roofline places operator rows; a networks run has no memory-access "
                "counts to place (fbench plot figure2 draws its networks)"
            )
        raise FbenchError("no rows in the given results to place on a roofline")
    calibrations: dict[str, Calibration] = {}
    for run in runs:
        for device in dict.fromkeys(row.device for row in run.rows):
            if device in calibrations:
                continue
            calibration = calibration_for_run(run, device)
            if calibration is None:
                raise FbenchError(
                    f"{run.run_id}: no calibration for {device}; run "
                    f"fbench calibrate --device {device} first"
                )
            calibrations[device] = calibration
    return roofline_rows_figure(rows, calibrations)


def roofline_rows_figure(
    rows: Sequence[ResultRow], calibrations: Calibration | Mapping[str, Calibration]
) -> Figure:
    """Rows (any runs) on their devices' rooflines: a panel per device."""
    placed = [
        (row, point)
        for row in rows
        if row.status != FAILED
        and (calibration := calibration_for(calibrations, row.device)) is not None
        and (point := roofline_point(row, calibration)) is not None
    ]
    if not placed:
        raise FbenchError("no row has both a memory-access count and a calibration")
    devices = list(dict.fromkeys(point.device for _, point in placed))
    panels, notes = [], []
    for device in devices:
        mine = [(row, point) for row, point in placed if point.device == device]
        calibration = calibration_for(calibrations, device)
        panel, note = _device_panel(mine, calibration)
        panels.append(panel)
        notes.extend(note)
    statuses = [point.status for _, point in placed if point.measured_gflops_per_s]
    stages = sorted({(p.stage, p.shape_label) for _, p in placed})
    captions = [
        "Filled markers: each row at the intensity of the bytes its implementation moves; "
        "hollow (joined by a dotted line): the same FLOPS at the paper's eqs. 2/3/5 intensity, "
        "where that differs (PConv's slicing copy). Bars, right of each marker: the 95% interval "
        "of the median latency, as FLOPS (a narrow one is two caps close together).",
        "Labels: "
        + ", ".join(f"S{stage} {shape}" for stage, shape in stages)
        + (
            "; L5: a 5-layer stack (a depth sweep)"
            if len({p.layers for _, p in placed}) > 1
            else ""
        )
        + ".",
        *notes,
    ]
    fills = fill_caption(statuses)
    if fills:
        captions.append(fills)
    if any(point.roof == CEILING_TOO_LOW for _, point in placed):
        captions.append(
            f"Red ring: {CEILING_TOO_LOW}, the row's 95% interval lies wholly above the roof's: "
            "the calibration did not find the device's ceiling there."
        )
    return Figure(
        TITLE,
        panels,
        captions,
        ring_label=CEILING_TOO_LOW,
        shared_legend=True,  # outside the axes: inside, it covers points and bars
        panel_size=(7.5, 5.5),
    )


def _device_panel(
    placed: Sequence[tuple[ResultRow, RooflinePoint]], calibration: Calibration
) -> tuple[Panel, list[str]]:
    """The device's ceilings as lines, the ridge point, and a series per operator."""
    points = [point for _, point in placed]
    low, high = intensity_range(points, calibration)
    series, notes = [], []
    compute, bandwidth = calibration.compute_gflops_per_s, calibration.bandwidth_gb_per_s
    for label, xs, ys in ceiling_lines(calibration, low, high, points=3):
        cache = label.startswith("L2")
        slope = calibration.cache_bandwidth_gb_per_s if cache else bandwidth
        if cache and slope <= bandwidth:
            notes.append(_cache_below_dram(calibration))
            continue
        # A roofline is two straight pieces on log axes: its ends and its corner.
        xs = sorted({xs[0], xs[-1], ridge_point(compute, slope)})
        ys = [attainable_gflops_per_s(x, compute, slope) for x in xs]
        series.append(
            Series(
                label,
                xs,
                ys,
                points=[""] * len(xs),
                style="line",
                colour="0.5" if cache else "black",
                linestyle="--" if cache else "-",
            )
        )
    if "conv" not in calibration.ceilings:
        older = f", {calibration.migrated_from}" if calibration.migrated_from else ""
        notes.append(
            f"{calibration.device}: the calibration has no conv probes{older}: its roof is a "
            "GEMM's, which a convolution library's own kernels (Winograd) may beat."
        )
    depths = len({p.layers for p in points}) > 1  # a depth sweep: label each point's depth
    links = []
    for operator in sorted({p.operator for p in points}, key=operator_rank):
        mine = [(r, p) for r, p in placed if p.operator == operator and p.measured_gflops_per_s]
        if not mine:
            continue
        colour, marker = operator_style(operator)
        intervals = [gflops_interval(row) for row, _ in mine]
        labels = [f"S{p.stage}" + (f" L{p.layers}" if depths else "") for _, p in mine]
        series.append(
            Series(
                mine[0][1].title,
                [p.intensity_implementation for _, p in mine],
                [p.measured_gflops_per_s for _, p in mine],
                [p.shape_label for _, p in mine],
                marker=marker,
                key=operator,
                colour=colour,
                annotate=True,
                statuses=[p.status for _, p in mine],
                y_low=[low for low, _ in intervals],
                y_high=[high for _, high in intervals],
                texts=labels,
                ringed=[p.roof == CEILING_TOO_LOW for _, p in mine],
            )
        )
        apart = [p for _, p in mine if abs(p.intensity_paper - p.intensity_implementation) > 1e-9]
        if apart:
            series.append(
                Series(
                    f"{mine[0][1].title} (paper's intensity)",
                    [p.intensity_paper for p in apart],
                    [p.measured_gflops_per_s for p in apart],
                    [p.shape_label for p in apart],
                    marker=marker,
                    key=operator,
                    colour=colour,
                    filled=False,
                    legend=False,
                )
            )
            links.extend(
                Link(
                    (p.intensity_implementation, p.measured_gflops_per_s),
                    (p.intensity_paper, p.measured_gflops_per_s),
                    operator,
                    colour=colour,
                )
                for p in apart
            )
    ridge = ridge_point(compute, bandwidth)
    model = device_model(calibration.environment)
    model = calibration.identity if model == "unknown" else model
    first = points[0]
    panel = Panel(
        f"{first.device}: {model}\n{first.dtype}, batch {first.batch}, "
        f"calibration {calibration.identity}",
        XLABEL,
        YLABEL,
        series,
        xlog=True,
        ylog=True,
        links=links,
        vlines=[(ridge, f"ridge point {ridge:.2f} MAC/B")],
    )
    return panel, notes


def _cache_below_dram(calibration: Calibration) -> str:
    """Why no L2 line is drawn: a cache-resident copy slower than DRAM measured something
    else (on a GPU, a copy of a few MiB is a kernel of a few µs, bound by its launch)."""
    cache = calibration.ceilings.get("cache_copy")
    detail = ""
    if cache is not None:
        repeats = cache.details.get("repeats_per_call") or 1
        per_copy_us = cache.latency_ms.median * 1000 / repeats
        detail = (
            f" (each of its copies took {per_copy_us:.1f} µs: short enough for fixed per-copy "
            "costs such as a kernel launch to dominate)"
        )
    return (
        f"{calibration.device}: no L2 line: the cache-resident copy measured "
        f"{calibration.cache_bandwidth_gb_per_s:.0f} GB/s, below the DRAM slope's "
        f"{calibration.bandwidth_gb_per_s:.0f} GB/s, so it bounds nothing{detail}."
    )


def plot_roofline(
    rows: Sequence[ResultRow],
    calibration: Calibration | Mapping[str, Calibration],
    path_prefix: Path | str,
    captions: Sequence[str] = (),
) -> list[Path]:
    """`fbench roofline --plot`: the `plot roofline` drawing of `rows`, as PREFIX.png and
    PREFIX.svg, with PREFIX.csv holding the roofline table's points (`--format csv`)."""
    from dataclasses import replace

    from fbench.reports.plots.draw import draw

    figure = roofline_rows_figure(rows, calibration)
    figure = replace(figure, notes=[*figure.notes, *captions])
    written = draw(figure, Path(path_prefix), ("png", "svg"))
    write_csv(written[-1], roofline_points(rows, calibration))  # the table's, not the figure's
    return written
