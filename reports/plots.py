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
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import FbenchError
from bench.results import ResultRow, RunResult
from operators import OPERATORS
from reports import paper
from reports.table1 import (
    DeviceGroup,
    device_groups,
    operator_order,
    operator_title,
    paper_row,
)

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


@dataclass(frozen=True)
class Panel:
    title: str
    xlabel: str
    ylabel: str
    series: list[Series]
    xlog: bool = True  # FLOPs span orders of magnitude: always a log axis
    ylog: bool = False


@dataclass(frozen=True)
class Figure:
    title: str
    panels: list[Panel]
    notes: list[str] = field(default_factory=list)
    shared_legend: bool = False  # one legend, right of the last panel (same series in each)


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


# --- operators: FLOPs vs FLOPS of the Table 1 operators, a panel per device -----------------


def _usable(row: ResultRow) -> bool:
    return row.status != "failed" and row.gflops_per_s is not None


def operators_figure(runs: Sequence[RunResult], with_paper: bool = False) -> Figure:
    groups = device_groups(runs)
    if not groups:
        raise FbenchError("no operator rows in the given results (fbench run --suite operators)")
    panels = [_operators_panel(group, with_paper) for group in groups]
    notes = ["FLOPs are multiply-adds of the 10-layer stack for one image, as in Table 1."]
    failed = sum(1 for g in groups for r in g.rows if r.status == "failed")
    if failed:
        notes.append(f"{failed} failed row(s) have no value and are not plotted.")
    return Figure("Operators: FLOPs vs FLOPS (paper Table 1)", panels, notes)


def _operators_panel(group: DeviceGroup, with_paper: bool) -> Panel:
    series = []
    for name in operator_order(group.rows):
        marker = _operator_marker(name)
        rows = sorted((r for r in group.rows if r.operator == name), key=lambda r: r.stage)
        ok = [r for r in rows if r.status == "ok" and _usable(r)]
        not_ok = [r for r in rows if r.status != "ok" and _usable(r)]
        title = operator_title(name)
        if ok:
            series.append(_row_series(title, ok, marker, name))
        if not_ok:
            label = f"{title} ({', '.join(sorted({r.status for r in not_ok}))})"
            series.append(_row_series(label, not_ok, "x", name))
        if with_paper:
            references = [_paper_point(r) for r in rows]
            references = [p for p in references if p is not None]
            if references:
                series.append(
                    Series(
                        f"{title} (paper, {group.paper_column.upper()})",
                        [p[0] for p in references],
                        [p[1] for p in references],
                        [p[2] for p in references],
                        marker=marker,
                        filled=False,
                        key=name,
                    )
                )
    hardware = group.run.environment.get("cpu_model") or "?"
    if group.device == "cuda":
        hardware = group.run.environment.get("gpu_name") or hardware
    batches = ", ".join(str(b) for b in sorted({r.batch for r in group.rows}))
    return Panel(
        title=f"{group.label}: {hardware}, batch {batches}",
        xlabel="FLOPs per image (M multiply-adds)",
        ylabel=FLOPS_LABEL,
        series=series,
        ylog=True,
    )


def _operator_marker(name: str) -> str:
    """The same marker for an operator in every panel: by its place in the registry."""
    names = list(OPERATORS)
    index = names.index(name) if name in names else len(names) + sum(map(ord, name))
    return MARKERS[index % len(MARKERS)]


