"""What a plot is, apart from how it is drawn: a `Figure` of `Panel`s of `Series` of points,
and how a measured row's status shows in a marker's fill.

A plot kind (reports/plots/kinds.py) builds a `Figure` from stored runs; reports/plots/draw.py
renders any `Figure` with matplotlib and writes its points as CSV. Nothing here measures or
imports matplotlib.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.results import RunResult
from bench.results.status import DISTURBED, IMPRECISE, OK

FLOPS_LABEL = "FLOPS (G multiply-adds/s)"
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*", "p", "8", "H", "d")


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
