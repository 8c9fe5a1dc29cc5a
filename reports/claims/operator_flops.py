"""Table 1's timed claims: PConv > GConv > DWConv in FLOPS, and PConv's FLOPS over DWConv's
(the paper's 10.5× GPU, 6.2× CPU, 22.8× ARM), each judged on the mean FLOPS over the feature
maps every compared operator has usable rows for. Measured values: docs/claims.md."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from fbench.bench.results import ResultRow
from fbench.bench.stats import paired
from fbench.bench.stats.paired import PairedEstimate
from fbench.reports import paper
from fbench.reports.claims.model import (
    NO_INTERVAL,
    NOT_COMPARABLE,
    NOT_MEASURED,
    ClaimResult,
    Estimate,
    mean_estimate,
    not_judged,
    order_verdict,
    ratio_result,
    weakest,
    with_paper,
)
from fbench.reports.claims.rows import (
    RowSet,
    measure_operators,
    unusable_reason,
    usable,
    why_unusable,
)
from fbench.reports.formatting import format_g_prose
from fbench.reports.paper import paper_row
from fbench.reports.rows import operator_title

ORDER = ("pconv", "gconv", "dwconv")  # the paper's FLOPS ordering, highest first


def _table1_rows(rowset: RowSet) -> tuple[dict[str, dict[str, ResultRow]], str | None]:
    """Usable Table 1 rows by operator and feature map, or why there are none to compare."""
    by_operator: dict[str, dict[str, ResultRow]] = {}
    other = [row for row in rowset.rows if paper_row(row) is None]
    for row in rowset.rows:
        if paper_row(row) is not None and usable(row):
            shapes = by_operator.setdefault(row.operator, {})
            if row.shape_label in shapes:
                return {}, (
                    f"two {operator_title(row.operator)} {row.shape_label} rows on "
                    f"{rowset.device} ({shapes[row.shape_label].operator_params}, "
                    f"{row.operator_params}); give one per feature map"
                )
            shapes[row.shape_label] = row
    if other and not by_operator:
        row = other[0]
        if rowset.quick:  # the user ran --quick: re-running what they ran would not help
            return {}, (
                f"quick run: {rowset.device} rows are not the paper's shapes and depth (e.g. "
                f"{operator_title(row.operator)} {row.shape_label}, {row.layers} layers); "
                "run without --quick"
            )
        column = paper.PAPER_DEVICE_COLUMN[rowset.device]
        return {}, (
            f"{rowset.device} rows are not Table 1's configuration (e.g. "
            f"{operator_title(row.operator)} {row.shape_label}: {row.layers} layers, batch "
            f"{row.batch}; the paper: {paper.PAPER_LAYERS} layers, batch "
            f"{paper.PAPER_BATCH[column]}, fp32, its operator parameters)"
        )
    return by_operator, None


def _common(
    by_operator: Mapping[str, Mapping[str, ResultRow]], names: Sequence[str]
) -> tuple[dict[str, list[ResultRow]], set[str]]:
    """Each operator's rows at the feature maps every one of `names` has usable rows for."""
    shapes = set.intersection(*(set(by_operator[name]) for name in names))
    return {name: [by_operator[name][s] for s in sorted(shapes)] for name in names}, shapes


def _coverage(rowset: RowSet, names: Sequence[str], shapes: set[str]) -> str:
    """Which rows were left out of an average, and why: the reason a verdict rests on less."""
    left = [
        f"{operator_title(row.operator)} {row.shape_label} "
        + (unusable_reason(row) if not usable(row) else "(its partner is missing)")
        for row in rowset.rows
        if row.operator in names and row.shape_label not in shapes
    ]
    return f"over {len(shapes)} feature maps; left out: {', '.join(left)}" if left else ""


def _compared_means(
    claim: str, statement: str, rowset: RowSet, names: Sequence[str]
) -> tuple[dict[str, Estimate], set[str]] | ClaimResult:
    """The mean FLOPS estimate of each of `names` over the feature maps all of them have
    usable rows for (as _common), and those feature maps; or the claim not judged, and why:
    runs not comparable, an operator or a common feature map missing, a row without an
    interval."""

    def refused(verdict: str, reason: str) -> ClaimResult:
        return not_judged(claim, statement, rowset.device, verdict, reason, rowset.runs)

    if rowset.problem:
        return refused(NOT_COMPARABLE, rowset.problem)
    by_operator, problem = _table1_rows(rowset)
    if problem:
        return refused(NOT_COMPARABLE, problem)
    measure = measure_operators(rowset.device, ",".join(names))
    missing = [name for name in names if name not in by_operator]
    if missing:
        return refused(
            NOT_MEASURED,
            f"no usable {', '.join(missing)} rows{why_unusable(rowset.rows, missing)}; {measure}",
        )
    rows, shapes = _common(by_operator, names)
    if not shapes:
        return refused(
            NOT_MEASURED, f"no feature map has usable rows of every operator compared; {measure}"
        )
    means = {name: mean_estimate(rows[name]) for name in names}
    if any(estimate is None for estimate in means.values()):
        return refused(NOT_COMPARABLE, NO_INTERVAL)
    return means, shapes


