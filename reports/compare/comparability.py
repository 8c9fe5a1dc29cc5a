"""Whether two runs are the same experiment: the keys that must be equal (device, software
versions, config and method, each named) and the ones a caller accepts on purpose with
`--accept-difference`. Runs that differ on a key not accepted are not judged at all (exit 3):
their rows differ for reasons other than the code (docs/regression-gate.md)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from fbench.bench.config.model import TimingConfig
from fbench.bench.results import RunResult

# What must be equal for two runs to be the same experiment on the same device, by the name
# `--accept-difference` takes. Every device setting (batch, threads, pin_core, malloc, a
# GPU's tf32...) is a key too, under its own name: `experiment`. A method key that differs
# is not a regression: malloc alone moves some rows by a factor (docs/regression-gate.md).
RUN_KEYS = (
    "machine",
    "cpu_model",
    "board_model",
    "device",
    "backend",
    "backend_options",
    "dtype",
    "layers",
    "quick",
    "method",
    "schedule",
    "processes",
    "latency_estimator",
    "torch",
    "onnxruntime",
    "executorch",
    "stack",
)
# `--accept-difference versions`: every key that names software versions, for "did the
# upgrade slow it?" across runs made with `fbench run --with` (docs/regression-gate.md).
ALIASES = {"versions": ("torch", "onnxruntime", "executorch", "stack")}


@dataclass(frozen=True)
class Difference:
    """One key (RUN_KEYS or a device setting) on which two runs are not the same experiment."""

    key: str
    baseline: Any
    current: Any

    def line(self) -> str:
        return (
            f"{self.key} differs: baseline {_shown(self.baseline)}, current {_shown(self.current)}"
        )


def _shown(value: Any) -> str:
    return "not recorded" if value is None else repr(value)


def experiment(run: RunResult) -> dict[str, Any]:
    """The keys that make a run the experiment it is (RUN_KEYS and every device setting)."""
    env, config = run.environment, run.config
    timing = config.get("timing") or {}
    keys = dict(config.get("device_settings") or {})
    keys.update(
        machine=env.get("machine"),
        cpu_model=env.get("cpu_model"),
        board_model=env.get("board_model"),
        device=config.get("device"),
        backend=config.get("backend"),
        backend_options=config.get("backend_options") or {},
        dtype=config.get("dtype"),
        layers=config.get("layers"),
        quick=config.get("quick", False),
        # Missing in older files: what loading them as a RunConfig assumes.
        method=timing.get("method", TimingConfig.method),
        schedule=timing.get("schedule", TimingConfig.schedule),
        processes=timing.get("processes", 1),  # stored before it existed: one process
        latency_estimator=", ".join(sorted({row.latency_estimator for row in run.rows})) or None,
        torch=env.get("torch"),
        onnxruntime=env.get("onnxruntime"),
        executorch=env.get("executorch"),
        # What `--with` (or the backend) asked the workers' environment for, beyond the
        # versions that are keys of their own (torch's torchvision goes with torch).
        stack=[
            line
            for line in config.get("stack") or []
            if line.split("==")[0] not in (*ALIASES["versions"], "torchvision")
        ],
    )
    return keys


def experiment_keys(*runs: RunResult) -> list[str]:
    """Every key `--accept-difference` may name for these runs."""
    return sorted({key for run in runs for key in experiment(run)} | set(ALIASES))


def expand_aliases(accept: Collection[str]) -> set[str]:
    """The keys `accept` names, with `versions` standing for every version key."""
    return {key for name in accept for key in ALIASES.get(name, (name,))}


def differences(baseline: RunResult, current: RunResult) -> list[Difference]:
    """The keys on which two runs are not the same experiment ([] when they are)."""
    a, b = experiment(baseline), experiment(current)
    # onnxruntime times only its own backend's rows: its version is part of the experiment
    # when both runs used that backend (a change of backend is the backend key's).
    if not a.get("backend") == b.get("backend") == "onnxruntime":
        a["onnxruntime"] = b["onnxruntime"] = None
    names = [*RUN_KEYS, *sorted((set(a) | set(b)) - set(RUN_KEYS))]
    return [
        Difference(name, a.get(name), b.get(name)) for name in names if a.get(name) != b.get(name)
    ]


def comparability_problems(
    baseline: RunResult, current: RunResult, accept: Collection[str] = ()
) -> tuple[list[str], list[str]]:
    """Why two runs are not the same experiment ([] when they are), and the differences the
    caller accepted on purpose (e.g. a torch upgrade), each as a line."""
    found = differences(baseline, current)
    accept = expand_aliases(accept)
    return (
        [d.line() for d in found if d.key not in accept],
        [d.line() for d in found if d.key in accept],
    )
