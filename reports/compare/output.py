"""The gate's output: a Comparison as a `Report` (its table and the prose around it) in the
terminal's words or as Markdown for a CI summary, printed through reports/render.py. The JSON
output is the Comparison's own data (`Comparison.to_dict`) with its verdict, not this table."""

from __future__ import annotations

from bench.errors import EXIT_NOT_COMPARABLE, EXIT_REGRESSION
from reports.compare.verdicts import (
    FASTER,
    SAME,
    SLOWER,
    VERDICTS,
    Comparison,
    RowComparison,
    percent_text,
)
from reports.formatting import format_change, format_ms, format_p
from reports.render import render
from reports.table import Layout, Report, Table


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
    return Table(headers, rows, formats=formats, layout=Layout(padded_markdown=False))


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


def comparison_json(comparison: Comparison, code: int) -> dict[str, object]:
    """`--format json`: the Comparison's data, its exit code, and the verdict and summary
    line the text prints (a CI script need not re-derive them from the rows)."""
    return {
        "verdict": overall_verdict(comparison, code),
        "summary": summary_line(comparison, code),
        "exit_code": code,
        **comparison.to_dict(),
    }


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


def render_text(comparison: Comparison, code: int) -> str:
    return render(comparison_report(comparison, code, "text"), "text")


def render_markdown(comparison: Comparison, code: int) -> str:
    return render(comparison_report(comparison, code, "md"), "md")
