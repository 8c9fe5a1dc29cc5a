"""The roofline as text: the per-row table (a `fbench.reports.table.Table`), the ceilings and
per-operator sentences around it (`fbench roofline`), and the points as CSV (for other tools,
and beside the plot). The numbers come from reports/roofline/maths.py; measured rooflines are
in docs/roofline.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TextIO

from fbench.bench.calibration import Calibration, Ceiling
from fbench.reports.formatting import fixed, format_share
from fbench.reports.render import render
from fbench.reports.roofline.maths import (
    CEILING_TOO_LOW,
    OperatorSummary,
    RooflinePoint,
    operator_summaries,
    ridge_point,
)
from fbench.reports.table import Layout, Report, Table
from fbench.reports.tidy import Export, Records, to_csv

_one_decimal = fixed(1)
_two_decimals = fixed(2)


# The extra Table 1 columns (`fbench report table1 --roofline`), in order.
ROOFLINE_HEADERS = (
    "FLOPs/B (paper)",
    "FLOPs/B (impl.)",
    "Attainable FLOPS (G/s)",
    "of attainable",
    "of compute roof",
    "GB/s moved",
    "Bound",
    "Roof",
)


def roofline_table(points: Sequence[RooflinePoint]) -> Table:
    """The per-row roofline table, in the points' order; a Layers column if depths differ."""
    with_layers = len({point.layers for point in points}) > 1
    headers = [
        "Device",
        "Operator",
        "Feature map",
        *(["Layers"] if with_layers else []),
        "FLOPS (G/s)",
        *ROOFLINE_HEADERS,
        "Status",
    ]
    # Fitted to a terminal: "FLOPS (G/s)" once; "roof" is the attainable FLOPS there.
    short = [*headers[: 4 if with_layers else 3], "FLOPS (G/s)", "FLOPs/B paper"]
    short += ["FLOPs/B impl.", "Attainable (G/s)", "Share", "% of peak", "GB/s", "Bound", "Roof"]
    short += ["Status"]
    rows: list[list[object]] = [
        [
            point.device,
            point.title,
            point.shape_label,
            *([point.layers] if with_layers else []),
            point.measured_gflops_per_s,
            point.intensity_paper,
            point.intensity_implementation,
            point.attainable_gflops_per_s,
            point.fraction_of_attainable,
            point.fraction_of_compute,
            point.achieved_gb_per_s,
            point.bound,
            point.roof,
            point.status,
        ]
        for point in points
    ]
    formats = [
        str,
        str,
        str,
        *([str] if with_layers else []),
        _one_decimal,
        _two_decimals,
        _two_decimals,
        _one_decimal,
        format_share,
        format_share,
        _one_decimal,
        str,
        str,
        str,
    ]
    return Table(headers, rows, formats=formats, short_headers=short, key_columns=3)


def summary_sentence(summary: OperatorSummary) -> str:
    """One operator on one device in a sentence: bound, share of the ceilings, GB/s moved."""
    if summary.memory_bound == summary.rows:
        bound = "memory-bound"
    elif summary.memory_bound == 0:
        bound = "compute-bound"
    else:
        bound = f"memory-bound at {summary.memory_bound} of {summary.rows} shapes"
    too_low = (
        f"; {CEILING_TOO_LOW} at {summary.above_roof} of {summary.rows} shapes"
        if summary.above_roof
        else ""
    )
    low_gb, high_gb = summary.achieved_gb_per_s
    return (
        f"{summary.device} {summary.title}: {bound}; {_span(summary.fraction_of_compute)} of "
        f"the compute ceiling, {_span(summary.fraction_of_attainable)} of attainable, "
        f"{low_gb:.1f}–{high_gb:.1f} GB/s moved{too_low}"
    )


def _span(values: tuple[float, float]) -> str:
    low, high = (format_share(value) for value in values)
    return low if low == high else f"{low}–{high}"


def ceilings_line(device: str, calibration: Calibration) -> str:
    """The device's roofs as the table uses them: compute, bandwidth, L2 copy, ridge point."""
    compute, bandwidth = calibration.compute_ceiling, calibration.bandwidth_ceiling
    cache = calibration.cache_bandwidth_gb_per_s
    share = calibration.fraction_of_peak(compute)
    return (
        f"{device} ceilings ({calibration.identity}, {calibration.created}): compute "
        f"{compute.median:.1f} G/s ({_probe(compute)}"
        + (f", {share:.0%} of the stated peak" if share is not None else "")
        + f"), bandwidth {bandwidth.median:.1f} GB/s ({_probe(bandwidth)})"
        + (f", L2-resident copy {cache:.1f} GB/s" if cache else "")
        + f"; ridge point {ridge_point(compute.median, bandwidth.median):.2f} FLOPs/B"
    )


