"""One device's Table 1, as `fbench show` prints it under the run header: a line per operator ×
feature map with latency (or throughput), its interval, FLOPS, the paper's values and the
row's status, an average per operator, and the PConv/DWConv ratio. Reads results, never
measures; Table 1 across devices (`fbench report table1`) is reports/table1/devices.py.

Layout is a pure function of rows (→ `Table`); rendering is reports/render.py, so tests check
values in cells, not strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean

from fbench.bench.results import ResultRow
from fbench.operators import OPERATORS
from fbench.reports import paper
from fbench.reports.formatting import format_g, format_ms
from fbench.reports.paper import paper_row
from fbench.reports.rows import (
    ci_text,
    flops_header,
    operator_order,
    operator_title,
    short_flops_header,
    status_text,
)
from fbench.reports.table import Table
from fbench.reports.table1.averages import average_status, averaged_gflops, averages_notes
from fbench.reports.table1.headline import headline


def table1(rows: Sequence[ResultRow], with_paper: bool = True) -> Table:
    """One device's Table 1: a line per operator × feature map, an average per operator."""
    devices = {row.device for row in rows}
    if len(devices) > 1:
        raise ValueError(f"table1() lays out one device at a time, got {sorted(devices)}")
    device = devices.pop() if devices else "cpu"
    column = paper.PAPER_DEVICE_COLUMN.get(device)
    throughput = column == "gpu"

    headers = ["Operator", "Feature map", flops_header(rows)]
    headers += ["Throughput (fps)"] if throughput else ["Latency (ms)"]
    headers += ["95% CI", "FLOPS (G/s)"]
    if with_paper and column:
        headers += [f"Paper {'fps' if throughput else 'latency (ms)'}", "Paper FLOPS (G/s)"]
    headers += ["Status"]
    unit = "fps" if throughput else "ms"
    short = ["Operator", "Feature map", short_flops_header(rows), headers[3], "95% CI"]
    short += ["FLOPS (G/s)", *([f"Paper ({unit})", "Paper (G/s)"] if len(headers) == 9 else [])]
    short += ["Status"]

    body: list[list[object]] = []
    notes: list[str] = []
    for name in operator_order(rows):
        group = sorted((row for row in rows if row.operator == name), key=lambda r: r.stage)
        for index, row in enumerate(group):
            reference = paper_row(row) if with_paper and column else None
            line: list[object] = [
                operator_title(name) if index == 0 else "",
                row.shape_label,
                format_g(row.flops / 1e6),
                format_g(row.throughput_per_s) if throughput else format_ms(row.latency),
                ci_text(row),
                format_g(row.gflops_per_s),
            ]
            if with_paper and column:
                if reference is None:
                    line += ["—", "—"]
                elif throughput:
                    line += [format_g(reference.gpu_fps), format_g(reference.gflops(column))]
                else:
                    line += [
                        format_ms(reference.latency_ms(column)),
                        format_g(reference.gflops(column)),
                    ]
            line.append(status_text(row))
            body.append(line)

        measured = averaged_gflops(group)
        average: list[object] = [
            "",
            "Average",
            "",
            "",
            "",
            format_g(fmean(measured)) if measured else "—",
        ]
        if with_paper and column:
            matched = all(paper_row(row) is not None for row in group)
            paper_average = (
                paper.table1_average_gflops()
                .get(OPERATORS[name].paper_operator if name in OPERATORS else None, {})
                .get(column)
            )
            average += ["", format_g(paper_average) if matched and paper_average else "—"]
        average.append(average_status(group))
        body.append(average)

    notes += averages_notes(rows)
    line = headline(rows, column if with_paper else None, same_run=True)
    if line is not None:
        notes.append(line)
    notes.append("FLOPs are multiply-adds, as the paper counts them; FLOPS = FLOPs / latency.")
    return Table(headers=headers, rows=body, notes=notes, short_headers=short)
