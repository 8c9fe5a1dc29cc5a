"""How much of a run's between-process spread is shared by all rows of a process (pure math).

A multi-process run (bench/measure/processes.py) times every row in each of P worker processes, one
process after another, so a sweep gives an R × P matrix of process medians. On the log scale
the additive two-way model

    log m[r, p] = grand + row[r] + process[p] + residual[r, p]      (Σ row = Σ process = 0)

splits the spread between a row's processes into a part shared by every row of a process
(`process[p]`: the host running slower while that process sampled, or a layout that slows
everything in it) and a part of the row's own (`residual`: the row's layout draw).

Today a row's interval is Student's t on its P log medians (fbench.bench.stats.timing.
between_processes_halfwidth): it counts both parts. Removing the shared part narrows it, but
the narrower interval answers a different question. Its centre is unchanged (the process
effects sum to zero, so the mean over processes of log m − process is the row's log mean),
and it covers `grand + row[r]` *given this sweep's processes*: the mean of this sweep's P
process effects is inside the estimand. The next sweep draws new process effects, so the
narrow interval says nothing about how far the next sweep's row will be. Within one sweep,
between rows, the shared part cancels exactly: a ratio of two rows paired by process
(`paired_ratio_halfwidth`) needs no estimate of it at all.

fbench's own intervals keep the shared part: docs/process-effect.md measures it on stored
runs and finds that removing it narrows rows little and makes them less honest between
sweeps. This module is the analysis (benchmarks/process_factor.py), not part of a run.

Degrees of freedom of the adjusted interval. Removing the process effects estimated from all
R rows costs P − 1 degrees of freedom in total, (R − 1)(P − 1) left: the pooled residual
variance has those, and is the right estimate when every row has the same noise scale. On
the log scale the rows do not (DWConv rows spread several times more than Conv rows), so a
pooled variance would be too wide for quiet rows and too narrow for noisy ones. Per row, the
residual vector lies in the (P − 1)-dimensional space of contrasts and, for Gaussian errors,
is isotropic there: its sum of squares is exactly c_r χ²(P − 1) with
c_r = (1 − 2/R) s_r² + Σ s² / R² (the row's own variance, shrunk, plus a little of every other
row's through the estimated process effects). So the cost to one row is not a degree of
freedom but a factor: with equal scales c_r = (1 − 1/R) s², and the row's residual sum of
squares over (P − 1)(1 − 1/R) estimates s² with all P − 1 degrees of freedom ((P − 1)(1 − 1/R)
is the divisor, not a degree-of-freedom count; P − 2 would be needlessly wide). The row's
centre is independent of its residuals, so the t interval is exact for equal scales; with
unequal ones it errs wide for quiet rows and at most 3.4% narrow (R = 16) for the noisiest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Decomposition:
    """The two-way additive fit of a rows × processes matrix of log medians."""

    grand: float
    row_effects: np.ndarray  # (R,), sums to zero
    process_effects: np.ndarray  # (P,), sums to zero
    residuals: np.ndarray  # (R, P), every row and column sums to zero


@dataclass(frozen=True)
class ProcessAnova:
    """Two-way ANOVA without replication, the process factor against the residual."""

    ss_process: float
    ss_residual: float
    df_process: int
    df_residual: int
    f: float
    p_value: float
    # Share of the within-row between-process sum of squares that the process effects carry;
    # about 1/R when there is no shared effect at all (the estimated effects fit noise).
    ss_share: float
    # Variance-component estimate of the shared part of one row's between-process variance,
    # σ²_process / (σ²_process + σ²_residual), clipped to [0, 1]; about 0 with no shared effect.
    shared_fraction: float


@dataclass(frozen=True)
class ProbeFit:
    """Least squares of the process effects on the centred log host-probe medians."""

    slope: float
    r_squared: float
    p_value: float  # F(1, P − 2) test of slope = 0; nan for P < 3


def as_matrix(logs: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """A float (R, P) matrix, at least 2 × 2, all finite, or ValueError."""
    matrix = np.asarray(logs, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] < 2 or matrix.shape[1] < 2:
        raise ValueError(f"need a rows × processes matrix of at least 2 × 2, got {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError("the matrix holds a non-finite value")
    return matrix


def decompose(logs: Sequence[Sequence[float]] | np.ndarray) -> Decomposition:
    """log m[r, p] = grand + row[r] + process[p] + residual[r, p] by row and column means."""
    matrix = as_matrix(logs)
    grand = float(matrix.mean())
    rows = matrix.mean(axis=1) - grand
    processes = matrix.mean(axis=0) - grand
    residuals = matrix - grand - rows[:, None] - processes[None, :]
    return Decomposition(grand, rows, processes, residuals)


def process_anova(logs: Sequence[Sequence[float]] | np.ndarray) -> ProcessAnova:
    """F = MS_process / MS_residual with (P − 1, (R − 1)(P − 1)) degrees of freedom."""
    from scipy.stats import f as f_dist

    fit = decompose(logs)
    r, p = fit.residuals.shape
    ss_process = float(r * np.sum(fit.process_effects**2))
    ss_residual = float(np.sum(fit.residuals**2))
    df_process, df_residual = p - 1, (r - 1) * (p - 1)
    ms_process, ms_residual = ss_process / df_process, ss_residual / df_residual
    if ms_residual > 0:
        f = ms_process / ms_residual
        p_value = float(f_dist.sf(f, df_process, df_residual))
    else:  # an exactly additive matrix: the shared effect explains everything there is
        f, p_value = (math.inf, 0.0) if ms_process > 0 else (math.nan, 1.0)
    within = ss_process + ss_residual
    component = max(0.0, (ms_process - ms_residual) / r)
    total = component + ms_residual
    return ProcessAnova(
        ss_process,
        ss_residual,
        df_process,
        df_residual,
        f,
        p_value,
        ss_process / within if within > 0 else 0.0,
        component / total if total > 0 else 0.0,
    )


def permutation_p(
    logs: Sequence[Sequence[float]] | np.ndarray, draws: int = 2000, seed: int = 0
) -> float:
    """The F test's p-value without its normal, equal-variance assumptions: each row's
    process order shuffled on its own (no shared effect makes every order equally likely)."""
    matrix = as_matrix(logs)
    observed = _ss_process(matrix)
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(draws):
        shuffled = rng.permuted(matrix, axis=1)
        hits += _ss_process(shuffled) >= observed - 1e-15
    return (hits + 1) / (draws + 1)


def _ss_process(matrix: np.ndarray) -> float:
    # With each row's values fixed, the residual SS falls as the process SS rises, so the
    # process SS alone orders permutations as F does.
    centred = matrix - matrix.mean(axis=1, keepdims=True)
    return float(np.sum(centred.mean(axis=0) ** 2))


def group_agreement(logs: Sequence[Sequence[float]] | np.ndarray, groups: Sequence[str]) -> float:
    """Mean correlation, over pairs of row groups (e.g. operators), of the process effects
    each group estimates from its own rows alone: near 1 when the groups feel one common
    per-process factor, near 0 when each group's "shared" part is its own noise."""
    matrix = as_matrix(logs)
    names = sorted(set(groups))
    if len(groups) != matrix.shape[0] or len(names) < 2:
        raise ValueError("need a group per row and at least two groups")
    effects = []
    for name in names:
        rows = matrix[[i for i, group in enumerate(groups) if group == name]]
        effects.append((rows - rows.mean(axis=1, keepdims=True)).mean(axis=0))
    correlations = [
        float(np.corrcoef(effects[i], effects[j])[0, 1])
        for i in range(len(names))
        for j in range(i + 1, len(names))
    ]
    return float(np.nanmean(correlations))


