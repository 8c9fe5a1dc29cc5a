"""The depth check: latency vs stack depth, fitted per operator × shape (reads results only).

Table 1 times stacks of 10 layers so that the per-call framework cost (Python, dispatch,
allocation) is shared by ten operators. How much of it is left? Measure the same operator
at depths 1, 5 and 10 and fit latency = overhead + depth × per-layer cost by least squares:
the slope is what one layer costs, the intercept what the call costs whatever the depth.
It matters most where a layer is cheap: DWConv at 7×7, where the paper's FLOPS is lowest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from fbench.bench.results import ResultRow
from fbench.reports.formatting import fixed, format_fitted_ms, format_share
from fbench.reports.rows import RowPlace, operator_rank, row_place
from fbench.reports.table import Layout, Report, Table
from fbench.reports.tidy import Export, Records

one_decimal, four_decimals = fixed(1), fixed(4)


@dataclass(frozen=True)
class LineFit:
    """y = intercept + slope × x by ordinary least squares."""

    slope: float
    intercept: float
    r_squared: float | None  # None when every y is the same
    intercept_stderr: float | None  # None with fewer than 3 points (no residual freedom)
    n: int


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> LineFit:
    """Least-squares line through (x, y); needs at least two distinct x."""
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} x values but {len(ys)} y values")
    n = len(xs)
    if n < 2 or len(set(xs)) < 2:
        raise ValueError("a line needs at least two distinct x values")
    mean_x, mean_y = math.fsum(xs) / n, math.fsum(ys) / n
    sxx = math.fsum((x - mean_x) ** 2 for x in xs)
    sxy = math.fsum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    residual = math.fsum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    total = math.fsum((y - mean_y) ** 2 for y in ys)
    stderr = None
    if n > 2:
        variance = residual / (n - 2)
        stderr = math.sqrt(variance * math.fsum(x * x for x in xs) / (n * sxx))
    return LineFit(
        slope=slope,
        intercept=intercept,
        r_squared=1.0 - residual / total if total > 0 else None,
        intercept_stderr=stderr,
        n=n,
    )


@dataclass(frozen=True)
class DepthFit(RowPlace):
    """One operator × shape on one device: its latency at each depth and the fitted line."""

    batch: int
    dtype: str
    layers: tuple[int, ...]
    latencies_ms: tuple[float, ...]
    flops_per_layer: int  # multiply-adds of one layer, one sample
    fit: LineFit

    @property
    def per_layer_ms(self) -> float:
        return self.fit.slope

    @property
    def overhead_ms(self) -> float:
        return self.fit.intercept

    def overhead_share(self, layers: int = 10) -> float | None:
        """Fraction of a `layers`-deep stack's fitted latency that is the fixed overhead."""
        total = self.fit.intercept + layers * self.fit.slope
        return self.fit.intercept / total if total > 0 else None

    @property
    def per_layer_gflops_per_s(self) -> float | None:
        """FLOPS with the overhead taken out: one layer's multiply-adds / the slope."""
        if self.fit.slope <= 0:
            return None
        return self.flops_per_layer * self.batch / (self.fit.slope / 1000.0) / 1e9


def _depth_key(row: ResultRow) -> tuple:
    """Everything that identifies a row except its depth."""
    key = row.key()
    return key[:5] + key[6:]  # row_key's index 5 is `layers`


def depth_fits(rows: Sequence[ResultRow]) -> tuple[list[DepthFit], list[str]]:
    """Fit every operator × shape measured at two or more depths; (fits, what was skipped).

    Rows of the same depth from several runs all enter the fit, each as its own point.
    """
    groups: dict[tuple, list[ResultRow]] = {}
    for row in rows:
        if row.status == "failed" or row.latency is None or row.suite != "operators":
            continue
        groups.setdefault(_depth_key(row), []).append(row)
    fits, skipped = [], []
    for group in groups.values():
        group = sorted(group, key=lambda r: r.layers)
        first = group[0]
        label = f"{first.device} {first.operator} {first.shape_label}"
        if len({row.layers for row in group}) < 2:
            skipped.append(f"{label}: measured only at {first.layers} layers")
            continue
        layers = tuple(row.layers for row in group)
        latencies = tuple(float(row.latency) for row in group)
        fits.append(
            DepthFit(
                **row_place(first),
                layers=layers,
                latencies_ms=latencies,
                flops_per_layer=first.flops // first.layers,
                fit=fit_line(layers, latencies),
            )
        )
    devices = list(dict.fromkeys(fit.device for fit in fits))
    fits.sort(key=lambda f: (devices.index(f.device), operator_rank(f.operator), f.stage))
    return fits, skipped


