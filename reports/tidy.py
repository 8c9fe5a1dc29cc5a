"""The machine form of every table verb (`--format csv|json`): long, tidy records.

One record per measured thing (a stored row, a depth point, a roofline point, a compared
row), with stable snake_case column names that carry their unit (`latency_ms`,
`gflops_per_s`, `flops_m`), numbers as numbers and a missing value as null (an empty CSV
cell). Averages, ratios and verdicts are not mixed into the data: each verb keeps them in a
second set of records, its `--summary` export (Wickham, "Tidy Data", 2014). Both formats
read straight into pandas: `pandas.read_csv(path)`, `pandas.read_json(path)`. The column
dictionary is in docs/reports.md.

The text formats (text, md, latex, html) are reports/render.py's; this module never
formats a number for reading.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fbench.bench.results import ResultRow

# The formats this module writes (the others are reports/render.py's).
MACHINE_FORMATS = ("csv", "json")


@dataclass(frozen=True)
class Records:
    """A tidy table: its columns in order, and one mapping per record (a column a record
    lacks is missing there)."""

    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]

    @classmethod
    def of(cls, columns: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> Records:
        return cls(tuple(columns), tuple(dict(row) for row in rows))


@dataclass(frozen=True)
class Export:
    """What a verb exports: its records, and its summary records (`--summary`)."""

    rows: Records
    summary: Records


def _value(value: Any) -> Any:
    """A cell as the export keeps it: a number stays a number, NaN/inf and "" become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value == "" or value == [] or value == {}:
        return None
    return value


def to_csv(records: Records) -> str:
    """CSV (the csv module's quoting, "\n" line ends), header first; a missing value is an
    empty cell. No last newline (the caller's print adds it)."""
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(records.columns)
    for row in records.rows:
        writer.writerow(["" if (v := _value(row.get(c))) is None else v for c in records.columns])
    return stream.getvalue().rstrip("\n")


def to_json(records: Records) -> str:
    """A JSON array of objects, one per record, every column in every object (null where a
    record has no value): `pandas.read_json` reads it as a table."""
    data = [{column: _value(row.get(column)) for column in records.columns} for row in records.rows]
    return json.dumps(data, indent=1, ensure_ascii=False)


def export(exported: Export, fmt: str, summary: bool = False) -> str:
    """The records (or, with `summary`, the summary records) in `fmt`: csv or json."""
    return export_records(exported.summary if summary else exported.rows, fmt)


def export_records(records: Records, fmt: str) -> str:
    """Records with no summary beside them (`fbench devices`) in `fmt`: csv or json."""
    if fmt == "csv":
        return to_csv(records)
    if fmt == "json":
        return to_json(records)
    raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(MACHINE_FORMATS)}")


# What every record of a stored row begins with: which run and where, what was measured.
ROW_PLACE_COLUMNS = (
    "run_id",
    "device",
    "backend",
    "dtype",
    "batch",
    "operator",
    "operator_params",
    "stage",
    "channels",
    "height",
    "width",
    "layers",
)
# How it measured: the row's numbers, its status and why.
MEASURED_COLUMNS = (
    "flops_m",
    "latency_ms",
    "ci95_low_ms",
    "ci95_high_ms",
    "throughput_per_s",
    "gflops_per_s",
    "status",
    "reasons",
)
ROW_COLUMNS = ROW_PLACE_COLUMNS + MEASURED_COLUMNS


def params_text(params: Mapping[str, Any]) -> str | None:
    """An operator's parameters as one compact JSON cell (`{"partial_ratio":0.25}`), so a
    CSV cell holds them; None when the operator has none."""
    return json.dumps(dict(params), sort_keys=True, separators=(",", ":")) if params else None


def reasons_text(row: ResultRow) -> str | None:
    """Why a row is not ok, "; "-joined: its reasons (e.g. `interval_wide`), then a failed
    row's error message; None for an ok row."""
    reasons = [*row.reasons, *([row.error] if row.error else [])]
    return "; ".join(reasons) or None


def row_place(row: ResultRow, run_id: str | None) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "device": row.device,
        "backend": row.backend,
        "dtype": row.dtype,
        "batch": row.batch,
        "operator": row.operator,
        "operator_params": params_text(row.operator_params),
        "stage": row.stage,
        "channels": row.channels,
        "height": row.height,
        "width": row.width,
        "layers": row.layers,
    }


def row_record(row: ResultRow, run_id: str | None) -> dict[str, Any]:
    """One stored row as a tidy record (ROW_COLUMNS): where it stands and what it measured.
    `flops_m`: multiply-adds of the whole stack for one sample, in millions (Table 1's
    FLOPs column); `latency_ms` the headline latency (median, or mean for the official
    method) and its 95% interval; `throughput_per_s` samples a second at the row's batch."""
    summary = row.latency_ms
    return {
        **row_place(row, run_id),
        "flops_m": row.flops / 1e6,
        "latency_ms": row.latency,
        "ci95_low_ms": summary.ci95_low if summary else None,
        "ci95_high_ms": summary.ci95_high if summary else None,
        "throughput_per_s": row.throughput_per_s,
        "gflops_per_s": row.gflops_per_s,
        "status": row.status,
        "reasons": reasons_text(row),
    }
