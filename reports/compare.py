"""The regression gate: two stored runs → per-row verdicts and one exit code. Never measures.

A change is reported only when it is both statistically significant and larger than a
practical threshold (default 5%): on a noisy board, significance alone flags tiny real drifts
and a threshold alone flags noise. Significance is tested on the unit that varies
independently: for rows timed in several processes (bench/processes.py), the per-process
medians (Welch's t on their logs), because calls within a process share its luck: over 50
pairs of 3- and 4-process sweeps here, Mann–Whitney on the pooled calls failed 6 pairs on
nothing (11 rows), the test on process medians 3 (6 rows); for rows timed in one process,
the per-call samples (Mann–Whitney U: no normality assumed, latency samples are skewed).
A 95% interval of the ratio is shown so a reader sees how sure each verdict is, from the
same unit as the test: Welch's interval on the process medians' logs (it excludes 1 exactly
when Welch's p < 0.05), else a bootstrap of the calls' medians. Runs from different devices,
software or configs, or rows that were `disturbed`/`failed`, are not judged at all (exit 3):
a gate that compares a hot board with a cool one produces false alarms. An `imprecise` row
(its interval wider than the target, bench/status.py) is judged when the test is on process
medians, since that test weighs exactly the processes' disagreement.

The host probe: each row stores the median of a fixed GEMM timed in the same rounds
(bench/host_probe.py), so the output always says how much faster or slower the host itself
ran in the current run. Host-speed correction (opt-in, `--host-correction`): before judging,
the current samples are divided by the host's speed ratio, the rows' common shift (the median
of their ratios) kept within `host_tolerance` of the probe's, so a slowdown of every row that
the probe did not see still counts. It is off by default because it did not earn its place:
over 40 pairs of back-to-back sweeps on this project's noisiest VMs it halved the false
SLOWER/FASTER rows but not the pairs that fail (25 vs 26), and it hid part of a slowdown of
every row (README, "fbench compare on a noisy host"). Rows on such a host also move apart
from each other, which no single host factor explains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench import host_probe
from bench.errors import EXIT_NOT_COMPARABLE, EXIT_OK, EXIT_REGRESSION
from bench.results import ResultRow, RunResult
from bench.status import IMPRECISE
from bench.timing import median

DEFAULT_THRESHOLD = 0.05
DEFAULT_ALPHA = 0.05
# How far the rows' common shift may stray from the probe's before the rest counts as the
# code's doing. Measured on the 2-core VMs: the probe tracked the rows' common shift within
# 2.6% through ±10% host swings.
DEFAULT_HOST_TOLERANCE = 0.025
BOOTSTRAP_RESAMPLES = 2000
# Too few samples give Mann–Whitney no power (n=3 vs 3 cannot reach p < 0.05).
MIN_SAMPLES = 5

# What must be equal for two runs to be the same experiment on the same device.
IDENTITY_FIELDS = ("machine", "cpu_model", "board_model", "torch")
CONFIG_FIELDS = ("device", "backend", "dtype", "layers", "quick")

# "not judged" / "not measured": verdicts, not row statuses (a row's status is one of
# bench.status.STATUSES); a row that could not be judged, or that failed in either run.
NOT_JUDGED, NOT_MEASURED = "not judged", "not measured"
VERDICTS = ("slower", "faster", "same", NOT_JUDGED, NOT_MEASURED, "missing", "new")


@dataclass(frozen=True)
class RowComparison:
    label: str  # e.g. "conv 96×56×56"
    baseline_ms: float | None
    current_ms: float | None
    change: float | None  # current / baseline − 1 of the medians
    ratio_ci95: tuple[float, float] | None  # 95% interval of current / baseline (see test)
    p_value: float | None  # two-sided, from `test`
    verdict: str  # one of VERDICTS
    reason: str = ""
    raw_change: float | None = None  # before host-speed correction (= change when none)
    # "mann-whitney": on the per-call samples; "welch-processes": Welch's t on the logs of
    # the per-process medians (both runs timed in several processes: bench/processes.py)
    test: str = "mann-whitney"


@dataclass(frozen=True)
class HostCorrection:
    """How much faster or slower the host itself ran in the current run (ratios, 1 = same)."""

    applied: bool
    factor: float = 1.0  # what the current samples were divided by
    probe_ratio: float | None = None  # the host probe's median ratio (current / baseline)
    rows_ratio: float | None = None  # the median of the rows' raw latency ratios
    tolerance: float = DEFAULT_HOST_TOLERANCE
    reason: str = ""  # why it was not applied, or how the factor was chosen

    def line(self) -> str:
        if not self.applied and self.probe_ratio is not None:
            return (
                f"the host itself ran {self.probe_ratio - 1:+.1%} in the current run "
                f"(host probe); not divided out ({self.reason})"
            )
        if not self.applied:
            return f"host-speed correction off: {self.reason}"
        return (
            f"host-speed correction {self.factor - 1:+.1%}: the host probe ran "
            f"{self.probe_ratio - 1:+.1%}, the rows together {self.rows_ratio - 1:+.1%}"
            f" ({self.reason}); changes below are corrected"
        )


@dataclass(frozen=True)
class Comparison:
    baseline: str  # run ids
    current: str
    threshold: float
    alpha: float
    rows: list[RowComparison]
    not_comparable: list[str] = field(default_factory=list)  # why the runs cannot be judged
    host: HostCorrection = field(default_factory=lambda: HostCorrection(False, reason="off"))

    @property
    def regressions(self) -> list[RowComparison]:
        return [row for row in self.rows if row.verdict == "slower"]

    @property
    def improvements(self) -> list[RowComparison]:
        return [row for row in self.rows if row.verdict == "faster"]

    @property
    def untrustworthy(self) -> list[RowComparison]:
        return [row for row in self.rows if row.verdict in (NOT_JUDGED, NOT_MEASURED, "missing")]

    def exit_code(self, fail_on_improvement: bool = False, allow_unstable: bool = False) -> int:
        """0 no significant regression; 1 regression (or improvement, if asked); 3 cannot judge.

        A regression among trustworthy rows is reported as such even when other rows could
        not be judged: it is real evidence. Different devices or configs are never judged.
        """
        if self.not_comparable:
            return EXIT_NOT_COMPARABLE
        if self.regressions or (fail_on_improvement and self.improvements):
            return EXIT_REGRESSION
        untrusted = [
            row for row in self.untrustworthy if not (allow_unstable and row.verdict == NOT_JUDGED)
        ]
        return EXIT_NOT_COMPARABLE if untrusted else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def comparability_problems(baseline: RunResult, current: RunResult) -> list[str]:
    """Why two runs are not the same experiment on the same device ([] when they are)."""
    problems = []
    for name in IDENTITY_FIELDS:
        a, b = baseline.environment.get(name), current.environment.get(name)
        if a != b:
            problems.append(f"{name} differs: baseline {a!r}, current {b!r}")
    for name in CONFIG_FIELDS:
        a, b = baseline.config.get(name), current.config.get(name)
        if a != b:
            problems.append(f"config {name} differs: baseline {a!r}, current {b!r}")
    a = (baseline.config.get("timing") or {}).get("method")
    b = (current.config.get("timing") or {}).get("method")
    if a != b:
        problems.append(f"timing method differs: baseline {a!r}, current {b!r}")
    for name in ("batch", "threads"):
        a = (baseline.config.get("device_settings") or {}).get(name)
        b = (current.config.get("device_settings") or {}).get(name)
        if a != b:
            problems.append(f"device setting {name} differs: baseline {a!r}, current {b!r}")
    return problems


# --- statistics (pure) ----------------------------------------------------------------------


def mann_whitney_p(baseline: Sequence[float], current: Sequence[float]) -> float:
    """Two-sided Mann–Whitney U p-value (exact for small samples without ties)."""
    from scipy.stats import mannwhitneyu

    result = mannwhitneyu(current, baseline, alternative="two-sided", method="auto")
    return float(result.pvalue)


def welch_p(baseline: Sequence[float], current: Sequence[float]) -> float:
    """Two-sided Welch t-test p-value on the logs of per-process medians (2+ on each side).

    The process, not the call, is the unit here: calls within one process share its luck
    (bench/processes.py), so testing the pooled calls as independent would call a shift
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
    a, b = numpy.asarray(baseline, dtype=float), numpy.asarray(current, dtype=float)
    medians_a = numpy.median(rng.choice(a, size=(resamples, a.size)), axis=1)
    medians_b = numpy.median(rng.choice(b, size=(resamples, b.size)), axis=1)
    low, high = numpy.percentile(medians_b / medians_a, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)


