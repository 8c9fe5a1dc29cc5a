"""Writing a run's file: atomically (temp file, fsync, rename), under a lock that keeps a second
writer out.

The file is rewritten after every finished row (with several worker processes, after every
worker), so Ctrl-C, a crash or a full disk leaves either the previous complete file or the
new one, never a torn one; `fbench run --resume` finishes what is missing. Calibration files
(bench/calibration/store.py) are written through the same `write_atomic`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from fbench.bench.errors import FbenchError, IncompleteError
from fbench.bench.results.model import ResultRow, RunResult
from fbench.bench.results.reading import read_result


def _json_safe(value: Any) -> Any:
    """NaN and infinities are not JSON: store them as null rather than a file others can't read."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def json_text(data: Mapping[str, Any]) -> str:
    """The JSON text a result (or calibration) file holds."""
    return json.dumps(_json_safe(data), indent=1, allow_nan=False, ensure_ascii=False)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class StorageError(IncompleteError):
    """A file that could not be written (read-only, full disk, not a directory): exit 4,
    the input was good."""


def cannot_write(path: Path, error: OSError) -> StorageError:
    """One line for a file that cannot be written (read-only, full disk, not a directory)."""
    if isinstance(error, FileExistsError | NotADirectoryError) or error.errno == errno.ENOTDIR:
        reason = f"{path.parent} is not a directory"
    else:
        reason = error.strerror or str(error)
    return StorageError(f"{path}: cannot write ({reason})")


def write_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON so that `path` is always either the old complete file or the new one.

    The file gets the permissions of any new file (0666 less the umask), not mkstemp's 0600.
    A directory or disk that cannot take it is one line naming the path (FbenchError); the
    old file is then left as it was.
    """
    text = json_text(data)
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            os.fchmod(stream.fileno(), 0o666 & ~_umask())
            stream.write(text + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as error:
        _remove_quietly(temporary)
        raise cannot_write(path, error) from None
    except BaseException:
        _remove_quietly(temporary)
        raise
    try:  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError:
        pass


def _remove_quietly(path: str | None) -> None:
    if path is not None:
        # On a full or read-only disk the temp file is the lesser problem.
        with contextlib.suppress(OSError):
            os.unlink(path)


# What `new_run_id` makes: the creation time, then the device and backend names (registry
# names: letters, digits, _ and -), then -2, -3... if that name was taken. A run id from a
# file builds output names (`fbench plot`'s default) only when it has this form.
RUN_ID_PATTERN = re.compile(r"[0-9]{8}-[0-9]{6}(?:-[A-Za-z0-9_]+){2,}")


def new_run_id(
    results_dir: Path, device: str, backend: str, when: dt.datetime | None = None
) -> str:
    """e.g. 20261123-071500-cpu-torch; a suffix -2, -3... if that name is taken."""
    stamp = (when or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{device}-{backend}"
    if not RUN_ID_PATTERN.fullmatch(base):  # registry names are checked; this is a bug
        raise ValueError(f"run id {base!r} is not of the form fbench makes")
    candidate, counter = base, 1
    while (results_dir / f"{candidate}.json").exists():
        counter += 1
        candidate = f"{base}-{counter}"
    return candidate


def made_run_id(run_id: str, source: str, remedy: str = "") -> str:
    """`run_id` if it has the form fbench gives run ids, else one line naming `source`: a
    file's run id may only build an output name when nothing in it can leave the folder."""
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise FbenchError(
            f"{source}: run id {run_id!r} is not one fbench makes "
            f"(YYYYMMDD-HHMMSS-device-backend); refusing to build a file name from it{remedy}"
        )
    return run_id


def confined(path: Path, folder: Path, what: str) -> Path:
    """`path`, once it is certain that writing it lands inside `folder`, symlinks resolved
    (of the folders on the way and of the file itself, which a write would follow); else
    one line naming `what` (the flag that named the folder) and where it would land."""
    try:
        target, root = path.resolve(), folder.resolve()
    except (OSError, RuntimeError) as error:  # a symlink loop
        raise FbenchError(f"{what} {folder}: cannot resolve {path} ({error})") from None
    if not target.is_relative_to(root):
        raise FbenchError(
            f"{what} {folder}: refusing to write {path}: it resolves to {target}, outside {root}"
        )
    return path


