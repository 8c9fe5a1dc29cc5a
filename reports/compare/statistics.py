"""The gate's statistics, pure functions of numbers: the significance tests, the 95% interval
of a row's latency ratio, and the host-speed factor.

Significance is tested on the unit that varies independently: for rows timed in several
processes (bench/measure/processes.py), the per-process medians (Welch's t on their logs),
because calls within a process share its luck (testing the pooled calls fails many more
pairs of runs on nothing: docs/regression-gate.md); for rows timed in one process, the
per-call samples (a bootstrap of the ratio of the medians: no normality assumed, latency
samples are skewed). The change, the interval and the test are about one quantity each
time: the ratio of the process medians' geometric means, with Welch's interval and test on
their logs (the interval excludes 1 exactly when p < 0.05), or the ratio of the calls'
medians, with the bootstrap's interval and p-value from the same resamples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

BOOTSTRAP_RESAMPLES = 2000


def mann_whitney_p(baseline: Sequence[float], current: Sequence[float]) -> float:
    """Two-sided Mann–Whitney U p-value (exact for small samples without ties)."""
    from scipy.stats import mannwhitneyu

    result = mannwhitneyu(current, baseline, alternative="two-sided", method="auto")
    return float(result.pvalue)


def welch_p(baseline: Sequence[float], current: Sequence[float]) -> float:
    """Two-sided Welch t-test p-value on the logs of per-process medians (2+ on each side).

    The process, not the call, is the unit here: calls within one process share its luck
    (bench/measure/processes.py), so testing the pooled calls as independent would call a shift
    between processes significant. Logs, because speed changes are ratios.
    """
    from scipy.stats import ttest_ind

    if min(len(baseline), len(current)) < 2:
        raise ValueError("Welch's test needs at least two process medians on each side")
    a = [math.log(value) for value in baseline]
    b = [math.log(value) for value in current]
    if len(set(a)) == 1 and len(set(b)) == 1:  # no spread: a difference is certain, none is none
        return 0.0 if a[0] != b[0] else 1.0
    return float(ttest_ind(b, a, equal_var=False).pvalue)


def welch_ratio_ci(
    baseline: Sequence[float], current: Sequence[float]
) -> tuple[float, float] | None:
    """95% interval of current / baseline from per-process medians (2+ on each side): Welch's
    interval for the difference of their mean logs, exponentiated. It is the interval that
    matches `welch_p`; a bootstrap of the pooled calls would be as narrow as if every call
    were its own process. None where neither side has any spread (the test is then exact)."""
    from scipy.stats import ttest_ind

    a = [math.log(value) for value in baseline]
    b = [math.log(value) for value in current]
    if len(set(a)) == 1 and len(set(b)) == 1:
        return None
    low, high = ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    return round(math.exp(low), 4), round(math.exp(high), 4)


def bootstrap_ratio_ci(
    baseline: Sequence[float],
    current: Sequence[float],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """95% percentile-bootstrap interval of median(current) / median(baseline)."""
    import numpy

    rng = numpy.random.default_rng(seed)
    medians_a = bootstrap_medians(baseline, resamples, rng)
    medians_b = bootstrap_medians(current, resamples, rng)
    low, high = numpy.percentile(medians_b / medians_a, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)


def bootstrap_ratio(
    baseline: Sequence[float],
    current: Sequence[float],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[tuple[float, float], float]:
    """The 95% percentile-bootstrap interval of median(current) / median(baseline) and the
    two-sided bootstrap p-value of "the ratio is 1" from the same resamples: twice the
    smaller share of resampled ratios on either side of 1 (counted as (k + 1) / (B + 1), so
    never 0). Change, interval and test are then all about the ratio of the medians; a rank
    test (Mann–Whitney) tests another quantity, and could call a change significant whose
    interval holds 1 (issue 23)."""
    import numpy

    rng = numpy.random.default_rng(seed)
    medians_a = bootstrap_medians(baseline, resamples, rng)
    medians_b = bootstrap_medians(current, resamples, rng)
    ratios = medians_b / medians_a
    low, high = numpy.percentile(ratios, [2.5, 97.5])
    below, above = int(numpy.sum(ratios <= 1.0)), int(numpy.sum(ratios >= 1.0))
    p_value = min(1.0, 2.0 * (min(below, above) + 1) / (resamples + 1))
    return (round(float(low), 4), round(float(high), 4)), p_value


def log_mean_ratio(baseline: Sequence[float], current: Sequence[float]) -> float:
    """exp(mean(log current) - mean(log baseline)): the ratio Welch's test and interval on
    the logs are about (the centre of `welch_ratio_ci`)."""
    a = math.fsum(math.log(value) for value in baseline) / len(baseline)
    b = math.fsum(math.log(value) for value in current) / len(current)
    return math.exp(b - a)


def bootstrap_medians(values: Sequence[float], resamples: int, rng: Any) -> Any:
    """The medians of `resamples` bootstrap resamples of `values` (numpy array), drawn
    without building a resample, so memory is one sorted copy of `values` plus
    O(resamples), whatever the number of samples (drawing the resamples took
    resamples × n values: a row of a million samples needed 16 GB a side).

    Exact, not an approximation: a resample's calls are values[ceil(n·U)] for n uniform U,
    and ceil is monotone, so its m-th smallest call is sorted(values)[ceil(n·U_(m))], where
    U_(m), the m-th smallest of n uniforms, is Beta(m, n − m + 1). For even n the median
    also needs the next one: the smallest of the n − m uniforms above U_(m), which is
    U_(m) + (1 − U_(m))·Beta(1, n − m)."""
    import numpy

    ordered = numpy.sort(numpy.asarray(values, dtype=float))
    n = ordered.size
    middle = (n + 1) // 2  # 1-based rank of the (lower) middle call

    def at(uniform: Any) -> Any:
        index = numpy.ceil(n * uniform).astype(numpy.int64) - 1
        return ordered[numpy.clip(index, 0, n - 1)]

    lower = rng.beta(middle, n - middle + 1, size=resamples)
    if n % 2:
        return at(lower)
    upper = lower + (1.0 - lower) * rng.beta(1, n - middle, size=resamples)
    return (at(lower) + at(upper)) / 2.0


def host_speed_factor(probe_ratio: float, rows_ratio: float, tolerance: float) -> float:
    """The host's speed ratio to correct by: the rows' common shift, kept within `tolerance`
    of the probe's. Within it, the rows' own shift is the better estimate (memory-bound rows
    feel a clock swing less than the GEMM probe does); beyond it, the probe bounds it, so
    code that slowed every row is not explained away as a slow host."""
    low, high = probe_ratio * (1 - tolerance), probe_ratio * (1 + tolerance)
    return min(max(rows_ratio, low), high)
