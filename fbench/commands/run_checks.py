"""`fbench run`'s checks before anything is created or timed: the files the flags name, the
limits a config file could exceed, the results directory, and the custom operators and zoo
models that cannot run."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from fbench.bench.errors import FbenchError

# Beyond these a run is a mistake, not an experiment (and a sweep would never end); the
# result validator holds stored files to the same limits.
from fbench.bench.results.schema import MAX_LAYERS, MAX_PROCESSES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fbench.bench.config import RunConfig
    from fbench.bench.measure.protocol import WorkerProcess
    from fbench.bench.measure.stack import StackEnvironment


def check_regular_file(path: Path, flag: str) -> None:
    """A FIFO or a device would block the read forever or never end: refuse it up front."""
    if path.exists() and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file (a FIFO or a device?)"
        raise FbenchError(f"{flag} {path}: {kind}")


def check_bounds(config: RunConfig, where: str) -> None:
    """Limits a config file could exceed (the flags' own types enforce them too)."""
    prefix = f"{where} " if where else ""
    if max(config.depths) > MAX_LAYERS:
        raise FbenchError(f"{prefix}layers must be at most {MAX_LAYERS}, got {max(config.depths)}")
    if config.timing.processes > MAX_PROCESSES:
        raise FbenchError(
            f"{prefix}[timing] processes must be at most {MAX_PROCESSES}, "
            f"got {config.timing.processes}"
        )


def check_results_dir(results_dir: Path) -> None:
    """One line naming --results-dir when no result file could be written there, before
    anything is measured."""
    where = f"--results-dir {results_dir}"
    if results_dir.exists() and not results_dir.is_dir():
        raise FbenchError(f"{where}: not a directory")
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FbenchError(f"{where}: cannot create it ({error.strerror or error})") from None
    if not os.access(results_dir, os.W_OK | os.X_OK):
        raise FbenchError(f"{where}: not writable")


def check_memory(config: RunConfig, available_bytes: int | None = None) -> None:
    """Refuse a row that cannot even be built in this machine's memory (a typo such as
    --shape 100000x1000x1000): left to run, the kernel's OOM killer ends the run without a
    word. A lower bound (weights and input, fp32), so no row that fits is refused."""
    import psutil

    from fbench.bench.plan.rows import RowPlan, plan_rows

    rows = [plan for plan in plan_rows(config) if isinstance(plan, RowPlan)]
    if not rows:
        return
    largest = max(rows, key=RowPlan.build_bytes)
    need = largest.build_bytes()
    available = psutil.virtual_memory().available if available_bytes is None else available_bytes
    if need > available:
        raise FbenchError(
            f"{largest.label} (batch {largest.batch}, {largest.layers} layers) needs at least "
            f"{_size(need)} of memory to build (weights and input, float32); "
            f"{_size(available)} is available"
        )


def _size(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"


def preflight(
    config: RunConfig, keep_going: bool, row_timeout_s: float | None = None
) -> WorkerProcess | None:
    """Build every custom operator and zoo model once before anything is timed: one that
    cannot run stops the run (exit 2), or with --keep-going is stored as failed rows. The
    custom operators are built in a worker process (their code must not run in fbench's);
    that worker is returned alive, for the run to time in (the caller stops it)."""
    from fbench.bench.measure.isolated import check_custom_operators
    from fbench.networks.registry import zoo_problems

    custom, checker = check_custom_operators(config, keep_going, row_timeout_s)
    problems = [*custom, *zoo_problems(config)]
    if problems and not keep_going:
        if checker is not None:
            checker.stop()
        raise FbenchError(problems[0])
    for problem in problems:
        print(f"fbench run: warning: {problem} (stored as failed rows)", file=sys.stderr)
    return checker


def build_stack(
    config: RunConfig, given: Sequence[str], quiet: bool = False
) -> StackEnvironment | None:
    """The environment the workers run in (--with, or the backend's requirements), built
    now with progress on stderr, or taken from the cache: a version that does not exist or
    cannot install here stops the run (one line, exit 2) before anything is written."""
    from fbench.bench.measure.stack import check_given, ensure_environment

    if given:
        check_given(given)
    if not config.stack:
        return None

    def progress(line: str) -> None:
        if not quiet:  # --quiet: errors only
            print(f"fbench run: {line}", file=sys.stderr, flush=True)

    return ensure_environment(config.stack, progress)