def probe_fit(process_effects: Sequence[float], log_probe: Sequence[float]) -> ProbeFit:
    """How much of the process effects the host probe's per-process medians (logs) explain."""
    from scipy.stats import f as f_dist

    y = np.asarray(process_effects, dtype=float)
    x = np.asarray(log_probe, dtype=float)
    if y.shape != x.shape or y.size < 2:
        raise ValueError("need one probe value per process, at least two")
    y, x = y - y.mean(), x - x.mean()
    sxx, syy = float(np.sum(x * x)), float(np.sum(y * y))
    if sxx == 0 or syy == 0:
        return ProbeFit(0.0, 0.0, math.nan)
    slope = float(np.sum(x * y)) / sxx
    r_squared = min(1.0, slope * slope * sxx / syy)
    df = y.size - 2
    if df < 1:
        return ProbeFit(slope, r_squared, math.nan)
    f = r_squared / max(1e-300, 1.0 - r_squared) * df
    return ProbeFit(slope, r_squared, float(f_dist.sf(f, 1, df)))


def today_halfwidths(
    logs: Sequence[Sequence[float]] | np.ndarray, confidence: float = CONFIDENCE
) -> np.ndarray:
    """Each row's relative half-width as fbench gives it today (fbench.bench.stats.timing.
    between_processes_halfwidth): Student's t on its P logs, P − 1 degrees of freedom."""
    from scipy.stats import t

    matrix = as_matrix(logs)
    p = matrix.shape[1]
    spread = matrix.std(axis=1, ddof=1)
    quantile = t.ppf(0.5 + confidence / 2, p - 1)
    return np.expm1(quantile * spread / math.sqrt(p))


