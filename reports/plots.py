"""Plots from stored results: a registry of plot kinds, each a pure function runs → `Figure`.

A plot kind only decides *what* to show (panels, series of points, axis labels with units);
`draw` renders any `Figure` with matplotlib (Agg, PNG and SVG) and `figure_csv` writes the
same points as CSV beside the image, so every picture can be checked and re-plotted. Adding a
kind (e.g. a roofline) is one `register_plot(PlotKind(...))`. Nothing here measures.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.errors import FbenchError
from bench.results import ResultRow, RunResult
from operators import OPERATORS
from reports import paper
from reports.device_groups import DeviceGroup, device_groups
from reports.paper import paper_row
from reports.rows import operator_order, operator_rank, operator_title

FLOPS_LABEL = "FLOPS (G multiply-adds/s)"
HIGHLIGHT_FAMILY = "FasterNet"


@dataclass(frozen=True)
class Series:
    """Points (or a line) drawn alike: one operator, one network family, one ceiling."""

    label: str
    x: list[float]
    y: list[float]
    points: list[str]  # a name per point: the CSV's `point` column, annotations
    marker: str = "o"
    style: str = "points"  # "points" | "line"
    filled: bool = True  # hollow markers: the paper's values
    highlight: bool = False  # drawn larger, in red, on top (FasterNet)
    legend: bool = True
    annotate: bool = False
    key: str | None = None  # series with the same key share a colour in every panel
    # Optional, one entry per point:
    statuses: list[str] | None = None  # a measured row's status: sets the marker's fill
    y_low: list[float | None] | None = None  # 95% interval of y (error bars)
    y_high: list[float | None] | None = None
    texts: list[str] | None = None  # what `annotate` writes at a point (default: `points`)
    # Drawn at x × shift (the CSV keeps x): spreads points of equal x so none hides another.
    x_shift: list[float] | None = None


@dataclass(frozen=True)
class Link:
    """A thin line between two points: a measured value and the paper's for the same thing."""

    start: tuple[float, float]
    end: tuple[float, float]
    key: str  # the colour of the series it belongs to
    highlight: bool = False


@dataclass(frozen=True)
class Panel:
    title: str
    xlabel: str
    ylabel: str
    series: list[Series]
    xlog: bool = True  # FLOPs span orders of magnitude: always a log axis
    ylog: bool = False
    links: list[Link] = field(default_factory=list)


@dataclass(frozen=True)
class Figure:
    title: str
    panels: list[Panel]
    notes: list[str] = field(default_factory=list)  # the caption, a paragraph each
    shared_legend: bool = False  # one legend, right of the last panel (same series in each)
    hollow_label: str | None = None  # legend entry for the hollow markers (the paper's values)
    panel_size: tuple[float, float] = (6.6, 5.0)  # inches; larger where many points are named


@dataclass(frozen=True)
class PlotKind:
    name: str
    help: str
    build: Callable[[Sequence[RunResult], bool], Figure]  # (runs, with_paper) → Figure
    max_results: int | None = None


PLOT_KINDS: dict[str, PlotKind] = {}


def register_plot(kind: PlotKind) -> PlotKind:
    if kind.name in PLOT_KINDS:
        raise ValueError(f"plot kind {kind.name!r} is already registered")
    PLOT_KINDS[kind.name] = kind
    return kind


# tab10 without red: red is kept for the highlighted family (FasterNet)
PALETTE = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:gray",
    "tab:olive",
    "tab:cyan",
    "black",
    "navy",
    "darkgoldenrod",
    "teal",
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*", "p", "8", "H", "d")


