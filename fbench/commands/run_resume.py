"""What a stored run still lacks, for `fbench run --resume` and for a run's final state: its
config checked as a config file would be, on this machine; the rows not stored and the rows
timed in fewer worker processes than planned; how many processes every row has had."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fbench.bench.errors import FbenchError
from fbench.commands.run_checks import check_bounds, check_memory

if TYPE_CHECKING:
    from fbench.bench.config import RunConfig
    from fbench.bench.plan.rows import RowPlan
    from fbench.bench.results import ResultRow, RunResult


def stored_config(stored: RunResult, path: Path) -> RunConfig:
    """The stored run's config, checked as a config file would be, on this machine."""
    from fbench.bench import environment
    from fbench.bench.config import RunConfig, check_timing
    from fbench.devices import BACKENDS, DEVICES

    where = f"{path}: cannot resume:"
    try:
        config = RunConfig.from_dict(stored.config)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise FbenchError(f"{where} its config block is invalid ({error})") from None
    if config.device not in DEVICES:
        raise FbenchError(f"{where} its config names an unknown device {config.device!r}")
    if config.backend not in BACKENDS:
        raise FbenchError(f"{where} its config names an unknown backend {config.backend!r}")
    _check_names(config, where)
    if min(config.depths) < 1:
        raise FbenchError(f"{where} its config has layers {min(config.depths)}")
    check_bounds(config, f"{where} its config:")
    check_memory(config)
    check_timing(f"{where} its config: [timing]", config.timing)
    here = environment.collect()
    for key in ("machine", "cpu_model", "torch"):
        if stored.environment.get(key) != here.get(key):
            raise FbenchError(
                f"{path}: cannot resume here: the run was measured with {key} "
                f"{stored.environment.get(key)!r}, this machine has {here.get(key)!r}"
            )
    return config


def _check_names(config: RunConfig, where: str) -> None:
    """Every operator and network the stored config names is one this fbench can build (a
    hand-edited or crafted file may name anything)."""
    from fbench.networks import NETWORKS
    from fbench.operators import OPERATORS

    if config.suite == "networks":
        unknown = [name for name in config.models if name not in NETWORKS]
        if unknown:
            raise FbenchError(f"{where} its config names an unknown network {unknown[0]!r}")
        return
    for name in config.operators:
        if config.custom_operator(name) is not None:
            continue
        if name not in OPERATORS:
            raise FbenchError(
                f"{where} its config names an unknown operator {name!r} (neither built in "
                f"nor defined in its custom_operators; built in: {', '.join(OPERATORS)})"
            )
        if name not in config.operator_params:
            raise FbenchError(f"{where} its config has no operator_params for {name!r}")


def left_to_do(
    stored: RunResult, config: RunConfig, path: Path
) -> tuple[list[RowPlan], list[ResultRow]]:
    """The plans to time (rows not stored, and rows timed in fewer processes than
    planned) and the stored rows among them, whose processes count towards the plan."""
    from fbench.bench.measure.pooling import processes_of
    from fbench.bench.plan.rows import plan_rows

    try:
        every = plan_rows(config)
    except (KeyError, TypeError, ValueError) as error:
        raise FbenchError(f"{path}: cannot resume: its config plans no rows ({error})") from None
    planned = {plan.key() for plan in every}
    strays = [row for row in stored.rows if row.key() not in planned]
    if strays:
        raise FbenchError(
            f"{path}: cannot resume: row {strays[0].operator} {strays[0].shape_label} is not "
            "one its config plans"
        )
    wanted = processes_planned(config)
    by_key = {row.key(): row for row in stored.rows}
    plans = [
        plan
        for plan in every
        if plan.key() not in by_key
        or (by_key[plan.key()].status != "failed" and processes_of(by_key[plan.key()]) < wanted)
    ]
    retimed = [by_key[plan.key()] for plan in plans if plan.key() in by_key]
    return plans, retimed


def processes_planned(config: RunConfig) -> int:
    timing = config.timing
    return timing.processes if timing.method == "adaptive" else 1


def rows_short(result: RunResult, planned: int) -> list[ResultRow]:
    """The stored rows, failed ones aside, timed in fewer than `planned` processes."""
    from fbench.bench.measure.pooling import processes_of

    return [row for row in result.rows if row.status != "failed" and processes_of(row) < planned]


def process_counts(result: RunResult, planned: int) -> dict[str, int]:
    """processes_finished: how many of the planned processes every planned row has had."""
    if planned < 2:
        return {}
    from fbench.bench.measure.pooling import processes_of

    timed = [processes_of(row) for row in result.rows if row.status != "failed"]
    unstored = result.rows_planned > len(result.rows)
    return {"processes_finished": 0 if unstored else min([planned, *timed])}