class RunLock:
    """An exclusive lock on a run's file, so that two `fbench run`s (say two `--resume`s)
    cannot both write it: flock on a sidecar `.<name>.lock`, since the file itself is
    replaced by every write. The kernel drops it when the process dies, even by SIGKILL."""

    def __init__(self, path: Path) -> None:
        self.path = path.parent / f".{path.name}.lock"
        while True:
            try:
                # Never through a symlink: one planted in a shared results folder would have
                # the lock truncate whatever it points at.
                descriptor = os.open(
                    self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666 & ~_umask()
                )
            except OSError as error:
                if error.errno == errno.ELOOP:
                    raise FbenchError(
                        f"{self.path}: a symlink where the run's lock file goes; refusing to "
                        "follow it (remove it)"
                    ) from None
                raise cannot_write(self.path, error) from None
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(descriptor, 32).decode("ascii", "replace").strip() or "?"
                os.close(descriptor)
                raise FbenchError(
                    f"{path}: another fbench run (pid {holder}) is writing this run; let it "
                    "finish (or stop it) before resuming"
                ) from None
            # The holder before us may have removed the file after we opened it: then we
            # locked an orphan, and a third run could lock the new one. Try again.
            try:
                current = os.stat(self.path).st_ino == os.fstat(descriptor).st_ino
            except FileNotFoundError:
                current = False
            if current:
                break
            os.close(descriptor)
        self._descriptor: int | None = descriptor
        try:
            os.ftruncate(descriptor, 0)
            os.write(descriptor, f"{os.getpid()}\n".encode())
        except OSError as error:  # a full disk: no lock (not even an empty one) left behind
            self.release()
            raise cannot_write(self.path, error) from None

    def release(self) -> None:
        if self._descriptor is None:
            return
        with contextlib.suppress(OSError):  # removed while still held: see above
            self.path.unlink(missing_ok=True)
        os.close(self._descriptor)
        self._descriptor = None


class RunStore:
    """A run's file on disk: created once, then rewritten atomically as rows finish.

    It holds the run's lock (`RunLock`) from `create` or `open` until `close`."""

    def __init__(self, path: Path, result: RunResult, lock: RunLock | None = None) -> None:
        self.path = path
        self.result = result
        self.lock = lock

    @classmethod
    def create(cls, path: Path, result: RunResult) -> RunStore:
        if path.exists():
            raise FbenchError(f"{path}: already exists; refusing to overwrite a stored run")
        lock = RunLock(path)
        store = cls(path, result, lock)
        try:
            store.save()
        except BaseException:
            lock.release()
            raise
        return store

    @classmethod
    def open(cls, path: Path) -> RunStore:
        """A stored run, locked for this process (one line if another holds it), then read."""
        lock = RunLock(path)
        try:
            return cls(path, read_result(path), lock)
        except BaseException:
            lock.release()
            raise

    def close(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def save(self) -> None:
        write_atomic(self.path, self.result.to_dict())

    def append(self, row: ResultRow) -> None:
        """Store a finished row: in place of a stored row with its key, else at the end."""
        self.put_rows([row])

    def put_rows(self, rows: Sequence[ResultRow], **changes: Any) -> None:
        """Store `rows` (each in place of a stored row with its key, else at the end) and
        `changes` to the run's fields, in one write."""
        stored = list(self.result.rows)
        position = {row.key(): index for index, row in enumerate(stored)}
        for row in rows:
            index = position.get(row.key())
            if index is None:
                position[row.key()] = len(stored)
                stored.append(row)
            else:
                stored[index] = row
        self.update(rows=stored, **changes)

    def update(self, **changes: Any) -> None:
        # In memory first: if this write fails (a full disk), the next one still has it.
        self.result = replace(self.result, **changes)
        self.save()
