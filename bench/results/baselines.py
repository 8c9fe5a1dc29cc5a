"""Baselines: one stored run per device identity, so a CI runner compares with its own history.

A baseline is a copy of a result file at `<baselines-dir>/<identity-slug>.json`, where the
slug names the board, CPU, device, backend and torch version
(fbench.bench.results.identity.device_identity):
another board, or the same board after a torch upgrade, finds no baseline rather than a wrong
one. A run with disturbed or failed rows is refused (`untrusted_rows`): stored, it would make
every later compare exit 3. A baseline file carries `baseline` (when and from which run it was
saved, and whether that was forced past such rows). A torch upgrade accepted on purpose
(`fbench compare auto --accept-difference torch`) takes the same board's baseline of another
torch version, when there is exactly one.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

from fbench.bench.errors import FbenchError, NotComparableError
from fbench.bench.results.identity import DeviceIdentity, device_identity
from fbench.bench.results.model import RunResult, now_iso
from fbench.bench.results.reading import read_result
from fbench.bench.results.status import DISTURBED, FAILED
from fbench.bench.results.store import StorageError, confined, write_atomic

DEFAULT_BASELINES_DIR = "baselines"


def _identity(run: RunResult) -> DeviceIdentity:
    config = run.config
    return device_identity(
        run.environment, config.get("device"), config.get("backend"), config.get("dtype")
    )


def baseline_path(run: RunResult, baselines_dir: Path) -> Path:
    return baselines_dir / f"{_identity(run).baseline_name()}.json"


def untrusted_rows(run: RunResult) -> list[str]:
    """Rows that must not become a reference: disturbed (throttled, host moved...) or failed."""
    return [
        f"{row.operator} {row.shape_label} {row.status}"
        for row in run.rows
        if row.status in (DISTURBED, FAILED)
    ]


def save(run: RunResult, baselines_dir: Path, force: bool = False) -> Path:
    """Store `run` as the baseline of its device identity (replacing an older one).

    A run with disturbed or failed rows is refused (NotComparableError, exit 3) unless
    `force`, which the stored file records. The directory is created if missing.
    """
    if run.state != "complete":
        raise FbenchError(
            f"run {run.run_id} is {run.state!r}, not complete; finish it before using it as a "
            "baseline (fbench run --resume)"
        )
    if not run.rows:
        raise FbenchError(f"run {run.run_id} has no rows")
    untrusted = untrusted_rows(run)
    if untrusted and not force:
        raise NotComparableError(
            f"run {run.run_id} has {len(untrusted)} row(s) disturbed or failed "
            f"({', '.join(untrusted)}): not stored as a baseline, since every compare against "
            "it would exit 3; measure again on a steady device, or --force to store it anyway"
        )
    _check_directory(baselines_dir, writing=True)
    # The name is built from the file's environment, which may have been crafted: slugged,
    # and checked to land in the folder (a symlink there is not followed out of it).
    path = confined(baseline_path(run, baselines_dir), baselines_dir, "--baselines-dir")
    record = {"saved": now_iso(), "from_run": run.run_id, "forced": bool(untrusted)}
    if untrusted:
        record["rows_not_trusted"] = untrusted
    stored = replace(run, extra={**run.extra, "baseline": record})
    try:
        write_atomic(path, stored.to_dict())
    except StorageError as error:  # the previous baseline, if any, is left as it was
        raise StorageError(
            f"--baselines-dir {baselines_dir}: cannot store the baseline: {error}"
        ) from None
    return path


def _check_directory(baselines_dir: Path, writing: bool = False) -> None:
    """One line naming the directory when it cannot hold baselines; a missing one is made
    (with its parents) when `writing`."""
    if baselines_dir.exists() and not baselines_dir.is_dir():
        raise FbenchError(f"--baselines-dir {baselines_dir}: not a directory")
    if not writing:
        return
    try:
        baselines_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or str(error)
        raise FbenchError(f"--baselines-dir {baselines_dir}: cannot create it ({reason})") from None
    if not os.access(baselines_dir, os.W_OK | os.X_OK):
        raise FbenchError(f"--baselines-dir {baselines_dir}: not writable by this user")


def find(current: RunResult, baselines_dir: Path, accept: Collection[str] = ()) -> RunResult:
    """The stored baseline for the device identity `current` was measured on; with "torch" in
    `accept`, the only one of the same device under another torch version if none matches."""
    _check_directory(baselines_dir)
    path = baseline_path(current, baselines_dir)
    if not path.is_file() and {"torch", "versions"} & set(accept):
        others = sorted(baselines_dir.glob(f"{_identity(current).baseline_name_any_torch()}.json"))
        if len(others) > 1:
            raise NotComparableError(
                f"several baselines for this device under other torch versions in "
                f"{baselines_dir}/ ({', '.join(p.name for p in others)}); pass one as BASELINE"
            )
        path = others[0] if others else path
    if not path.is_file():
        known = (
            sorted(p.name for p in baselines_dir.glob("*.json")) if baselines_dir.is_dir() else []
        )
        raise NotComparableError(
            f"no baseline for this device in {baselines_dir}/ (looked for {path.name}; "
            f"{'have: ' + ', '.join(known) if known else 'none stored'}); store one with "
            f"fbench baseline save RUN"
        )
    return read_result(path)