def host_speed_factor(
    probe_ratio: float, rows_ratio: float, tolerance: float = DEFAULT_HOST_TOLERANCE
) -> float:
    """The host's speed ratio to correct by: the rows' common shift, kept within `tolerance`
    of the probe's. Within it, the rows' own shift is the better estimate (memory-bound rows
    feel a clock swing less than the GEMM probe does); beyond it, the probe bounds it, so
    code that slowed every row is not explained away as a slow host."""
    low, high = probe_ratio * (1 - tolerance), probe_ratio * (1 + tolerance)
    return min(max(rows_ratio, low), high)


def host_correction(
    pairs: Sequence[tuple[ResultRow, ResultRow]],
    tolerance: float = DEFAULT_HOST_TOLERANCE,
    apply: bool = True,
) -> HostCorrection:
    """The host-speed correction for matched (baseline, current) rows with samples; with
    `apply=False` the probe's and the rows' ratios are still measured, for the report."""
    probed = [
        (base, cur)
        for base, cur in pairs
        if base.host_probe and cur.host_probe and base.samples_ms and cur.samples_ms
    ]
    if not pairs:
        return HostCorrection(False, tolerance=tolerance, reason="no rows to compare")
    if not probed:
        runs = sorted(
            {name for base, cur in pairs for name, row in (("baseline", base), ("current", cur))
             if not row.host_probe}
        )  # fmt: skip
        return HostCorrection(
            False,
            tolerance=tolerance,
            reason=f"no host probe in the {' and '.join(runs)} run "
            "(--method official, host_probe = false, or an older fbench)",
        )
    workloads = {row.host_probe.get("workload") for pair in probed for row in pair}
    if len(workloads) > 1:
        return HostCorrection(
            False, tolerance=tolerance, reason=f"different probe workloads: {sorted(workloads)}"
        )
    probe_ratio = median(
        [
            host_probe.speed_ratio(
                base.host_probe["round_medians_ms"], cur.host_probe["round_medians_ms"]
            )
            for base, cur in probed
        ]
    )
    rows_ratio = median([median(cur.samples_ms) / median(base.samples_ms) for base, cur in probed])
    if not apply:
        return HostCorrection(
            False, 1.0, probe_ratio, rows_ratio, tolerance, "--host-correction divides it out"
        )
    factor = host_speed_factor(probe_ratio, rows_ratio, tolerance)
    how = (
        "the rows' common shift"
        if factor == rows_ratio
        else f"the probe's ±{tolerance:.1%}, the rows moved further"
    )
    return HostCorrection(True, factor, probe_ratio, rows_ratio, tolerance, how)


