"""Samples → statistics: pure functions of numbers, no torch and no clocks.

Latency is summarised by the median, not the mean: on a shared host a few calls are hit by
interrupts, page faults or a neighbour's burst, and those outliers drag the mean (the
official FasterNet script reports the mean of 200 calls) while the median stays put. The
interval around the median is distribution-free (binomial order statistics), so it does not
assume the samples are normal, which latency samples never are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

# A 95% interval for the median needs at least 6 samples: with 5, even (min, max) covers
# the median with probability 1 - 2 * 0.5**5 = 93.75%.
MIN_SAMPLES_FOR_CI = 6


@dataclass(frozen=True)
class LatencySummary:
    """Summary of per-call latencies, all in milliseconds (the `latency_ms` block of a row)."""

    median: float
    ci95_low: float | None
    ci95_high: float | None
    iqr: float
    mean: float
    stdev: float
    n: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LatencySummary:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})

    @property
    def ci95_halfwidth_rel(self) -> float | None:
        """Half-width of the 95% interval of the median, relative to the median (0.01 = ±1%).

        The interval is not symmetric; the larger side is used, so "within ±1%" means both.
        """
        if self.ci95_low is None or self.ci95_high is None or self.median <= 0:
            return None
        return max(self.median - self.ci95_low, self.ci95_high - self.median) / self.median


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of already sorted values (numpy's default method)."""
    if not sorted_values:
        raise ValueError("quantile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile q must be in [0, 1], got {q}")
    position = (len(sorted_values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def median(values: Sequence[float]) -> float:
    return quantile(sorted(values), 0.5)


def _binomial_half_pmf(i: int, n: int) -> float:
    """P(X = i) for X ~ Binomial(n, 1/2), computed in log space to avoid underflow."""
    return math.exp(
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2.0)
    )


def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int] | None:
    """1-based ranks (j, k) of the order statistics bounding the median with `confidence`.

    The interval [x_(j), x_(k)] covers the population median with probability at least
    `confidence` for any continuous distribution (the sign-test interval). Exact binomial
    for n <= 1000; beyond that the normal approximation is accurate to a rank.
    """
    if n < MIN_SAMPLES_FOR_CI:
        return None
    alpha = 1.0 - confidence
    if n <= 1000:
        # Largest j with P(X <= j - 1) <= alpha / 2, so P(j <= X <= n - j) >= confidence.
        # The CDF grows one term a step: summing it afresh for every j made this quadratic
        # (~90 ms at n = 1000, paid for every row in every round by the stopping rule).
        j, cdf = 1, _binomial_half_pmf(0, n) + _binomial_half_pmf(1, n)
        while cdf <= alpha / 2:
            j += 1
            cdf += _binomial_half_pmf(j, n)
    else:
        z = _normal_quantile(1.0 - alpha / 2)
        j = max(1, math.floor(n / 2 - z * math.sqrt(n) / 2))
    return j, n - j + 1


def _normal_quantile(p: float) -> float:
    """Inverse standard normal CDF by bisection on erf (only used for large n; exact enough)."""
    low, high = -10.0, 10.0
    for _ in range(100):
        mid = (low + high) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def summarize(samples_ms: Sequence[float]) -> LatencySummary:
    """Median with its 95% interval, IQR, mean, stdev and n of per-call latencies (ms)."""
    if not samples_ms:
        raise ValueError("cannot summarise zero samples")
    values = sorted(samples_ms)
    n = len(values)
    mean = math.fsum(values) / n
    stdev = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    ranks = median_ci_ranks(n)
    low, high = (values[ranks[0] - 1], values[ranks[1] - 1]) if ranks else (None, None)
    return LatencySummary(
        median=quantile(values, 0.5),
        ci95_low=low,
        ci95_high=high,
        iqr=quantile(values, 0.75) - quantile(values, 0.25),
        mean=mean,
        stdev=stdev,
        n=n,
    )


