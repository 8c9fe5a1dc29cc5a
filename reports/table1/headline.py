"""Table 1's headline in words that cannot be misread: what PConv saves in FLOPs against Conv,
how much more of the device it uses than DWConv (FLOPS), and what that costs in latency
against DWConv. The FLOPS ratio alone ("PConv/DWConv FLOPS: 6.0×") reads like "6× faster",
while on a CPU PConv is 2-5× *slower* than DWConv: it does 6× the work per second on 12× the
work. The paper's point needs both numbers side by side (Table 1; Chen et al. 2023, §3.1)."""

from __future__ import annotations

from collections.abc import Sequence

from fbench.bench.results import ResultRow
from fbench.reports.table1.averages import (
    PConvDWConvRatio,
    counts_in_averages,
    paper_pconv_dwconv_ratio,
    pconv_dwconv_comparison,
)


def _stage(row: ResultRow) -> tuple:
    return (row.channels, row.height, row.width, row.layers)


def times(value: float, whole_from: float = 100) -> str:
    """A ratio as the headline prints it: one decimal (the paper's 10.5×), whole numbers
    from `whole_from` up (a count ratio such as 16× is exact)."""
    return f"{value:.0f}" if value >= whole_from else f"{value:.1f}"


def span(values: Sequence[float], whole_from: float = 100) -> str | None:
    """ "16×" or "1.8–5.5×" (one ratio per stage); None for no values."""
    if not values:
        return None
    low, high = times(min(values), whole_from), times(max(values), whole_from)
    return f"{low}×" if low == high else f"{low}–{high}×"


def fewer_flops_than_conv(rows: Sequence[ResultRow]) -> list[float]:
    """Conv's FLOPs over PConv's at every feature map both were run at (counted, not timed:
    every row counts, whatever its status)."""
    conv = {_stage(r): r.flops for r in rows if r.operator == "conv" and r.flops}
    pconv = [r for r in rows if r.operator == "pconv" and r.flops and _stage(r) in conv]
    return [conv[_stage(r)] / r.flops for r in pconv]


def _seconds_per_input(row: ResultRow) -> float | None:
    """What one input costs: the latency, or 1/throughput where a device reports throughput;
    the ratio of two rows at the same batch is the same either way."""
    if row.latency is not None:
        return row.latency
    return 1 / row.throughput_per_s if row.throughput_per_s else None


def latency_over_dwconv(comparison: PConvDWConvRatio) -> list[float]:
    """PConv's latency over DWConv's at each feature map the FLOPS ratio is over."""
    dwconv = {
        _stage(r): _seconds_per_input(r)
        for r in comparison.rows
        if r.operator == "dwconv" and counts_in_averages(r)
    }
    ratios = []
    for row in comparison.rows:
        if row.operator != "pconv" or not dwconv.get(_stage(row)):
            continue
        mine = _seconds_per_input(row)
        if mine is not None:
            ratios.append(mine / dwconv[_stage(row)])
    return ratios


def headline(
    rows: Sequence[ResultRow],
    paper_column: str | None = None,
    subject: str = "PConv",
    same_run: bool = False,
) -> str | None:
    """ "PConv: 16× fewer FLOPs than Conv, 6.0× the FLOPS of DWConv (paper 6.2× on CPU),
    1.8–5.5× the latency of DWConv" for one device's rows; None without PConv and DWConv
    rows. `paper_column` ("cpu", "gpu", "arm") adds the paper's FLOPS ratio; `subject` is
    what the line starts with ("PConv on cuda" where several devices share a table). With
    `same_run` (one run's rows) the FLOPS ratio is paired by round where the rows stored
    their rounds (bench/stats/paired.py), with its 95% interval."""
    comparison = pconv_dwconv_comparison(rows, same_run=same_run)
    if comparison is None:
        return None
    parts = []
    fewer = span(fewer_flops_than_conv(rows), whole_from=10)
    if fewer:
        parts.append(f"{fewer} fewer FLOPs than Conv")
    if comparison.value is None:
        parts.append(comparison.qualifier())
        return f"{subject}: " + ", ".join(parts)
    flops = f"{times(comparison.value)}× the FLOPS of DWConv"
    if comparison.paired is not None:
        estimate = comparison.paired
        flops += f" (95% {times(estimate.ci95_low)}–{times(estimate.ci95_high)}×, paired)"
    if comparison.partial:
        flops += f" {comparison.qualifier()}"
    at_paper = paper_pconv_dwconv_ratio(comparison, paper_column)
    if at_paper is not None:
        paper_ratio, at_stages = at_paper
        at = " at those stages" if at_stages else ""
        flops += f" (paper{at} {times(paper_ratio)}× on {paper_column.upper()})"
    parts.append(flops)
    latency = span(latency_over_dwconv(comparison))
    if latency:
        parts.append(f"{latency} the latency of DWConv")
    return f"{subject}: " + ", ".join(parts)