def compare_samples(
    label: str,
    baseline: Sequence[float],
    current: Sequence[float],
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
    host_factor: float = 1.0,
    process_medians: tuple[Sequence[float], Sequence[float]] = ((), ()),
) -> RowComparison:
    """One row's verdict from its two sample sets (milliseconds); the current samples are
    divided by `host_factor` (how much slower the host itself ran) before they are judged.

    With per-process medians on both sides (2+ each), significance and the ratio's interval
    come from Welch's t on them (`welch_p`, `welch_ratio_ci`), otherwise from Mann–Whitney U
    and a bootstrap on the samples; the change is always that of the pooled medians."""
    base_ms, cur_ms = median(baseline), median(current)
    raw_change = cur_ms / base_ms - 1.0
    change = cur_ms / host_factor / base_ms - 1.0  # median(x / f) is median(x) / f
    if min(len(baseline), len(current)) < MIN_SAMPLES:
        return RowComparison(
            label, base_ms, cur_ms, change, None, None, NOT_JUDGED,
            f"too few samples to test ({len(baseline)} vs {len(current)}; need {MIN_SAMPLES})",
            raw_change,
        )  # fmt: skip
    base_processes, cur_processes = process_medians
    if min(len(base_processes), len(cur_processes)) >= 2:
        test = "welch-processes"
        cur_corrected = [value / host_factor for value in cur_processes]
        p_value = welch_p(base_processes, cur_corrected)
        interval = welch_ratio_ci(base_processes, cur_corrected)
    else:
        test = "mann-whitney"
        corrected = [value / host_factor for value in current] if host_factor != 1.0 else current
        p_value = mann_whitney_p(baseline, corrected)
        interval = bootstrap_ratio_ci(baseline, corrected)
    significant = p_value < alpha
    how = (
        f", Welch on {len(base_processes)} vs {len(cur_processes)} process medians"
        if test == "welch-processes"
        else ""
    )
    if significant and abs(change) > threshold:
        verdict = "slower" if change > 0 else "faster"
        reason = f"p={p_value:.2g}{how} < {alpha:g} and |{change:+.1%}| > {threshold:.0%}"
    else:
        verdict = "same"
        reason = (
            f"within the {threshold:.0%} threshold"
            if abs(change) <= threshold
            else f"not significant (p={p_value:.2g}{how})"
        )
    return RowComparison(
        label, base_ms, cur_ms, change, interval, p_value, verdict, reason, raw_change, test
    )