def claim_table1_order(rowset: RowSet) -> ClaimResult:
    """Table 1: PConv > GConv > DWConv in FLOPS, on average over the feature maps."""
    column = paper.PAPER_DEVICE_COLUMN[rowset.device]
    averages = paper.table1_average_gflops()
    paper_text = " > ".join(format_g_prose(averages[name][column]) for name in ORDER) + " G/s"
    return with_paper(_table1_order(rowset, paper_text), None, paper_text)


def _table1_order(rowset: RowSet, paper_text: str) -> ClaimResult:
    claim, statement = "table1-order", "Table 1: FLOPS PConv > GConv > DWConv"
    found = _compared_means(claim, statement, rowset, ORDER)
    if isinstance(found, ClaimResult):
        return found
    means, shapes = found
    pairs = [(ORDER[i], ORDER[i + 1]) for i in range(len(ORDER) - 1)]
    ratios = [means[a].over(means[b]) for a, b in pairs]
    verdicts = [order_verdict(ratio) for ratio in ratios]
    notes = [
        f"{operator_title(a).split()[0]}/{operator_title(b).split()[0]} "
        f"{ratio.value:.2f}× [{ratio.low:.2f}, {ratio.high:.2f}]"
        for (a, b), ratio in zip(pairs, ratios, strict=True)
    ]
    return ClaimResult(
        claim=claim,
        statement=statement,
        device=rowset.device,
        verdict=weakest(verdicts),
        measured=min(ratio.value for ratio in ratios),
        low=min(ratio.low for ratio in ratios),
        high=min(ratio.high for ratio in ratios),
        paper=None,
        measured_text=" > ".join(format_g_prose(means[name].value) for name in ORDER) + " G/s",
        interval_text="; ".join(f"{ratio.low:.2f}–{ratio.high:.2f}×" for ratio in ratios),
        paper_text=paper_text,
        reason="; ".join(
            filter(None, ["ratios " + ", ".join(notes), _coverage(rowset, ORDER, shapes)])
        ),
        runs=rowset.runs,
    )


def claim_pconv_dwconv_ratio(rowset: RowSet) -> ClaimResult:
    """Table 1: PConv's average FLOPS over DWConv's (10.5× GPU, 6.2× CPU, 22.8× ARM)."""
    column = paper.PAPER_DEVICE_COLUMN[rowset.device]
    claimed = paper.pconv_dwconv_ratio(column)
    statement = f"Table 1: PConv {claimed:.1f}× the FLOPS of DWConv ({column.upper()})"
    return with_paper(_pconv_dwconv_ratio(rowset, statement, claimed), claimed, f"{claimed:.1f}×")


def _pconv_dwconv_ratio(rowset: RowSet, statement: str, claimed: float) -> ClaimResult:
    claim, names = "pconv-dwconv-ratio", ("pconv", "dwconv")
    found = _compared_means(claim, statement, rowset, names)
    if isinstance(found, ClaimResult):
        return found
    means, shapes = found
    measured = means["pconv"].over(means["dwconv"])
    reason = _coverage(rowset, names, shapes)
    paired_ratio = _paired_ratio(rowset, names)
    if paired_ratio is not None:
        # Timed together in one run: the ratio from rounds paired in time, where a drift of
        # the host cancels (bench/stats/paired.py), instead of two independent averages.
        low, high = paired_ratio.ci95_low, paired_ratio.ci95_high
        side = max(math.log(paired_ratio.ratio / low), math.log(high / paired_ratio.ratio))
        measured = Estimate(paired_ratio.ratio, side)
        how = f"paired by round over {paired_ratio.processes} process(es)"
        reason = f"{reason}; {how}" if reason else how
    return ratio_result(
        claim,
        statement,
        rowset.device,
        measured,
        claimed,
        rowset.runs,
        show=lambda value: f"{value:.1f}×",
        reason=reason,
    )


def _paired_ratio(rowset: RowSet, names: Sequence[str]) -> PairedEstimate | None:
    """The PConv/DWConv ratio paired by round, when the rows come from one run and stored
    their per-round medians; else None (independent row intervals are used)."""
    if len(set(rowset.runs)) != 1:
        return None
    by_operator, _ = _table1_rows(rowset)
    rows, _ = _common(by_operator, names)
    estimate = paired.flops_ratio(rows["pconv"], rows["dwconv"])
    return estimate if estimate is not None and estimate.ci95_low is not None else None
