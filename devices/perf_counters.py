"""Hardware counters per row from Linux `perf stat` (opt-in: `fbench run --perf-counters`).

Cycles, instructions and last-level-cache misses say *why* a row is slow where the roofline
only says how slow: a memory-bound DWConv shows many LLC misses per multiply-add and few
instructions per cycle. `perf stat` is attached to this process while the row's call runs
for a short window; counts are divided by the calls made. Where perf is missing or the
kernel (or a VM) does not expose an event, that event is null, never an error.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

EVENTS = ("cycles", "instructions", "LLC-load-misses")
ATTACH_WAIT_S = 0.1  # perf needs a moment to attach before the window starts


def parse_perf_stat_csv(text: str, events: Sequence[str] = EVENTS) -> dict[str, int | float | None]:
    """Counts from `perf stat -x,` output: value,unit,event,...; "<not supported>" → None."""
    counts: dict[str, int | float | None] = dict.fromkeys(events)
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) < 3 or line.startswith("#"):
            continue
        value, event = fields[0].strip(), fields[2].strip()
        event = event.split(":")[0]  # "cycles:u" when only user space may be counted
        if event in counts:
            try:
                number = float(value)  # software events (task-clock) are msec, with decimals
            except ValueError:  # "<not supported>", "<not counted>"
                counts[event] = None
            else:
                counts[event] = int(number) if number.is_integer() else number
    return counts


@functools.lru_cache(maxsize=1)
def unavailable_reason(events: tuple[str, ...] = EVENTS) -> str | None:
    """None when `perf stat` counts at least one of `events` here, else why not."""
    if shutil.which("perf") is None:
        return "perf is not installed (Debian: apt install linux-perf)"
    try:
        probe = subprocess.run(
            ["perf", "stat", "-x,", "-e", ",".join(events), "true"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"perf stat failed ({error})"
    counts = parse_perf_stat_csv(probe.stderr, events)
    if all(value is None for value in counts.values()):
        first = (probe.stderr.strip().splitlines() or ["no output"])[0]
        return f"perf stat counts none of {', '.join(events)} here ({first[:80]})"
    return None


def count(
    call: Callable[[], object], budget_s: float, events: Sequence[str] = EVENTS
) -> dict[str, Any]:
    """Per-call counts of `events` over a window of calls, or nulls with the reason."""
    reason = unavailable_reason(tuple(events))
    if reason:
        return {**dict.fromkeys(events), "calls": 0, "unavailable": reason}
    with tempfile.TemporaryDirectory() as directory:
        output = Path(directory) / "perf.csv"
        perf = subprocess.Popen(
            ["perf", "stat", "-x,", "-e", ",".join(events), "-p", str(os.getpid()),
             "-o", str(output)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            time.sleep(ATTACH_WAIT_S)
            calls, deadline = 0, time.perf_counter() + budget_s
            while calls == 0 or time.perf_counter() < deadline:
                call()
                calls += 1
        finally:
            with contextlib.suppress(ProcessLookupError):
                perf.send_signal(signal.SIGINT)
            try:
                perf.wait(timeout=10)
            except subprocess.TimeoutExpired:
                perf.kill()
                perf.wait()
        text = output.read_text() if output.exists() else ""
    counts = parse_perf_stat_csv(text, events)
    per_call = {
        event: (value / calls if value is not None else None) for event, value in counts.items()
    }
    return {**per_call, "calls": calls, "unavailable": None}