def between_processes_halfwidth(
    process_medians_ms: Sequence[float], confidence: float = 0.95
) -> float | None:
    """Relative half-width of a `confidence` interval for a row's latency from the medians
    of the processes that timed it (0.01 = ±1%); None for fewer than two.

    Student's t on the logs of the medians: the process is the unit, because a row's speed
    is partly fixed when its process starts (bench/measure/processes.py) and the calls of one
    process share that luck. The calls' own interval (`summarize`) cannot see it: pooled
    calls can read ±0.4% while the process medians spread ten times that, and the next
    sweep moves the row by what the processes say (docs/methodology.md).
    """
    if len(process_medians_ms) < 2:
        return None
    from scipy.stats import t

    logs = [math.log(value) for value in process_medians_ms]
    n = len(logs)
    mean = math.fsum(logs) / n
    spread = math.sqrt(math.fsum((value - mean) ** 2 for value in logs) / (n - 1))
    quantile_t = float(t.ppf(0.5 + confidence / 2, n - 1))
    return math.exp(quantile_t * spread / math.sqrt(n)) - 1.0


def widened(summary: LatencySummary, halfwidth_rel: float) -> LatencySummary:
    """`summary` with its median's interval widened to at least ±`halfwidth_rel` (in ratio
    terms: median / (1 + h) to median × (1 + h)); an interval already wider is kept."""
    low, high = summary.median / (1.0 + halfwidth_rel), summary.median * (1.0 + halfwidth_rel)
    return replace(
        summary,
        ci95_low=low if summary.ci95_low is None else min(summary.ci95_low, low),
        ci95_high=high if summary.ci95_high is None else max(summary.ci95_high, high),
    )


def geometric_mean(values: Sequence[float]) -> float:
    """exp(mean(log v)): the centre of Student's t interval on the logs."""
    if not values:
        raise ValueError("geometric mean of no values")
    return math.exp(math.fsum(math.log(value) for value in values) / len(values))


def processes_summary(
    samples_ms: Sequence[float], process_medians_ms: Sequence[float]
) -> LatencySummary:
    """A row timed in two or more processes: its estimate is the geometric mean of the
    processes' medians, and its 95% interval is centred on that same estimate: Student's t on
    the logs of the medians (`between_processes_halfwidth`), widened to at least the pooled
    calls' own relative half-width (a floor: a few agreeing processes of few calls must not
    claim more than their calls allow). The process is the unit (docs/methodology.md, step
    11), so the estimate and the interval are both about it; the pooled calls' median sat in
    an interval built around another quantity. IQR, mean, stdev and n stay the calls'."""
    calls = summarize(samples_ms)
    if len(process_medians_ms) < 2:
        return calls
    centre = geometric_mean(process_medians_ms)
    halfwidth = max(
        between_processes_halfwidth(process_medians_ms) or 0.0, calls.ci95_halfwidth_rel or 0.0
    )
    return replace(
        calls,
        median=centre,
        ci95_low=centre / (1.0 + halfwidth),
        ci95_high=centre * (1.0 + halfwidth),
    )


def has_settled(earlier: Sequence[float], later: Sequence[float], tolerance: float) -> bool:
    """Warm-up is over when two consecutive windows of calls have medians within `tolerance`.

    The first calls of a fresh module pay for allocator growth, oneDNN primitive creation and
    cold caches; they fall quickly and then flatten. Comparing window medians (not single
    calls) keeps one noisy call from ending or prolonging the warm-up.
    """
    if not earlier or not later:
        return False
    previous, current = median(earlier), median(later)
    return abs(current - previous) <= tolerance * previous


def medians_spread(medians: Sequence[float]) -> float | None:
    """How far apart some processes' medians are: max / min - 1 (None: fewer than two)."""
    return max(medians) / min(medians) - 1.0 if len(medians) >= 2 else None


def throughput_per_s(latency_ms: float, batch: int) -> float:
    """Inputs processed per second at the given per-call latency (images/s for a batch)."""
    return batch * 1000.0 / latency_ms


def gflops_per_s(flops_per_sample: int, batch: int, latency_ms: float) -> float:
    """FLOPS as the paper reports it: multiply-adds per second, in G/s (paper eq. 1 inverted)."""
    return flops_per_sample * batch / (latency_ms / 1000.0) / 1e9