def _row_label(row: ResultRow) -> str:
    return f"{row.operator} {row.shape_label}"


def compare_runs(
    baseline: RunResult,
    current: RunResult,
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
    host_tolerance: float | None = None,
) -> Comparison:
    """Match rows by their identity (operator, params, shape, layers, batch, device, backend,
    dtype) and judge each; rows that were not trustworthy in either run are not judged.
    A `host_tolerance` switches the host-speed correction on; None (the default) judges raw
    medians and only reports how much the host probe moved."""
    problems = comparability_problems(baseline, current)
    # Table 1's order (operators as configured, then stages), not the order rows finished in.
    order = {name: i for i, name in enumerate(baseline.config.get("operators") or [])}
    ordered = sorted(baseline.rows, key=lambda r: (order.get(r.operator, len(order)), r.stage))
    base_rows = {row.key(): row for row in ordered}
    cur_rows = {row.key(): row for row in current.rows}
    if not problems and not set(base_rows) & set(cur_rows):
        problems.append("no row of the current run matches a row of the baseline")
    matched = [
        (base, cur_rows[key])
        for key, base in base_rows.items()
        if key in cur_rows and base.status != "failed" and cur_rows[key].status != "failed"
    ]
    host = host_correction(
        matched, host_tolerance or DEFAULT_HOST_TOLERANCE, apply=host_tolerance is not None
    )
    rows = []
    for key, base in base_rows.items():
        label = _row_label(base)
        cur = cur_rows.get(key)
        if cur is None:
            rows.append(RowComparison(label, base.latency, None, None, None, None, "missing",
                                      "not in the current run"))  # fmt: skip
            continue
        bad = [(name, r) for name, r in (("baseline", base), ("current", cur)) if r.status != "ok"]
        failed = [(name, r) for name, r in bad if r.status == "failed" or not r.samples_ms]
        if failed:
            name, r = failed[0]
            why = f"{name}: {r.error or 'no samples'}"
            rows.append(RowComparison(label, base.latency, cur.latency, None, None, None,
                                      NOT_MEASURED, why))  # fmt: skip
            continue
        judged = compare_samples(
            label, base.samples_ms, cur.samples_ms, threshold, alpha, host.factor,
            (base.process_medians_ms, cur.process_medians_ms),
        )  # fmt: skip
        # An imprecise row (its processes disagree by more than the target allows) is judged
        # like any other when the test is on process medians: that test already weighs the
        # disagreement (README, "Reliability of the gate").
        if judged.test == "welch-processes":
            bad = [(name, r) for name, r in bad if r.status != IMPRECISE]
        if bad and not _beyond_doubt(judged, threshold):
            # A row that is not ok cannot clear the gate, but a slowdown whose whole interval
            # lies beyond the threshold is still reported. Its own median is less certain than
            # the target, so significance plus a change just past the threshold is not enough:
            # Conv 768×7×7, imprecise in most runs here, read +5.2% slower on nothing.
            name, r = bad[0]
            why = r.why or (r.notes[0] if r.notes else ", ".join(r.reasons))
            judged = RowComparison(**{**asdict(judged), "verdict": NOT_JUDGED,
                                      "reason": f"{name} row {r.status}: {why}"})  # fmt: skip
        rows.append(judged)
    for key, cur in cur_rows.items():
        if key not in base_rows:
            rows.append(RowComparison(_row_label(cur), None, cur.latency, None, None, None,
                                      "new", "not in the baseline"))  # fmt: skip
    return Comparison(baseline.run_id, current.run_id, threshold, alpha, rows, problems, host)


