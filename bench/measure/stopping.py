"""The stopping rule: when a row has been sampled enough, and the words for one that was not.

A row is finished when the 95% interval of its median is within ±`ci_target` after
`min_samples` samples in `min_rounds` rounds (or when its sampling time reaches `max_row_s`,
the runner's cap); a row that stops short is `imprecise` and says its real interval. The
same rule judges a row sampled in one process (bench/measure/runner.py) and one pooled from
several (bench/measure/pooling.py). docs/methodology.md has the reasons for the defaults.
"""

from __future__ import annotations

from fbench.bench.config import TimingConfig
from fbench.bench.stats import timing


def has_converged(summary: timing.LatencySummary, rounds: int, settings: TimingConfig) -> bool:
    """Enough samples, in enough rounds, and the median's 95% interval within the target."""
    if summary.n < settings.min_samples or rounds < settings.min_rounds:
        return False
    halfwidth = summary.ci95_halfwidth_rel
    return halfwidth is not None and halfwidth <= settings.ci_target


def interval_note(
    summary: timing.LatencySummary, sampled_s: float, rounds: int, settings: TimingConfig
) -> str:
    """Why a row that never reached its target is `imprecise`, with its real interval."""
    halfwidth = summary.ci95_halfwidth_rel
    interval = f"±{halfwidth:.1%}" if halfwidth is not None else "undefined"
    return (
        f"95% CI of the median is {interval} after {sampled_s:.1f} s of sampling "
        f"(n={summary.n}, {rounds} rounds); target ±{settings.ci_target:.1%}"
    )
