"""`fbench run --time-budget`: the whole run, start-up to stored file, planned to fit a
duration (bench/measure/budget.py chooses; this module measures what it chooses from and
says it). The deadline counts from the start of this process."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fbench.bench.config import RunConfig
    from fbench.bench.measure.budget import BudgetPlan

_IMPORTED_AT = time.time()  # fallback for the process's start where /proc is missing
# What importing torch took in a fresh worker on the project's 2-core VM (worker.py).
TORCH_IMPORT_S = 2.6


def process_age_s() -> float:
    """Seconds since this process started (Linux: /proc), else since fbench's import."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            started_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as uptime:
            up_s = float(uptime.read().split()[0])
        return max(0.0, up_s - started_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.time() - _IMPORTED_AT


def torch_import_s() -> float:
    """What importing torch costs a worker: timed here if this process has not yet."""
    if "torch" in sys.modules:
        return TORCH_IMPORT_S
    began = time.monotonic()
    import torch  # noqa: F401

    return time.monotonic() - began


# A process that started more than this before `fbench run` began is not `fbench` itself
# (a test or a program calling fbench.cli.main): its budget counts from the command's start.
OWN_PROCESS_S = 60.0


def elapsed_s(command_started: float) -> float:
    """Seconds of the budget already spent: since this process started when it is the
    `fbench` command (its interpreter start and imports count), else since `command_started`
    (time.time())."""
    in_command = time.time() - command_started
    age = process_age_s()
    return age if age - in_command < OWN_PROCESS_S else in_command


def plan_budget(
    config: RunConfig, budget_s: float, rows: int, command_started: float
) -> tuple[RunConfig, BudgetPlan, float]:
    """The config with the timing the budget allows, the plan, and the measuring deadline
    (time.time()). One line (exit 2) when one process per row does not fit."""
    from fbench.bench.measure import budget

    import_s = torch_import_s()
    elapsed = elapsed_s(command_started)
    chosen = budget.plan(budget_s, elapsed, rows, config.timing, import_s)
    stop_at = time.time() - elapsed + budget_s - budget.reserve_s(budget_s)
    return replace(config, timing=chosen.timing(config.timing)), chosen, stop_at
