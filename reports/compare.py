"""The regression gate: two stored runs → per-row verdicts and one exit code. Never measures.

A change is reported only when it is both statistically significant and larger than a
practical threshold (default 5%): on a noisy board, significance alone flags tiny real drifts
and a threshold alone flags noise. Significance is tested on the unit that varies
independently: for rows timed in several processes (bench/measure/processes.py), the per-process
medians (Welch's t on their logs), because calls within a process share its luck (on pairs
of back-to-back sweeps, Mann–Whitney on the pooled calls failed about twice as many pairs on
nothing: docs/regression-gate.md); for rows timed in one process,
the per-call samples (Mann–Whitney U: no normality assumed, latency samples are skewed).
A 95% interval of the ratio is shown so a reader sees how sure each verdict is, from the
same unit as the test: Welch's interval on the process medians' logs (it excludes 1 exactly
when Welch's p < 0.05), else a bootstrap of the calls' medians. Runs that are not the same
experiment (`experiment`: device, software versions, config and method, each a named key)
are not judged at all (exit 3), unless the caller accepts chosen keys on purpose. Rows that
were `disturbed`/`failed` are not judged either (exit 3): a gate that compares a hot board
with a cool one produces false alarms. The exceptions: an `imprecise` row (its interval
wider than the target, bench/results/status.py) is judged when the test is on process medians,
since that test weighs exactly the processes' disagreement; and `allow_unstable` judges
every row held back like an ok one (a slowdown among them is a regression).

The host probe: each row stores the median of a fixed GEMM timed in the same rounds
(bench/measure/host_probe.py), so the output always says how much faster or slower the host itself
ran in the current run. Host-speed correction (opt-in, `--host-correction`): before judging,
the current samples are divided by the host's speed ratio, the rows' common shift (the median
of their ratios) kept within `host_tolerance` of the probe's, so a slowdown of every row that
the probe did not see still counts. It is off by default because it did not earn its place:
on back-to-back sweeps it halved the false SLOWER/FASTER rows but not the pairs that fail,
and it hid part of a slowdown of every row (docs/methodology.md, "Host-speed correction in
the gate"). Rows on such a host also move apart from each other, which no single host
factor explains.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bench.config.model import COMPARE_DEFAULTS, TimingConfig
from bench.errors import EXIT_NOT_COMPARABLE, EXIT_OK, EXIT_REGRESSION
from bench.measure import host_probe
from bench.results import ResultRow, RunResult
from bench.results.status import FAILED, IMPRECISE, OK
from bench.stats.timing import median

# One source for the defaults: bench.toml's [compare] table falls back to the same values.
DEFAULT_THRESHOLD: float = COMPARE_DEFAULTS["threshold"]
DEFAULT_ALPHA: float = COMPARE_DEFAULTS["alpha"]
# How far the rows' common shift may stray from the probe's before the rest counts as the
# code's doing: on the project's VMs the probe tracked the rows' common shift within a few
# percent through much larger host swings (docs/methodology.md).
DEFAULT_HOST_TOLERANCE: float = COMPARE_DEFAULTS["host_tolerance"]
BOOTSTRAP_RESAMPLES = 2000
# Too few samples give Mann–Whitney no power (n=3 vs 3 cannot reach p < 0.05).
MIN_SAMPLES = 5

# What must be equal for two runs to be the same experiment on the same device, by the name
# `--accept-difference` takes. Every device setting (batch, threads, pin_core, malloc, a
# GPU's tf32...) is a key too, under its own name: `experiment`. malloc alone moved
# DWConv 96×56×56 from 3.4 to 7.5 ms, so a method key that differs is not a regression.
RUN_KEYS = (
    "machine",
    "cpu_model",
    "board_model",
    "device",
    "backend",
    "backend_options",
    "dtype",
    "layers",
    "quick",
    "method",
    "schedule",
    "processes",
    "latency_estimator",
    "torch",
    "onnxruntime",
)

# Verdicts of a row. SLOWER and FASTER are measured changes; UNTRUSTED ones make the gate
# exit 3 when nothing is slower.
# "not judged" / "not measured" are verdicts, not row statuses (bench.results.status.STATUSES): a
# row held back because of its stored status or too few samples, and a row that failed.
SLOWER, FASTER, SAME, NOT_JUDGED, NOT_MEASURED, MISSING, NEW = VERDICTS = (
    "slower", "faster", "same", "not judged", "not measured", "missing", "new",
)  # fmt: skip
UNTRUSTED = (NOT_JUDGED, NOT_MEASURED, MISSING)


# --- row statuses: every test of a stored row's status is one of these -----------------------


def row_is_ok(row: ResultRow) -> bool:
    """Trustworthy as stored: judged without conditions."""
    return row.status == OK


def row_has_failed(row: ResultRow) -> bool:
    """Nothing to judge: the row failed, or has no samples."""
    return row.status == FAILED or not row.samples_ms


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
    # the per-process medians (both runs timed in several processes: bench/measure/processes.py)
    test: str = "mann-whitney"
    # A row held back as NOT_JUDGED because of its stored status: what the test said of it
    # (SLOWER, FASTER or SAME), which `allow_unstable` uses as its verdict.
    judged: str | None = None


@dataclass(frozen=True)
class Difference:
    """One key (RUN_KEYS or a device setting) on which two runs are not the same experiment."""

    key: str
    baseline: Any
    current: Any

    def line(self) -> str:
        return (
            f"{self.key} differs: baseline {_shown(self.baseline)}, current {_shown(self.current)}"
        )


def _shown(value: Any) -> str:
    return "not recorded" if value is None else repr(value)


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
    accepted: list[str] = field(default_factory=list)  # differences accepted on purpose
    # Host-probe failures stored in either run, in words (bench/measure/host_probe.py).
    host_probe_failures: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[RowComparison]:
        return [row for row in self.rows if row.verdict == SLOWER]

    @property
    def improvements(self) -> list[RowComparison]:
        return [row for row in self.rows if row.verdict == FASTER]

    @property
    def untrustworthy(self) -> list[RowComparison]:
        return [row for row in self.rows if row.verdict in UNTRUSTED]

    def exit_code(self, fail_on_improvement: bool = False, allow_unstable: bool = False) -> int:
        """0 no significant regression; 1 regression (or improvement, if asked); 3 cannot judge.

        A regression among trustworthy rows is reported as such even when other rows could
        not be judged: it is real evidence. Runs that are not the same experiment are never
        judged. `allow_unstable` judges rows held back as NOT_JUDGED by what their test said
        (as `compare_runs(allow_unstable=True)` does): a slowdown among them exits 1.
        """
        if self.not_comparable:
            return EXIT_NOT_COMPARABLE
        verdicts = [
            row.judged if allow_unstable and row.judged is not None else row.verdict
            for row in self.rows
        ]
        if SLOWER in verdicts or (fail_on_improvement and FASTER in verdicts):
            return EXIT_REGRESSION
        return EXIT_NOT_COMPARABLE if any(v in UNTRUSTED for v in verdicts) else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the experiment ----------------------------------------------------------------------


def experiment(run: RunResult) -> dict[str, Any]:
    """The keys that make a run the experiment it is (RUN_KEYS and every device setting)."""
    env, config = run.environment, run.config
    timing = config.get("timing") or {}
    keys = dict(config.get("device_settings") or {})
    keys.update(
        machine=env.get("machine"),
        cpu_model=env.get("cpu_model"),
        board_model=env.get("board_model"),
        device=config.get("device"),
        backend=config.get("backend"),
        backend_options=config.get("backend_options") or {},
        dtype=config.get("dtype"),
        layers=config.get("layers"),
        quick=config.get("quick", False),
        # Missing in older files: what loading them as a RunConfig assumes.
        method=timing.get("method", TimingConfig.method),
        schedule=timing.get("schedule", TimingConfig.schedule),
        processes=timing.get("processes", 1),  # stored before it existed: one process
        latency_estimator=", ".join(sorted({row.latency_estimator for row in run.rows})) or None,
        torch=env.get("torch"),
        onnxruntime=env.get("onnxruntime"),
    )
    return keys


def experiment_keys(*runs: RunResult) -> list[str]:
    """Every key `--accept-difference` may name for these runs."""
    return sorted({key for run in runs for key in experiment(run)})


def differences(baseline: RunResult, current: RunResult) -> list[Difference]:
    """The keys on which two runs are not the same experiment ([] when they are)."""
    a, b = experiment(baseline), experiment(current)
    # onnxruntime times only its own backend's rows: its version is part of the experiment
    # when both runs used that backend (a change of backend is the backend key's).
    if not a.get("backend") == b.get("backend") == "onnxruntime":
        a["onnxruntime"] = b["onnxruntime"] = None
    names = [*RUN_KEYS, *sorted((set(a) | set(b)) - set(RUN_KEYS))]
    return [
        Difference(name, a.get(name), b.get(name)) for name in names if a.get(name) != b.get(name)
    ]


def comparability_problems(
    baseline: RunResult, current: RunResult, accept: Collection[str] = ()
) -> tuple[list[str], list[str]]:
    """Why two runs are not the same experiment ([] when they are), and the differences the
    caller accepted on purpose (e.g. a torch upgrade), each as a line."""
    found = differences(baseline, current)
    return (
        [d.line() for d in found if d.key not in accept],
        [d.line() for d in found if d.key in accept],
    )


# --- statistics (pure) ----------------------------------------------------------------------


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
    failures: Sequence[tuple[str, str]] = (),
) -> HostCorrection:
    """The host-speed correction for matched (baseline, current) rows with samples; with
    `apply=False` the probe's and the rows' ratios are still measured, for the report.
    `failures`: (run id, words) of runs whose host probe failed (`_probe_failures`)."""
    probed = [
        (base, cur)
        for base, cur in pairs
        if host_probe.rounds_of(base) and host_probe.rounds_of(cur)
        and base.samples_ms and cur.samples_ms
    ]  # fmt: skip
    if not pairs:
        return HostCorrection(False, tolerance=tolerance, reason="no rows to compare")
    if not probed:
        if failures:  # the probe was on but failed: say so, not that it was switched off
            return HostCorrection(
                False, tolerance=tolerance, reason="; ".join(words for _, words in failures)
            )
        runs = sorted(
            {name for base, cur in pairs for name, row in (("baseline", base), ("current", cur))
             if not host_probe.rounds_of(row)}
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
        verdict = SLOWER if change > 0 else FASTER
        reason = f"p={p_value:.2g}{how} < {alpha:g} and |{change:+.1%}| > {threshold:.0%}"
    else:
        verdict = SAME
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
    accept: Collection[str] = (),
    allow_unstable: bool = False,
) -> Comparison:
    """Match rows by their identity (operator, params, shape, layers, batch, device, backend,
    dtype) and judge each; rows that were not trustworthy in either run are not judged unless
    `allow_unstable`. Runs that differ on an experiment key (`experiment`) are not judged
    unless the key is in `accept`. A `host_tolerance` switches the host-speed correction on;
    None (the default) judges raw medians and only reports how much the host probe moved."""
    problems, accepted = comparability_problems(baseline, current, accept)
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
        if key in cur_rows and not row_has_failed(base) and not row_has_failed(cur_rows[key])
    ]
    failures = _probe_failures(baseline, current)
    host = host_correction(
        matched,
        host_tolerance or DEFAULT_HOST_TOLERANCE,
        apply=host_tolerance is not None,
        failures=failures,
    )
    rows = []
    for key, base in base_rows.items():
        cur = cur_rows.get(key)
        if cur is None:
            rows.append(RowComparison(_row_label(base), base.latency, None, None, None, None,
                                      MISSING, "not in the current run"))  # fmt: skip
            continue
        rows.append(_judge_row(base, cur, threshold, alpha, host.factor, allow_unstable))
    for key, cur in cur_rows.items():
        if key not in base_rows:
            rows.append(RowComparison(_row_label(cur), None, cur.latency, None, None, None,
                                      NEW, "not in the baseline"))  # fmt: skip
    return Comparison(
        baseline.run_id, current.run_id, threshold, alpha, rows, problems, host,
        accepted, [words for _, words in failures],
    )  # fmt: skip


def _judge_row(
    base: ResultRow,
    cur: ResultRow,
    threshold: float,
    alpha: float,
    host_factor: float,
    allow_unstable: bool,
) -> RowComparison:
    """One matched row's verdict, its stored statuses considered."""
    label = _row_label(base)
    pair = (("baseline", base), ("current", cur))
    failed = [(name, r) for name, r in pair if row_has_failed(r)]
    if failed:
        name, r = failed[0]
        return RowComparison(label, base.latency, cur.latency, None, None, None, NOT_MEASURED,
                             f"{name}: {r.error or 'no samples'}")  # fmt: skip
    judged = compare_samples(
        label, base.samples_ms, cur.samples_ms, threshold, alpha, host_factor,
        (base.process_medians_ms, cur.process_medians_ms),
    )  # fmt: skip
    # An imprecise row (its processes disagree by more than the target allows) is judged like
    # any other when the test is on process medians: that test already weighs the
    # disagreement (docs/regression-gate.md).
    flagged = [
        (name, r)
        for name, r in pair
        if not row_is_ok(r) and not (judged.test == "welch-processes" and r.status == IMPRECISE)
    ]
    if not flagged or judged.verdict == NOT_JUDGED:  # ok rows, or too few samples to test
        return judged
    name, r = flagged[0]
    why = f"{name} row {r.status}: {r.why or (r.notes[0] if r.notes else ', '.join(r.reasons))}"
    if allow_unstable:
        # Judged like an ok row: a slowdown among these rows is a regression (exit 1).
        return replace(judged, reason=f"{judged.reason}; {why} (judged: --allow-unstable)")
    if _beyond_doubt(judged, threshold):
        return judged
    # A row held back cannot clear the gate, but a slowdown whose whole interval lies beyond
    # the threshold is still reported (above). Its own median is less certain than the
    # target, so significance plus a change just past the threshold is not enough
    # (docs/regression-gate.md).
    return replace(judged, verdict=NOT_JUDGED, reason=why, judged=judged.verdict)


