"""The `operators` plot kind: FLOPs against FLOPS of the Table 1 operators, a panel per
device, with the paper's Table 1 values as hollow markers (`--paper`). Measured numbers are
in docs/figures/ and docs/reports.md, not here."""

from __future__ import annotations

from collections.abc import Sequence

from fbench.bench.errors import FbenchError
from fbench.bench.results import ResultRow, RunResult
from fbench.reports import paper
from fbench.reports.paper import paper_row
from fbench.reports.plots.model import (
    FLOPS_LABEL,
    Figure,
    Link,
    Panel,
    Series,
    fill_caption,
    operator_style,
)
from fbench.reports.plots.rows import gflops_interval, usable
from fbench.reports.rows import operator_order, operator_title
from fbench.reports.table1.columns import DeviceGroup, device_groups

# Points of one operator share their FLOPs (Table 1's stages are built so); they are spread
# this far apart along the log x axis (in decades) so that the four stages stay visible.
STAGE_SPREAD_DECADES = 0.05
BARS_NOTE = (
    "Bars, right of each marker: the 95% interval of the median latency, as FLOPS "
    "(a narrow one is two caps close together)."
)
OPERATOR_SPREAD_DECADES = 0.22  # operators with equal FLOPs (GConv, PConv), further apart


def operators_figure(runs: Sequence[RunResult], with_paper: bool = False) -> Figure:
    groups = device_groups(runs)
    if not groups:
        raise FbenchError("no operator rows in the given results (fbench run --suite operators)")
    stages = _stage_names(groups)
    rows = [r for g in groups for r in g.rows]
    depth_labels = len({r.layers for r in rows}) > 1
    panels = [_operators_panel(group, with_paper, stages, depth_labels) for group in groups]
    depths = "/".join(str(layers) for layers in sorted({r.layers for r in rows}))
    several_depths = len({r.layers for r in rows}) > 1
    notes = [
        f"FLOPs: multiply-adds of the {depths}-layer stack for one image, as in Table 1. "
        f"{BARS_NOTE}",
    ]
    if stages:
        names = ", ".join(f"{label} {shape}" for shape, label in stages.items())
        notes.append(
            f"Stages (C×H×W): {names}. Points of equal FLOPs are spread a little along x, "
            "stage by stage, so that none hides another; the CSV has the exact values."
        )
    if several_depths:
        notes.append(
            "A point's label names its stage and its depth: S1 L5 is stage 1 stacked 5 layers "
            "deep (FLOPs grow with depth, so the depths of a stage lie along x)."
        )
    fills = fill_caption([r.status for r in rows if usable(r)])
    if fills:
        notes.append(fills)
    if with_paper:
        columns = sorted({g.paper_column for g in groups if g.paper_column})
        hardware = "; ".join(f"{c.upper()}: {paper.PAPER_HARDWARE[c]}" for c in columns)
        notes.append(
            f"Hollow markers: the paper's Table 1 ({hardware or 'no column for this device'}), "
            "joined by a dotted line to the measured point of the same stage."
        )
    failed = sum(1 for r in rows if not usable(r))
    if failed:
        notes.append(f"{failed} failed row(s) have no value and are not plotted.")
    return Figure(
        "Operators: FLOPs vs FLOPS (paper Table 1)",
        panels,
        notes,
        shared_legend=True,
        hollow_label="paper (Table 1)" if with_paper else None,
    )


def _stage_names(groups: Sequence[DeviceGroup]) -> dict[str, str]:
    """Shape → "S1".. when each stage number has one shape (Table 1's stages); else {}."""
    shapes: dict[int, set[str]] = {}
    for group in groups:
        for row in group.rows:
            shapes.setdefault(row.stage, set()).add(row.shape_label)
    if any(len(found) > 1 for found in shapes.values()):
        return {}  # custom shapes: label points with the shape itself
    return {next(iter(shapes[stage])): f"S{stage}" for stage in sorted(shapes)}