# How to read the depth table, printed under it.
READING = (
    "latency = overhead + layers × per layer, least squares over the stored medians "
    "(± the intercept's standard error). FLOPS per layer (G/s): one layer's FLOPs "
    "(multiply-adds) / per-layer time, the FLOPS with the overhead taken out."
)


def depth_table(fits: Sequence[DepthFit], at_layers: int = 10) -> Table:
    """One line per fit, as text: a cell such as the latencies by depth or the overhead with
    its error holds several numbers, and CSV keeps what the terminal shows."""
    headers = [
        "Device",
        "Operator",
        "Feature map",
        "Latency (ms) by layers",
        "Per layer (ms)",
        "Overhead (ms)",
        f"Overhead share at {at_layers}",
        "FLOPS per layer (G/s)",
        "R²",
    ]
    rows: list[list[object]] = []
    for fit in fits:
        by_depth = ", ".join(
            f"{n}: {format_fitted_ms(ms)}"
            for n, ms in zip(fit.layers, fit.latencies_ms, strict=True)
        )
        overhead = format_fitted_ms(fit.overhead_ms)
        if fit.fit.intercept_stderr is not None:
            overhead += f" ±{format_fitted_ms(fit.fit.intercept_stderr)}"
        rows.append(
            [
                fit.device,
                fit.title,
                fit.shape_label,
                by_depth,
                format_fitted_ms(fit.per_layer_ms),
                overhead,
                format_share(fit.overhead_share(at_layers)),
                one_decimal(fit.per_layer_gflops_per_s),
                four_decimals(fit.fit.r_squared),
            ]
        )
    short = ["Device", "Operator", "Feature map", "Latency (ms) at N layers", "Per layer (ms)"]
    short += ["Overhead (ms)", f"Share at {at_layers}", "Layer FLOPS (G/s)", "R²"]
    return Table(
        headers,
        rows,
        layout=Layout(align="right", csv_line_end="\r\n"),
        short_headers=short,
        key_columns=3,
    )


def depth_report(fits: Sequence[DepthFit], at_layers: int = 10) -> Report:
    """The depth table with how to read it underneath."""
    return Report(depth_table(fits, at_layers), after=["", READING])


# Where a fit stands: the first columns of both depth exports.
FIT_PLACE_COLUMNS = (
    "device",
    "backend",
    "dtype",
    "batch",
    "operator",
    "stage",
    "channels",
    "height",
    "width",
)
# The fitted line of an operator × feature map: per layer, overhead (± its standard error),
# the overhead's share of a stack `overhead_share_at_layers` deep, FLOPS per layer, R².
FIT_COLUMNS = (
    "per_layer_ms",
    "overhead_ms",
    "overhead_stderr_ms",
    "overhead_share",
    "overhead_share_at_layers",
    "per_layer_gflops_per_s",
    "r_squared",
    "points",
)
DEPTH_COLUMNS = (*FIT_PLACE_COLUMNS, "layers", "latency_ms", "fitted_latency_ms", *FIT_COLUMNS)
DEPTH_SUMMARY_COLUMNS = (*FIT_PLACE_COLUMNS, "min_layers", "max_layers", *FIT_COLUMNS)


def _fit_record(fit: DepthFit, at_layers: int) -> dict[str, object]:
    return {
        **{name: getattr(fit, name) for name in FIT_PLACE_COLUMNS},
        "per_layer_ms": fit.per_layer_ms,
        "overhead_ms": fit.overhead_ms,
        "overhead_stderr_ms": fit.fit.intercept_stderr,
        "overhead_share": fit.overhead_share(at_layers),
        "overhead_share_at_layers": at_layers,
        "per_layer_gflops_per_s": fit.per_layer_gflops_per_s,
        "r_squared": fit.fit.r_squared,
        "points": fit.fit.n,
    }


def depth_export(fits: Sequence[DepthFit], at_layers: int = 10) -> Export:
    """`fbench depth --format csv|json`: one record per measured depth (its stored median,
    the fitted line's value there, and the fit's numbers repeated so that one file pivots
    alone); `--summary`: one record per fit, with the depths it spans."""
    rows, summary = [], []
    for fit in fits:
        record = _fit_record(fit, at_layers)
        for layers, latency in zip(fit.layers, fit.latencies_ms, strict=True):
            fitted = fit.fit.intercept + layers * fit.fit.slope
            rows.append(
                {**record, "layers": layers, "latency_ms": latency, "fitted_latency_ms": fitted}
            )
        summary.append({**record, "min_layers": min(fit.layers), "max_layers": max(fit.layers)})
    return Export(Records.of(DEPTH_COLUMNS, rows), Records.of(DEPTH_SUMMARY_COLUMNS, summary))
