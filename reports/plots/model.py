"""What a plot is, apart from how it is drawn: a `Figure` of `Panel`s of `Series` of points,
and how a measured row's status shows in a marker's fill.

A plot kind (reports/plots/kinds.py) builds a `Figure` from stored runs; reports/plots/draw.py
renders any `Figure` with matplotlib and writes its points as CSV. Nothing here measures or
imports matplotlib.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fbench.bench.results import RunResult
from fbench.bench.results.status import DISTURBED, IMPRECISE, OK
from fbench.operators import OPERATORS
from fbench.reports.rows import operator_rank

FLOPS_LABEL = "FLOPS (G multiply-adds/s)"
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*", "p", "8", "H", "d")
# tab10 without red, which is kept for what is singled out (FasterNet, "ceiling too low")
COLOURS = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
    "tab:gray",
    "navy",
    "darkgoldenrod",
    "teal",
    "black",
)
HIGHLIGHT_COLOUR = "tab:red"


def operator_style(name: str) -> tuple[str, str]:
    """(colour, marker) of an operator, the same in every figure: by its place in the
    operator registry (Table 1's order), not by its place in a plot; an operator the registry
    does not know (a custom one) gets one derived from its name, so it keeps it too."""
    rank, _ = operator_rank(name)
    index = rank if name in OPERATORS else rank + sum(map(ord, name))
    return COLOURS[index % len(COLOURS)], MARKERS[index % len(MARKERS)]


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
    colour: str | None = None  # a fixed colour (an operator's: `operator_style`), else by key
    linestyle: str = "-"  # of a "line" series
    # Optional, one entry per point:
    statuses: list[str] | None = None  # a measured row's status: sets the marker's fill
    y_low: list[float | None] | None = None  # 95% interval of y (error bars)
    y_high: list[float | None] | None = None
    texts: list[str] | None = None  # what `annotate` writes at a point (default: `points`)
    # Drawn at x × shift (the CSV keeps x): spreads points of equal x so none hides another.
    x_shift: list[float] | None = None
    ringed: list[bool] | None = None  # a red ring around the point (`Figure.ring_label`)


@dataclass(frozen=True)
class Link:
    """A thin line between two points: a measured value and the paper's for the same thing."""

    start: tuple[float, float]
    end: tuple[float, float]
    key: str  # the colour of the series it belongs to
    highlight: bool = False
    colour: str | None = None  # as `Series.colour`


@dataclass(frozen=True)
class Panel:
    title: str
    xlabel: str
    ylabel: str
    series: list[Series]
    xlog: bool = True  # FLOPs span orders of magnitude: always a log axis
    ylog: bool = False
    links: list[Link] = field(default_factory=list)
    # Vertical reference lines: (x, legend label), e.g. a roofline's ridge point.
    vlines: list[tuple[float, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Figure:
    title: str
    panels: list[Panel]
    notes: list[str] = field(default_factory=list)  # the caption, a paragraph each
    shared_legend: bool = False  # one legend, right of the last panel (same series in each)
    hollow_label: str | None = None  # legend entry for the hollow markers (the paper's values)
    panel_size: tuple[float, float] = (6.6, 5.0)  # inches; larger where many points are named
    ring_label: str | None = None  # legend entry for `Series.ringed` points
    legend_loc: str = "best"  # where a panel's own legend goes (without `shared_legend`)


@dataclass(frozen=True)
class PlotKind:
    name: str
    help: str
    build: Callable[[Sequence[RunResult], bool], Figure]  # (runs, with_paper) → Figure
    max_results: int | None = None


# How a measured point's status is drawn (result files are migrated to the /2 vocabulary on
# load, so these are its words). Failed rows have no value: they are counted in the caption,
# not drawn. An unknown status is drawn like "disturbed".
STATUS_FILL = {OK: "full", IMPRECISE: "pale", DISTURBED: "grey"}
FILL_WORD = {"full": "filled", "pale": "pale", "grey": "grey"}
STATUS_MEANING = {
    IMPRECISE: "imprecise (95% interval wider than the target)",
    DISTURBED: "disturbed (the device or host was not steady while timing the row)",
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
