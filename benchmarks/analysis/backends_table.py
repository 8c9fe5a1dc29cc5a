"""Backends side by side on one device: FLOPS per row and the PConv/DWConv ratio under each.

The backend table of docs/backends.md (torch eager, torch channels-last, ONNX Runtime on the CPU) is
laid out here from stored rows only, like Table 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import fmean

from fbench.bench.results import ResultRow
from fbench.operators import StageShape
from fbench.reports.formatting import format_g
from fbench.reports.rows import operator_order, operator_title
from fbench.reports.table import Table
from fbench.reports.table1.averages import pconv_dwconv_ratio


def backend_label(row: ResultRow) -> str:
    """e.g. "torch", "torch channels-last", "onnxruntime (dynamo)"."""
    options = row.backend_options
    label = row.backend
    if options.get("channels_last"):
        label += " channels-last"
    if "exporter" in options:
        label += f" ({options['exporter']})"
    return label


def backends_table(runs: Mapping[str, Sequence[ResultRow]]) -> Table:
    """A column of FLOPS (G/s) per backend label; an average line per operator; the ratio."""
    labels = list(runs)
    everything = [row for rows in runs.values() for row in rows]
    by_key = {(label, row.operator, row.stage): row for label, rows in runs.items() for row in rows}
    headers = ["Operator", "Feature map", *(f"{label} FLOPS (G/s)" for label in labels)]
    body: list[list[object]] = []
    for name in operator_order(everything):
        stages = sorted({(row.stage, row.channels, row.height, row.width)
                         for row in everything if row.operator == name})  # fmt: skip
        for index, (stage, channels, height, width) in enumerate(stages):
            line: list[object] = [
                operator_title(name) if index == 0 else "",
                StageShape(stage, channels, height, width).label,
            ]
            for label in labels:
                row = by_key.get((label, name, stage))
                if row is None:
                    line.append("—")
                elif row.status == "failed":
                    line.append("failed")
                else:
                    flag = "" if row.status == "ok" else f" ({row.status})"
                    line.append(format_g(row.gflops_per_s) + flag)
            body.append(line)
        average: list[object] = ["", "Average"]
        for label in labels:
            values = [r.gflops_per_s for r in runs[label] if r.operator == name
                      and r.status == "ok" and r.gflops_per_s is not None]  # fmt: skip
            average.append(format_g(fmean(values)) if values else "—")
        body.append(average)
    ratios: list[object] = ["PConv/DWConv", ""]
    for label in labels:
        ratio = pconv_dwconv_ratio(runs[label])
        ratios.append("—" if ratio is None else f"{ratio:.1f}×")
    body.append(ratios)
    notes = [
        "FLOPs are multiply-adds, as the paper counts them; FLOPS = FLOPs / median latency.",
        "Averages and ratios use ok rows only.",
    ]
    return Table(headers=headers, rows=body, notes=notes)
