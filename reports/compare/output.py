"""The gate's output: a Comparison as a `Report` (its table and the prose around it) in the
terminal's words or as Markdown for a CI summary, printed through reports/render.py; and as
tidy records for --format csv|json (`comparison_export`: a record per row, the verdict and
exit code in the summary record)."""

from __future__ import annotations

from fbench.bench.errors import EXIT_NOT_COMPARABLE, EXIT_REGRESSION
from fbench.reports.compare.verdicts import (
    FASTER,
    SAME,
    SLOWER,
    VERDICTS,
    Comparison,
    RowComparison,
    percent_text,
)
from fbench.reports.formatting import format_change, format_ms, format_p
from fbench.reports.render import render
from fbench.reports.table import Layout, Report, Table
from fbench.reports.tidy import Export, Records, params_text


def shown_reason(row: RowComparison) -> str:
    """Why a row got its verdict, where that is news: every verdict but a plain `same` (a
    slowdown's test, why a row was not judged or measured, --allow-unstable's judgement)."""
    return row.reason if row.verdict != SAME or row.allowed_unstable else ""


def comparison_table(comparison: Comparison) -> Table:
    """One line per row: medians, change (raw and corrected when the host correction is on),
    the ratio's interval, p, the verdict and, when any row has one, its reason."""
    corrected = comparison.host.applied
    reasons = [shown_reason(row) for row in comparison.rows]
    headers = ["row", "baseline ms", "current ms", *(["raw change"] if corrected else [])]
    headers += ["change", "ratio 95% CI", "p", "verdict", *(["reason"] if any(reasons) else [])]
    formats = [str, format_ms, format_ms, *([format_change] if corrected else [])]
    formats += [format_change, str, format_p, str, *([str] if any(reasons) else [])]
    rows: list[list[object]] = []
    for row, reason in zip(comparison.rows, reasons, strict=True):
        rows.append(
            [
                row.label,
                row.baseline_ms,
                row.current_ms,
                *([row.raw_change] if corrected else []),
                row.change,
                f"{row.ratio_ci95[0]:.3f}–{row.ratio_ci95[1]:.3f}" if row.ratio_ci95 else None,
                row.p_value,
                row.verdict.upper() if row.verdict in (SLOWER, FASTER) else row.verdict,
                *([reason] if any(reasons) else []),
            ]
        )
    return Table(
        headers, rows, formats=formats, layout=Layout(padded_markdown=False), key_columns=1
    )


def overall_verdict(comparison: Comparison, code: int) -> str:
    """The whole comparison in one word, as the summary line says it: "pass", "regression",
    "improvement" (with --fail-on-improvement), "not trustworthy" or "not comparable"."""
    if comparison.not_comparable:
        return "not comparable"
    if code == EXIT_REGRESSION:
        return "regression" if comparison.regressions else "improvement"
    return "not trustworthy" if code == EXIT_NOT_COMPARABLE else "pass"


def summary_line(comparison: Comparison, code: int) -> str:
    if comparison.not_comparable:
        return "NOT COMPARABLE: " + "; ".join(comparison.not_comparable)
    counts = {v: sum(r.verdict == v for r in comparison.rows) for v in VERDICTS}
    parts = [f"{n} {v}" for v, n in counts.items() if n]
    verdict = {
        "pass": "no significant regression",
        "regression": "REGRESSION",
        "improvement": "IMPROVEMENT (refresh the baseline)",
        "not trustworthy": "NOT TRUSTWORTHY: rows not judged, not measured or missing",
    }[overall_verdict(comparison, code)]
    return (
        f"{verdict} — {', '.join(parts)} (threshold {percent_text(comparison.threshold)}, "
        f"α={comparison.alpha:g})"
    )


def comparison_report(comparison: Comparison, code: int, fmt: str = "text") -> Report:
    """The runs compared and the differences accepted on purpose above the table; the host's
    speed and the verdict below it. Runs not judged get no table. `fmt` "md" words the same
    lines as Markdown (a heading, hard line breaks, a bold verdict, a last newline)."""
    markdown = fmt == "md"
    summary = summary_line(comparison, code)
    if markdown:
        before = [f"### fbench compare: `{comparison.baseline}` → `{comparison.current}`", ""]
        accepted = [f"accepted on purpose: {line}" for line in comparison.accepted]
        notes = [*comparison.unfinished_runs, *accepted]
        before += [f"{line}  " for line in notes]
        before += [""] if notes else []
        closing = [f"**{summary}**", ""]
    else:
        before = [f"baseline {comparison.baseline}  →  current {comparison.current}"]
        before += comparison.unfinished_runs
        before += [f"accepted on purpose: {line}" for line in comparison.accepted]
        closing = ["", summary]
    if not comparison.rows or comparison.not_comparable:
        return Report(None, before, closing)
    host = ["", comparison.host.line(), *_probe_failure_lines(comparison), *comparison.gate_lines]
    if markdown:
        return Report(comparison_table(comparison), before, [*host, "", *closing])
    return Report(comparison_table(comparison), [*before, ""], [*host, *closing])


