"""The registry of plot kinds (`fbench plot KIND`): each a pure function runs → `Figure`.

A kind only decides *what* to show (panels, series of points, axis labels with units);
reports/plots/draw.py draws any `Figure`. Adding a kind is one module with its build function
and one `register_plot(PlotKind(...))` line here. Nothing here measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from fbench.bench.registry import Registry
from fbench.bench.results import RunResult
from fbench.reports.plots.model import Figure, PlotKind
from fbench.reports.plots.networks import figure2
from fbench.reports.plots.operators import operators_figure
from fbench.reports.plots.roofline import roofline_figure

PLOT_KINDS: Registry[PlotKind] = Registry("plot kind", twice="is already registered")


def register_plot(kind: PlotKind) -> PlotKind:
    return PLOT_KINDS.add(kind.name, kind)


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
register_plot(
    PlotKind("roofline", "operators against the device's measured ceilings", roofline_figure)
)


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
    # A shared picture travels without its header: a smoke-sized run must say so on it.
    quick = (
        " Quick run: smoke-sized, not comparable with the paper." if run.config.get("quick") else ""
    )
    return (
        f"Run {run.run_id}: {values('device')}/{values('backend')} on {hardware}, "
        f"batch {values('batch')}, {values('dtype')}, method {method}.{quick}"
    )


def build_figure(kind: PlotKind, runs: Sequence[RunResult], with_paper: bool) -> Figure:
    """`kind`'s figure with every run named in the caption (device, backend, batch, dtype)."""
    figure = kind.build(runs, with_paper)
    captions = [run_caption(run) for run in runs]
    return replace(figure, notes=[*figure.notes, *dict.fromkeys(captions)])