def _probe(ceiling: Ceiling) -> str:
    probe = ceiling.details.get("probe")
    return f"{ceiling.name}: {probe}" if probe else ceiling.name


FOOTNOTE = (
    "FLOPs are multiply-adds (as the paper counts); FLOPS in G/s, 10⁹ FLOPs a second. "
    "FLOPs/B: FLOPs per byte, bytes from the paper's eqs. 2/3/5 and from what the "
    "implementation moves (PConv's copy). Attainable (the roof at the row's intensity) = "
    "min(compute ceiling, FLOPs/B (impl.) × bandwidth); Share: the measured FLOPS's share "
    "of it; % of peak: of the compute ceiling. "
    "Roof: "
    f"'{CEILING_TOO_LOW}' where the row's 95% interval lies above the roof's: the "
    "calibration did not reach the device's ceiling there (calibrate again, or a wider "
    "sweep: --gemm-n)."
)


def roofline_report(
    points: Sequence[RooflinePoint], calibrations: Mapping[str, Calibration]
) -> Report:
    """What `fbench roofline` prints: the ceilings, the table, a sentence per operator."""
    table = roofline_table(points)
    before = [ceilings_line(device, calibration) for device, calibration in calibrations.items()]
    sentences = [summary_sentence(summary) for summary in operator_summaries(points)]
    return Report(
        # Right-aligned columns: the roofline's own look (tests/golden/roofline-*.txt).
        replace(table, layout=Layout(align="right")),
        before=[*before, ""],
        after=["", *sentences, f"\n{FOOTNOTE}"],
    )


def roofline_text(
    points: Sequence[RooflinePoint],
    calibrations: Mapping[str, Calibration],
    width: int | None = None,
) -> str:
    return render(roofline_report(points, calibrations), "text", width=width)


# The points' export columns (`fbench roofline --format csv|json`, and the CSV beside the
# plot): the point's fields, the intensities named with their unit (multiply-adds per byte).
_RENAMED = {
    "intensity_paper": "intensity_paper_mac_per_byte",
    "intensity_implementation": "intensity_implementation_mac_per_byte",
}
CSV_FIELDS = tuple(
    _RENAMED.get(name, name) for name in RooflinePoint.__dataclass_fields__ if name != "title"
)
SUMMARY_COLUMNS = (
    "device",
    "operator",
    "rows",
    "rows_memory_bound",
    "rows_above_roof",
    "fraction_of_compute_min",
    "fraction_of_compute_max",
    "fraction_of_attainable_min",
    "fraction_of_attainable_max",
    "achieved_gb_per_s_min",
    "achieved_gb_per_s_max",
)


def point_record(point: RooflinePoint) -> dict[str, object]:
    return {_RENAMED.get(name, name): value for name, value in asdict(point).items()}


def summary_record(summary: OperatorSummary) -> dict[str, object]:
    """One operator on one device across its stages: what its sentence says, as numbers."""
    record: dict[str, object] = {
        "device": summary.device,
        "operator": summary.operator,
        "rows": summary.rows,
        "rows_memory_bound": summary.memory_bound,
        "rows_above_roof": summary.above_roof,
    }
    for name in ("fraction_of_compute", "fraction_of_attainable", "achieved_gb_per_s"):
        record[f"{name}_min"], record[f"{name}_max"] = getattr(summary, name)
    return record


def roofline_export(points: Sequence[RooflinePoint]) -> Export:
    """One record per point; `--summary`: one per device and operator."""
    return Export(
        Records.of(CSV_FIELDS, map(point_record, points)),
        Records.of(SUMMARY_COLUMNS, map(summary_record, operator_summaries(points))),
    )


def write_csv(target: Path | TextIO, points: Sequence[RooflinePoint]) -> None:
    """The points as CSV, one per row, to a file path or an open text stream."""
    if not isinstance(target, Path):
        target.write(to_csv(roofline_export(points).rows) + "\n")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as stream:
        write_csv(stream, points)
