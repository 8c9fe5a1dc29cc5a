"""The normalised gate: a row's time in units of an anchor timed in the same rounds, compared
between two runs, so that a host that runs faster or slower (a neighbour, a clock swing)
cancels and a change of the code does not (the anchors do not change with the code).

It generalises `--host-correction` (one factor for the whole run, from the GEMM probe and the
rows' common shift, which hid part of a slowdown that every row shares): here each row is
divided, round by round, by the anchor that tracks it best, the GEMM (compute) or the copy
(memory bandwidth), chosen from how tightly the row's rounds follow each anchor within the
two runs (not from the change between them). The per-round values come from
bench/stats/paired.py; the test is on the same unit as the plain gate: Welch's t on the logs
of the processes' medians (2+ processes a side), else one bootstrap of the rounds' medians'
ratio; change, interval and p are about that one ratio (docs/regression-gate.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from fbench.bench.results import ResultRow
from fbench.bench.stats import paired
from fbench.bench.stats.timing import median
from fbench.reports.compare.statistics import (
    bootstrap_ratio,
    log_mean_ratio,
    welch_p,
    welch_ratio_ci,
)
from fbench.reports.compare.verdicts import (
    FASTER,
    NOT_JUDGED,
    SAME,
    SLOWER,
    RowComparison,
    percent_text,
)

TEST = "paired-anchors"
MIN_ROUNDS = 5  # per side, for the one-process bootstrap


def _logs(row: ResultRow, anchor: str) -> list[list[float]]:
    return [
        logs for logs in paired.paired_logs([row], lambda ms: ms[0] / ms[1], anchor=anchor) if logs
    ]


def _scatter(per_process: Sequence[Sequence[float]]) -> float:
    """How tightly a row follows an anchor within its processes: the mean absolute deviation
    of the rounds' log ratios from their process's median, all processes together. The mean,
    not the median: a host mode that slows the row in 40% of the rounds and not the anchor
    leaves the median deviation small, and flips the process's median once it passes half."""
    deviations = [abs(v - median(logs)) for logs in per_process if len(logs) >= 2 for v in logs]
    return math.fsum(deviations) / len(deviations) if deviations else math.inf


def choose_anchor(base: ResultRow, cur: ResultRow) -> str | None:
    """The anchor whose rounds the row follows best in both runs together; None when either
    run's row stored no per-round medians with an anchor."""
    scores = {}
    for anchor in paired.ANCHORS:
        base_logs, cur_logs = _logs(base, anchor), _logs(cur, anchor)
        if base_logs and cur_logs:
            scores[anchor] = _scatter([*base_logs, *cur_logs])
    return min(scores, key=scores.__getitem__) if scores else None


def can_pair(row: ResultRow) -> bool:
    return paired.pairing_words(row) is None


def normalised_row(
    label: str, base: ResultRow, cur: ResultRow, threshold: float, alpha: float
) -> RowComparison | None:
    """The row judged on its time against an anchor, or None when the runs cannot be paired
    (a row without per-round medians: then the plain gate judges it, and says why)."""
    anchor = choose_anchor(base, cur)
    if anchor is None:
        return None
    base_logs, cur_logs = _logs(base, anchor), _logs(cur, anchor)
    # One value per process (its memory layout is the unit), from however many rounds it had.
    base_proc = [math.exp(median(logs)) for logs in base_logs]
    cur_proc = [math.exp(median(logs)) for logs in cur_logs]
    raw = (cur.latency / base.latency - 1.0) if base.latency and cur.latency else None
    how = f"against the {anchor} anchor"
    if min(len(base_proc), len(cur_proc)) >= 2:
        change = log_mean_ratio(base_proc, cur_proc) - 1.0
        p_value = welch_p(base_proc, cur_proc)
        interval = welch_ratio_ci(base_proc, cur_proc)
        how += f", Welch on {len(base_proc)} vs {len(cur_proc)} processes"
    else:
        base_rounds = [math.exp(v) for logs in base_logs for v in logs]
        cur_rounds = [math.exp(v) for logs in cur_logs for v in logs]
        if min(len(base_rounds), len(cur_rounds)) < MIN_ROUNDS:
            return RowComparison(
                label, base.latency, cur.latency, raw, None, None, NOT_JUDGED,
                f"too few paired rounds to test {how} ({len(base_rounds)} vs "
                f"{len(cur_rounds)}; need {MIN_ROUNDS}): a longer [timing] max_row_s or more "
                "processes would give them", raw, TEST,
            )  # fmt: skip
        change = median(cur_rounds) / median(base_rounds) - 1.0
        interval, p_value = bootstrap_ratio(base_rounds, cur_rounds)
        how += f", bootstrap of {len(base_rounds)} vs {len(cur_rounds)} rounds"
    if interval is not None and not _resolves(interval, threshold):
        needed = _processes_needed(interval, threshold, max(len(base_proc), 1))
        return RowComparison(
            label, base.latency, cur.latency, change, interval, p_value, NOT_JUDGED,
            f"the normalised 95% interval {interval[0]:.3f}–{interval[1]:.3f} ({how}) is "
            f"wider than the {percent_text(threshold)} threshold can be told within; about "
            f"{needed} processes a side would narrow it enough", raw, TEST,
        )  # fmt: skip
    if p_value < alpha and abs(change) > threshold:
        verdict = SLOWER if change > 0 else FASTER
        reason = f"p={p_value:.2g} ({how}) < {alpha:g} and |{change:+.1%}| > " + percent_text(
            threshold
        )
    else:
        verdict = SAME
        reason = (
            f"within the {percent_text(threshold)} threshold ({how})"
            if abs(change) <= threshold
            else f"not significant (p={p_value:.2g}, {how})"
        )
    return RowComparison(
        label, base.latency, cur.latency, change, interval, p_value, verdict, reason, raw, TEST
    )


def _resolves(interval: tuple[float, float], threshold: float) -> bool:
    """The interval can tell no change from a change of the threshold's size: its half-width
    on the log scale is below the threshold's."""
    low, high = interval
    return (math.log(high) - math.log(low)) / 2 < math.log1p(threshold)


def _processes_needed(interval: tuple[float, float], threshold: float, processes: int) -> int:
    """Processes a side for the interval to resolve the threshold, if it narrows as 1/√n."""
    low, high = interval
    half = (math.log(high) - math.log(low)) / 2
    return max(processes + 1, math.ceil(processes * (half / math.log1p(threshold)) ** 2))
