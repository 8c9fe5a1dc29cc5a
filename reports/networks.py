"""The network suite's table (paper Table 3's latency columns) from stored rows; never measures."""

from __future__ import annotations

from collections.abc import Sequence

from bench.results import ResultRow
from reports import paper
from reports.formatting import fixed, format_g, format_ms
from reports.rows import ci_text, status_text
from reports.table import Table


def networks_table(rows: Sequence[ResultRow], with_paper: bool = True) -> Table:
    """One device's networks, by FLOPs: params, FLOPs, latency ± CI, FLOPS, the paper's latency.

    Params and FLOPs (fvcore multiply-adds) are shown in the paper's units (M, G) so they can
    be checked against Table 3 by eye; the paper's latency is for its own hardware.
    """
    devices = {row.device for row in rows}
    if len(devices) > 1:
        raise ValueError(f"networks_table() lays out one device at a time, got {sorted(devices)}")
    column = paper.PAPER_DEVICE_COLUMN.get(devices.pop()) if devices else None
    throughput = column == "gpu"
    metric = "Throughput (fps)" if throughput else "Latency (ms)"
    fmt_metric = format_g if throughput else format_ms
    with_paper = with_paper and column is not None
    headers = ["Network", "Params (M)", "FLOPs (G)", metric, "95% CI", "FLOPS (G/s)"]
    formats = [str, fixed(1), fixed(2), fmt_metric, str, format_g]
    if with_paper:
        headers += ["Paper params (M)", "Paper FLOPs (G)", f"Paper {metric.lower()}"]
        headers += [f"{'Throughput' if throughput else 'Latency'} measured/paper"]
        formats += [fixed(1), fixed(2), fmt_metric, fixed(2)]
    headers.append("Status")
    formats.append(str)
    short = ["Network", "Params (M)", "FLOPs (G)", metric, "95% CI", "FLOPS (G/s)"]
    if with_paper:
        short += ["Paper params", "Paper FLOPs", f"Paper ({'fps' if throughput else 'ms'})"]
        short += ["× paper"]
    short.append("Status")

    table3 = paper.table3()
    body: list[list[object]] = []
    for row in sorted(rows, key=lambda r: (r.flops, r.operator)):
        value = row.throughput_per_s if throughput else row.latency
        line: list[object] = [
            row.network or row.operator,
            row.params / 1e6 if row.params is not None else None,
            row.flops / 1e9,
            value,
            ci_text(row),
            row.gflops_per_s,
        ]
        if with_paper:
            reference = table3.get(row.network or "")
            if reference is None:
                line += [None, None, None, None]
            else:
                paper_value = (
                    reference.gpu_fps if throughput else getattr(reference, f"{column}_latency_ms")
                )
                ratio = value / paper_value if value is not None and paper_value else None
                line += [reference.params_m, reference.flops_g, paper_value, ratio]
        line.append(status_text(row))
        body.append(line)
    notes = ["FLOPs are multiply-adds (fvcore), as the paper counts them; batch 1."]
    if with_paper:
        notes.append(f"Paper: Table 3, {paper.PAPER_HARDWARE[column]}.")
    return Table(
        headers=headers, rows=body, notes=notes, formats=formats, short_headers=short, key_columns=1
    )
