"""Plots from stored results: a registry of plot kinds (kinds.py), each a pure function
runs → `Figure` (model.py; a module per kind: operators.py, networks.py, roofline.py; rows.py
for what they share), drawn by draw.py with matplotlib (labels.py: legends and point
labels), the points as CSV beside the image. Nothing here measures.
Example pictures are in docs/figures/."""

# The package's public API, for the CLI and other packages:
from fbench.reports.plots.draw import draw, figure_csv
from fbench.reports.plots.kinds import PLOT_KINDS, build_figure, register_plot, run_caption
from fbench.reports.plots.model import Figure, Link, Panel, PlotKind, Series
from fbench.reports.plots.networks import figure2
from fbench.reports.plots.operators import operators_figure
from fbench.reports.plots.roofline import plot_roofline, roofline_figure

__all__ = [
    "PLOT_KINDS",
    "Figure",
    "Link",
    "Panel",
    "PlotKind",
    "Series",
    "build_figure",
    "draw",
    "figure2",
    "figure_csv",
    "operators_figure",
    "plot_roofline",
    "register_plot",
    "roofline_figure",
    "run_caption",
]