# How a measured point's status is drawn, for both vocabularies of the result schema (/1:
# ok, unstable, failed; /2: ok, imprecise, disturbed, failed). Failed rows have no value: they
# are counted in the caption, not drawn. An unknown status is drawn like "disturbed".
STATUS_FILL = {"ok": "full", "unstable": "pale", "imprecise": "pale", "disturbed": "grey"}
FILL_WORD = {"full": "filled", "pale": "pale", "grey": "grey"}
STATUS_MEANING = {
    "unstable": "unstable (95% interval wider than the target, or the device reported a problem)",
    "imprecise": "imprecise (95% interval wider than the target)",
    "disturbed": "disturbed (the device or host was not steady while timing the row)",
}


def status_fill(status: str) -> str:
    return STATUS_FILL.get(status, "grey")


def fill_caption(statuses: Sequence[str]) -> str | None:
    """The marker fills drawn and the statuses they stand for, said once (None: all ok)."""
    by_fill: dict[str, list[str]] = {}
    for status in dict.fromkeys(statuses):
        by_fill.setdefault(status_fill(status), []).append(status)
    if set(by_fill) <= {"full"}:
        return None
    parts = [
        f"{FILL_WORD[fill]} = " + ", ".join(STATUS_MEANING.get(s, s) for s in by_fill[fill])
        for fill in FILL_WORD
        if fill in by_fill
    ]
    return "Marker fill: " + "; ".join(parts) + "."


def _usable(row: ResultRow) -> bool:
    return row.status != "failed" and row.gflops_per_s is not None


def _gflops_interval(row: ResultRow) -> tuple[float | None, float | None]:
    """The 95% interval of the latency, as FLOPS: FLOPS ∝ 1 / latency, so the bounds swap."""
    summary, latency = row.latency_ms, row.latency
    if summary is None or not latency or row.gflops_per_s is None:
        return None, None
    low = row.gflops_per_s * latency / summary.ci95_high if summary.ci95_high else None
    high = row.gflops_per_s * latency / summary.ci95_low if summary.ci95_low else None
    return low, high


def _latency_interval(row: ResultRow) -> tuple[float | None, float | None]:
    summary = row.latency_ms
    if summary is None or row.latency_estimator != "median":
        return None, None  # the interval is the median's; the official method reports the mean
    return summary.ci95_low, summary.ci95_high


def run_caption(run: RunResult) -> str:
    """What a reader needs to place a plot: the run id, device, backend, batch, dtype, method."""
    rows = run.rows

    def values(name: str) -> str:
        return ", ".join(str(v) for v in dict.fromkeys(getattr(r, name) for r in rows)) or "?"

    hardware = run.environment.get("cpu_model") or "?"
    if any(r.device == "cuda" for r in rows):
        hardware = run.environment.get("gpu_name") or hardware
    timing = run.config.get("timing") or {}
    method = timing.get("method") or values("method")
    processes = timing.get("processes") or 1
    if processes > 1:
        method = f"{method}, {processes} processes"
    return (
        f"Run {run.run_id}: {values('device')}/{values('backend')} on {hardware}, "
        f"batch {values('batch')}, {values('dtype')}, method {method}."
    )


def build_figure(kind: PlotKind, runs: Sequence[RunResult], with_paper: bool) -> Figure:
    """`kind`'s figure with every run named in the caption (device, backend, batch, dtype)."""
    figure = kind.build(runs, with_paper)
    captions = [run_caption(run) for run in runs]
    return replace(figure, notes=[*figure.notes, *dict.fromkeys(captions)])


# --- operators: FLOPs vs FLOPS of the Table 1 operators, a panel per device -----------------

# Points of one operator share their FLOPs (Table 1's stages are built so); they are spread
# this far apart along the log x axis (in decades) so that the four stages stay visible.
STAGE_SPREAD_DECADES = 0.035
OPERATOR_SPREAD_DECADES = 0.15  # operators with equal FLOPs (GConv, PConv), further apart


