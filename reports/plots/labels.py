"""What is written over a drawn panel: its legend (the series, the paper's hollow markers,
the ring of a "ceiling too low" row) and the labels of annotated points, moved by adjustText
off each other and the markers. matplotlib is imported inside the functions."""

from __future__ import annotations

from collections.abc import Sequence

from fbench.reports.plots.model import HIGHLIGHT_COLOUR, Figure, Panel


def legend(ax, handles: dict[str, object], figure: Figure, **where) -> None:
    from matplotlib.lines import Line2D

    entries = list(handles.values())
    if figure.hollow_label:
        entries.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=7,
                markerfacecolor="white",
                markeredgecolor="0.2",
                label=figure.hollow_label,
            )
        )
    if figure.ring_label and any(any(s.ringed or ()) for p in figure.panels for s in p.series):
        entries.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=13,
                markerfacecolor="none",
                markeredgecolor=HIGHLIGHT_COLOUR,
                markeredgewidth=1.5,
                label=figure.ring_label,
            )
        )
    if entries:
        # Outside the axes no frame is needed; inside, one keeps the entries off the grid.
        ax.legend(handles=entries, fontsize=8, frameon="bbox_to_anchor" not in where, **where)


def place_labels(axes, panels: Sequence[Panel], markers: Sequence[list]) -> None:
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
