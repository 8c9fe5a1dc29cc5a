"""benchmarks/analysis/process_effect.py on synthetic rows × processes matrices with known process
effects."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.analysis import process_effect as pe
from fbench.bench.stats.timing import between_processes_halfwidth

ROWS, PROCESSES = 16, 6


def _matrix(
    rng: np.random.Generator,
    effect_sd: float,
    noise_sd: float | np.ndarray,
    rows: int = ROWS,
    processes: int = PROCESSES,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log medians = row centre + shared process effect (sums to zero) + row noise."""
    centres = rng.normal(0.0, 1.0, rows)
    effects = rng.normal(0.0, effect_sd, processes) if effect_sd else np.zeros(processes)
    effects -= effects.mean()
    scale = np.broadcast_to(np.asarray(noise_sd, dtype=float), (rows,))
    noise = rng.normal(0.0, 1.0, (rows, processes)) * scale[:, None]
    return centres[:, None] + effects[None, :] + noise, centres, effects


def test_decompose_recovers_an_exact_additive_matrix():
    rows = np.array([0.5, -0.2, 1.0, 0.3])
    effects = np.array([0.03, -0.01, -0.02])
    fit = pe.decompose(rows[:, None] + effects[None, :])
    assert np.allclose(fit.process_effects, effects)
    assert np.allclose(fit.row_effects + fit.grand, rows)
    assert np.allclose(fit.residuals, 0.0)


def test_decompose_recovers_the_process_effect_under_noise():
    rng = np.random.default_rng(1)
    logs, _, effects = _matrix(rng, 0.03, 0.002, rows=200)
    fit = pe.decompose(logs)
    assert np.allclose(fit.process_effects, effects, atol=0.001)
    assert abs(fit.process_effects.sum()) < 1e-12
    assert np.allclose(fit.residuals.sum(axis=0), 0.0) and np.allclose(
        fit.residuals.sum(axis=1), 0.0
    )


def test_shared_fraction_is_near_one_when_all_spread_is_shared():
    rng = np.random.default_rng(2)
    logs, _, _ = _matrix(rng, 0.03, 0.001)
    anova = pe.process_anova(logs)
    assert anova.shared_fraction > 0.95
    assert anova.ss_share > 0.95
    assert anova.p_value < 1e-6
    assert pe.permutation_p(logs, draws=500) < 0.01


def test_shared_fraction_is_near_zero_when_nothing_is_shared():
    fractions, significant = [], 0
    rng = np.random.default_rng(3)
    for _ in range(200):
        logs, _, _ = _matrix(rng, 0.0, 0.02)
        anova = pe.process_anova(logs)
        fractions.append(anova.shared_fraction)
        significant += anova.p_value < 0.05
    assert np.median(fractions) < 0.02
    # The F test's size: about 5% of matrices without a shared effect come out significant.
    assert 2 <= significant <= 20


def test_an_exactly_additive_matrix_is_all_shared():
    anova = pe.process_anova([[1.0, 1.1, 0.9], [2.0, 2.1, 1.9]])
    assert anova.f > 1e12 and anova.p_value < 1e-12 and anova.shared_fraction == 1.0
    exact = pe.process_anova([[1.0, 2.0], [1.0, 2.0]])
    assert exact.f == math.inf and exact.p_value == 0.0


def test_the_probe_explains_an_effect_built_from_it():
    rng = np.random.default_rng(4)
    log_probe = rng.normal(0.0, 0.02, PROCESSES)
    logs = rng.normal(0, 1, ROWS)[:, None] + 0.8 * log_probe[None, :]
    logs += rng.normal(0, 0.0005, logs.shape)
    fit = pe.probe_fit(pe.decompose(logs).process_effects, log_probe)
    assert fit.r_squared > 0.95
    assert fit.slope == pytest.approx(0.8, abs=0.05)
    assert fit.p_value < 0.01


def test_an_unrelated_probe_explains_little():
    rng = np.random.default_rng(5)
    r_squared = []
    for _ in range(300):
        logs, _, _ = _matrix(rng, 0.03, 0.002)
        probe = rng.normal(0.0, 0.02, PROCESSES)
        r_squared.append(pe.probe_fit(pe.decompose(logs).process_effects, probe).r_squared)
    # A random regressor's R² with P points averages 1 / (P − 1).
    assert np.mean(r_squared) == pytest.approx(1 / (PROCESSES - 1), abs=0.05)


def test_today_halfwidths_are_fbench_s_own():
    rng = np.random.default_rng(6)
    logs, _, _ = _matrix(rng, 0.02, 0.01, rows=3)
    ours = pe.today_halfwidths(logs)
    for row, h in zip(logs, ours, strict=True):
        assert h == pytest.approx(between_processes_halfwidth(np.exp(row).tolist()), rel=1e-9)