def operators_figure(runs: Sequence[RunResult], with_paper: bool = False) -> Figure:
    groups = device_groups(runs)
    if not groups:
        raise FbenchError("no operator rows in the given results (fbench run --suite operators)")
    stages = _stage_names(groups)
    panels = [_operators_panel(group, with_paper, stages) for group in groups]
    rows = [r for g in groups for r in g.rows]
    depths = "/".join(str(layers) for layers in sorted({r.layers for r in rows}))
    notes = [
        f"FLOPs: multiply-adds of the {depths}-layer stack for one image, as in Table 1. "
        "Bars: the 95% interval of the median latency, as FLOPS.",
    ]
    if stages:
        names = ", ".join(f"{label} {shape}" for shape, label in stages.items())
        notes.append(
            f"Stages (C×H×W): {names}. Points of equal FLOPs are spread a little along x, "
            "stage by stage, so that none hides another; the CSV has the exact values."
        )
    fills = fill_caption([r.status for r in rows if _usable(r)])
    if fills:
        notes.append(fills)
    if with_paper:
        columns = sorted({g.paper_column for g in groups if g.paper_column})
        hardware = "; ".join(f"{c.upper()}: {paper.PAPER_HARDWARE[c]}" for c in columns)
        notes.append(
            f"Hollow markers: the paper's Table 1 ({hardware or 'no column for this device'}), "
            "joined to the measured point of the same stage."
        )
    failed = sum(1 for r in rows if not _usable(r))
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


def _operators_panel(group: DeviceGroup, with_paper: bool, stages: dict[str, str]) -> Panel:
    names = operator_order(group.rows)
    by_operator = {
        name: sorted((r for r in group.rows if r.operator == name), key=lambda r: r.stage)
        for name in names
    }
    shifts = _x_shifts(by_operator)
    series, links = [], []
    for name in names:
        marker = _operator_marker(name)
        title = operator_title(name)
        rows = [r for r in by_operator[name] if _usable(r)]
        if rows:
            intervals = [_gflops_interval(r) for r in rows]
            series.append(
                Series(
                    title,
                    [r.flops / 1e6 for r in rows],
                    [r.gflops_per_s for r in rows],
                    [r.shape_label for r in rows],
                    marker=marker,
                    annotate=True,
                    key=name,
                    statuses=[r.status for r in rows],
                    y_low=[low for low, _ in intervals],
                    y_high=[high for _, high in intervals],
                    texts=[stages.get(r.shape_label, r.shape_label) for r in rows],
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
                # a stage is named at its measured point; here only where none was drawn
                texts=[
                    "" if _usable(r) else stages.get(r.shape_label, r.shape_label)
                    for r, _ in references
                ],
                x_shift=[shifts[id(r)] for r, _ in references],
            )
        )
        for row, (x, y, _) in references:
            if _usable(row):
                shift = shifts[id(row)]
                links.append(Link((x * shift, row.gflops_per_s), (x * shift, y), name))
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


def _operator_marker(name: str) -> str:
    """The same marker for an operator in every panel: by its place in the registry."""
    rank, _ = operator_rank(name)
    index = rank if name in OPERATORS else rank + sum(map(ord, name))
    return MARKERS[index % len(MARKERS)]


def _paper_point(row: ResultRow) -> tuple[float, float, str] | None:
    reference = paper_row(row)
    column = paper.PAPER_DEVICE_COLUMN.get(row.device)
    if reference is None or column is None:
        return None
    return row.flops / 1e6, reference.gflops(column), row.shape_label


# --- figure2: networks, (a) FLOPS vs FLOPs, (b) latency vs FLOPs ----------------------------


def paper_family(network: str) -> str:
    """The family of a Table 3 name: "FasterNet-T0" → FasterNet, "ResNet50" → ResNet."""
    first = re.split(r"[-\s]", network)[0]
    match = re.match(r"[A-Za-z]+?(?:V\d)?(?=\d|$)", first)
    return match.group(0) if match else first


