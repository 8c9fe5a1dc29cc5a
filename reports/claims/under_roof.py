"""fbench's own claim: its measured ceilings bound the data, so every Table 1 row lies under
its device's roofline (reports/roofline/maths.py places the rows). Judged only with a calibration of
the same device, dtype and hardware. Measured values: docs/claims.md."""

from __future__ import annotations

from fbench.bench.calibration import Calibration
from fbench.bench.results.identity import device_model
from fbench.reports.claims.model import (
    FAILS,
    HOLDS,
    NOT_COMPARABLE,
    NOT_MEASURED,
    ClaimResult,
    not_judged,
)
from fbench.reports.claims.rows import RowSet, measure_operators, usable, why_unusable
from fbench.reports.formatting import MISSING
from fbench.reports.roofline import CEILING_TOO_LOW, roofline_point

CLAIM = "under-roof"
STATEMENT = "fbench: every operator row under its roofline"
TABLE1_OPERATORS = "conv,gconv,dwconv,pconv"


def _calibration_problem(rowset: RowSet, calibration: Calibration) -> str | None:
    """Why `calibration` cannot judge the rows: another device, dtype or hardware model."""
    device, dtype = rowset.device, rowset.rows[0].dtype
    if (calibration.device, calibration.dtype) != (device, dtype):
        return (
            f"calibration {calibration.identity} is for {calibration.device}/"
            f"{calibration.dtype}, the rows are {device}/{dtype}"
        )
    model = device_model(calibration.environment)
    if "unknown" not in (model, rowset.model) and model != rowset.model:
        return (
            f"calibration {calibration.identity} was measured on {model}, the rows on "
            f"{rowset.model}"
        )
    return None


def claim_under_roof(rowset: RowSet, calibration: Calibration | None) -> ClaimResult | None:
    """Every Table 1 row under the device's measured roofline (None: no calibration given)."""
    if calibration is None:
        return None
    device = rowset.device
    if rowset.problem:
        return not_judged(CLAIM, STATEMENT, device, NOT_COMPARABLE, rowset.problem, rowset.runs)
    if not rowset.rows:
        return not_judged(
            CLAIM, STATEMENT, device, NOT_MEASURED, measure_operators(device, TABLE1_OPERATORS)
        )
    problem = _calibration_problem(rowset, calibration)
    if problem:
        return not_judged(CLAIM, STATEMENT, device, NOT_COMPARABLE, problem, rowset.runs)
    points = [roofline_point(row, calibration) for row in rowset.rows if usable(row)]
    points = [point for point in points if point is not None]
    if not points:  # no verdict from nothing: every row was disturbed or failed
        return not_judged(
            CLAIM,
            STATEMENT,
            device,
            NOT_MEASURED,
            f"no usable operator rows{why_unusable(rowset.rows)}; "
            + measure_operators(device, TABLE1_OPERATORS),
            rowset.runs,
        )
    above = [f"{p.title} {p.shape_label}" for p in points if p.roof == CEILING_TOO_LOW]
    if above and "conv" not in calibration.ceilings:
        # Its roof is a GEMM's: a convolution library's own kernels (Winograd, cuDNN's) may
        # beat it, so a row above it says the calibration is too old, not that fbench's
        # ceilings fail to bound the data (docs/roofline.md: the conv probes).
        migrated = (
            f", migrated from {calibration.migrated_from}" if calibration.migrated_from else ""
        )
        return not_judged(
            CLAIM,
            STATEMENT,
            device,
            NOT_MEASURED,
            f"the calibration has no conv probes (calibration {calibration.identity}{migrated}); "
            f"{len(above)} row(s) above its GEMM roof; recalibrate: fbench calibrate --device "
            f"{device}",
            rowset.runs,
        )
    return ClaimResult(
        claim=CLAIM,
        statement=STATEMENT,
        device=device,
        verdict=FAILS if above else HOLDS,
        measured=float(len(points) - len(above)),
        paper=float(len(points)),
        measured_text=f"{len(points) - len(above)} of {len(points)} rows under",
        interval_text="row and roof 95% intervals",
        paper_text=MISSING,
        reason="; ".join(
            [
                *([f"{CEILING_TOO_LOW}: {', '.join(above)}"] if above else []),
                f"calibration {calibration.identity}",
            ]
        ),
        runs=rowset.runs,
    )