def _probe_failure_lines(comparison: Comparison) -> list[str]:
    """The probe failures, unless the host line already says them."""
    return [line for line in comparison.host_probe_failures if line not in comparison.host.line()]


def render_text(comparison: Comparison, code: int, width: int | None = None) -> str:
    return render(comparison_report(comparison, code, "text"), "text", width=width)


def render_markdown(comparison: Comparison, code: int) -> str:
    return render(comparison_report(comparison, code, "md"), "md")


# A compared row's record (`fbench compare --format csv|json`): what the row is (its key's
# fields), both medians, the change (current / baseline − 1, corrected for the host's speed
# when that is on; `raw_change` before), the ratio's 95% interval, the test and its verdict.
ROW_COLUMNS = (
    "baseline_run_id",
    "current_run_id",
    "device",
    "backend",
    "backend_options",
    "dtype",
    "batch",
    "operator",
    "operator_params",
    "channels",
    "height",
    "width",
    "layers",
    "baseline_latency_ms",
    "current_latency_ms",
    "change",
    "raw_change",
    "ratio_ci95_low",
    "ratio_ci95_high",
    "p_value",
    "test",
    "verdict",
    "reasons",
    "judged",
    "allowed_unstable",
)
# The comparison in one record (`--summary`): the overall verdict and exit code, the counts
# of each row verdict, the test's settings, the host's speed, and why runs were not judged.
SUMMARY_COLUMNS = (
    "baseline_run_id",
    "current_run_id",
    "verdict",
    "exit_code",
    "summary",
    "threshold",
    "alpha",
    "rows",
    *(verdict.replace(" ", "_") for verdict in VERDICTS),
    "host_correction_applied",
    "host_correction_factor",
    "host_probe_ratio",
    "host_rows_ratio",
    "not_comparable",
    "accepted",
    "unfinished_runs",
    "host_probe_failures",
)


def _joined(lines: list[str]) -> str | None:
    return "; ".join(lines) or None


def comparison_export(comparison: Comparison, code: int) -> Export:
    """The gate's tidy export: a record per compared row, and the comparison as one summary
    record (what the text's summary line says, and the exit code)."""
    runs = {"baseline_run_id": comparison.baseline, "current_run_id": comparison.current}
    rows = []
    for row in comparison.rows:
        identity = row.identity
        low, high = row.ratio_ci95 or (None, None)
        rows.append(
            {
                **runs,
                **{name: identity.get(name) for name in ROW_COLUMNS if name in identity},
                "operator_params": params_text(identity.get("operator_params") or {}),
                "backend_options": params_text(identity.get("backend_options") or {}),
                "baseline_latency_ms": row.baseline_ms,
                "current_latency_ms": row.current_ms,
                "change": row.change,
                "raw_change": row.raw_change,
                "ratio_ci95_low": low,
                "ratio_ci95_high": high,
                "p_value": row.p_value,
                "test": row.test,
                "verdict": row.verdict,
                "reasons": row.reason,
                "judged": row.judged,
                "allowed_unstable": row.allowed_unstable,
            }
        )
    host = comparison.host
    summary = {
        **runs,
        "verdict": overall_verdict(comparison, code),
        "exit_code": code,
        "summary": summary_line(comparison, code),
        "threshold": comparison.threshold,
        "alpha": comparison.alpha,
        "rows": len(comparison.rows),
        **{v.replace(" ", "_"): sum(r.verdict == v for r in comparison.rows) for v in VERDICTS},
        "host_correction_applied": host.applied,
        "host_correction_factor": host.factor,
        "host_probe_ratio": host.probe_ratio,
        "host_rows_ratio": host.rows_ratio,
        "not_comparable": _joined(comparison.not_comparable),
        "accepted": _joined(comparison.accepted),
        "unfinished_runs": _joined(comparison.unfinished_runs),
        "host_probe_failures": _joined(comparison.host_probe_failures),
    }
    return Export(Records.of(ROW_COLUMNS, rows), Records.of(SUMMARY_COLUMNS, [summary]))
