"""Which stored rows a claim on one device may use: one device setup, no row twice, steady rows
only, and when rows are left out, a reason a user can act on (what to measure next)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fbench.bench.results import ResultRow, RunResult
from fbench.bench.results.identity import device_model
from fbench.bench.results.status import DISTURBED, FAILED
from fbench.reports.rows import operator_title
from fbench.reports.table1.averages import counts_in_averages

# A row a claim may use is a row Table 1 averages: measured in a steady state (`ok` or
# `imprecise`, bench/results/status.py). An imprecise row (interval wider than the target) is
# used: its interval widens the claim's, which is what it should do. Disturbed and failed rows
# are not.
usable = counts_in_averages


def unusable_reason(row: ResultRow) -> str:
    """Why a row is not `usable`: 'failed (OOM)', 'disturbed (host_moved)'..."""
    if row.status == FAILED:
        return f"failed ({row.error})" if row.error else "failed"
    if row.status == DISTURBED:
        return f"disturbed ({', '.join(row.reasons)})"
    return "no measured FLOPS"


def why_unusable(rows: Sequence[ResultRow], operators: Sequence[str] = ()) -> str:
    """' (8 rows disturbed (host_moved))': why the rows of `operators` (all: empty) were left
    out, counted by reason; '' where there were none to leave out."""
    counts: dict[str, int] = {}
    for row in rows:
        if (not operators or row.operator in operators) and not usable(row):
            reason = unusable_reason(row)
            counts[reason] = counts.get(reason, 0) + 1
    if not counts:
        return ""
    return " (" + ", ".join(f"{n} row(s) {reason}" for reason, n in counts.items()) + ")"


def measure_operators(device: str, operators: str) -> str:
    """The command that measures the operator rows a claim lacks."""
    return f"measure with: fbench run --device {device} --operators {operators}"


@dataclass(frozen=True)
class RowSet:
    """A device's rows of one suite, from one device setup, or why they cannot be judged."""

    device: str
    suite: str
    rows: tuple[ResultRow, ...] = ()
    runs: tuple[str, ...] = ()
    problem: str | None = None  # set: not comparable, and why
    model: str | None = None  # the hardware the rows were measured on
    quick: bool = False  # from a --quick run: smaller feature maps, fewer layers than the paper's


def setup_label(run: RunResult, row: ResultRow) -> str:
    """What must be equal for rows to be compared: hardware model, dtype, backend."""
    return f"{device_model(run.environment)} {row.dtype} {row.backend}"


def select_rows(runs: Sequence[RunResult], device: str, suite: str) -> RowSet:
    """The rows of `device` in `suite`; a problem where they mix setups or repeat a row."""
    found = [
        (run, row) for run in runs for row in run.rows if (row.device, row.suite) == (device, suite)
    ]
    if not found:
        return RowSet(device, suite)
    rows = tuple(row for _, row in found)
    run_ids = tuple(dict.fromkeys(run.run_id for run, _ in found))
    setups = list(dict.fromkeys(setup_label(run, row) for run, row in found))
    problem = None
    if len(setups) > 1:
        problem = (
            f"{device} rows come from {len(setups)} setups ({'; '.join(setups)}); "
            "give one run per device"
        )
    elif rows[0].dtype != "float32":
        problem = f"{device} rows are {rows[0].dtype}; the paper measured float32"
    else:
        problem = _repeated_row(found, device)
    quick = any(run.config.get("quick", False) for run, _ in found)
    model = device_model(found[0][0].environment)
    return RowSet(device, suite, rows, run_ids, problem, model, quick)


def _repeated_row(found: Sequence[tuple[RunResult, ResultRow]], device: str) -> str | None:
    """The first row measured in two results, said as a problem; None where there is none."""
    seen: dict[tuple, str] = {}
    for run, row in found:
        key = row.key()
        if key in seen:
            return (
                f"{row.network or operator_title(row.operator)} {row.shape_label} on "
                f"{device} is in two results ({seen[key]}, {run.run_id}); give one run "
                "per device"
            )
        seen[key] = run.run_id
    return None