def _row_series(label: str, rows: Sequence[ResultRow], marker: str, key: str) -> Series:
    return Series(
        label,
        [r.flops / 1e6 for r in rows],
        [r.gflops_per_s for r in rows],
        [r.shape_label for r in rows],
        marker=marker,
        key=key,
    )


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

    panels = []
    for metric, ylabel in (("gflops", FLOPS_LABEL), ("latency", "Latency (ms)")):
        series = []
        for name in families:
            group = sorted((r for r in measured if family(r) == name), key=lambda r: r.flops)
            ok = [r for r in group if r.status == "ok"]
            not_ok = [r for r in group if r.status != "ok"]
            for subset, label, marker in (
                (ok, name, markers[name]),
                (not_ok, f"{name} (not ok: {', '.join(sorted({r.status for r in not_ok}))})", "x"),
            ):
                if subset:
                    series.append(
                        Series(
                            label,
                            [r.flops / 1e9 for r in subset],
                            [r.gflops_per_s if metric == "gflops" else r.latency for r in subset],
                            [r.network or r.operator for r in subset],
                            marker=marker,
                            highlight=name == HIGHLIGHT_FAMILY,
                            annotate=True,
                            key=name,
                        )
                    )
        measured_families = {family(r) for r in measured if r.status == "ok"}
        for name in families:
            points = [p for p in references if p[0] == name]
            points = [p for p in points if (p[3] if metric == "gflops" else p[4]) is not None]
            if points:
                series.append(
                    Series(
                        f"{name} (paper)",
                        [p[2] for p in points],
                        [p[3] if metric == "gflops" else p[4] for p in points],
                        [p[1] for p in points],
                        marker=markers[name],
                        filled=False,
                        highlight=name == HIGHLIGHT_FAMILY,
                        legend=name not in measured_families,
                        key=name,
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
            )
        )
    notes = [
        f"measured on {device}, batch {', '.join(str(b) for b in sorted({r.batch for r in rows}))}"
    ]
    if references:
        notes.append(f"hollow markers: the paper's Table 3 ({paper.PAPER_HARDWARE[column]})")
    missing = [r.network or r.operator for r in rows if not _usable(r)]
    if missing:
        notes.append(f"not plotted (failed): {', '.join(missing)}")
    return Figure(
        "Figure 2: networks, FLOPs vs FLOPS and latency", panels, notes, shared_legend=True
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
    writer.writerow(["panel", "series", "point", "x", "y", "x_label", "y_label", "source"])
    for panel in figure.panels:
        for series in panel.series:
            source = "measured" if series.filled else "paper"
            for point, x, y in zip(series.points, series.x, series.y, strict=True):
                writer.writerow(
                    [panel.title, series.label, point, x, y, panel.xlabel, panel.ylabel, source]
                )
    return stream.getvalue()


def draw(figure: Figure, prefix: Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Render `figure` to PREFIX.png / PREFIX.svg and its points to PREFIX.csv; returns paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prefix.parent.mkdir(parents=True, exist_ok=True)
    count = len(figure.panels)
    columns = min(count, 3)
    rows = (count + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(6.4 * columns, 4.8 * rows), squeeze=False)
    keys = list(dict.fromkeys(s.key or s.label for p in figure.panels for s in p.series))
    colors = {key: PALETTE[index % len(PALETTE)] for index, key in enumerate(keys)}
    for ax, panel in zip(axes.flat, figure.panels, strict=False):
        for series in panel.series:
            color = "tab:red" if series.highlight else colors[series.key or series.label]
            label = series.label if series.legend else "_nolegend_"
            if series.style == "line":
                ax.plot(series.x, series.y, "-", color=color, label=label)
                continue
            style = {"facecolors": color if series.filled else "none", "edgecolors": color}
            if series.marker in ("x", "+", "1", "2", "3", "4"):  # line markers have no face
                style = {"color": color}
            ax.scatter(
                series.x,
                series.y,
                marker=series.marker,
                s=110 if series.highlight else 55,
                linewidths=1.2,
                zorder=3 if series.highlight else 2,
                label=label,
                **style,
            )
            if series.annotate:
                for x, y, name in zip(series.x, series.y, series.points, strict=True):
                    ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_xscale("log" if panel.xlog else "linear")
        ax.set_yscale("log" if panel.ylog else "linear")
        ax.set_title(panel.title, fontsize=11)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        ax.grid(True, which="both", alpha=0.3)
        if not figure.shared_legend:
            ax.legend(fontsize=8, loc="best")
        elif panel is figure.panels[-1]:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    for ax in list(axes.flat)[count:]:
        ax.set_visible(False)
    fig.suptitle(figure.title)
    if figure.notes:
        fig.text(0.01, 0.005, " · ".join(figure.notes), fontsize=7, color="0.3")
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    written = []
    for fmt in formats:
        path = prefix.with_name(f"{prefix.name}.{fmt}")
        fig.savefig(path, dpi=150 if fmt == "png" else None)
        written.append(path)
    plt.close(fig)
    csv_path = prefix.with_name(f"{prefix.name}.csv")
    csv_path.write_text(figure_csv(figure), encoding="utf-8")
    return [*written, csv_path]
