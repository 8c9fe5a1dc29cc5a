"""The gate's output: a Comparison as a `Report` (its table and the prose around it) in the
terminal's words or as Markdown for a CI summary, printed through reports/render.py. The JSON
output is the Comparison's own data (`Comparison.to_dict`), not this table."""

from __future__ import annotations

from bench.errors import EXIT_NOT_COMPARABLE, EXIT_OK, EXIT_REGRESSION
from reports.compare.verdicts import FASTER, SLOWER, VERDICTS, Comparison
from reports.formatting import format_change, format_ms, format_p
from reports.render import render
from reports.table import Layout, Report, Table


def comparison_table(comparison: Comparison) -> Table:
    """One line per row: medians, change (raw and corrected when the host correction is on),
    the ratio's interval, p and the verdict."""
    corrected = comparison.host.applied
    headers = ["row", "baseline ms", "current ms", *(["raw change"] if corrected else [])]
    headers += ["change", "ratio 95% CI", "p", "verdict"]
    formats = [str, format_ms, format_ms, *([format_change] if corrected else [])]
    formats += [format_change, str, format_p, str]
    rows: list[list[object]] = []
    for row in comparison.rows:
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
            ]
        )
    return Table(headers, rows, formats=formats, layout=Layout(padded_markdown=False))


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


def comparison_report(comparison: Comparison, code: int, fmt: str = "text") -> Report:
    """The runs compared and the differences accepted on purpose above the table; the host's
    speed and the verdict below it. Runs not judged get no table. `fmt` "md" words the same
    lines as Markdown (a heading, hard line breaks, a bold verdict, a last newline)."""
    markdown = fmt == "md"
    summary = summary_line(comparison, code)
    if markdown:
        before = [f"### fbench compare: `{comparison.baseline}` → `{comparison.current}`", ""]
        before += [f"accepted on purpose: {line}  " for line in comparison.accepted]
        before += [""] if comparison.accepted else []
        closing = [f"**{summary}**", ""]
    else:
        before = [f"baseline {comparison.baseline}  →  current {comparison.current}"]
        before += [f"accepted on purpose: {line}" for line in comparison.accepted]
        closing = ["", summary]
    if not comparison.rows or comparison.not_comparable:
        return Report(None, before, closing)
    host = ["", comparison.host.line(), *_probe_failure_lines(comparison)]
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
