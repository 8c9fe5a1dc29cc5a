"""`fbench run`'s checks before anything is created or timed: the files the flags name, the
limits a config file could exceed, the results directory, and the custom operators and zoo
models that cannot run."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bench.errors import FbenchError

if TYPE_CHECKING:
    from bench.config import RunConfig

# Beyond these a run is a mistake, not an experiment (and a sweep would never end).
MAX_LAYERS = 1000
MAX_PROCESSES = 64


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


def preflight(config: RunConfig, keep_going: bool) -> None:
    """Build every custom operator and zoo model once before anything is timed: one that
    cannot run stops the run (exit 2), or with --keep-going is stored as failed rows."""
    from networks.registry import zoo_problems
    from operators.custom_build import preflight_config

    problems = [*preflight_config(config), *zoo_problems(config)]
    if problems and not keep_going:
        raise FbenchError(problems[0])
    for problem in problems:
        print(f"fbench run: warning: {problem} (stored as failed rows)", file=sys.stderr)
