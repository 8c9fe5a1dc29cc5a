"""Progress of a long command on stderr (the CLI side of the runner's events; `check` and
`calibrate` use it too).

On a terminal one status line is redrawn in place (which row, its estimate so far, the time
left) and each finished row is printed for good. When stderr is a file or a CI log, status
lines are printed as lines, at most one every `heartbeat_s` seconds, so logs stay readable.
Either way a step that says nothing for `heartbeat_s` (an ONNX export, a worker process
building its rows) gets a line repeating what is going on and for how long, so a reader
never waits more than about five seconds without a sign of life. `quiet` prints nothing.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from typing import TextIO

from fbench.bench.measure.events import Event, Phase, ProcessFinished, RoundFinished, RowFinished
from fbench.bench.results import ResultRow

HEARTBEAT_S = 5.0


def describe_row(row: ResultRow) -> str:
    """`conv 96×56×56  32.38 ms ±0.4%  n=120  80.33 G/s  ok`"""
    if row.network:  # the network suite: "FasterNet-T0 224×224"
        text = f"{row.network} {row.height}×{row.width}"
    else:
        text = f"{row.operator} {row.shape_label}"
    if row.latency_ms is not None and row.latency is not None:
        halfwidth = row.latency_ms.ci95_halfwidth_rel
        interval = f" ±{halfwidth:.1%}" if halfwidth is not None else ""
        text += f"  {row.latency:.3f} ms{interval}  n={row.latency_ms.n}"
    if row.gflops_per_s is not None:
        text += f"  {row.gflops_per_s:.2f} G/s"
    text += f"  {row.status}"
    if row.status == "failed" and row.error:
        text += f": {row.error}"
    return text


def seconds_text(seconds: float) -> str:
    """`42 s`, `3 min 5 s`: a duration as a reader says it."""
    seconds = max(round(seconds), 0)
    if seconds < 90:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60} s"


class ProgressPrinter:
    def __init__(
        self, stream: TextIO | None = None, quiet: bool = False, heartbeat_s: float = HEARTBEAT_S
    ) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.live = self.stream.isatty()
        self.heartbeat_s = heartbeat_s
        self.started = time.monotonic()
        self._status_shown = False
        self._lock = threading.Lock()
        self._last_output = self.started  # when anything was last written
        self._status_text: str | None = None  # what is going on now: the heartbeat repeats it
        self._status_since = self.started
        self._process_seconds: list[float] = []  # finished worker processes' durations
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not quiet:
            self._thread = threading.Thread(target=self._heartbeat, daemon=True)
            self._thread.start()

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self.started:5.1f}s"

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
        self._last_output = time.monotonic()

    def _status(self, text: str, force: bool = False) -> None:
        """What is going on now: redrawn in place on a terminal; in a log, a line when the
        last one is `heartbeat_s` old (or `force`)."""
        if self.quiet:
            return
        with self._lock:
            if text != self._status_text:
                self._status_since = time.monotonic()
            self._status_text = text
            if self.live:
                self._write(f"\r\x1b[K{self._elapsed()}  {text}")
                self._status_shown = True
            elif force or time.monotonic() - self._last_output >= self.heartbeat_s:
                self._write(f"{self._elapsed()}  {text}\n")

    def _line(self, text: str) -> None:
        if self.quiet:
            return
        with self._lock:
            if self._status_shown:
                self.stream.write("\r\x1b[K")
                self._status_shown = False
            self._write(f"{self._elapsed()}  {text}\n")

    def _heartbeat(self) -> None:
        """Every second: if nothing was written for `heartbeat_s`, say what is still going on."""
        while not self._stop.wait(1.0):
            with self._lock:
                quiet_for = time.monotonic() - self._last_output
                text = self._status_text
                if text is None or quiet_for < self.heartbeat_s:
                    continue
                since = time.monotonic() - self._status_since
                # a status that is only new to the reader needs no "for 1 s"
                still = f"{text} (for {seconds_text(since)})" if since >= self.heartbeat_s else text
                if self.live:
                    self._write(f"\r\x1b[K{self._elapsed()}  {still}")
                    self._status_shown = True
                else:
                    self._write(f"{self._elapsed()}  {still}\n")

    def __call__(self, event: Event) -> None:
        if isinstance(event, RowFinished):
            self._line(f"[{event.done:>2}/{event.total}] {describe_row(event.row)}")
        elif isinstance(event, RoundFinished):
            where = f"{event.process}: " if event.process else ""
            if event.active:
                text = f"{where}round {event.round}: {len(event.active)} row(s) sampling"
            else:
                text = f"{where}round {event.round}: sampling done, finishing"
            if event.active:
                label, estimate = max(
                    event.active, key=lambda item: item[1].ci95_halfwidth_rel or float("inf")
                )
                halfwidth = estimate.ci95_halfwidth_rel
                interval = f" ±{halfwidth:.1%}" if halfwidth is not None else ""
                text += f"; widest: {label} {estimate.median:.3f} ms{interval} (n={estimate.n})"
            left = self._time_left(event) if event.active else ""
            if left:
                text += f"; {left}"
            self._status(text)
        elif isinstance(event, ProcessFinished):
            self._process_seconds.append(event.seconds)
            if event.failure:
                self._line(f"{event.failure}; {event.rows} row(s) timed; the run goes on")
            else:
                self._line(f"{event.label} timed {event.rows} row(s) in {event.seconds:.1f} s")
        elif isinstance(event, Phase):
            if event.message.startswith("waited"):
                self._line(event.message)
            else:
                self._status(event.message)

    def _time_left(self, event: RoundFinished) -> str:
        """At most how long this process still samples (every active row at its time limit),
        and, once a worker has finished, about how long the processes after it take."""
        if event.left_s is None:
            return ""
        text = f"at most {seconds_text(event.left_s)} left"
        match = re.search(r"process (\d+)/(\d+)", event.process)
        if match and self._process_seconds:
            after = int(match.group(2)) - int(match.group(1))
            if after > 0:
                mean = sum(self._process_seconds) / len(self._process_seconds)
                text += f" in this process, about {seconds_text(after * mean)} after it"
        return text

    def status(self, text: str) -> None:
        """Say what is going on now (a step with no events: an export, a build)."""
        self._status(text, force=True)

    def message(self, text: str) -> None:
        self._line(text)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self._status_text = None
            if self._status_shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._status_shown = False
