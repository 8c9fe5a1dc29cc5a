"""The paper's counting claims (eqs. 2, 4, 5): PConv with r = 1/4 has 1/16 of Conv's FLOPs and
about 1/4 of its memory access. Exact: they use the analytic counts stored with the rows, not
the timings. Measured values: docs/claims.md."""

from __future__ import annotations

import math
from collections.abc import Sequence

from fbench.bench.results import ResultRow
from fbench.operators import OPERATORS
from fbench.reports.claims.model import (
    FAILS,
    HOLDS,
    NOT_COMPARABLE,
    NOT_MEASURED,
    ClaimResult,
    not_judged,
)
from fbench.reports.claims.rows import RowSet, measure_operators

FLOPS_CLAIM = ("pconv-flops", "Eq. 4: PConv FLOPs 1/16 of Conv's")
MEMORY_CLAIM = ("pconv-memory", "Eqs. 2, 5: PConv memory access ~1/4 of Conv's")
EXACT = "exact (counted, not timed)"


def _fraction(value: float) -> str:
    """1/16.0 for a part of a whole; 1.25× where the part is more than the whole."""
    return f"1/{1 / value:.1f}" if 0 < value < 1 else f"{value:.2f}×"


def _same_work(row: ResultRow) -> tuple:
    """What a PConv and a Conv row must share for their counts to be compared: any feature
    map and depth will do (eqs. 2, 4, 5 hold for every h, w, c), but the same one."""
    return (row.channels, row.height, row.width, row.layers, row.batch, row.dtype)


def _pconv_conv_pairs(
    rowsets: Sequence[RowSet],
) -> tuple[list[tuple[ResultRow, ResultRow]], list[str]]:
    """(PConv row, Conv row) at each shape of the first device with both, and its runs."""
    for rowset in rowsets:
        if rowset.problem:
            continue
        conv = {
            _same_work(r): r
            for r in rowset.rows
            if r.operator == "conv" and r.flops > 0  # the whole of a ratio
        }
        pairs = [
            (row, conv[_same_work(row)])
            for row in rowset.rows
            if row.operator == "pconv" and _same_work(row) in conv
        ]
        if pairs:
            return pairs, list(rowset.runs)
    return [], []


def claim_pconv_counts(rowsets: Sequence[RowSet]) -> list[ClaimResult]:
    """Eqs. 2 and 5: PConv (r = 1/4) has 1/16 of Conv's FLOPs and about 1/4 of its memory access.

    Analytic counts stored with the rows, so one device's rows suffice, at any feature map and
    depth (a --quick run's too); the range over the feature maps is shown (the weights' k²·c²
    term makes the memory ratio smaller at 7×7).
    """
    pairs, runs = _pconv_conv_pairs(rowsets)
    if not pairs:
        reason = (
            "no Conv and PConv rows of the same shape, layers, batch and dtype; "
            f"{measure_operators('cpu', 'conv,pconv')}"
        )
        return [
            not_judged(*FLOPS_CLAIM, "any", NOT_MEASURED, reason),
            not_judged(*MEMORY_CLAIM, "any", NOT_MEASURED, reason),
        ]
    other = [p for p, _ in pairs if not OPERATORS["pconv"].matches_paper(p.operator_params)]
    if other:
        ratio = other[0].operator_params.get("partial_ratio")
        reason = f"PConv rows use partial_ratio {ratio}; the paper's claim is for r = 1/4"
        return [
            not_judged(*FLOPS_CLAIM, "any", NOT_COMPARABLE, reason, runs),
            not_judged(*MEMORY_CLAIM, "any", NOT_COMPARABLE, reason, runs),
        ]
    return [_flops_result(pairs, runs), _memory_result(pairs, runs)]


def _flops_result(pairs: Sequence[tuple[ResultRow, ResultRow]], runs: list[str]) -> ClaimResult:
    flops = [pconv.flops / conv.flops for pconv, conv in pairs]
    exact = all(math.isclose(value, 1 / 16, rel_tol=1e-3) for value in flops)
    return ClaimResult(
        *FLOPS_CLAIM,
        "any",
        HOLDS if exact else FAILS,
        measured=max(flops),
        low=min(flops),
        high=max(flops),
        paper=1 / 16,
        measured_text=_fraction(max(flops)),
        interval_text=EXACT,
        paper_text="1/16",
        reason=f"{len(flops)} feature maps",
        runs=tuple(runs),
    )


def _memory_result(pairs: Sequence[tuple[ResultRow, ResultRow]], runs: list[str]) -> ClaimResult:
    memory = [
        (pconv.memory_access_bytes / conv.memory_access_bytes, pconv, conv) for pconv, conv in pairs
    ]
    implementation = [
        pconv.implementation_memory_access_bytes / conv.memory_access_bytes
        for pconv, conv in pairs
        if pconv.implementation_memory_access_bytes
    ]
    low = min(memory, key=lambda item: item[0])
    high = max(memory, key=lambda item: item[0])
    # "About 1/4" as an upper bound: eq. 5's h·w·2c_p term is a quarter of Conv's, and the
    # weights' share is smaller still (1/16), so PConv never moves more than ~1/4.
    holds = high[0] <= 0.25 * 1.1
    copy_note = (
        f"; with the implementation's copy (slicing clone) "
        f"{_fraction(min(implementation))}–{_fraction(max(implementation))}"
        if implementation
        else ""
    )
    return ClaimResult(
        *MEMORY_CLAIM,
        "any",
        HOLDS if holds else FAILS,
        measured=high[0],
        low=low[0],
        high=high[0],
        paper=0.25,
        measured_text=f"{_fraction(low[0])}–{_fraction(high[0])}",
        interval_text=EXACT,
        paper_text="1/4",
        reason=(
            f"{_fraction(high[0])} at {high[1].shape_label}, {_fraction(low[0])} at "
            f"{low[1].shape_label} (weights dominate){copy_note}"
        ),
        runs=tuple(runs),
    )
