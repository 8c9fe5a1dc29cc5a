"""The worker protocol, both ends: the messages a multi-process run's parent and its workers
exchange (one JSON object a line), and the parent's end of the conversation (`WorkerProcess`).
The worker's end is bench/measure/worker.py, whose docstring tells the conversation step by
step; the scheduling of the workers is bench/measure/processes.py.

Parent → worker: the request ({"config", "rows", "order_seed", "cache_dir"}: `request_message`),
then "go" once the worker is warm. Worker → parent: {"event": READY | WARM | PHASE | ROUND |
ROW | ERROR, ...}; `send` writes one, `event_message` encodes a progress event, `decode`
reads any line.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from bench.config import RunConfig
from bench.errors import FbenchError
from bench.measure.events import Emit, Event, Phase, RoundFinished
from bench.results import ResultRow
from bench.stats import timing

WORKER_MODULE = "bench.measure.worker"

# What a worker says ("event"): its imports are done; its rows are built and warm (it waits
# for GO); what it is doing; a round's estimates; a finished row; why it cannot go on.
READY, WARM, PHASE, ROUND, ROW, ERROR = "ready", "warm", "phase", "round", "row", "error"
GO = "go"  # the parent's answer to WARM: sample now


def request_message(
    config: RunConfig, rows: Sequence[int], order_seed: int, cache_dir: Path | None
) -> dict[str, Any]:
    """What the parent asks of a worker: the rows (indices into `plan_rows(config)`) to time."""
    return {
        "config": config.to_dict(),
        "rows": list(rows),
        "order_seed": order_seed,
        "cache_dir": str(cache_dir) if cache_dir is not None else None,
    }


def send(channel: TextIO, message: dict[str, Any]) -> None:
    """The worker's end: one message, a line, flushed at once (the parent reads as it goes)."""
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def event_message(event: Event) -> dict[str, Any] | None:
    """The message fields for a progress event a worker passes on (None: it keeps it)."""
    if isinstance(event, Phase):
        return {"event": PHASE, "message": event.message}
    if isinstance(event, RoundFinished):
        active = [[label, summary.to_dict()] for label, summary in event.active]
        return {
            "event": ROUND,
            "round": event.round,
            "active": active,
            "progress": [event.done, event.total],
            "left_s": event.left_s,
        }
    return None


def round_event(message: dict[str, Any], process: str) -> RoundFinished:
    """A worker's ROUND message as the parent emits it, labelled with the worker's `process`."""
    active = [
        (label, timing.LatencySummary.from_dict(summary)) for label, summary in message["active"]
    ]
    return RoundFinished(
        message["round"], active, *message["progress"], process, message.get("left_s")
    )


class WorkerDied(FbenchError):
    """A worker process that ended without finishing its rows: killed by a signal, a
    non-zero exit, or an error it reported."""

    def __init__(
        self, message: str, exit_code: int | None, signal_name: str | None, activity: str
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.signal_name = signal_name
        self.activity = activity


def draw_hash_seed() -> int:
    """A fresh PYTHONHASHSEED for one worker (1 to 2**32 - 1).

    Why: a row's speed depends on where its process's allocations land, and that layout is
    drawn from address-space randomisation *and* the hash seed (which orders Python's own
    allocations): with either one left random, processes spread several times as far as
    with both fixed (docs/methodology.md; benchmarks/layout.py). The interval
    counts each process as an independent draw of that layout, so workers must not inherit
    one seed from an environment that fixes it (tox, CI scripts, `PYTHONHASHSEED=0`).
    """
    return random.SystemRandom().randrange(1, 2**32)


class WorkerProcess:
    """One `python -m bench.measure.worker` process and the parent's side of its conversation."""

    def __init__(self, hash_seed: int | None = None) -> None:
        """Start it, with `hash_seed` as its PYTHONHASHSEED (None: a fresh one drawn here)."""
        self.hash_seed = draw_hash_seed() if hash_seed is None else hash_seed
        # Closed in stop(), which every path through run() and the run's cleanup reaches.
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self._process = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            # FBENCH_PARENT_PID: the worker dies with this process (bench/measure/worker.py).
            env={
                **os.environ,
                "PYTHONHASHSEED": str(self.hash_seed),
                "FBENCH_PARENT_PID": str(os.getpid()),
            },
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
        )
        self.ready = False  # its imports are done
        self._read_early: list[str] = []  # lines read while waiting for READY, kept for run()

    def wait_until_ready(self) -> None:
        """Block until the worker has imported what it needs (or has died trying: its
        error comes out when it is given work)."""
        while not self.ready:
            line = self._process.stdout.readline()
            if not line:
                return
            self.ready = decode(line).get("event") == READY
            if not self.ready:
                self._read_early.append(line)

    def _say(self, text: str) -> None:
        try:
            self._process.stdin.write(text + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it has exited; how, its output and exit code tell

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout, self._stderr):
            # A line `_say` could not deliver to a worker that had exited is still buffered;
            # closing retries it and fails the same way, after closing the stream anyway.
            with contextlib.suppress(BrokenPipeError):
                stream.close()

    def run(
        self,
        request: dict[str, Any],
        prefix: str,
        emit: Emit,
        start_next: Callable[[], WorkerProcess] | None,
    ) -> Iterator[ResultRow]:
        """Give it `request`, relay its progress, yield its rows; one-line error if it
        fails. `start_next` (None: no worker follows) starts the next worker once this one
        is ready; this one starts sampling only when that one is ready too."""
        following: WorkerProcess | None = None
        error = None
        activity = "starting"  # what it was doing last: a dead worker's record says
        try:
            self._say(json.dumps(request))
            if self.ready and start_next is not None:
                following = start_next()
            for line in itertools.chain(self._read_early, self._process.stdout):
                message = decode(line)
                kind = message.get("event")
                if kind == ROW:
                    yield ResultRow.from_dict(message["row"])
                elif kind == READY:
                    self.ready = True
                    following = start_next() if start_next is not None else None
                elif kind == WARM:
                    activity = "waiting to sample"
                    if following is not None:
                        # the next worker's imports can take half a minute on a loaded host
                        emit(Phase(f"{prefix}: warm, waiting for the next process to start"))
                        following.wait_until_ready()
                    self._say(GO)
                elif kind == PHASE:
                    activity = message["message"]
                    emit(Phase(f"{prefix}: {message['message']}"))
                elif kind == ROUND:
                    activity = f"sampling (round {message['round']})"
                    emit(round_event(message, prefix))
                elif kind == ERROR:
                    error = message["message"]
            returncode = self._process.wait()
            # The worker got the Ctrl-C (or the SIGTERM of `timeout`, CI cancellation) too.
            if returncode in (130, -signal.SIGINT, -signal.SIGTERM):
                raise KeyboardInterrupt
            if error is not None:
                raise WorkerDied(f"{prefix}: {error}", returncode, None, activity)
            if returncode < 0:
                name = _signal_name(-returncode)
                raise WorkerDied(
                    f"{prefix} was killed by {name} ({activity})", None, name, activity
                )
            if returncode != 0:
                self._stderr.seek(0)
                lines = [text.strip() for text in self._stderr.read().splitlines() if text.strip()]
                last = lines[-1] if lines else "no message"
                raise WorkerDied(
                    f"{prefix} exited with code {returncode}: {last}", returncode, None, activity
                )
        finally:
            self.stop()  # Ctrl-C or an error here: do not leave it running


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def decode(line: str) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except json.JSONDecodeError:
        return {}
    return message if isinstance(message, dict) else {}
