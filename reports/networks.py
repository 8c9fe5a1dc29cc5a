"""The network suite's table (paper Table 3's latency columns) from stored rows; never measures."""

from __future__ import annotations

from collections.abc import Sequence

from fbench.bench.results import ResultRow
from fbench.reports import paper
from fbench.reports.formatting import fixed, format_g, format_ms
from fbench.reports.rows import ci_text, status_text
from fbench.reports.table import Table


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


# A network row's record: the stored row's (reports/tidy.py ROW_COLUMNS; `operator` is the
# model key, `height` and `width` the input size), then what the paper's Table 3 names it.
NETWORK_COLUMNS = ("network", "family", "params_m")
# With --paper: Table 3's values for the network (null where it has none).
NETWORK_PAPER_COLUMNS = (
    "paper_params_m",
    "paper_flops_m",
    "paper_latency_ms",
    "paper_throughput_per_s",
    "latency_over_paper",
    "throughput_over_paper",
)


def network_record(row: ResultRow, with_paper: bool = False) -> dict[str, object]:
    """The network columns of a networks-suite row (NETWORK_COLUMNS, and with `with_paper`
    NETWORK_PAPER_COLUMNS: Table 3 on the paper's device for this row's device)."""
    record: dict[str, object] = {
        "network": row.network or row.operator,
        "family": row.family,
        "params_m": row.params / 1e6 if row.params is not None else None,
    }
    if not with_paper:
        return record
    record |= dict.fromkeys(NETWORK_PAPER_COLUMNS)
    column = paper.PAPER_DEVICE_COLUMN.get(row.device)
    reference = paper.table3().get(row.network or "")
    if column is None or reference is None:
        return record
    record["paper_params_m"] = reference.params_m
    record["paper_flops_m"] = reference.flops_g * 1000
    if column == "gpu":
        record["paper_throughput_per_s"] = reference.gpu_fps
        if row.throughput_per_s is not None and reference.gpu_fps:
            record["throughput_over_paper"] = row.throughput_per_s / reference.gpu_fps
    else:
        latency = getattr(reference, f"{column}_latency_ms")
        record["paper_latency_ms"] = latency
        if row.latency is not None and latency:
            record["latency_over_paper"] = row.latency / latency
    return record
