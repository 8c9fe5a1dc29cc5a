"""What the board looked like during a run, from its stored rows: SoC temperature and clocks
(the telemetry read before and after every row, in every process), the time spent waiting
for the SoC to cool, throttle events, and the rows' statuses. The Pi workflow writes it to
the job summary (`fbench report board RUN --format md`); docs/raspberry-pi.md."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fbench.bench.results import RunResult
from fbench.reports.table import Table


def _readings(run: RunResult) -> list[dict[str, Any]]:
    """Every telemetry reading of the run: each process's before/after, else the row's."""
    readings = []
    for row in run.rows:
        sources = [entry.get("telemetry") or {} for entry in (row.processes or [])]
        if not any(sources):
            sources = [row.telemetry or {}]
        for telemetry in sources:
            readings += [telemetry.get(when) or {} for when in ("before", "after")]
    return [reading for reading in readings if reading]


def _span(values: Iterable[float | None], unit: str, digits: int = 1) -> str:
    known = [value for value in values if value is not None]
    if not known:
        return "not read"
    low, high = min(known), max(known)
    if low == high:
        return f"{low:.{digits}f} {unit}"
    return f"{low:.{digits}f}–{high:.{digits}f} {unit}"


def _cooling(run: RunResult) -> tuple[float, int]:
    """Seconds waited for the SoC to cool (the longest-sampled row saw every wait of its
    process) and the number of waits."""
    waited, waits = 0.0, 0
    for row in run.rows:
        cooling = (row.telemetry or {}).get("cooling") or {}
        if cooling.get("waited_s", 0.0) > waited:
            waited, waits = cooling["waited_s"], cooling.get("waits", 0)
    return waited, waits


def board_table(run: RunResult) -> Table:
    readings = _readings(run)
    throttled = sorted(
        {(r.get("throttled") or {}).get("raw") for r in readings} - {None},
        key=lambda raw: int(raw, 16),
    )
    rows_throttled = [row for row in run.rows if "throttled" in (row.reasons or [])]
    waited, waits = _cooling(run)
    statuses: dict[str, int] = {}
    for row in run.rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
    budget = run.extra.get("time_budget") or {}
    facts = [
        ["SoC temperature", _span((r.get("soc_temp_c") for r in readings), "°C")],
        ["ARM clock (vcgencmd)", _span((r.get("arm_clock_mhz") for r in readings), "MHz", 0)],
        ["CPU frequency (cpufreq)", _span((r.get("cpu_mhz") for r in readings), "MHz", 0)],
        [
            "governor",
            ", ".join(sorted({r["governor"] for r in readings if r.get("governor")})) or "not read",
        ],
        ["cooling waits", f"{waited:.0f} s in {waits} wait(s)" if waits else "none"],
        ["get_throttled seen", ", ".join(throttled) or "not read"],
        ["rows throttled", f"{len(rows_throttled)} of {len(run.rows)}"],
        ["rows", ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))],
    ]
    if budget:
        left = budget.get("left_s")
        facts.append(
            [
                "time budget",
                f"{budget['budget_s']:g} s"
                + (f", {left:g} s left" if left is not None else "")
                + (", ran out" if budget.get("ran_out") else ""),
            ]
        )
    return Table(
        headers=["board", run.run_id],
        rows=facts,
        notes=[
            f"{len(readings)} telemetry reading(s): before and after every row, in every "
            f"process; board {run.environment.get('board_model') or 'unknown'}, state {run.state}"
        ],
    )
