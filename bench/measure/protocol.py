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
import json
import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from fbench.bench.config import RunConfig
from fbench.bench.errors import FbenchError
from fbench.bench.measure.events import Emit, Event, Phase, RoundFinished
from fbench.bench.measure.stack import StackEnvironment
from fbench.bench.results import ResultRow
from fbench.bench.stats import timing

WORKER_MODULE = "fbench.bench.measure.worker"

# What a worker says ("event"): its imports are done; its rows are built and warm (it waits
# for GO); what it is doing; a round's estimates; a finished row; why it cannot go on.
READY, WARM, PHASE, ROUND, ROW, ERROR = "ready", "warm", "phase", "round", "row", "error"
# A worker asked to check custom operators (`check_request`): a problem found, one checked.
PROBLEM, CHECKED = "problem", "checked"
GO = "go"  # the parent's answer to WARM: sample now


def request_message(
    config: RunConfig,
    rows: Sequence[int],
    order_seed: int,
    cache_dir: Path | None,
    stop_at: float | None = None,
) -> dict[str, Any]:
    """What the parent asks of a worker: the rows (indices into `plan_rows(config)`) to time,
    and by when (`stop_at`, time.time(): its share of a time budget; None: no deadline)."""
    return {
        "config": config.to_dict(),
        "rows": list(rows),
        "order_seed": order_seed,
        "cache_dir": str(cache_dir) if cache_dir is not None else None,
        "stop_at": stop_at,
    }