def figure2(runs: Sequence[RunResult], with_paper: bool = False) -> Figure:
    rows = [row for run in runs for row in run.rows if row.suite == "networks"]
    if not rows:
        raise FbenchError("no network rows in the given results (fbench run --suite networks)")
    devices = sorted({row.device for row in rows})
    if len(devices) > 1:
        raise FbenchError(f"figure2 plots one device at a time; the results hold {devices}")
    device = devices[0]
    column = paper.PAPER_DEVICE_COLUMN.get(device)
    measured = [row for row in rows if _usable(row) and row.latency is not None]

    def family(row: ResultRow) -> str:
        return row.family or paper_family(row.network or row.operator)

    references = _paper_networks(column) if with_paper and column else []
    families = list(
        dict.fromkeys(sorted({family(r) for r in measured} | {f for f, *_ in references}))
    )
    markers = {name: MARKERS[index % len(MARKERS)] for index, name in enumerate(families)}
    measured_names = {r.network or r.operator for r in measured}

    panels = []
    for metric, ylabel in (("gflops", FLOPS_LABEL), ("latency", "Latency (ms)")):

        def value(row: ResultRow, metric: str = metric) -> float:
            return row.gflops_per_s if metric == "gflops" else row.latency

        series, links = [], []
        for name in families:
            group = sorted((r for r in measured if family(r) == name), key=lambda r: r.flops)
            if group:
                intervals = [
                    _gflops_interval(r) if metric == "gflops" else _latency_interval(r)
                    for r in group
                ]
                series.append(
                    Series(
                        name,
                        [r.flops / 1e9 for r in group],
                        [value(r) for r in group],
                        [r.network or r.operator for r in group],
                        marker=markers[name],
                        highlight=name == HIGHLIGHT_FAMILY,
                        annotate=True,
                        key=name,
                        statuses=[r.status for r in group],
                        y_low=[low for low, _ in intervals],
                        y_high=[high for _, high in intervals],
                    )
                )
        for name in families:
            index = 3 if metric == "gflops" else 4
            points = [p for p in references if p[0] == name and p[index] is not None]
            if not points:
                continue
            series.append(
                Series(
                    f"{name} (paper)",
                    [p[2] for p in points],
                    [p[index] for p in points],
                    [p[1] for p in points],
                    marker=markers[name],
                    filled=False,
                    highlight=name == HIGHLIGHT_FAMILY,
                    legend=not any(family(r) == name for r in measured),
                    annotate=True,
                    key=name,
                    # a network both measured and in the paper is named once, at the measurement
                    texts=["" if p[1] in measured_names else p[1] for p in points],
                )
            )
            for row in measured:
                match = next((p for p in points if p[1] == (row.network or row.operator)), None)
                if match is not None:
                    links.append(
                        Link(
                            (row.flops / 1e9, value(row)),
                            (match[2], match[index]),
                            name,
                            highlight=name == HIGHLIGHT_FAMILY,
                        )
                    )
        letter = "a" if metric == "gflops" else "b"
        what = "FLOPS" if metric == "gflops" else "latency"
        panels.append(
            Panel(
                title=f"({letter}) {what} vs FLOPs on {device}",
                xlabel="FLOPs per image (G multiply-adds)",
                ylabel=ylabel,
                series=series,
                ylog=metric == "latency",
                links=links,
            )
        )
    notes = [
        "Bars: the 95% interval of the median latency (as FLOPS in (a)). "
        f"{HIGHLIGHT_FAMILY} in red.",
    ]
    fills = fill_caption([r.status for r in measured])
    if fills:
        notes.append(fills)
    if references:
        notes.append(
            f"Hollow markers: the paper's Table 3 ({paper.PAPER_HARDWARE[column]}), FLOPS as "
            "FLOPs / latency; a thin line joins each network's measured point to the paper's."
        )
    missing = [r.network or r.operator for r in rows if not _usable(r)]
    if missing:
        notes.append(f"Not plotted (failed): {', '.join(missing)}.")
    return Figure(
        "Figure 2: networks, FLOPs vs FLOPS and latency",
        panels,
        notes,
        shared_legend=True,
        hollow_label="paper (Table 3)" if references else None,
        panel_size=(8.0, 6.4),  # some 35 networks, each named
    )