def _beyond_doubt(judged: RowComparison, threshold: float) -> bool:
    """SLOWER, and the whole 95% interval of the ratio lies beyond the threshold."""
    return (
        judged.verdict == "slower"
        and judged.ratio_ci95 is not None
        and judged.ratio_ci95[0] > 1.0 + threshold
    )


# --- rendering (pure: strings from a Comparison) ----------------------------------------------


def _ms(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def _percent(value: float | None) -> str:
    return f"{value:+.1%}" if value is not None else "—"


def table_rows(comparison: Comparison) -> tuple[list[str], list[list[str]]]:
    corrected = comparison.host.applied
    headers = ["row", "baseline ms", "current ms", *(["raw change"] if corrected else [])]
    headers += ["change", "ratio 95% CI", "p", "verdict"]
    body = []
    for row in comparison.rows:
        body.append(
            [
                row.label,
                _ms(row.baseline_ms),
                _ms(row.current_ms),
                *([_percent(row.raw_change)] if corrected else []),
                _percent(row.change),
                f"{row.ratio_ci95[0]:.3f}–{row.ratio_ci95[1]:.3f}" if row.ratio_ci95 else "—",
                f"{row.p_value:.2g}" if row.p_value is not None else "—",
                row.verdict.upper() if row.verdict in ("slower", "faster") else row.verdict,
            ]
        )
    return headers, body


def summary_line(comparison: Comparison, code: int) -> str:
    if comparison.not_comparable:
        return "NOT COMPARABLE: " + "; ".join(comparison.not_comparable)
    counts = {v: sum(r.verdict == v for r in comparison.rows) for v in VERDICTS}
    parts = [f"{n} {v}" for v, n in counts.items() if n]
    verdict = {
        EXIT_OK: "no significant regression",
        EXIT_REGRESSION: "REGRESSION"
        if comparison.regressions
        else "IMPROVEMENT (refresh the baseline)",
        EXIT_NOT_COMPARABLE: "NOT TRUSTWORTHY: rows not judged, not measured or missing",
    }[code]
    return (
        f"{verdict} — {', '.join(parts)} (threshold {comparison.threshold:.0%}, "
        f"α={comparison.alpha:g})"
    )


def render_text(comparison: Comparison, code: int) -> str:
    from tabulate import tabulate

    headers, body = table_rows(comparison)
    lines = [f"baseline {comparison.baseline}  →  current {comparison.current}"]
    if body and not comparison.not_comparable:
        lines += ["", tabulate(body, headers=headers, disable_numparse=True)]
        lines += ["", comparison.host.line()]
    lines += ["", summary_line(comparison, code)]
    return "\n".join(lines)


def render_markdown(comparison: Comparison, code: int) -> str:
    headers, body = table_rows(comparison)
    lines = [f"### fbench compare: `{comparison.baseline}` → `{comparison.current}`", ""]
    if body and not comparison.not_comparable:
        lines.append("| " + " | ".join(headers) + " |")
        lines.append("|" + "---|" * len(headers))
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        lines += ["", comparison.host.line(), ""]
    lines.append(f"**{summary_line(comparison, code)}**")
    return "\n".join(lines) + "\n"
