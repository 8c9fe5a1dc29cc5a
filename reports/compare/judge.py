"""The gate's judgement: two stored runs → one verdict per row (reports/compare/verdicts.py).

A change is reported only when it is both statistically significant and larger than a
practical threshold (default 5%): on a noisy board, significance alone flags tiny real drifts
and a threshold alone flags noise (the tests: reports/compare/statistics.py). Runs that are
not the same experiment are not judged at all (reports/compare/comparability.py). Rows that
were `disturbed`/`failed` are not judged either (exit 3): a gate that compares a hot board
with a cool one produces false alarms. The exceptions: an `imprecise` row (its interval
wider than the target, bench/results/status.py) and a row `disturbed` only because the host
shifted within a process (`host_moved`) are judged when the test is on process medians,
since that test weighs exactly the processes' disagreement; and `allow_unstable` judges
every row held back like an ok one (a slowdown among them is a regression).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from fbench.bench.results import ResultRow, RunResult
from fbench.bench.results.status import (
    FAILED,
    HOST_MOVED,
    INTERVAL_WIDE,
    OK,
    PROCESSES_DIFFER,
)
from fbench.bench.stats.paired import pairing_words
from fbench.bench.stats.timing import geometric_mean, median
from fbench.reports.compare.comparability import comparability_problems
from fbench.reports.compare.host import host_correction, probe_failures
from fbench.reports.compare.normalised import can_pair, normalised_row
from fbench.reports.compare.statistics import bootstrap_ratio, welch_p, welch_ratio_ci
from fbench.reports.compare.verdicts import (
    DEFAULT_ALPHA,
    DEFAULT_HOST_TOLERANCE,
    DEFAULT_THRESHOLD,
    FASTER,
    MISSING,
    NEW,
    NOT_JUDGED,
    NOT_MEASURED,
    SAME,
    SLOWER,
    Comparison,
    RowComparison,
    percent_text,
)

# The stored reasons a test on process medians judges through (both gates): the host's drift
# within a process (it moved that process's median, which the test weighs against the
# others; the anchors gate also divides it out) and a wide interval (weighed by the test).
NORMALISED_JUDGES = (HOST_MOVED, INTERVAL_WIDE, PROCESSES_DIFFER)

# Too few samples give a test no power (n=3 vs 3 cannot reach p < 0.05).
MIN_SAMPLES = 5


# --- row statuses: every test of a stored row's status is one of these -----------------------


def row_is_ok(row: ResultRow) -> bool:
    """Trustworthy as stored: judged without conditions."""
    return row.status == OK


def row_has_failed(row: ResultRow) -> bool:
    """Nothing to judge: the row failed, or has no samples."""
    return row.status == FAILED or not row.samples_ms


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

    With per-process medians on both sides (2+ each), the change is the ratio of their
    geometric means, and significance and the interval come from Welch's t on their logs
    (`welch_p`, `welch_ratio_ci`: centred on that ratio); otherwise the change is the ratio
    of the calls' medians, and the interval and p-value come from a bootstrap of that ratio
    (`bootstrap_ratio`). Change, interval and test are about the same quantity."""
    base_processes, cur_processes = process_medians
    by_process = min(len(base_processes), len(cur_processes)) >= 2
    if by_process:
        base_ms, cur_ms = geometric_mean(base_processes), geometric_mean(cur_processes)
    else:
        base_ms, cur_ms = median(baseline), median(current)
    raw_change = cur_ms / base_ms - 1.0
    change = cur_ms / host_factor / base_ms - 1.0  # median(x / f) is median(x) / f
    if min(len(baseline), len(current)) < MIN_SAMPLES:
        return RowComparison(
            label, base_ms, cur_ms, change, None, None, NOT_JUDGED,
            f"too few samples to test ({len(baseline)} vs {len(current)}; need {MIN_SAMPLES})",
            raw_change,
        )  # fmt: skip
    if by_process:
        test = "welch-processes"
        cur_corrected = [value / host_factor for value in cur_processes]
        p_value = welch_p(base_processes, cur_corrected)
        interval = welch_ratio_ci(base_processes, cur_corrected)
    else:
        test = "bootstrap-medians"
        corrected = [value / host_factor for value in current] if host_factor != 1.0 else current
        interval, p_value = bootstrap_ratio(baseline, corrected)
    significant = p_value < alpha
    how = (
        f", Welch on {len(base_processes)} vs {len(cur_processes)} process medians"
        if test == "welch-processes"
        else ""
    )
    if significant and abs(change) > threshold:
        verdict = SLOWER if change > 0 else FASTER
        reason = f"p={p_value:.2g}{how} < {alpha:g} and |{change:+.1%}| > {percent_text(threshold)}"
    else:
        verdict = SAME
        reason = (
            f"within the {percent_text(threshold)} threshold"
            if abs(change) <= threshold
            else f"not significant (p={p_value:.2g}{how})"
        )
    return RowComparison(
        label, base_ms, cur_ms, change, interval, p_value, verdict, reason, raw_change, test
    )


def _row_label(row: ResultRow) -> str:
    return f"{row.operator} {row.shape_label}"


def unfinished_runs(baseline: RunResult, current: RunResult) -> list[str]:
    """One line for each run whose file is not `complete`: its missing rows are a stopped
    run, not a change of the code, and `fbench run --resume` finishes it."""
    lines = []
    for name, run in (("baseline", baseline), ("current", current)):
        if run.state == "complete":
            continue
        rows = f"{len(run.rows)} of {run.rows_planned}" if run.rows_planned else len(run.rows)
        lines.append(
            f"{name} run {run.run_id} is {run.state} ({rows} rows): "
            f"`fbench run --resume {run.run_id}` completes it"
        )
    return lines


