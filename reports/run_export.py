"""One stored run in tidy records (`fbench show --format csv|json`): a record per row,
operators and networks alike, and Table 1's averages and ratio as its summary records."""

from __future__ import annotations

from fbench.bench.results import RunResult
from fbench.reports import paper
from fbench.reports.networks import NETWORK_COLUMNS, NETWORK_PAPER_COLUMNS, network_record
from fbench.reports.rows import operator_rank
from fbench.reports.table1.columns import device_groups
from fbench.reports.table1.tidy import PAPER_COLUMNS, paper_record, table1_summary
from fbench.reports.tidy import ROW_COLUMNS, Export, Records, row_record


def run_export(result: RunResult, with_paper: bool = True) -> Export:
    """Every row of `result`, in the order `fbench show` prints them: operators as Table 1
    (ROW_COLUMNS, and with `with_paper` the paper's Table 1 columns), networks by FLOPs (the
    network columns, and Table 3's)."""
    operators = [row for row in result.rows if row.suite != "networks"]
    networks = [row for row in result.rows if row.suite == "networks"]
    columns = [*ROW_COLUMNS, *(PAPER_COLUMNS if with_paper and operators else ())]
    if networks:
        columns += [*NETWORK_COLUMNS, *(NETWORK_PAPER_COLUMNS if with_paper else ())]
    records = []
    for row in sorted(operators, key=lambda r: (r.device, operator_rank(r.operator), r.stage)):
        record = row_record(row, result.run_id)
        if with_paper:
            record |= paper_record(row, paper.PAPER_DEVICE_COLUMN.get(row.device))
        records.append(record)
    for row in sorted(networks, key=lambda r: (r.device, r.flops, r.operator)):
        records.append(row_record(row, result.run_id) | network_record(row, with_paper))
    summary = table1_summary(device_groups([result]), with_paper)
    return Export(Records.of(columns, records), summary)