def check_request(config: RunConfig, operators: Sequence[str]) -> dict[str, Any]:
    """What the parent asks of a worker that checks custom operators before anything is
    timed (operators/custom_build.py's preflight, run where the user's code cannot end
    fbench): the names of `config.custom_operators` to check."""
    return {"check": config.to_dict(), "operators": list(operators)}


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
    """One `python -m fbench.bench.measure.worker` process and the parent's side of its
    conversation.

    The worker runs the user's code (custom operators, zoo models), so nothing it does may
    take fbench over: it runs in a process group of its own, which `stop` ends whole (a child
    it forked cannot outlive it and hold a pipe open); its lines are read by a thread, so a
    worker that says nothing for `silence_s` seconds once it is ready (a `forward` that hangs:
    `--row-timeout`) is stopped and reported; and a worker that exits, even with code 0,
    before its rows are done is a `WorkerDied`."""

    def __init__(
        self,
        hash_seed: int | None = None,
        silence_s: float | None = None,
        relay_output: bool = False,
        stack: StackEnvironment | None = None,
    ) -> None:
        """Start it, with `hash_seed` as its PYTHONHASHSEED (None: a fresh one drawn here).
        `relay_output`: what it prints (the user's prints too: the worker's stdout goes to
        its stderr) is passed on to fbench's stderr as it comes, else kept in a temporary
        file; either way its last line explains a non-zero exit. `stack`: the environment it
        runs in (None: this process's own)."""
        self.hash_seed = draw_hash_seed() if hash_seed is None else hash_seed
        self.silence_s = silence_s
        # What it imported (torch, executorch... versions), from its READY message.
        self.versions: dict[str, Any] | None = None
        # Closed in stop(), which every path through run() and the run's cleanup reaches.
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self._last_output = ""  # relayed: the last line it printed
        self._process = subprocess.Popen(
            [str(stack.python) if stack else sys.executable, "-m", WORKER_MODULE],
            # FBENCH_PARENT_PID: the worker dies with this process (bench/measure/worker.py).
            env={
                **os.environ,
                **(stack.worker_environment() if stack else {}),
                "PYTHONHASHSEED": str(self.hash_seed),
                "FBENCH_PARENT_PID": str(os.getpid()),
            },
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if relay_output else self._stderr,
            text=True,
            encoding="utf-8",
            # Its own group: `stop` kills whatever the user's code forked along with it. (The
            # terminal's Ctrl-C reaches the parent alone, which stops the worker.)
            process_group=0,
        )
        self.ready = False  # its imports are done
        self._stopped = False
        self._lines: queue.Queue[str | None] = queue.Queue()  # None: its stdout has ended
        self._pending: list[str | None] = []  # read while waiting for READY, kept for run()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._relay: threading.Thread | None = None
        if relay_output:
            self._relay = threading.Thread(target=self._relay_output, daemon=True)
            self._relay.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            for line in self._process.stdout:
                self._lines.put(line)
        self._lines.put(None)

    def _relay_output(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            for line in self._process.stderr:
                if line.strip():
                    self._last_output = line.strip()
                with contextlib.suppress(OSError, ValueError):
                    sys.stderr.write(line)
                    sys.stderr.flush()

    def _next_line(self, limit_s: float | None) -> str | None:
        """The worker's next line, or None once it has ended: its stdout closed, or it exited
        and no line follows (a child it forked may hold the pipe open). `WorkerSilent` when
        `limit_s` passes without a line."""
        if self._pending:
            return self._pending.pop(0)
        deadline = None if limit_s is None else time.monotonic() + limit_s
        while True:
            try:
                return self._lines.get(timeout=0.2)
            except queue.Empty:
                pass
            if self._process.poll() is not None:
                # What it wrote before exiting is in the pipe, and the thread reads it at once
                # (then the end, unless a child it forked holds the pipe: then this waits).
                try:
                    return self._lines.get(timeout=5.0)
                except queue.Empty:
                    return None
            if deadline is not None and time.monotonic() > deadline:
                raise WorkerSilent

    def wait_until_ready(self) -> None:
        """Block until the worker has imported what it needs (or has died trying: its
        error comes out when it is given work)."""
        early: list[str | None] = []
        while not self.ready:
            line = self._next_line(None)
            if line is None:
                early.append(None)
                break
            message = decode(line)
            self.ready = message.get("event") == READY
            if self.ready:
                self.versions = message.get("versions")
            else:
                early.append(line)
        self._pending.extend(early)

    def _say(self, text: str) -> None:
        try:
            self._process.stdin.write(text + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it has exited; how, its output and exit code tell

    def stop(self) -> None:
        """End the worker and everything in its process group (what its code forked)."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        # The group's last members die with the signal; then the reader sees the end.
        self._reader.join(timeout=2.0)
        streams = [self._process.stdin, self._stderr]
        if not self._reader.is_alive():  # closing a pipe a thread still reads would block
            streams.append(self._process.stdout)
        if self._relay is not None:
            self._relay.join(timeout=2.0)
            if not self._relay.is_alive():
                streams.append(self._process.stderr)
        for stream in streams:
            # A line `_say` could not deliver to a worker that had exited is still buffered;
            # closing retries it and fails the same way, after closing the stream anyway.
            with contextlib.suppress(BrokenPipeError):
                stream.close()

    def _messages(self, prefix: str, activity: list[str]) -> Iterator[dict[str, Any]]:
        """Its messages until it ends; `activity[0]` is what it is doing, for the record of
        a worker that dies. Once it is ready, `silence_s` without a line stops it."""
        while True:
            try:
                line = self._next_line(self.silence_s if self.ready else None)
            except WorkerSilent:
                self.stop()
                raise WorkerDied(
                    f"{prefix} gave no sign of progress for {self.silence_s:g} s (--row-timeout) "
                    f"while {activity[0]}; stopped",
                    None,
                    "SIGKILL",
                    activity[0],
                ) from None
            if line is None:
                return
            yield decode(line)

    def _ending(self, prefix: str, error: str | None, activity: str, unfinished: int) -> None:
        """How it ended: a WorkerDied unless it exited 0 with nothing left undone."""
        # A Ctrl-C or SIGTERM reaches the parent alone (the worker has a process group of
        # its own): however the worker ended, it is the worker's end, never the user's stop.
        returncode = self._process.wait()
        if error is not None:
            raise WorkerDied(f"{prefix}: {error}", returncode, None, activity)
        if returncode < 0:
            name = _signal_name(-returncode)
            raise WorkerDied(f"{prefix} was killed by {name} ({activity})", None, name, activity)
        if returncode != 0:
            if self._relay is not None:
                self._relay.join(timeout=2.0)  # its last lines, written before it exited
                last = self._last_output or "no message"
            else:
                self._stderr.seek(0)
                lines = [text.strip() for text in self._stderr.read().splitlines() if text.strip()]
                last = lines[-1] if lines else "no message"
            raise WorkerDied(
                f"{prefix} exited with code {returncode} ({activity}): {last}",
                returncode,
                None,
                activity,
            )
        if unfinished:  # sys.exit(0) in the user's code: an early end, not a success
            raise WorkerDied(
                f"{prefix} exited with code 0 before it was done ({activity})",
                0,
                None,
                activity,
            )

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
        activity = ["starting"]  # what it was doing last: a dead worker's record says
        undone = len(request.get("rows", ()))
        try:
            self._say(json.dumps(request))
            if self.ready and start_next is not None:
                following = start_next()
            for message in self._messages(prefix, activity):
                kind = message.get("event")
                if kind == ROW:
                    undone -= 1
                    yield ResultRow.from_dict(message["row"])
                elif kind == READY:
                    self.ready = True
                    self.versions = message.get("versions")
                    following = start_next() if start_next is not None else None
                elif kind == WARM:
                    activity[0] = "waiting to sample"
                    if following is not None:
                        # the next worker's imports can take half a minute on a loaded host
                        emit(Phase(f"{prefix}: warm, waiting for the next process to start"))
                        following.wait_until_ready()
                    self._say(GO)
                elif kind == PHASE:
                    activity[0] = message["message"]
                    emit(Phase(f"{prefix}: {message['message']}"))
                elif kind == ROUND:
                    activity[0] = f"sampling (round {message['round']})"
                    emit(round_event(message, prefix))
                elif kind == ERROR:
                    error = message["message"]
            self._ending(prefix, error, activity[0], undone)
        finally:
            self.stop()  # Ctrl-C or an error here: do not leave it running

    def check(self, request: dict[str, Any], prefix: str) -> Iterator[tuple[str, str | None]]:
        """Give it a `check_request`; yield (operator, problem or None) as each is checked.
        WorkerDied if it ends before all are: its `activity` names the operator it was on.
        Once all are checked it waits, alive, for a timing request (`run`) or `stop`."""
        error = None
        activity = ["starting"]
        undone = len(request["operators"])
        self._say(json.dumps(request))
        problems: dict[str, str] = {}
        for message in self._messages(prefix, activity):
            kind = message.get("event")
            if kind == READY:
                self.ready = True
            elif kind == PHASE:
                activity[0] = message["message"]
            elif kind == PROBLEM:
                problems[message["operator"]] = message["message"]
            elif kind == CHECKED:
                undone -= 1
                yield message["operator"], problems.get(message["operator"])
                if not undone:
                    return
            elif kind == ERROR:
                error = message["message"]
        self._ending(prefix, error, activity[0], undone)


class WorkerSilent(Exception):
    """A worker said nothing for longer than its limit (`WorkerProcess.silence_s`)."""


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
