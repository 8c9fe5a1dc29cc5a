"""What a checked claim is: the verdict words, an estimate with its 95% interval, the verdict
rules, and `ClaimResult` (one claim on one device). Pure; the claims themselves are in the
sibling modules, their measured values in docs/claims.md.

Each claim is judged per device on rows of one device setup, and its verdict comes from the
interval:

- a ratio's interval combines the rows' 95% intervals on the log scale: a mean of rows has
  the half-width sqrt(Σ (hᵢ·gᵢ)²) / n (rows independent), and log(a / b) the half-width
  sqrt(log(1 + h_a)² + log(1 + h_b)²), where h is a relative half-width;
- `holds`: the interval reaches the paper's value (or lies beyond it);
- `holds weaker`: the interval lies below the paper's value but beyond "no difference" (same
  direction, smaller); for an ordering, the order is seen but an interval includes a tie;
- `fails`: the interval excludes the paper's value and does not show its direction;
- `not measured`: the results lack the rows (the reason names the command that measures them);
- `not comparable`: the rows exist but cannot be judged against the paper (two devices mixed,
  another dtype or batch, not Table 1's configuration, no interval). Never a verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from fbench.bench.results import ResultRow

HOLDS = "holds"
WEAKER = "holds weaker"
FAILS = "fails"
NOT_MEASURED = "not measured"
NOT_COMPARABLE = "not comparable"
VERDICTS = (HOLDS, WEAKER, FAILS, NOT_MEASURED, NOT_COMPARABLE)

# The paper's columns, in its order; only devices with a column have claims to check.
DEVICES = ("cuda", "cpu", "arm")

NO_INTERVAL = "a row has no 95% interval (fewer than 6 samples)"


# --- estimates and their intervals -------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A positive quantity with a symmetric half-width on the log scale (its 95% interval)."""

    value: float
    log_halfwidth: float

    @property
    def low(self) -> float:
        return self.value * math.exp(-self.log_halfwidth)

    @property
    def high(self) -> float:
        return self.value * math.exp(self.log_halfwidth)

    def over(self, other: Estimate) -> Estimate:
        """The ratio self / other; independent errors add in quadrature on the log scale."""
        return Estimate(
            self.value / other.value, math.hypot(self.log_halfwidth, other.log_halfwidth)
        )


def row_estimate(row: ResultRow, speed: bool = False) -> Estimate | None:
    """The row's FLOPS, or with `speed` its throughput (GPU) or calls per second, with its
    interval: all are work / latency, so their relative half-width is the latency's.
    None where the row has no interval (fewer than 6 samples).
    """
    relative = row.latency_ms.ci95_halfwidth_rel if row.latency_ms else None
    if speed:
        value = row.throughput_per_s if row.device == "cuda" else 1000.0 / (row.latency or math.inf)
    else:
        value = row.gflops_per_s
    if relative is None or value is None or value <= 0:
        return None
    return Estimate(value, math.log1p(relative))


def mean_estimate(rows: Sequence[ResultRow]) -> Estimate | None:
    """The mean FLOPS of rows (Table 1's "Average" line) with the propagated interval."""
    values = [(row.gflops_per_s, row.latency_ms.ci95_halfwidth_rel) for row in rows]
    if not values or any(g is None or h is None for g, h in values):
        return None
    mean = sum(g for g, _ in values) / len(values)
    halfwidth = math.sqrt(sum((g * h) ** 2 for g, h in values)) / len(values)
    return Estimate(mean, math.log1p(halfwidth / mean))


def magnitude_verdict(measured: Estimate, claimed: float, null: float = 1.0) -> str:
    """A claim "X is `claimed` times Y" (claimed > null) judged by the measured interval."""
    if measured.high >= claimed:
        return HOLDS
    return WEAKER if measured.low > null else FAILS


def order_verdict(ratio: Estimate) -> str:
    """A claim "A > B" judged on the interval of A / B."""
    if ratio.low > 1:
        return HOLDS
    if ratio.high < 1:
        return FAILS
    return WEAKER  # the interval includes a tie: the order is not resolved


def weakest(verdicts: Sequence[str]) -> str:
    """The verdict of a claim made of several judged parts: its weakest part's."""
    return FAILS if FAILS in verdicts else WEAKER if WEAKER in verdicts else HOLDS


def times(value: float) -> str:
    """A ratio as the claims print one by default: 2.84×."""
    return f"{value:.2f}×"


# --- one claim's result ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimResult:
    """One claim on one device: what was measured, the paper's value, and the verdict."""

    claim: str  # a stable id, e.g. "pconv-dwconv-ratio"
    statement: str  # the paper's claim, e.g. "PConv/DWConv FLOPS ratio (Table 1)"
    device: str  # "cpu", "cuda", "arm", or "any" for the counting claims
    verdict: str
    measured: float | None = None
    low: float | None = None
    high: float | None = None
    paper: float | None = None
    measured_text: str = ""
    interval_text: str = ""
    paper_text: str = ""
    reason: str = ""  # why not measured / not comparable, or what the verdict rests on
    runs: tuple[str, ...] = ()
    # Per-network verdicts of a set claim: (network, "below"/"above"/"tie" here, in the paper)
    items: tuple[tuple[str, str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["runs"] = list(self.runs)
        data["items"] = [
            {"network": name, "measured": here, "paper": theirs}
            for name, here, theirs in self.items
        ]
        return data


def ratio_result(
    claim: str,
    statement: str,
    device: str,
    measured: Estimate,
    claimed: float,
    runs: Iterable[str],
    show: Callable[[float], str] = times,
    reason: str = "",
) -> ClaimResult:
    """A magnitude claim judged: the measured ratio and its interval against the paper's."""
    return ClaimResult(
        claim=claim,
        statement=statement,
        device=device,
        verdict=magnitude_verdict(measured, claimed),
        measured=measured.value,
        low=measured.low,
        high=measured.high,
        paper=claimed,
        measured_text=show(measured.value),
        interval_text=f"{show(measured.low)} – {show(measured.high)}",
        paper_text=show(claimed),
        reason=reason,
        runs=tuple(dict.fromkeys(runs)),
    )


def not_judged(
    claim: str, statement: str, device: str, verdict: str, reason: str, runs: Iterable[str] = ()
) -> ClaimResult:
    """A claim without a measured value: `not measured` or `not comparable`, and why."""
    return ClaimResult(claim, statement, device, verdict, reason=reason, runs=tuple(runs))


def with_paper(result: ClaimResult, value: float | None, text: str) -> ClaimResult:
    """The paper's value shown beside a claim that could not be judged, too."""
    if result.paper_text:
        return result
    return replace(result, paper=value if result.paper is None else result.paper, paper_text=text)
