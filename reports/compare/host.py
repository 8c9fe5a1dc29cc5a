"""How fast the host itself ran in the current run, from the host probe, and the opt-in
correction for it.

Each row stores the median of a fixed GEMM timed in the same rounds
(bench/stats/host_probe.py), so the output always says how much faster or slower the host
itself ran in the current run. Host-speed correction (`--host-correction`): before judging,
the current samples are divided by the host's speed ratio, the rows' common shift (the median
of their ratios) kept within `host_tolerance` of the probe's, so a slowdown of every row that
the probe did not see still counts. It is off by default because it did not earn its place:
it reduced the false SLOWER/FASTER rows but not the pairs of runs that fail, and it hid part
of a slowdown of every row (docs/methodology.md, "Host-speed correction in the gate"). Rows
on such a host also move apart from each other, which no single host factor explains.
"""

from __future__ import annotations

from collections.abc import Sequence

from fbench.bench.results import ResultRow, RunResult
from fbench.bench.stats import host_probe
from fbench.bench.stats.timing import median
from fbench.reports.compare.statistics import host_speed_factor
from fbench.reports.compare.verdicts import DEFAULT_HOST_TOLERANCE, HostCorrection


def host_correction(
    pairs: Sequence[tuple[ResultRow, ResultRow]],
    tolerance: float = DEFAULT_HOST_TOLERANCE,
    apply: bool = True,
    failures: Sequence[tuple[str, str]] = (),
) -> HostCorrection:
    """The host-speed correction for matched (baseline, current) rows with samples; with
    `apply=False` the probe's and the rows' ratios are still measured, for the report.
    `failures`: (run id, words) of runs whose host probe failed (`probe_failures`)."""
    probed = [
        (base, cur)
        for base, cur in pairs
        if host_probe.rounds_of(base) and host_probe.rounds_of(cur)
        and base.samples_ms and cur.samples_ms
    ]  # fmt: skip
    if not pairs:
        return HostCorrection(False, tolerance=tolerance, reason="no rows to compare")
    if not probed:
        if failures:  # the probe was on but failed: say so, not that it was switched off
            return HostCorrection(
                False, tolerance=tolerance, reason="; ".join(words for _, words in failures)
            )
        runs = sorted(
            {name for base, cur in pairs for name, row in (("baseline", base), ("current", cur))
             if not host_probe.rounds_of(row)}
        )  # fmt: skip
        return HostCorrection(
            False,
            tolerance=tolerance,
            reason=f"no host probe in the {' and '.join(runs)} run "
            "(--method official, host_probe = false, or an older fbench)",
        )
    workloads = {row.host_probe.get("workload") for pair in probed for row in pair}
    if len(workloads) > 1:
        return HostCorrection(
            False, tolerance=tolerance, reason=f"different probe workloads: {sorted(workloads)}"
        )
    probe_ratio = median(
        [
            host_probe.speed_ratio(
                base.host_probe["round_medians_ms"], cur.host_probe["round_medians_ms"]
            )
            for base, cur in probed
        ]
    )
    rows_ratio = median([median(cur.samples_ms) / median(base.samples_ms) for base, cur in probed])
    if not apply:
        return HostCorrection(
            False, 1.0, probe_ratio, rows_ratio, tolerance, "--host-correction divides it out"
        )
    factor = host_speed_factor(probe_ratio, rows_ratio, tolerance)
    how = (
        "the rows' common shift"
        if factor == rows_ratio
        else f"the probe's ±{tolerance:.1%}, the rows moved further"
    )
    return HostCorrection(True, factor, probe_ratio, rows_ratio, tolerance, how)


def probe_failures(*runs: RunResult) -> list[tuple[str, str]]:
    """(run id, words) for each run whose host probe failed (bench/stats/host_probe.py)."""
    found = []
    for run in runs:
        failure = host_probe.run_failure(run.rows)
        if failure is not None:
            found.append((run.run_id, host_probe.failure_words(failure, run.run_id)))
    return found