def _paper_networks(column: str) -> list[tuple[str, str, float, float | None, float | None]]:
    """(family, network, FLOPs G, FLOPS G/s, latency ms) of Table 3 for one paper column.

    The paper gives latency (CPU, ARM) or batch-32 throughput (GPU); FLOPS is derived as
    FLOPs / latency (or FLOPs × throughput), as the paper's Figure 2 does.
    """
    points = []
    for network in paper.table3().values():
        if column == "gpu":
            latency, gflops = None, network.flops_g * network.gpu_fps
        else:
            latency = getattr(network, f"{column}_latency_ms")
            gflops = network.flops_g / (latency / 1000) if latency else None
        points.append(
            (paper_family(network.network), network.network, network.flops_g, gflops, latency)
        )
    return points


register_plot(
    PlotKind(
        "operators", "FLOPs vs FLOPS of the Table 1 operators, a panel per device", operators_figure
    )
)
register_plot(
    PlotKind(
        "figure2",
        "the paper's Figure 2 for networks: (a) FLOPS vs FLOPs, (b) latency vs FLOPs",
        figure2,
    )
)


# --- output ----------------------------------------------------------------------------------


def figure_csv(figure: Figure) -> str:
    """Every plotted point, one line each: what the image shows, as numbers."""
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(
        [
            "panel",
            "series",
            "point",
            "x",
            "y",
            "y_low",
            "y_high",
            "status",
            "x_label",
            "y_label",
            "source",
        ]
    )
    for panel in figure.panels:
        title = panel.title.replace("\n", " ")
        axis_labels = [panel.xlabel, panel.ylabel]
        for series in panel.series:
            source = "measured" if series.filled else "paper"
            count = len(series.x)
            lows = series.y_low or [None] * count
            highs = series.y_high or [None] * count
            statuses = series.statuses or [""] * count
            for point, x, y, low, high, status in zip(
                series.points, series.x, series.y, lows, highs, statuses, strict=True
            ):
                writer.writerow(
                    [title, series.label, point, x, y, low, high, status, *axis_labels, source]
                )
    return stream.getvalue()


CAPTION_CHARS_PER_INCH = 15  # at CAPTION_FONT_SIZE points: where the caption wraps
CAPTION_FONT_SIZE = 8
CAPTION_LINE_INCHES = 0.16


