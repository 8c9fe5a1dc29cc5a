"""Table 1 across devices, as the paper lays it out (`fbench report table1`): one line per
operator × feature map, FLOPs once, then for every device its throughput (GPU, batch 32) or
latency (CPU, ARM) and FLOPS. Cells hold numbers (None where a device has no value);
`Table.formats` says how each column prints, so CSV and JSON exports keep full precision while
the terminal, Markdown, LaTeX and HTML show the paper's digits (reports/render.py). Reads
results, never measures; one device's table for `fbench show` is reports/table1/one_device.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from fbench.bench.results import ResultRow, RunResult
from fbench.reports import paper
from fbench.reports.formatting import fixed, format_g, format_ms
from fbench.reports.paper import paper_row
from fbench.reports.rows import (
    flops_header,
    operator_order,
    operator_title,
    short_flops_header,
    status_text,
)
from fbench.reports.table import Table
from fbench.reports.table1.averages import (
    average_status,
    averaged_gflops,
    averages_notes,
    counts_in_averages,
    paper_average_gflops,
    paper_pconv_dwconv_ratio,
    pconv_dwconv_comparison,
)
from fbench.reports.table1.columns import (
    DeviceGroup,
    describe_group,
    device_groups,
    extra_columns,
    extra_notes,
)
from fbench.reports.table1.headline import headline


def _line_key(row: ResultRow) -> tuple:
    """Rows of different devices that belong on the same line of the table."""
    return (
        row.operator,
        tuple(sorted(row.operator_params.items())),
        row.channels,
        row.height,
        row.width,
        row.layers,
    )


def _status_cell(row: ResultRow | None) -> str:
    return "" if row is None or row.status == "ok" else status_text(row)


def _paper_metric(reference: paper.PaperTable1Row, group: DeviceGroup) -> float | None:
    column = group.paper_column
    return reference.gpu_fps if group.throughput else reference.latency_ms(column)


def table1_devices(
    runs: Sequence[RunResult], with_paper: bool = False, extras: Sequence[str] = ()
) -> Table:
    """Table 1 as the paper lays it out, one block of columns per device found in `runs`.

    Per device: throughput (fps, GPU) or latency (ms), FLOPS (G/s); with `with_paper` the
    paper's values and measured/paper FLOPS. Rows that are not ok keep their values but get a
    status cell and are left out of the averages and of the PConv/DWConv ratio. Devices with no
    rows get no columns. `extras` names registered `COLUMN_SETS`.
    """
    groups = device_groups(runs)
    if not groups:
        raise ValueError("no operator rows to lay out")
    extras_columns = extra_columns(extras)

    all_rows = [row for group in groups for row in group.rows]
    headers = ["Operator", "Feature map", flops_header(all_rows)]
    short = ["Operator", "Feature map", short_flops_header(all_rows)]
    column_groups: list[object] = ["", "", ""]
    formats: list[Callable[[Any], str]] = [str, str, format_g]

    blocks: list[list[_Column]] = []
    for group in groups:
        metric = "throughput (fps)" if group.throughput else "latency (ms)"
        unit = "(fps)" if group.throughput else "(ms)"
        fmt_metric = format_g if group.throughput else format_ms
        block: list[_Column] = [
            _Column(
                f"{group.label} {metric}",
                fmt_metric,
                lambda r, p, g=group: _metric(r, g),
                "metric",
                f"{group.label} {unit}",
            ),
            _Column(
                f"{group.label} FLOPS (G/s)",
                format_g,
                lambda r, p: r and r.gflops_per_s,
                "gflops",
                f"{group.label} FLOPS (G/s)",
            ),
        ]
        if with_paper and group.paper_column:
            block += [
                _Column(
                    f"{group.label} paper {metric}",
                    fmt_metric,
                    lambda r, p, g=group: p and _paper_metric(p, g),
                    "paper_metric",
                    f"Paper {unit}",
                ),
                _Column(
                    f"{group.label} paper FLOPS (G/s)",
                    format_g,
                    lambda r, p, g=group: p and p.gflops(g.paper_column),
                    "paper_gflops",
                    "Paper (G/s)",
                ),
                _Column(
                    f"{group.label} FLOPS measured/paper",
                    fixed(2),
                    lambda r, p, g=group: _over(
                        r and r.gflops_per_s, p and p.gflops(g.paper_column)
                    ),
                    "ratio",
                    "× paper",
                ),
            ]
        for column in extras_columns:
            block.append(
                _Column(
                    column.header.format(device=group.label),
                    column.fmt,
                    lambda r, p, c=column, g=group: r and c.value(r, g),
                    "extra_avg" if column.average else "extra",
                    (column.short or column.header).format(device=group.label),
                )
            )
        if any(row.status != "ok" for row in group.rows):
            block.append(
                _Column(
                    f"{group.label} status",
                    str,
                    lambda r, p: _status_cell(r),
                    "status",
                    f"{group.label} status",
                )
            )
        blocks.append(block)
        headers += [column.header for column in block]
        short += [column.short or column.header for column in block]
        column_groups += [group.label] * len(block)
        formats += [column.fmt for column in block]

    by_group = [{_line_key(row): row for row in group.rows} for group in groups]
    lines: dict[tuple, ResultRow] = {}
    for row in all_rows:
        lines.setdefault(_line_key(row), row)

    body: list[list[object]] = []
    for name in operator_order(all_rows):
        keys = sorted(
            (k for k, r in lines.items() if r.operator == name),
            key=lambda k: (lines[k].stage, lines[k].channels, lines[k].layers),
        )
        for index, key in enumerate(keys):
            first = lines[key]
            line: list[object] = [
                operator_title(name) if index == 0 else "",
                first.shape_label,
                first.flops / 1e6,
            ]
            for block, rows in zip(blocks, by_group, strict=True):
                row = rows.get(key)
                reference = paper_row(row) if row is not None and with_paper else None
                line += [column.fill(row, reference) for column in block]
            body.append(line)
        body.append(_average_line(name, keys, groups, blocks, by_group, with_paper))

    ratio_line: list[object] = ["PConv/DWConv", "FLOPS ratio (×)", ""]
    ratios_text = []
    for group, block in zip(groups, blocks, strict=True):
        comparison = pconv_dwconv_comparison(group.rows)
        measured = comparison.value if comparison else None
        at_paper = comparison and paper_pconv_dwconv_ratio(comparison, group.paper_column)
        paper_ratio = at_paper[0] if at_paper else None
        reference = paper_ratio if with_paper else None
        values = {"gflops": measured, "paper_gflops": reference}
        values["ratio"] = _over(measured, reference)
        ratio_line += [values.get(column.role, "") for column in block]
        line = headline(group.rows, group.paper_column, subject=f"PConv on {group.label}")
        if line is not None:
            ratios_text.append(line)
    if any(value not in (None, "") for value in ratio_line[3:]):
        body.append(ratio_line)

    notes = [f"{group.label}: {describe_group(group)}" for group in groups]
    notes += averages_notes(all_rows)
    notes += ratios_text
    notes.append("FLOPs are multiply-adds, as the paper counts them; FLOPS = FLOPs / latency.")
    notes += extra_notes(extras)
    return Table(
        headers=headers,
        rows=body,
        notes=notes,
        formats=formats,
        short_headers=short,
        column_groups=column_groups,
        key_columns=3,  # operator, feature map and FLOPs: every device's panel needs them
    )


@dataclass(frozen=True)
class _Column:
    """One column of a device's block: how it prints and how a line fills it.

    `role` says what the "Average" and "PConv/DWConv" lines put there: the average FLOPS
    ("gflops"), the paper's ("paper_gflops"), their ratio ("ratio"), an average over the ok rows
    ("extra_avg"), how many rows are ok ("status"), or nothing.
    """

    header: str
    fmt: Callable[[Any], str]
    fill: Callable[[ResultRow | None, paper.PaperTable1Row | None], object]
    role: str
    short: str | None = None  # the head on a fitted terminal (None: `header`)


def _metric(row: ResultRow | None, group: DeviceGroup) -> float | None:
    if row is None:
        return None
    return row.throughput_per_s if group.throughput else row.latency


def _over(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _average_line(name, keys, groups, blocks, by_group, with_paper) -> list[object]:
    line: list[object] = ["", "Average", ""]
    for group, block, rows in zip(groups, blocks, by_group, strict=True):
        group_rows = [rows[key] for key in keys if key in rows]
        measured = averaged_gflops(group_rows)
        paper_average = (
            paper_average_gflops(name, group.paper_column, group_rows) if with_paper else None
        )
        average = fmean(measured) if measured else None
        for column in block:
            role = column.role
            if role == "gflops":
                line.append(average)
            elif role == "paper_gflops":
                line.append(paper_average)
            elif role == "ratio":
                line.append(_over(average, paper_average))
            elif role == "extra_avg":
                values = [column.fill(row, None) for row in group_rows if counts_in_averages(row)]
                values = [v for v in values if v is not None]
                line.append(fmean(values) if values else None)
            elif role == "status":
                line.append(average_status(group_rows))
            else:  # per-row values (latency, throughput) have no average line
                line.append("")
    return line
