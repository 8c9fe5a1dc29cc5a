"""Every claim on every device of the given runs, in the paper's order: the one entry point
`fbench report claims` calls (fbench/commands/report.py reads the files, renders the result).
Measured values: docs/claims.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fbench.bench.calibration import Calibration
from fbench.bench.results import RunResult
from fbench.reports.claims.model import DEVICES, ClaimResult
from fbench.reports.claims.network_speed import SPEEDUPS, claim_below_resnet50, claim_speedup
from fbench.reports.claims.operator_counts import claim_pconv_counts
from fbench.reports.claims.operator_flops import claim_pconv_dwconv_ratio, claim_table1_order
from fbench.reports.claims.rows import select_rows
from fbench.reports.claims.under_roof import claim_under_roof


def check_claims(
    runs: Sequence[RunResult], calibrations: Mapping[str, Calibration] | None = None
) -> list[ClaimResult]:
    """Every claim on every device of `runs` the paper has a column for, in the paper's order."""
    present = {row.device for run in runs for row in run.rows}
    devices = [device for device in DEVICES if device in present]
    if not devices:
        return []
    operators = {device: select_rows(runs, device, "operators") for device in devices}
    networks = {device: select_rows(runs, device, "networks") for device in devices}
    results: list[ClaimResult] = []
    for device in devices:
        results.append(claim_table1_order(operators[device]))
        results.append(claim_pconv_dwconv_ratio(operators[device]))
    results += claim_pconv_counts([operators[device] for device in devices])
    for speedup in SPEEDUPS:
        results += [claim_speedup(speedup, networks[d]) for d in devices if d in speedup.devices]
    results += [claim_below_resnet50(networks[device]) for device in devices]
    for device in devices:
        checked = claim_under_roof(operators[device], (calibrations or {}).get(device))
        if checked is not None:
            results.append(checked)
    return results


def unjudged_devices(runs: Sequence[RunResult]) -> list[str]:
    """Devices in `runs` the paper has no column for: their rows are not judged."""
    present = dict.fromkeys(row.device for run in runs for row in run.rows)
    return [device for device in present if device not in DEVICES]
