"""What a per-operator average and the PConv/DWConv FLOPS ratio are made of: which rows count
(by their status, bench/results/status.py), and the notes that say what was left out. Both
Table 1 layouts (reports/table1/one_device.py, reports/table1/devices.py) use these rules."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean

from bench.results import ResultRow


def counts_in_averages(row: ResultRow) -> bool:
    """`ok` and `imprecise` rows (bench/results/status.py): an imprecise row's median is still the
    best estimate there is (on a shared host the DWConv rows' processes disagree by more
    than ±1% allows, run after run), and leaving it out would average a different set of
    stages for each operator. A `disturbed` row (throttled, interrupted...) is left out: its
    value is doubtful."""
    return row.gflops_per_s is not None and row.in_averages


def averaged_gflops(rows: Sequence[ResultRow]) -> list[float]:
    return [r.gflops_per_s for r in rows if counts_in_averages(r)]


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


def pconv_dwconv_ratio(rows: Sequence[ResultRow]) -> float | None:
    """Average PConv FLOPS over average DWConv FLOPS (the paper's 6.2× on CPU)."""
    pconv = averaged_gflops([r for r in rows if r.operator == "pconv"])
    dwconv = averaged_gflops([r for r in rows if r.operator == "dwconv"])
    if not pconv or not dwconv:
        return None
    return fmean(pconv) / fmean(dwconv)