def residual_variances(
    logs: Sequence[Sequence[float]] | np.ndarray, pooled: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's residual variance (log scale) and its degrees of freedom, after removing
    the process effects estimated from all rows (see the module docstring).

    `pooled`: one variance for every row, (R − 1)(P − 1) degrees of freedom; right only when
    the rows share one noise scale. Otherwise per row: the row's residual sum of squares over
    (P − 1)(1 − 1/R), with P − 1 degrees of freedom.
    """
    fit = decompose(logs)
    r, p = fit.residuals.shape
    sums = np.sum(fit.residuals**2, axis=1)
    if pooled:
        df = (r - 1) * (p - 1)
        return np.full(r, float(sums.sum()) / df), np.full(r, float(df))
    # E[sum_r] = (P − 1)((1 − 2/R) s_r² + Σ s² / R²), exactly that times χ²(P − 1) / (P − 1):
    # equal to (P − 1)(1 − 1/R) s² when the rows share one scale. With unequal scales this
    # errs wide for rows quieter than the average (the others' noise leaks in through the
    # process effects) and narrow by at most (1 − 2/R) / (1 − 1/R) in variance for the
    # noisiest row (R = 16: 3.4% in the half-width). Subtracting the leak instead (unbiased
    # for s_r²) left quiet rows at 86–90% coverage in simulation: the leak is itself noisy.
    return sums / ((p - 1) * (1 - 1 / r)), np.full(r, float(p - 1))


def row_scale_p(logs: Sequence[Sequence[float]] | np.ndarray) -> float:
    """Bartlett's test that every row's residuals share one variance (the pooled estimate's
    assumption): each row's residual sum of squares is c_r χ²(P − 1), so the rows' mean
    squares are compared as Bartlett's equal-size groups. Small p: pool nothing."""
    from scipy.stats import chi2

    fit = decompose(logs)
    r, p = fit.residuals.shape
    df = p - 1
    q = np.sum(fit.residuals**2, axis=1) / df
    if np.any(q <= 0):
        return math.nan
    statistic = df * (r * math.log(float(q.mean())) - float(np.sum(np.log(q))))
    statistic /= 1 + (r / df - 1 / (r * df)) / (3 * (r - 1))
    return float(chi2.sf(statistic, r - 1))


def adjusted_halfwidths(
    logs: Sequence[Sequence[float]] | np.ndarray,
    confidence: float = CONFIDENCE,
    pooled: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's relative half-width with the shared process effects removed, and its
    degrees of freedom: t × √(residual variance / P) around the unchanged log-mean centre.

    It covers the row's centre given this sweep's processes, not the next sweep's row."""
    from scipy.stats import t

    matrix = as_matrix(logs)
    p = matrix.shape[1]
    variances, df = residual_variances(matrix, pooled)
    quantile = t.ppf(0.5 + confidence / 2, df)
    return np.expm1(quantile * np.sqrt(variances / p)), df


def paired_ratio_halfwidth(
    logs_a: Sequence[float], logs_b: Sequence[float], confidence: float = CONFIDENCE
) -> float:
    """Relative half-width of the ratio of two rows of one sweep, paired by process: Student
    t on log a[p] − log b[p], P − 1 degrees of freedom. The shared process effect cancels in
    each difference, so this needs no estimate of it and is exact for normal residuals."""
    from scipy.stats import t

    a, b = np.asarray(logs_a, dtype=float), np.asarray(logs_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError("need the two rows' logs in the same P ≥ 2 processes")
    differences = a - b
    quantile = t.ppf(0.5 + confidence / 2, a.size - 1)
    return float(np.expm1(quantile * differences.std(ddof=1) / math.sqrt(a.size)))


def split_rounds(values: Sequence[float], rounds: Sequence[int]) -> list[list[float]]:
    """A pooled per-round list cut back into its processes (fbench.bench.stats.host_probe.pool joins
    the processes' rounds in process order); ValueError when the lengths do not add up."""
    if sum(rounds) != len(values):
        raise ValueError(f"{len(values)} values for {sum(rounds)} rounds")
    parts, start = [], 0
    for count in rounds:
        parts.append(list(values[start : start + count]))
        start += count
    return parts


def exceeds_combined(
    median_1: float, halfwidth_1: float, median_2: float, halfwidth_2: float
) -> bool:
    """Issue 15's honesty test for one row of two sweeps: do the medians differ by more than
    the two intervals combined, √(h₁² + h₂²)? On the log scale, so the order does not matter."""
    combined = math.hypot(math.log1p(halfwidth_1), math.log1p(halfwidth_2))
    return abs(math.log(median_1 / median_2)) > combined


def exceedance_if_exact(processes: int, draws: int = 20000, seed: int = 0) -> float:
    """The share of rows `exceeds_combined` flags between two sweeps whose intervals are
    exact (normal process medians, Student t on P of them, no drift between the sweeps):
    the honesty figure's floor, about 2.8% for P = 6 and 1.9% for P = 4, not 5%, because
    √(h₁² + h₂²) is a wider test than the difference's own 95% interval."""
    from scipy.stats import t

    rng = np.random.default_rng(seed)
    quantile = t.ppf(0.5 + CONFIDENCE / 2, processes - 1)
    first, second = rng.normal(size=(2, draws, processes))
    h1 = quantile * first.std(axis=1, ddof=1) / math.sqrt(processes)
    h2 = quantile * second.std(axis=1, ddof=1) / math.sqrt(processes)
    gap = np.abs(first.mean(axis=1) - second.mean(axis=1))
    return float(np.mean(gap > np.hypot(h1, h2)))