def draw(figure: Figure, prefix: Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Render `figure` to PREFIX.png / PREFIX.svg and its points to PREFIX.csv; returns paths."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prefix.parent.mkdir(parents=True, exist_ok=True)
    count = len(figure.panels)
    columns = min(count, 3)
    rows = (count + columns - 1) // columns
    width = figure.panel_size[0] * columns + (2.0 if figure.shared_legend else 0.0)
    caption = [
        line
        for note in figure.notes
        for line in textwrap.wrap(note, int(width * CAPTION_CHARS_PER_INCH))
    ]
    caption_inches = CAPTION_LINE_INCHES * len(caption) + (0.15 if caption else 0)
    height = figure.panel_size[1] * rows + 0.5 + caption_inches
    fig, axes = plt.subplots(rows, columns, figsize=(width, height), squeeze=False)
    keys = list(dict.fromkeys(s.key or s.label for p in figure.panels for s in p.series))
    colors = {key: PALETTE[index % len(PALETTE)] for index, key in enumerate(keys)}
    handles: dict[str, object] = {}
    markers = []  # per panel: the drawn markers, which labels must not cover
    for ax, panel in zip(axes.flat, figure.panels, strict=False):
        markers.append(_draw_panel(ax, panel, colors, handles))
        if not figure.shared_legend:
            _legend(ax, handles, figure.hollow_label, loc="best")
            handles = {}
    if figure.shared_legend:
        _legend(
            list(axes.flat)[count - 1],
            handles,
            figure.hollow_label,
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
        )
    for ax in list(axes.flat)[count:]:
        ax.set_visible(False)
    fig.suptitle(figure.title, fontsize=13, y=1 - 0.1 / height, va="top")
    if caption:
        fig.text(
            0.01,
            0.01,
            "\n".join(caption),
            fontsize=CAPTION_FONT_SIZE,
            color="0.25",
            va="bottom",
            ha="left",
        )
    fig.tight_layout(rect=(0, (caption_inches + 0.05) / height, 1, 1))
    _place_labels(axes.flat, figure.panels, markers)
    written = []
    for fmt in formats:
        path = prefix.with_name(f"{prefix.name}.{fmt}")
        fig.savefig(path, dpi=150 if fmt == "png" else None)
        written.append(path)
    plt.close(fig)
    csv_path = prefix.with_name(f"{prefix.name}.csv")
    csv_path.write_text(figure_csv(figure), encoding="utf-8")
    return [*written, csv_path]


def _marker_style(color: str, fill: str) -> dict:
    """matplotlib marker keywords for a fill: full, pale, grey, or hollow (the paper)."""
    from matplotlib.colors import to_rgb

    if fill == "full":
        return {"markerfacecolor": color, "markeredgecolor": color}
    if fill == "pale":  # the colour mixed with white: reads at any marker shape and size
        pale = tuple(0.45 * channel + 0.55 for channel in to_rgb(color))
        return {"markerfacecolor": pale, "markeredgecolor": color}
    if fill == "grey":
        return {"markerfacecolor": "0.8", "markeredgecolor": "0.45"}
    return {"markerfacecolor": "white", "markeredgecolor": color}


def _draw_panel(ax, panel: Panel, colors: dict[str, str], handles: dict[str, object]) -> list:
    """Draw one panel's links, error bars and markers; returns the marker artists."""
    from matplotlib.lines import Line2D

    def color_of(key: str, highlight: bool) -> str:
        return "tab:red" if highlight else colors[key]

    for link in panel.links:
        ax.plot(
            [link.start[0], link.end[0]],
            [link.start[1], link.end[1]],
            "-",
            color=color_of(link.key, link.highlight),
            linewidth=0.8,
            alpha=0.45,
            zorder=1,
        )
    xs: list[float] = []
    ys: list[float] = []
    drawn = []
    for series in panel.series:
        color = color_of(series.key or series.label, series.highlight)
        if series.style == "line":
            ax.plot(series.x, series.y, "-", color=color, linewidth=1.2, zorder=1)
            if series.legend:
                handles.setdefault(series.label, Line2D([], [], color=color, label=series.label))
            continue
        count = len(series.x)
        shifts = series.x_shift or [1.0] * count
        statuses = series.statuses or [None] * count
        lows = series.y_low or [None] * count
        highs = series.y_high or [None] * count
        size = 10 if series.highlight else 7
        for x, y, shift, status, low, high in zip(
            series.x, series.y, shifts, statuses, lows, highs, strict=True
        ):
            fill = "none" if not series.filled else status_fill(status) if status else "full"
            if low is not None and high is not None:
                ax.errorbar(
                    x * shift,
                    y,
                    yerr=[[max(y - low, 0.0)], [max(high - y, 0.0)]],
                    fmt="none",
                    ecolor=color,
                    elinewidth=1.0,
                    capsize=2.5,
                    zorder=2,
                )
            (marker,) = ax.plot(
                [x * shift],
                [y],
                linestyle="none",
                marker=series.marker,
                markersize=size,
                markeredgewidth=1.2,
                zorder=4 if series.highlight else 3 if series.filled else 2.5,
                **_marker_style(color, fill),
            )
            drawn.append(marker)
            xs.append(x * shift)
            ys.append(y)
        if series.legend:
            handles.setdefault(
                series.label,
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker=series.marker,
                    markersize=size,
                    label=series.label,
                    **_marker_style(color, "full" if series.filled else "none"),
                ),
            )
    ax.set_xscale("log" if panel.xlog else "linear")
    ax.set_yscale("log" if panel.ylog else "linear")
    if xs:
        _pad_limits(ax, xs, ys, panel)
    for axis, log in ((ax.xaxis, panel.xlog), (ax.yaxis, panel.ylog)):
        if log:
            _plain_log_ticks(axis)
    ax.set_title(panel.title, fontsize=10)
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    return drawn


