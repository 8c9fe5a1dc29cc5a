"""Render a `Figure` to files: the image with matplotlib (Agg: PNG, SVG, ...) and every
plotted point as CSV beside it, so that each picture can be checked and re-plotted.
matplotlib is imported inside the functions that draw (`fbench --help` must not load it).
Example pictures are in docs/figures/."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from fbench.bench.errors import FbenchError
from fbench.reports.plots.labels import legend, place_labels
from fbench.reports.plots.model import COLOURS, HIGHLIGHT_COLOUR, Figure, Panel, status_fill


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

    if not figure.panels:
        raise FbenchError(f"nothing to plot: {figure.title!r} has no rows to show")
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
    colors = {key: COLOURS[index % len(COLOURS)] for index, key in enumerate(keys)}
    handles: dict[str, object] = {}
    markers = []  # per panel: the drawn markers, which labels must not cover
    for ax, panel in zip(axes.flat, figure.panels, strict=False):
        markers.append(_draw_panel(ax, panel, colors, handles))
        if not figure.shared_legend:
            legend(ax, handles, figure, loc=figure.legend_loc)
            handles = {}
    if figure.shared_legend:
        legend(
            list(axes.flat)[count - 1],
            handles,
            figure,
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
    place_labels(axes.flat, figure.panels, markers)
    written = []
    for fmt in formats:
        path = prefix.with_name(f"{prefix.name}.{fmt}")
        # No date in an SVG, and fixed element ids: the same data draws the same file.
        svg = {"metadata": {"Date": None}} if fmt == "svg" else {}
        with matplotlib.rc_context({"svg.hashsalt": "fbench"}):
            fig.savefig(path, dpi=150 if fmt == "png" else None, **svg)
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
    """Draw one panel's links, markers and error bars; returns the marker artists.

    Layers, bottom to top: the dotted links to the paper's points, the markers, then the
    95% interval bars. A bar is drawn just right of its marker (a fixed offset in points), so
    a marker never hides an interval narrower than itself and a bar cannot be mistaken for
    the vertical link from a measured point to the paper's value at the same x.
    """
    from matplotlib.lines import Line2D

    def color_of(key: str, highlight: bool, fixed: str | None = None) -> str:
        return HIGHLIGHT_COLOUR if highlight else fixed or colors[key]

    for link in panel.links:
        ax.plot(
            [link.start[0], link.end[0]],
            [link.start[1], link.end[1]],
            ":",
            color=color_of(link.key, link.highlight, link.colour),
            linewidth=1.0,
            alpha=0.7,
            zorder=1,
        )
    for x, label in panel.vlines:
        ax.axvline(x, color="0.3", linestyle=(0, (1, 2)), linewidth=0.9, zorder=0.5)
        handles.setdefault(
            label, Line2D([], [], color="0.3", linestyle=(0, (1, 2)), linewidth=0.9, label=label)
        )
    xs: list[float] = []
    ys: list[float] = []
    bounds: list[float] = []  # interval ends: inside the y limits, not padded around
    drawn = []
    for series in panel.series:
        color = color_of(series.key or series.label, series.highlight, series.colour)
        if series.style == "line":
            ax.plot(series.x, series.y, series.linestyle, color=color, linewidth=1.6, zorder=0.8)
            bounds.extend(y for y in series.y if y > 0)  # a roof stays in sight
            if series.legend:
                handles.setdefault(
                    series.label,
                    Line2D([], [], color=color, linestyle=series.linestyle, label=series.label),
                )
            continue
        count = len(series.x)
        shifts = series.x_shift or [1.0] * count
        statuses = series.statuses or [None] * count
        lows = series.y_low or [None] * count
        highs = series.y_high or [None] * count
        rings = series.ringed or [False] * count
        size = 10 if series.highlight else 7
        for x, y, shift, status, low, high, ring in zip(
            series.x, series.y, shifts, statuses, lows, highs, rings, strict=True
        ):
            fill = "none" if not series.filled else status_fill(status) if status else "full"
            if low is not None and high is not None:
                _interval_bar(ax, x * shift, y, low, high, color, size)
                bounds.extend(v for v in (low, high) if v > 0)  # the axes show whole bars
            if ring:
                ax.plot(
                    [x * shift],
                    [y],
                    linestyle="none",
                    marker="o",
                    markersize=size + 8,
                    markerfacecolor="none",
                    markeredgecolor=HIGHLIGHT_COLOUR,
                    markeredgewidth=1.5,
                    zorder=3.5,
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
        _pad_limits(ax, xs, ys, panel, bounds)
    for axis, log in ((ax.xaxis, panel.xlog), (ax.yaxis, panel.ylog)):
        if log:
            _plain_log_ticks(axis)
    ax.set_title(panel.title, fontsize=10)
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    return drawn


def _interval_bar(
    ax, x: float, y: float, low: float, high: float, color: str, marker_size: float
) -> None:
    """The 95% interval of a point as a capped bar just right of its marker, on top."""
    from matplotlib.transforms import ScaledTranslation

    container = ax.errorbar(
        x,
        y,
        yerr=[[max(y - low, 0.0)], [max(high - y, 0.0)]],
        fmt="none",
        ecolor=color,
        elinewidth=1.3,
        capsize=3.0,
        capthick=1.3,
        zorder=4.5,
    )
    # Half a marker and a gap to the right, in points (72 a inch), whatever the axes' scale.
    offset = ScaledTranslation((marker_size / 2 + 3.5) / 72, 0, ax.figure.dpi_scale_trans)
    for artist in (*container.lines[1], *container.lines[2]):
        artist.set_transform(artist.get_transform() + offset)


def _pad_limits(
    ax, xs: Sequence[float], ys: Sequence[float], panel: Panel, bounds: Sequence[float] = ()
) -> None:
    """Room around the points for their labels: 12% of the span each side (in log if log);
    the y range also holds every interval bar whole (`bounds`)."""
    import math

    for values, log, setter, extra in (
        (xs, panel.xlog, ax.set_xlim, ()),
        (ys, panel.ylog, ax.set_ylim, bounds),
    ):
        values = [v for v in values if v > 0] if log else list(values)
        low, high = min([*values, *extra]), max([*values, *extra])
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