def test_adjusted_interval_narrows_only_when_a_shared_effect_exists():
    rng = np.random.default_rng(7)
    shared, _, _ = _matrix(rng, 0.03, 0.005)
    ratio = pe.adjusted_halfwidths(shared)[0] / pe.today_halfwidths(shared)
    assert np.all(ratio < 0.6)
    ratios = []
    for _ in range(200):
        plain, _, _ = _matrix(rng, 0.0, 0.01)
        ratios.append(np.median(pe.adjusted_halfwidths(plain)[0] / pe.today_halfwidths(plain)))
    assert np.median(ratios) == pytest.approx(1.0, abs=0.08)


def test_adjusted_interval_keeps_p_minus_one_degrees_of_freedom_per_row():
    rng = np.random.default_rng(8)
    logs, _, _ = _matrix(rng, 0.02, 0.01)
    _, df = pe.adjusted_halfwidths(logs)
    assert np.all(df == PROCESSES - 1)
    _, pooled_df = pe.adjusted_halfwidths(logs, pooled=True)
    assert np.all(pooled_df == (ROWS - 1) * (PROCESSES - 1))


@pytest.mark.parametrize("low, high", [(0.01, 0.01), (0.004, 0.04)])
def test_adjusted_interval_covers_the_centre_95_percent_of_the_time(low, high):
    """2000 simulated rows (125 sweeps of 16), a fixed shared effect summing to zero, rows of
    one noise scale or of scales ten-fold apart: the 95% interval around the log mean covers
    the known centre 92–98% of the time."""
    rng = np.random.default_rng(9)
    effects = np.array([0.03, -0.02, 0.01, 0.0, -0.025, 0.005])
    covered = total = 0
    for _ in range(125):
        centres = rng.normal(0.0, 1.0, ROWS)
        scales = np.exp(rng.uniform(math.log(low), math.log(high), ROWS))
        logs = centres[:, None] + effects[None, :]
        logs = logs + rng.normal(0.0, 1.0, logs.shape) * scales[:, None]
        halfwidths, _ = pe.adjusted_halfwidths(logs)
        covered += int(np.sum(np.abs(logs.mean(axis=1) - centres) <= np.log1p(halfwidths)))
        total += ROWS
    assert 0.92 <= covered / total <= 0.98


def test_row_scale_test_tells_equal_from_unequal_rows():
    rng = np.random.default_rng(10)
    equal, _, _ = _matrix(rng, 0.02, 0.01, rows=30)
    unequal, _, _ = _matrix(rng, 0.02, np.geomspace(0.002, 0.05, 30), rows=30)
    assert pe.row_scale_p(unequal) < 0.001
    assert pe.row_scale_p(equal) > 0.001


def test_paired_ratio_interval_ignores_the_shared_effect():
    rng = np.random.default_rng(11)
    effects = rng.normal(0.0, 0.05, PROCESSES)
    a = 0.7 + effects + rng.normal(0, 0.002, PROCESSES)
    b = 0.2 + effects + rng.normal(0, 0.002, PROCESSES)
    paired = pe.paired_ratio_halfwidth(a, b)
    combined = math.hypot(*pe.today_halfwidths(np.vstack([a, b])))
    assert paired < 0.01 < combined


def test_split_rounds_cuts_the_pooled_probe_by_process():
    assert pe.split_rounds([1, 2, 3, 4, 5], [2, 0, 3]) == [[1, 2], [], [3, 4, 5]]
    with pytest.raises(ValueError, match="5 values for 4 rounds"):
        pe.split_rounds([1, 2, 3, 4, 5], [2, 2])


def test_exceeds_combined_is_symmetric_and_uses_both_intervals():
    assert pe.exceeds_combined(1.00, 0.01, 1.02, 0.01)  # 2% apart, √2 × 1% combined
    assert not pe.exceeds_combined(1.00, 0.02, 1.02, 0.02)
    assert pe.exceeds_combined(1.02, 0.01, 1.00, 0.01)


def test_exact_intervals_exceed_combined_rarely():
    assert 0.015 < pe.exceedance_if_exact(6) < 0.04


def test_bad_matrices_are_refused():
    with pytest.raises(ValueError, match="at least 2 × 2"):
        pe.decompose([[1.0, 2.0]])
    with pytest.raises(ValueError, match="non-finite"):
        pe.decompose([[1.0, math.nan], [1.0, 2.0]])


def test_groups_agree_on_a_common_effect_and_not_on_noise():
    rng = np.random.default_rng(12)
    groups = [name for name in "abcd" for _ in range(4)]
    shared, _, _ = _matrix(rng, 0.03, 0.002)
    assert pe.group_agreement(shared, groups) > 0.9
    agreements = [pe.group_agreement(_matrix(rng, 0.0, 0.01)[0], groups) for _ in range(100)]
    assert abs(np.mean(agreements)) < 0.1
