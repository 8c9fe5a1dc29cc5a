"""The config's data types and defaults that need no registry: how rows are timed
(`TimingConfig` and its presets), the command-line `Overrides`, the dtypes, the paper's stage
shapes and the regression gate's defaults.

Reports import their defaults from here, so this module imports nothing from devices/,
operators/ or networks/ (an import contract in pyproject.toml keeps it so). The resolved
experiment, which holds operator shapes, is `RunConfig` in bench/config/run_config.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fbench.bench.errors import FbenchError

DTYPES = ("float32", "float16", "bfloat16", "int8")
# What a stack is built in for a dtype that a backend reaches by quantising (int8: the
# backend quantises the float32 stack; FLOPs stay its multiply-adds).
BUILD_DTYPE = {"int8": "float32"}
# The paper's four FasterNet stage shapes (Table 1): channels × height × width.
PAPER_STAGES = ((96, 56, 56), (192, 28, 28), (384, 14, 14), (768, 7, 7))
SUITES = ("operators", "networks")
QUICK_LAYERS = 2
QUICK_SPATIAL_DIVISOR = 4


@dataclass(frozen=True)
class TimingConfig:
    """How rows are timed. See bench/measure/runner.py for the procedure, docs/methodology.md
    for why."""

    method: str = "adaptive"  # "adaptive" (median, interval, interleaved) or "official"
    ci_target: float = 0.01  # stop a row once its median's 95% CI is within ±1%
    min_samples: int = 20
    min_rounds: int = 8  # rounds every row is sampled in, so drift hits all rows alike
    round_s: float = 0.05  # sampling time one row gets per round
    max_row_s: float = 6.0  # sampling-time cap per row; over it, short of the target: "imprecise"
    warmup_min_s: float = 0.2
    warmup_max_s: float = 2.0
    warmup_tolerance: float = 0.02  # two consecutive warm-up windows' medians within 2%
    schedule: str = "interleaved"  # or "sequential": one row after another
    official_calls: int = 200  # --method official: the FasterNet script's 200 timed calls
    perf_counters: bool = False  # --perf-counters: cycles, instructions, LLC misses per row
    host_probe: bool = True  # time a fixed GEMM in every round (bench/measure/host_probe.py)
    # A row is `disturbed` (host_moved) when, within one process, the host probe's sustained
    # level (a running median of its rounds, so spikes the row's median absorbs do not
    # count) moved by more than this: how far the row's median could have moved with it
    # (bench/stats/host_probe.py, docs/methodology.md "Spikes and shifts").
    host_moved_above: float = 0.10
    # Worker processes the adaptive method times every row in, one after another, each
    # with 1/processes of the budget (bench/measure/processes.py): a row's speed varies from one
    # fresh process to the next, and pooling processes averages that out.
    processes: int = 6


QUICK_TIMING = TimingConfig(
    ci_target=0.05,
    min_samples=6,
    min_rounds=2,
    round_s=0.01,
    max_row_s=0.2,
    warmup_min_s=0.0,
    warmup_max_s=0.1,
    official_calls=20,
    processes=1,
)
# The network suite (Figure 2 / Table 3): whole networks take 5–350 ms a call on one thread,
# so fewer samples and rounds, a ±2% target, and a per-row cap that keeps all 35 networks
# within ~15 minutes on a 2-core machine (docs/networks.md).
NETWORK_TIMING = TimingConfig(
    ci_target=0.02,
    min_samples=10,
    min_rounds=4,
    round_s=0.25,
    max_row_s=12.0,
    warmup_min_s=0.5,
    warmup_max_s=3.0,
    processes=1,  # each process would build and warm 35 networks (~4.5 GB) again
)


def check_timing(where: str, timing: TimingConfig) -> None:
    """Raise one line for the first value of `timing` that no run could use."""
    problems = []
    if timing.method not in ("adaptive", "official"):
        problems.append(f'method must be "adaptive" or "official", got {timing.method!r}')
    if timing.schedule not in ("interleaved", "sequential"):
        problems.append(f'schedule must be "interleaved" or "sequential", got {timing.schedule!r}')
    if not 0 < timing.ci_target < 1:
        problems.append(f"ci_target must be in (0, 1) (0.01 = ±1%), got {timing.ci_target}")
    if timing.min_samples < 6:
        problems.append(
            f"min_samples must be at least 6 (fewer give no 95% interval), got {timing.min_samples}"
        )
    for name in ("min_rounds", "official_calls", "processes"):
        if getattr(timing, name) < 1:
            problems.append(f"{name} must be at least 1, got {getattr(timing, name)}")
    for name in ("round_s", "max_row_s", "warmup_tolerance", "host_moved_above"):
        value = getattr(timing, name)
        if not (value > 0 and math.isfinite(value)):
            problems.append(f"{name} must be a positive number, got {value}")
    for name in ("warmup_min_s", "warmup_max_s"):
        value = getattr(timing, name)
        if not (value >= 0 and math.isfinite(value)):
            problems.append(f"{name} must be a number ≥ 0, got {value}")
    if timing.warmup_max_s < timing.warmup_min_s:
        problems.append(
            f"warmup_max_s ({timing.warmup_max_s}) is below warmup_min_s ({timing.warmup_min_s})"
        )
    if problems:
        raise FbenchError(f"{where} {problems[0]}")


@dataclass(frozen=True)
class Overrides:
    """Values given on the command line; None means "take bench.toml's"."""

    device: str | None = None
    backend: str | None = None
    operators: Sequence[str] | None = None
    stages: Sequence[int] | None = None
    layers: int | None = None
    batch: int | None = None
    method: str | None = None
    pin_core: int | str | None = None
    malloc: str | None = None
    dtype: str | None = None
    quick: bool = False
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    suite: str | None = None
    models: Sequence[str] | None = None
    layers_sweep: Sequence[int] | None = None
    perf_counters: bool = False
    processes: int | None = None
    operator_flags: Sequence[str] | None = None  # --operator [NAME=]TARGET:FACTORY[:K=V,...]
    shapes: Sequence[str] | None = None  # --shape CxHxW
    input_size: int | None = None
    stack: Sequence[str] = ()  # --with PACKAGE==VERSION, repeatable (bench/config/stack.py)


# `fbench run --time-budget` / [run] time_budget: how long a whole run may take
# (bench/measure/budget.py plans it). Beyond a day it is a typo, not a budget.
MAX_TIME_BUDGET_S = 24 * 3600.0
_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | int | float, where: str) -> float:
    """Seconds from `90`, `90s`, `20m`, `1.5h` (a number alone is seconds); one line naming
    `where` for anything else, zero, a negative or more than a day."""
    raw = str(text).strip().lower()
    unit = raw[-1:] if raw[-1:] in _DURATION_UNITS else "s"
    number = raw[:-1] if raw[-1:] in _DURATION_UNITS else raw
    try:
        value = float(number) * _DURATION_UNITS[unit]
    except ValueError:
        value = math.nan
    if isinstance(text, bool) or not math.isfinite(value) or not number.strip():
        raise FbenchError(f"{where} expected a duration such as 90, 90s or 20m, got {text!r}")
    if value <= 0:
        raise FbenchError(f"{where} must be more than 0 seconds, got {text!r}")
    if value > MAX_TIME_BUDGET_S:
        raise FbenchError(f"{where} must be at most 24h, got {text!r}")
    return value


# [compare]: the regression gate's defaults (fbench compare, reports/compare/); the one
# source for both a bench.toml without [compare] and the report's own defaults.
COMPARE_DEFAULTS: dict[str, Any] = {
    "threshold": 0.05,
    "alpha": 0.05,
    "host_correction": False,
    "host_tolerance": 0.025,
    # "plain": each row's own times; "anchors": its time against an anchor timed in the same
    # rounds (reports/compare/normalised.py). Plain stays the default: benchmarks/noise.py
    # found fewer false alarms with anchors but no more detections (docs/methodology.md,
    # "The gate on a noisy host").
    "gate": "plain",
}
GATES = ("plain", "anchors")
