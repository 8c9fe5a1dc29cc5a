"""How a stored result row becomes a plotted point: whether it has a value, and the 95%
interval of that value (of the latency, or of FLOPS derived from it). Shared by the plot kinds
that draw rows (operators.py, networks.py)."""

from __future__ import annotations

from fbench.bench.results import ResultRow
from fbench.bench.results.status import FAILED


def usable(row: ResultRow) -> bool:
    """Whether the row has a value to draw: failed rows are counted in captions instead."""
    return row.status != FAILED and row.gflops_per_s is not None


def gflops_interval(row: ResultRow) -> tuple[float | None, float | None]:
    """The 95% interval of the latency, as FLOPS: FLOPS ∝ 1 / latency, so the bounds swap."""
    summary, latency = row.latency_ms, row.latency
    if summary is None or not latency or row.gflops_per_s is None:
        return None, None
    low = row.gflops_per_s * latency / summary.ci95_high if summary.ci95_high else None
    high = row.gflops_per_s * latency / summary.ci95_low if summary.ci95_low else None
    return low, high


def latency_interval(row: ResultRow) -> tuple[float | None, float | None]:
    """The 95% interval of the median latency (ms); none for the official method's mean."""
    summary = row.latency_ms
    if summary is None or row.latency_estimator != "median":
        return None, None  # the interval is the median's; the official method reports the mean
    return summary.ci95_low, summary.ci95_high