def compare_runs(
    baseline: RunResult,
    current: RunResult,
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
    host_tolerance: float | None = None,
    accept: Collection[str] = (),
    allow_unstable: bool = False,
    gate: str = "plain",
) -> Comparison:
    """Match rows by their identity (operator, params, shape, layers, batch, device, backend,
    dtype) and judge each; rows that were not trustworthy in either run are not judged unless
    `allow_unstable`. Runs that differ on an experiment key (`experiment`) are not judged
    unless the key is in `accept`. A `host_tolerance` switches the host-speed correction on;
    None (the default) judges raw medians and only reports how much the host probe moved.
    `gate="anchors"` judges each row on its time against an anchor timed in the same rounds
    (reports/compare/normalised.py) where both runs stored per-round medians, and by the
    plain method, saying so, where they did not."""
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
    failures = probe_failures(baseline, current)
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
        else:
            rows.append(_judge_row(base, cur, threshold, alpha, host.factor, allow_unstable, gate))
        rows[-1] = replace(rows[-1], identity=base.key_fields())
    for key, cur in cur_rows.items():
        if key not in base_rows:
            new = RowComparison(_row_label(cur), None, cur.latency, None, None, None, NEW,
                                "not in the baseline", identity=cur.key_fields())  # fmt: skip
            rows.append(new)
    return Comparison(
        baseline.run_id, current.run_id, threshold, alpha, rows, problems, host,
        accepted, [words for _, words in failures], unfinished_runs(baseline, current),
        gate, _gate_lines(gate, matched),
    )  # fmt: skip


def _gate_lines(gate: str, matched: Sequence[tuple[ResultRow, ResultRow]]) -> list[str]:
    """What the anchors gate did: every row normalised, or which were judged plainly and why."""
    if gate != "anchors":
        return []
    plain = [
        (base, words)
        for base, cur in matched
        for words in [pairing_words(base) or pairing_words(cur)]
        if words
    ]
    if not plain:
        return ["gate: each row against the anchor timed in its rounds (GEMM, copy or small conv)"]
    return [
        f"gate: {len(plain)} of {len(matched)} rows judged by the plain method, the runs "
        f"{plain[0][1]}"
    ]


def _judge_row(
    base: ResultRow,
    cur: ResultRow,
    threshold: float,
    alpha: float,
    host_factor: float,
    allow_unstable: bool,
    gate: str = "plain",
) -> RowComparison:
    """One matched row's verdict, its stored statuses considered."""
    label = _row_label(base)
    pair = (("baseline", base), ("current", cur))
    failed = [(name, r) for name, r in pair if row_has_failed(r)]
    if failed:
        name, r = failed[0]
        return RowComparison(label, base.latency, cur.latency, None, None, None, NOT_MEASURED,
                             f"{name}: {r.error or 'no samples'}")  # fmt: skip
    normalised = (
        normalised_row(label, base, cur, threshold, alpha)
        if gate == "anchors" and can_pair(base) and can_pair(cur)
        else None
    )
    if normalised is not None:
        # A host that moved is what the anchors divide out, and the test weighs the
        # processes' disagreement: only the other disturbances hold such a row back.
        held = [
            (name, r) for name, r in pair if set(r.reasons) - set(NORMALISED_JUDGES) and r.reasons
        ]
        if not held or normalised.verdict == NOT_JUDGED:
            return normalised
        return _held_back(normalised, held[0], threshold, allow_unstable)
    judged = compare_samples(
        label, base.samples_ms, cur.samples_ms, threshold, alpha, host_factor,
        (base.process_medians_ms, cur.process_medians_ms),
    )  # fmt: skip
    # When the test is on process medians, a row held back only for what those medians carry
    # is judged like any other: an imprecise row (its processes disagree) and a row whose
    # host shifted within a process (`host_moved`: that process's median moved with it, and
    # Welch's test weighs it against the others). Other disturbances still hold a row back
    # (docs/regression-gate.md).
    flagged = [
        (name, r)
        for name, r in pair
        if not row_is_ok(r)
        and not (judged.test == "welch-processes" and set(r.reasons) <= set(NORMALISED_JUDGES))
    ]
    if not flagged or judged.verdict == NOT_JUDGED:  # ok rows, or too few samples to test
        return judged
    return _held_back(judged, flagged[0], threshold, allow_unstable)


def _held_back(
    judged: RowComparison,
    flagged: tuple[str, ResultRow],
    threshold: float,
    allow_unstable: bool,
) -> RowComparison:
    """A row whose stored status holds it back: not judged, unless `allow_unstable` or a
    slowdown beyond doubt."""
    name, r = flagged
    why = f"{name} row {r.status}: {r.why or (r.notes[0] if r.notes else ', '.join(r.reasons))}"
    if allow_unstable:
        # Judged like an ok row: a slowdown among these rows is a regression (exit 1).
        return replace(
            judged,
            reason=f"{judged.reason}; {why} (judged because of --allow-unstable)",
            allowed_unstable=True,
        )
    if _beyond_doubt(judged, threshold):
        return judged
    # A row held back cannot clear the gate, but a slowdown whose whole interval lies beyond
    # the threshold is still reported (above). Its own median is less certain than the
    # target, so significance plus a change just past the threshold is not enough
    # (docs/regression-gate.md).
    return replace(judged, verdict=NOT_JUDGED, reason=why, judged=judged.verdict)


def _beyond_doubt(judged: RowComparison, threshold: float) -> bool:
    """SLOWER, and the whole 95% interval of the ratio lies beyond the threshold."""
    return (
        judged.verdict == SLOWER
        and judged.ratio_ci95 is not None
        and judged.ratio_ci95[0] > 1.0 + threshold
    )