def _probe_failures(*runs: RunResult) -> list[tuple[str, str]]:
    """(run id, words) for each run whose host probe failed (bench/measure/host_probe.py)."""
    found = []
    for run in runs:
        failure = host_probe.run_failure(run.rows)
        if failure is not None:
            found.append((run.run_id, host_probe.failure_words(failure, run.run_id)))
    return found


def _beyond_doubt(judged: RowComparison, threshold: float) -> bool:
    """SLOWER, and the whole 95% interval of the ratio lies beyond the threshold."""
    return (
        judged.verdict == SLOWER
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
                row.verdict.upper() if row.verdict in (SLOWER, FASTER) else row.verdict,
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
    lines += [f"accepted on purpose: {line}" for line in comparison.accepted]
    if body and not comparison.not_comparable:
        lines += ["", tabulate(body, headers=headers, disable_numparse=True)]
        lines += ["", comparison.host.line(), *_probe_failure_lines(comparison)]
    lines += ["", summary_line(comparison, code)]
    return "\n".join(lines)


def _probe_failure_lines(comparison: Comparison) -> list[str]:
    """The probe failures, unless the host line already says them."""
    return [line for line in comparison.host_probe_failures if line not in comparison.host.line()]


def render_markdown(comparison: Comparison, code: int) -> str:
    headers, body = table_rows(comparison)
    lines = [f"### fbench compare: `{comparison.baseline}` → `{comparison.current}`", ""]
    if comparison.accepted:
        lines += [f"accepted on purpose: {line}  " for line in comparison.accepted] + [""]
    if body and not comparison.not_comparable:
        lines.append("| " + " | ".join(headers) + " |")
        lines.append("|" + "---|" * len(headers))
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        lines += ["", comparison.host.line(), *_probe_failure_lines(comparison), ""]
    lines.append(f"**{summary_line(comparison, code)}**")
    return "\n".join(lines) + "\n"
