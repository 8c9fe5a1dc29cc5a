"""The `figure2` plot kind: the paper's Figure 2 for a network-suite run, (a) FLOPS and (b)
latency against FLOPs, a marker per family, FasterNet in red, with the paper's Table 3 as
hollow markers (`--paper`). Measured numbers are in docs/figures/, not here."""

from __future__ import annotations

import re
from collections.abc import Sequence

from fbench.bench.errors import FbenchError
from fbench.bench.results import ResultRow, RunResult
from fbench.reports import paper
from fbench.reports.plots.model import (
    FLOPS_LABEL,
    MARKERS,
    Figure,
    Link,
    Panel,
    Series,
    fill_caption,
)
from fbench.reports.plots.rows import gflops_interval, latency_interval, usable

HIGHLIGHT_FAMILY = "FasterNet"


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
    measured = [row for row in rows if usable(row) and row.latency is not None]

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
                    gflops_interval(r) if metric == "gflops" else latency_interval(r) for r in group
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
        "Bars, right of each marker: the 95% interval of the median latency (as FLOPS in (a)). "
        f"{HIGHLIGHT_FAMILY} in red.",
    ]
    fills = fill_caption([r.status for r in measured])
    if fills:
        notes.append(fills)
    if references:
        notes.append(
            f"Hollow markers: the paper's Table 3 ({paper.PAPER_HARDWARE[column]}), FLOPS as "
            "FLOPs / latency; a dotted line joins each network's measured point to the paper's."
        )
    missing = [r.network or r.operator for r in rows if not usable(r)]
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
