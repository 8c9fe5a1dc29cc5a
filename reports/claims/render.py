"""The checked claims as a report: a `Table` (one line a claim, the reasons as notes; printed
by reports/render.py as text or Markdown), tidy records (CSV) or the `fbench.claims/1` JSON
document. Measured values: docs/claims.md."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from fbench.reports.claims.model import VERDICTS, ClaimResult
from fbench.reports.formatting import MISSING
from fbench.reports.table import Table
from fbench.reports.tidy import Records

METHOD = (
    "Intervals: 95%, from the rows' latency intervals; a mean's half-width is "
    "sqrt(sum (h_i g_i)^2) / n, a ratio's log half-width the two log half-widths in "
    "quadrature. holds: the interval reaches the paper's value; holds weaker: below it but "
    "the same direction; fails: the interval excludes the paper's value and its direction."
)


def claims_table(results: Sequence[ClaimResult], notes: Sequence[str] = ()) -> Table:
    """The claims as a `fbench.reports.render` table: one line each; reasons as notes under it."""
    headers = ["Claim", "Device", "Measured", "95% interval", "Paper", "Verdict"]
    rows: list[list[object]] = [
        [
            r.statement,
            r.device,
            r.measured_text or MISSING,
            r.interval_text or MISSING,
            r.paper_text or MISSING,
            r.verdict,
        ]
        for r in results
    ]
    lines = [
        f"{r.device} {r.claim}: {r.verdict}" + (f": {r.reason}" if r.reason else "")
        for r in results
        if r.reason
    ]
    narrow = Table(
        headers=["Claim", "Device", "Measured\n95% interval", "Paper", "Verdict"],
        rows=[
            [
                "\n  ".join(textwrap.wrap(r.statement, width=28)),
                r.device,
                f"{r.measured_text or MISSING}\n{r.interval_text or MISSING}",
                r.paper_text or MISSING,
                r.verdict,
            ]
            for r in results
        ],
        key_columns=1,
    )
    return Table(
        headers=headers,
        rows=rows,
        notes=[*lines, *notes, METHOD],
        key_columns=1,
        narrow=replace(narrow, notes=[*lines, *notes, METHOD]),
    )


def claims_json(results: Sequence[ClaimResult], notes: Sequence[str] = ()) -> dict[str, Any]:
    """The `fbench.claims/1` document: every claim's fields, the notes, the method, the verdicts."""
    return {
        "schema": "fbench.claims/1",
        "claims": [result.to_dict() for result in results],
        "notes": list(notes),
        "method": METHOD,
        "verdicts": list(VERDICTS),
    }


# A claim on a device as a tidy record (`fbench report claims --format csv`). `measured`,
# `ci95_low`, `ci95_high` and `paper` are in the claim's own unit (a ratio, G/s, a count),
# which `statement` names: one column cannot carry one unit for every claim.
CLAIM_COLUMNS = (
    "claim",
    "statement",
    "device",
    "verdict",
    "measured",
    "ci95_low",
    "ci95_high",
    "paper",
    "reasons",
    "runs",
)


def claims_records(results: Sequence[ClaimResult]) -> Records:
    """One record per claim and device; `runs` "; "-joined."""
    return Records.of(
        CLAIM_COLUMNS,
        (
            {
                "claim": r.claim,
                "statement": r.statement,
                "device": r.device,
                "verdict": r.verdict,
                "measured": r.measured,
                "ci95_low": r.low,
                "ci95_high": r.high,
                "paper": r.paper,
                "reasons": r.reason,
                "runs": "; ".join(r.runs),
            }
            for r in results
        ),
    )
