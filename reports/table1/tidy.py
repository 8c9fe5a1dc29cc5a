"""Table 1 in tidy records (`fbench report table1` and `fbench show` with --format csv|json):
one record per stored row and device, and the per-operator averages and the PConv/DWConv
ratio as summary records (`--summary`), never among the rows. The same rules as the text
tables (reports/table1/averages.py): which rows are averaged, the ratio's common stages."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean
from typing import Any

from fbench.bench.results import ResultRow, RunResult
from fbench.reports.paper import paper_row
from fbench.reports.rows import operator_order, operator_rank
from fbench.reports.table1.averages import (
    averaged_gflops,
    counts_in_averages,
    paper_average_gflops,
    paper_pconv_dwconv_ratio,
    pconv_dwconv_comparison,
)
from fbench.reports.table1.columns import DeviceGroup, device_groups, extra_columns
from fbench.reports.tidy import ROW_COLUMNS, Export, Records, row_record

# With --paper: the paper's value for a row that measures what the paper did (else null).
PAPER_COLUMNS = (
    "paper_latency_ms",  # CPU and ARM columns of Table 1
    "paper_throughput_per_s",  # the GPU column (fps at batch 32)
    "paper_gflops_per_s",
    "gflops_over_paper",  # measured FLOPS / the paper's
)
SUMMARY_COLUMNS = (
    "run_id",
    "device",
    "backend",
    # "mean_gflops_per_s" (an operator's average FLOPS over its averaged rows),
    # "mean_<extra column>" (e.g. mean_fraction_of_attainable with --roofline), or
    # "pconv_over_dwconv_gflops" (the ratio of PConv's and DWConv's averages).
    "statistic",
    "operator",  # null for the PConv/DWConv ratio
    "value",
    "paper_value",  # with --paper, where the paper's value covers the same rows
    "value_over_paper",
    "rows",  # rows of the operator (the ratio: usable PConv and DWConv rows it is over)
    "rows_ok",
    "rows_used",  # rows the statistic is over (ok and imprecise: reports/table1/averages.py)
    "feature_maps",  # the ratio's common stages, "; "-joined
)


def _over(numerator: float | None, denominator: float | None) -> float | None:
    return None if numerator is None or not denominator else numerator / denominator


def paper_record(row: ResultRow, column: str | None) -> dict[str, Any]:
    """The paper's Table 1 values for `row` on the paper's device `column` (PAPER_COLUMNS)."""
    reference = paper_row(row) if column else None
    if reference is None:
        return dict.fromkeys(PAPER_COLUMNS)
    paper_gflops = reference.gflops(column)
    return {
        "paper_latency_ms": reference.latency_ms(column),
        "paper_throughput_per_s": reference.gpu_fps if column == "gpu" else None,
        "paper_gflops_per_s": paper_gflops,
        "gflops_over_paper": _over(row.gflops_per_s, paper_gflops),
    }


def _sorted(rows: Sequence[ResultRow]) -> list[ResultRow]:
    return sorted(rows, key=lambda r: (operator_rank(r.operator), r.stage, r.channels, r.layers))


def table1_records(
    groups: Sequence[DeviceGroup], with_paper: bool = False, extras: Sequence[str] = ()
) -> Records:
    """A record per stored row of each device group, in Table 1's order (ROW_COLUMNS, then
    the paper's with `with_paper`, then the extra column sets' `extras`)."""
    columns = extra_columns(extras)
    names = [*ROW_COLUMNS, *(PAPER_COLUMNS if with_paper else ())]
    names += [column.export_name for column in columns]
    records = []
    for group in groups:
        for row in _sorted(group.rows):
            record = row_record(row, group.run.run_id)
            if with_paper:
                record |= paper_record(row, group.paper_column)
            for column in columns:
                record[column.export_name] = column.value(row, group)
            records.append(record)
    return Records.of(names, records)


def table1_summary(
    groups: Sequence[DeviceGroup], with_paper: bool = False, extras: Sequence[str] = ()
) -> Records:
    """Per device group: each operator's average FLOPS (and the averaged extra columns), then
    the PConv/DWConv FLOPS ratio over the stages both have usable rows."""
    averaged = [column for column in extra_columns(extras) if column.average]
    records = []
    for group in groups:
        where = {"run_id": group.run.run_id, "device": group.device, "backend": group.backend}
        column = group.paper_column if with_paper else None
        for name in operator_order(group.rows):
            rows = [row for row in group.rows if row.operator == name]
            used = [row for row in rows if counts_in_averages(row)]
            counts = {
                "operator": name,
                "rows": len(rows),
                "rows_ok": sum(row.status == "ok" for row in rows),
                "rows_used": len(used),
            }
            gflops = averaged_gflops(rows)
            mean = fmean(gflops) if gflops else None
            paper_mean = paper_average_gflops(name, column, rows)
            records.append(
                {
                    **where,
                    "statistic": "mean_gflops_per_s",
                    **counts,
                    "value": mean,
                    "paper_value": paper_mean,
                    "value_over_paper": _over(mean, paper_mean),
                }
            )
            for extra in averaged:
                values = [extra.value(row, group) for row in used]
                values = [value for value in values if value is not None]
                records.append(
                    {
                        **where,
                        "statistic": f"mean_{extra.export_name}",
                        **counts,
                        "value": fmean(values) if values else None,
                    }
                )
        comparison = pconv_dwconv_comparison(group.rows)
        if comparison is None:
            continue
        at_paper = paper_pconv_dwconv_ratio(comparison, column)
        paper_ratio = at_paper[0] if at_paper else None
        records.append(
            {
                **where,
                "statistic": "pconv_over_dwconv_gflops",
                "value": comparison.value,
                "paper_value": paper_ratio,
                "value_over_paper": _over(comparison.value, paper_ratio),
                "rows": len(comparison.rows),
                "rows_ok": sum(row.status == "ok" for row in comparison.rows),
                "rows_used": len(comparison.rows),
                "feature_maps": "; ".join(comparison.stages) or None,
            }
        )
    return Records.of(SUMMARY_COLUMNS, records)


def table1_export(
    runs: Sequence[RunResult], with_paper: bool = False, extras: Sequence[str] = ()
) -> Export:
    """`fbench report table1 --format csv|json`: the rows, and the averages and ratio."""
    groups = device_groups(runs)
    return Export(
        table1_records(groups, with_paper, extras), table1_summary(groups, with_paper, extras)
    )