def _operators_panel(
    group: DeviceGroup, with_paper: bool, stages: dict[str, str], depth_labels: bool
) -> Panel:
    names = operator_order(group.rows)
    by_operator = {
        name: sorted(
            (r for r in group.rows if r.operator == name), key=lambda r: (r.stage, r.layers)
        )
        for name in names
    }
    shifts = _x_shifts(by_operator)

    def label(row: ResultRow) -> str:
        text = stages.get(row.shape_label, row.shape_label)
        return f"{text} L{row.layers}" if depth_labels else text

    series, links = [], []
    for name in names:
        colour, marker = operator_style(name)
        title = operator_title(name)
        rows = [r for r in by_operator[name] if usable(r)]
        if rows:
            intervals = [gflops_interval(r) for r in rows]
            series.append(
                Series(
                    title,
                    [r.flops / 1e6 for r in rows],
                    [r.gflops_per_s for r in rows],
                    [r.shape_label for r in rows],
                    marker=marker,
                    annotate=True,
                    key=name,
                    colour=colour,
                    statuses=[r.status for r in rows],
                    y_low=[low for low, _ in intervals],
                    y_high=[high for _, high in intervals],
                    texts=[label(r) for r in rows],
                    x_shift=[shifts[id(r)] for r in rows],
                )
            )
        if not with_paper:
            continue
        references = [(r, _paper_point(r)) for r in by_operator[name]]
        references = [(r, p) for r, p in references if p is not None]
        if not references:
            continue
        series.append(
            Series(
                f"{title} (paper, {group.paper_column.upper()})",
                [p[0] for _, p in references],
                [p[1] for _, p in references],
                [p[2] for _, p in references],
                marker=marker,
                filled=False,
                legend=False,
                annotate=True,
                key=name,
                colour=colour,
                # a stage is named at its measured point; here only where none was drawn
                texts=["" if usable(r) else label(r) for r, _ in references],
                x_shift=[shifts[id(r)] for r, _ in references],
            )
        )
        for row, (x, y, _) in references:
            if usable(row):
                shift = shifts[id(row)]
                links.append(
                    Link((x * shift, row.gflops_per_s), (x * shift, y), name, colour=colour)
                )
    hardware = group.run.environment.get("cpu_model") or "?"
    if group.device == "cuda":
        hardware = group.run.environment.get("gpu_name") or hardware
    batches = ", ".join(str(b) for b in sorted({r.batch for r in group.rows}))
    dtypes = ", ".join(sorted({r.dtype for r in group.rows}))
    return Panel(
        title=f"{group.label}: {hardware}\n{group.backend}, batch {batches}, {dtypes}, "
        f"run {group.run.run_id}",
        xlabel="FLOPs per image (M multiply-adds)",
        ylabel=FLOPS_LABEL,
        series=series,
        ylog=True,
        links=links,
    )


def _x_shifts(by_operator: dict[str, list[ResultRow]]) -> dict[int, float]:
    """A factor per row (by id) that spreads rows of equal FLOPs along the log x axis."""
    at_flops: dict[int, list[str]] = {}
    for name, rows in by_operator.items():
        for flops in dict.fromkeys(r.flops for r in rows):
            at_flops.setdefault(flops, []).append(name)
    shifts = {}
    for name, rows in by_operator.items():
        for flops in dict.fromkeys(r.flops for r in rows):
            sharing = at_flops[flops]
            operator_offset = (
                sharing.index(name) - (len(sharing) - 1) / 2
            ) * OPERATOR_SPREAD_DECADES
            same = [r for r in rows if r.flops == flops]
            for index, row in enumerate(same):
                offset = operator_offset + (index - (len(same) - 1) / 2) * STAGE_SPREAD_DECADES
                shifts[id(row)] = 10**offset
    return shifts


def _paper_point(row: ResultRow) -> tuple[float, float, str] | None:
    reference = paper_row(row)
    column = paper.PAPER_DEVICE_COLUMN.get(row.device)
    if reference is None or column is None:
        return None
    return row.flops / 1e6, reference.gflops(column), row.shape_label
