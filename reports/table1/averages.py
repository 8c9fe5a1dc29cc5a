"""What a per-operator average and the PConv/DWConv FLOPS ratio are made of: which rows count
(by their status, bench/results/status.py), and the notes that say what was left out. Both
Table 1 layouts (reports/table1/one_device.py, reports/table1/devices.py) use these rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean

from fbench.bench.results import ResultRow
from fbench.bench.stats import paired
from fbench.bench.stats.paired import PairedEstimate
from fbench.operators import OPERATORS
from fbench.reports import paper
from fbench.reports.paper import matched_pconv_dwconv_ratio


def counts_in_averages(row: ResultRow) -> bool:
    """`ok` and `imprecise` rows (bench/results/status.py): an imprecise row's median is still the
    best estimate there is (on a shared host the DWConv rows' processes disagree by more
    than ±1% allows, run after run), and leaving it out would average a different set of
    stages for each operator. A `disturbed` row (throttled, interrupted...) is left out: its
    value is doubtful."""
    return row.gflops_per_s is not None and row.in_averages


def averaged_gflops(rows: Sequence[ResultRow]) -> list[float]:
    return [r.gflops_per_s for r in rows if counts_in_averages(r)]


def paper_average_gflops(
    operator: str, column: str | None, rows: Sequence[ResultRow]
) -> float | None:
    """The paper's average FLOPS of `operator` on its device `column`, where `rows` measure
    what the paper's average is over (its 4 stages, its parameters); else None."""
    spec = OPERATORS.get(operator)
    if column is None or not rows or not spec or not spec.paper_operator:
        return None
    if not paper.covers_paper(spec.paper_operator, rows):
        return None
    return paper.table1_average_gflops()[spec.paper_operator][column]


def average_status(rows: Sequence[ResultRow]) -> str:
    """The average line's status cell: "" when every row is ok, else how many are ok and
    how many the average used, e.g. "1 of 4 rows ok, 4 averaged"."""
    ok = sum(row.status == "ok" for row in rows)
    if ok == len(rows):
        return ""
    return f"{ok} of {len(rows)} rows ok, {sum(map(counts_in_averages, rows))} averaged"


def averages_notes(rows: Sequence[ResultRow]) -> list[str]:
    """What the averages and the PConv/DWConv ratio did with the rows that are not ok."""
    not_ok = [row for row in rows if row.status != "ok"]
    counted = [row for row in not_ok if counts_in_averages(row)]
    notes = []
    if counted:
        notes.append(
            f"{len(counted)} imprecise row(s) are in the averages and the ratio: their "
            "intervals are wider than the target, their medians still the best estimate."
        )
    if len(counted) < len(not_ok):
        notes.append(
            f"{len(not_ok) - len(counted)} row(s) failed or disturbed are shown "
            "with their status but left out of the averages and the PConv/DWConv ratio."
        )
    return notes


def _stage(row: ResultRow) -> tuple:
    """The feature map (and depth) a row measures: the unit PConv and DWConv are paired on."""
    return (row.channels, row.height, row.width, row.layers)


@dataclass(frozen=True)
class PConvDWConvRatio:
    """PConv's average FLOPS over DWConv's, over the feature maps where both have usable rows.

    Averaging each operator over its own usable rows would compare different feature maps when
    a row is left out (DWConv at one stage, PConv at two others: 23.5× where the full run gave
    11.4×), so only the stages both have count. `value` is None where there is no such stage.
    """

    value: float | None
    stages: tuple[str, ...]  # the feature maps the ratio is over, e.g. ("96×56×56",)
    partial: bool  # fewer stages than the two operators were measured at
    rows: tuple[ResultRow, ...] = ()  # the usable PConv and DWConv rows the ratio is over
    # The same ratio paired by round (bench/stats/paired.py), where the rows were timed
    # together in one run and stored their per-round medians; then `value` is its estimate.
    paired: PairedEstimate | None = None

    def qualifier(self) -> str:
        """What the ratio line adds when it is not over every measured stage ("" when it is)."""
        if self.value is None:
            return "no ratio: no feature map has usable rows of both PConv and DWConv"
        if self.partial:
            return f"over {', '.join(self.stages)} only: the stages both operators have usable rows"
        return ""


def pconv_dwconv_comparison(
    rows: Sequence[ResultRow], same_run: bool = False
) -> PConvDWConvRatio | None:
    """The ratio over the common usable stages; None where PConv or DWConv has no rows at all
    (nothing to say). The paper's ratio is of its averages over the same 4 stages for both.
    With `same_run` (the rows were timed together) and per-round medians stored, the ratio
    is the estimate paired by round, with its interval (`PConvDWConvRatio.paired`)."""
    pconv = [r for r in rows if r.operator == "pconv"]
    dwconv = [r for r in rows if r.operator == "dwconv"]
    if not pconv or not dwconv:
        return None
    usable_pconv = {_stage(r) for r in pconv if counts_in_averages(r)}
    common = usable_pconv & {_stage(r) for r in dwconv if counts_in_averages(r)}
    measured = {_stage(r) for r in pconv + dwconv}
    labels = tuple(
        dict.fromkeys(
            r.shape_label for r in sorted(pconv, key=lambda r: r.stage) if _stage(r) in common
        )
    )
    if not common:
        return PConvDWConvRatio(None, (), partial=True)
    at_common = [r for r in rows if _stage(r) in common]
    value = fmean(averaged_gflops([r for r in at_common if r.operator == "pconv"])) / fmean(
        averaged_gflops([r for r in at_common if r.operator == "dwconv"])
    )
    used = tuple(
        r for r in at_common if r.operator in ("pconv", "dwconv") and counts_in_averages(r)
    )
    paired_ratio = _paired(used) if same_run else None
    if paired_ratio is not None:
        value = paired_ratio.ratio
    return PConvDWConvRatio(
        value, labels, partial=common != measured, rows=used, paired=paired_ratio
    )


def _paired(rows: Sequence[ResultRow]) -> PairedEstimate | None:
    """PConv's mean FLOPS over DWConv's, from the rounds the rows shared (with an interval),
    when every row stored per-round medians."""
    pconv = sorted((r for r in rows if r.operator == "pconv"), key=lambda r: r.stage)
    dwconv = sorted((r for r in rows if r.operator == "dwconv"), key=lambda r: r.stage)
    estimate = paired.flops_ratio(pconv, dwconv)
    return estimate if estimate is not None and estimate.ci95_low is not None else None


def paper_pconv_dwconv_ratio(
    comparison: PConvDWConvRatio, column: str | None
) -> tuple[float, bool] | None:
    """The paper's ratio to set beside `comparison`, and whether it is at its stages only
    (fbench.reports.paper.matched_pconv_dwconv_ratio); None where there is nothing to set beside."""
    if column is None or comparison.value is None:
        return None
    return matched_pconv_dwconv_ratio(comparison.rows, column)


def pconv_dwconv_ratio(rows: Sequence[ResultRow]) -> float | None:
    """Average PConv FLOPS over average DWConv FLOPS at the stages both have usable rows for
    (the paper's 6.2× on CPU, over its 4 stages)."""
    comparison = pconv_dwconv_comparison(rows)
    return comparison.value if comparison else None