def _pad_limits(ax, xs: Sequence[float], ys: Sequence[float], panel: Panel) -> None:
    """Room around the points for their labels: 12% of the span each side (in log if log)."""
    import math

    for values, log, setter in ((xs, panel.xlog, ax.set_xlim), (ys, panel.ylog, ax.set_ylim)):
        values = [v for v in values if v > 0] if log else list(values)
        low, high = min(values), max(values)
        if log:
            span = max(math.log10(high / low), 0.3)
            pad = 10 ** (0.12 * span)
            setter(low / pad, high * pad)
        else:
            span = max(high - low, abs(high) * 0.1, 1e-9)
            setter(min(low - 0.12 * span, 0 if low >= 0 else low), high + 0.12 * span)


def plain_number(value: float, _position: object = None) -> str:
    """2601 not 2.6×10³, 0.5 not 5×10⁻¹: a reader compares ticks with the tables."""
    if value >= 1:
        return f"{value:,.0f}".replace(",", "\u2009") if value == round(value) else f"{value:g}"
    return f"{value:.10f}".rstrip("0").rstrip(".")


def _plain_log_ticks(axis) -> None:
    """Log ticks labelled as plain numbers; 1-2-5 within a decade when the axis spans few."""
    import math

    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    low, high = sorted(axis.get_view_interval())
    decades = math.log10(high / low) if low > 0 else 10
    if decades > 3.5:
        subs: tuple[float, ...] = (1.0,)
    elif decades > 1.2:
        subs = (1.0, 2.0, 5.0)
    else:
        subs = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(plain_number))
    axis.set_minor_locator(LogLocator(base=10, subs=tuple(range(1, 10))))
    axis.set_minor_formatter(NullFormatter())


def _legend(ax, handles: dict[str, object], hollow_label: str | None, **where) -> None:
    from matplotlib.lines import Line2D

    entries = list(handles.values())
    if hollow_label:
        entries.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=7,
                markerfacecolor="white",
                markeredgecolor="0.2",
                label=hollow_label,
            )
        )
    if entries:
        ax.legend(handles=entries, fontsize=8, frameon=False, **where)


def _place_labels(axes, panels: Sequence[Panel], markers: Sequence[list]) -> None:
    """Write the annotated series' labels, moved by adjustText off each other and the markers."""
    from adjustText import adjust_text

    for ax, panel, drawn in zip(axes, panels, markers, strict=False):
        texts = []
        for series in panel.series:
            if not series.annotate or series.style == "line":
                continue
            shifts = series.x_shift or [1.0] * len(series.x)
            for x, y, shift, text in zip(
                series.x, series.y, shifts, series.texts or series.points, strict=True
            ):
                if text:
                    texts.append(
                        ax.text(
                            x * shift,
                            y,
                            text,
                            fontsize=7,
                            color="0.15",
                            fontweight="bold" if series.highlight else "normal",
                            zorder=5,
                        )
                    )
        if texts:
            adjust_text(
                texts,
                objects=drawn,
                ax=ax,
                # Pushed harder off the markers than adjustText's defaults and pulled back
                # more gently: with 35 networks the defaults leave labels on the markers.
                expand=(1.3, 1.6),
                force_text=(0.3, 0.5),
                force_static=(0.4, 0.6),
                force_pull=(0.005, 0.005),
                iter_lim=200,  # not its default 1 s time limit: the same picture on any machine
                arrowprops={"arrowstyle": "-", "color": "0.55", "linewidth": 0.5},
            )
