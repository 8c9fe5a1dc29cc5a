"""The paper's testable claims checked on stored results: measured value, interval, verdict.

Pure functions of loaded runs (`RunResult`); `fbench report claims` does the I/O. One module a
concern: `model` (verdict words, estimates and their intervals, `ClaimResult`), `rows` (which
rows a claim may use), one module a family of claims (`operator_flops`: Table 1's timed
claims; `operator_counts`: eqs. 2, 4, 5; `network_speed`: Table 3; `under_roof`: fbench's
roofline), `check` (all of them, in the paper's order) and `render` (table and JSON). What each
claim checks and the measured values: docs/claims.md.
"""

# The package's public API (fbench/commands/report.py and the tests import it from here).
from fbench.reports.claims.check import check_claims, unjudged_devices
from fbench.reports.claims.model import (
    FAILS,
    HOLDS,
    NOT_COMPARABLE,
    NOT_MEASURED,
    VERDICTS,
    WEAKER,
    ClaimResult,
    Estimate,
    magnitude_verdict,
    mean_estimate,
    order_verdict,
)
from fbench.reports.claims.render import claims_json, claims_records, claims_table
from fbench.reports.claims.rows import usable

__all__ = [
    "FAILS",
    "HOLDS",
    "NOT_COMPARABLE",
    "NOT_MEASURED",
    "VERDICTS",
    "WEAKER",
    "ClaimResult",
    "Estimate",
    "check_claims",
    "claims_json",
    "claims_records",
    "claims_table",
    "magnitude_verdict",
    "mean_estimate",
    "order_verdict",
    "unjudged_devices",
    "usable",
]
