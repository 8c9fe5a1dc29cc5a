"""A set of runs split into device groups (one run's rows on one device and backend): the
blocks of columns of Table 1 across devices (reports/table1/devices.py) and the panels of the
plots (reports/plots/), and the optional column sets a block can carry (`--roofline`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fbench.bench.results import ResultRow, RunResult
from fbench.reports import paper


@dataclass(frozen=True)
class DeviceGroup:
    """The rows one run measured on one device and backend: a block of columns in Table 1."""

    label: str  # e.g. "cpu", "cuda", "cpu/onnxruntime", "cpu (run-id)" when two runs collide
    device: str
    backend: str
    run: RunResult
    rows: tuple[ResultRow, ...]

    @property
    def paper_column(self) -> str | None:
        return paper.PAPER_DEVICE_COLUMN.get(self.device)

    @property
    def throughput(self) -> bool:
        """GPUs are compared by throughput at batch 32 (as the paper does), others by latency."""
        return self.paper_column == "gpu"


@dataclass(frozen=True)
class DeviceColumn:
    """An extra per-device column of Table 1 (e.g. the roofline's attainable FLOPS).

    `value` sees one measured row and its device group (the run's environment is there);
    `average` says whether the operator's "Average" line averages it over the rows that are ok.
    """

    header: str  # "{device}" is replaced by the group's label
    value: Callable[[ResultRow, DeviceGroup], float | None]
    fmt: Callable[[float], str]
    average: bool = False
    # The column's name in the tidy exports (--format csv|json), snake_case with its unit;
    # "" derives one from the header ("{device} of attainable" → "of_attainable").
    name: str = ""
    # The head on a fitted terminal ("{device} replaced too"); "" keeps `header`.
    short: str = ""

    @property
    def export_name(self) -> str:
        if self.name:
            return self.name
        words = re.sub(r"[^0-9a-z]+", "_", self.header.replace("{device}", "").lower())
        return words.strip("_") or "value"


@dataclass(frozen=True)
class ColumnSet:
    name: str  # also the `fbench report table1 --NAME` flag
    help: str
    columns: tuple[DeviceColumn, ...]
    note: str = ""  # a line under the table saying what the columns are


# Optional column sets, one flag each on `fbench report table1`. Add one with
# `register_columns(ColumnSet("roofline", "help...", (DeviceColumn(...), ...)))`.
COLUMN_SETS: dict[str, ColumnSet] = {}


def register_columns(column_set: ColumnSet) -> ColumnSet:
    if column_set.name in COLUMN_SETS or column_set.name in ("paper", "format", "output"):
        raise ValueError(f"column set {column_set.name!r} is already taken")
    COLUMN_SETS[column_set.name] = column_set
    return column_set


def device_groups(runs: Sequence[RunResult], suite: str = "operators") -> list[DeviceGroup]:
    """One group per (run, device, backend), in the order given; labels made unique."""
    found: list[tuple[RunResult, str, str, tuple[ResultRow, ...]]] = []
    for run in runs:
        rows = [row for row in run.rows if row.suite == suite]
        for device, backend in dict.fromkeys((row.device, row.backend) for row in rows):
            group = tuple(r for r in rows if (r.device, r.backend) == (device, backend))
            found.append((run, device, backend, group))
    labels = [
        device if backend == "torch" else f"{device}/{backend}" for _, device, backend, _ in found
    ]
    groups = []
    for (run, device, backend, rows), label in zip(found, labels, strict=True):
        if labels.count(label) > 1:
            label = _told_apart(label, run, [r for r, *_ in _same_label(found, labels, label)])
        groups.append(DeviceGroup(label, device, backend, run, rows))
    return groups


def _told_apart(label: str, run: RunResult, runs: list[RunResult]) -> str:
    """A label shared by several runs, made unique: by torch version (two versions side by
    side, `fbench run --with torch==...`), else by dtype (executorch's float32 and int8),
    else by run id."""
    for name, value_of in (
        ("torch", lambda r: r.environment.get("torch")),
        ("", lambda r: r.config.get("dtype")),
    ):
        value = value_of(run)
        if value and [value_of(other) for other in runs].count(value) == 1:
            return f"{label} {name} {value}".replace("  ", " ")
    return f"{label} ({run.run_id})"


def _same_label(found: list, labels: list[str], label: str) -> list:
    return [entry for entry, other in zip(found, labels, strict=True) if other == label]


def extra_notes(names: Sequence[str]) -> list[str]:
    """The notes of the registered column sets `names` that have one."""
    return [COLUMN_SETS[name].note for name in names if COLUMN_SETS[name].note]


def extra_columns(names: Sequence[str]) -> list[DeviceColumn]:
    """The columns of the registered column sets `names`, in that order."""
    unknown = [name for name in names if name not in COLUMN_SETS]
    if unknown:
        raise ValueError(f"unknown column set(s) {unknown}; known: {sorted(COLUMN_SETS)}")
    return [column for name in names for column in COLUMN_SETS[name].columns]


def describe_group(group: DeviceGroup) -> str:
    """One line: what hardware a block of columns was measured on, and how."""
    env, config = group.run.environment, group.run.config
    batches = sorted({row.batch for row in group.rows})
    threads = (env.get("threads") or {}).get("intra_op")
    parts = [
        env.get("gpu_name") if group.device == "cuda" and env.get("gpu_name") else None,
        env.get("cpu_model"),
        f"{group.backend}",
        f"batch {', '.join(map(str, batches))}",
        f"{threads} thread(s)" if threads and group.device != "cuda" else None,
        f"run {group.run.run_id}",
    ]
    if config.get("quick"):
        parts.append("quick run: not comparable with the paper")
    return ", ".join(part for part in parts if part)
