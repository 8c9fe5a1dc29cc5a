"""Statistics on known samples: median interval, IQR, settling, FLOPS."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from fbench.bench.stats import timing


def test_median_ci_ranks_match_the_sign_test_tables():
    # Classic tables of the distribution-free 95% interval for the median.
    assert timing.median_ci_ranks(5) is None
    assert timing.median_ci_ranks(6) == (1, 6)
    assert timing.median_ci_ranks(10) == (2, 9)
    assert timing.median_ci_ranks(20) == (6, 15)
    assert timing.median_ci_ranks(100) == (40, 61)


def test_large_n_approximation_joins_the_exact_ranks():
    exact = timing.median_ci_ranks(1000)
    approx = timing.median_ci_ranks(1001)
    assert exact is not None and approx is not None
    assert abs(exact[0] - approx[0]) <= 1


def test_summarize_known_samples():
    summary = timing.summarize([1.0, 2.0, 3.0, 4.0, 100.0, 2.5, 3.5])
    assert summary.median == 3.0
    assert summary.n == 7
    assert summary.mean == pytest.approx(116.0 / 7)
    assert summary.stdev == pytest.approx(statistics.stdev([1, 2, 3, 4, 100, 2.5, 3.5]))
    assert summary.iqr == pytest.approx(3.75 - 2.25)  # numpy-style linear quantiles
    assert (summary.ci95_low, summary.ci95_high) == (1.0, 100.0)  # n=7: ranks 1 and 7


def test_summary_without_enough_samples_has_no_interval():
    summary = timing.summarize([2.0, 1.0, 3.0])
    assert summary.median == 2.0
    assert summary.ci95_low is None and summary.ci95_halfwidth_rel is None


def test_halfwidth_uses_the_wider_side():
    summary = timing.LatencySummary(10.0, 9.9, 10.3, 0.1, 10.0, 0.1, 50)
    assert summary.ci95_halfwidth_rel == pytest.approx(0.03)


def test_median_interval_covers_the_true_median_at_least_95_percent():
    # Skewed, heavy-tailed "latencies" (log-normal with rare 3x outliers): true median known.
    rng = random.Random(1)
    true_median = 10.0
    covered = 0
    trials = 400
    for _ in range(trials):
        samples = [true_median * rng.lognormvariate(0, 0.05) for _ in range(40)]
        samples = [s * 3 if rng.random() < 0.03 else s for s in samples]
        summary = timing.summarize(samples)
        # 3% upward outliers move the population median slightly; use the mixture's median.
        covered += summary.ci95_low <= true_median * 1.002 and summary.ci95_high >= true_median
    assert covered / trials >= 0.93


def test_median_ignores_outliers_that_move_the_mean():
    samples = [5.0] * 95 + [50.0] * 5
    summary = timing.summarize(samples)
    assert summary.median == 5.0
    assert summary.mean == pytest.approx(7.25)


def test_quantile_rejects_bad_input():
    with pytest.raises(ValueError):
        timing.quantile([], 0.5)
    with pytest.raises(ValueError):
        timing.quantile([1.0], 1.5)


def test_has_settled():
    assert not timing.has_settled([], [1.0], tolerance=0.02)
    assert timing.has_settled([10.0, 10.1, 9.9], [10.05, 10.0, 10.1], tolerance=0.02)
    assert not timing.has_settled([12.0, 12.5, 11.8], [10.0, 10.1, 10.0], tolerance=0.02)


def test_flops_and_throughput():
    # Table 1's Conv at stage 1 on the paper's CPU: 2601 M in 35.67 ms is 72.9 G/s.
    assert timing.gflops_per_s(2_601_123_840, 1, 35.67) == pytest.approx(72.92, abs=0.01)
    assert timing.throughput_per_s(10.0, 32) == pytest.approx(3200.0)


def test_between_processes_halfwidth_is_students_t_on_the_log_medians():
    # Hand-checked: logs of (1, e^0.02, e^0.04) have mean 0.02 and sd 0.02; t(0.975, 2) = 4.303.
    medians = [1.0, math.exp(0.02), math.exp(0.04)]
    expected = math.exp(4.302653 * 0.02 / math.sqrt(3)) - 1
    assert timing.between_processes_halfwidth(medians) == pytest.approx(expected, rel=1e-5)
    assert timing.between_processes_halfwidth([2.0, 2.0, 2.0]) == 0.0
    assert timing.between_processes_halfwidth([2.0]) is None  # one process: nothing to say
    # Scale-free: the same ratios at another speed give the same relative interval.
    scaled = timing.between_processes_halfwidth([10 * value for value in medians])
    assert scaled == pytest.approx(timing.between_processes_halfwidth(medians), rel=1e-9)


def test_widened_keeps_the_median_and_never_narrows():
    summary = timing.summarize([1.0 + i * 1e-3 for i in range(101)])
    wide = timing.widened(summary, 0.10)
    assert wide.median == summary.median and wide.n == summary.n
    assert wide.ci95_high == pytest.approx(summary.median * 1.10)
    assert wide.ci95_low == pytest.approx(summary.median / 1.10)
    assert wide.ci95_halfwidth_rel == pytest.approx(0.10)
    assert timing.widened(summary, 1e-6) == summary  # already wider: kept


def test_a_rows_interval_from_processes_is_centred_on_its_estimate():
    # Known answer: process medians 1, 2, 4 (logs 0, ln2, 2 ln2): geometric mean 2, log sd
    # ln 2, t(0.975, 2) = 4.302653, half-width exp(4.302653 ln2 / sqrt 3) - 1.
    samples = [1.0] * 10 + [2.0] * 10 + [4.0] * 10
    summary = timing.processes_summary(samples, [1.0, 2.0, 4.0])
    factor = math.exp(4.302653 * math.log(2) / math.sqrt(3))
    assert summary.median == pytest.approx(2.0)
    assert summary.ci95_low == pytest.approx(2.0 / factor, rel=1e-6)
    assert summary.ci95_high == pytest.approx(2.0 * factor, rel=1e-6)
    assert summary.n == 30 and summary.mean == pytest.approx(7 / 3)
    # One process: the calls' own summary.
    assert timing.processes_summary(samples, [2.0]) == timing.summarize(samples)
