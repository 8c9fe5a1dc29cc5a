"""One worker of a multi-process run (bench/measure/processes.py): `python -m
fbench.bench.measure.worker`.

The conversation with the parent, one JSON object a line (bench/measure/protocol.py has the
messages and the parent's end):
1. The worker imports torch and fbench, then says {"event": "ready"}. The parent starts the
   next worker while this one builds and warms up its rows, so that the next one's imports
   (a large share of a worker's start-up, docs/methodology.md) are not on the critical path.
   The imports run on the cores the worker was not started on (the parent is pinned to the
   measuring core), so they slow neither this worker's warm-up nor another's sampling.
2. The parent sends the request ({"config", "rows", "order_seed", "cache_dir"}) as one line;
   end of input instead means the worker is not needed, and it exits.
3. The worker builds and warms the rows, says {"event": "warm"} and waits for a line from
   the parent ("go", or end of input) before it samples: the parent answers once the next
   worker has finished its imports, so no import ever overlaps a timed call.
   A request {"check": config, "operators": [...]} asks instead for the preflight of those
   custom operators (`_check`), before the run's file exists; it answers {"event":
   "problem" | "checked", "operator", ...} for each, then waits for a timing request (a
   one-process run times in the worker that checked) or end of input.
4. It times the rows with the ordinary runner and sends {"event": "phase" | "round" | "row" |
   "error", ...}; the phases ("building X", "warming up X") and rounds tell the parent what
   it was doing if it dies (bench/measure/processes.py records that). Anything else the
   libraries or the user's code print goes to stderr, so stdout carries nothing but
   messages (the parent keeps that stderr, or passes it on to fbench's: protocol.py).
The worker dies with its parent (`_die_with_parent`): a parent killed by SIGKILL leaves no
worker behind.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

# Only the standard library at the top: the rest is imported off the measuring cores
# (`_import_off_the_measuring_cores`), so a worker starting up never slows one that times.

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent() -> None:
    """Have the kernel SIGKILL this worker when the parent dies (Linux prctl
    PR_SET_PDEATHSIG), so a worker is never left running for nobody, even when the parent
    was SIGKILLed and could not stop it. Done here rather than in a `preexec_fn`, which is
    unsafe in a parent that has threads (torch's)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    expected = os.environ.get("FBENCH_PARENT_PID")
    if expected and os.getppid() != int(expected):  # it died before the prctl took effect
        os._exit(0)


def main() -> int:
    from fbench.bench.errors import FbenchError, one_line

    _die_with_parent()
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # stray prints from torch or a backend must not corrupt the messages
    sys.stdout = sys.stderr
    try:
        _import_off_the_measuring_cores()
        from fbench.bench.measure.protocol import READY, send
        from fbench.bench.measure.stack import worker_versions

        send(channel, {"event": READY, "versions": worker_versions()})
        line = sys.stdin.readline()
        if not line.strip():
            return 0  # started ahead in case another process was needed; it was not
        request = json.loads(line)
        if "check" in request:
            return _check(channel, request)
        return _work(channel, request)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the parent prints it as one line naming this process
        lines = str(error).strip().splitlines()
        # An FbenchError is already worded for the user; anything else gets its type.
        message = lines[0] if isinstance(error, FbenchError) and lines else one_line(error)
        from fbench.bench.measure.protocol import ERROR, send

        send(channel, {"event": ERROR, "message": message})
        return 2


def _import_off_the_measuring_cores() -> None:
    """Import what every worker needs on the cores this process was not started on, then
    return to the ones it was (its device session pins itself among those, as before).
    On a machine where it may use no other core, it imports where it is."""
    inherited = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    others = set(range(os.cpu_count() or 1)) - (inherited or set())
    moved = False
    if inherited is not None and others:
        try:
            os.sched_setaffinity(0, others)
            moved = True
        except OSError:  # a cpuset that allows none of them: import where we are
            pass
    try:
        import torch  # noqa: F401  (the 2.6 s of the import)

        import fbench.bench.measure.protocol
        import fbench.bench.measure.runner  # noqa: F401
        from fbench import devices  # noqa: F401
    finally:
        if moved:
            os.sched_setaffinity(0, inherited)


def _wait_for_go(channel: TextIO) -> None:
    from fbench.bench.measure.protocol import WARM, send

    send(channel, {"event": WARM})
    sys.stdin.readline()  # "go", or end of input: either way, sample now


def _check(channel: TextIO, request: dict[str, Any]) -> int:
    """Check the named custom operators of the request's config before anything is timed
    (operators/custom_build.py's preflight), one after another, saying which one it is on:
    if the user's code ends this process, the parent knows whose code it was."""
    from fbench.bench.config import RunConfig
    from fbench.bench.measure.protocol import CHECKED, PHASE, PROBLEM, send
    from fbench.operators.custom_build import preflight

    config = RunConfig.from_dict(request["check"])
    sizes = [(stage.channels, stage.height, stage.width) for stage in config.stages]
    for name in request["operators"]:
        operator = config.custom_operator(name)
        send(channel, {"event": PHASE, "message": f"checking operator {name}"})
        found = preflight([operator], sizes, config.device, config.backend, config.backend_options)
        for _, problem in found:
            send(channel, {"event": PROBLEM, "operator": name, "message": problem})
        send(channel, {"event": CHECKED, "operator": name})
    line = sys.stdin.readline()  # the run's timing request, in one process; or the end
    return _work(channel, json.loads(line)) if line.strip() else 0


def _work(channel: TextIO, request: dict[str, Any]) -> int:
    from fbench.bench.config import RunConfig
    from fbench.bench.errors import FbenchError
    from fbench.bench.measure.events import Event
    from fbench.bench.measure.protocol import ROW, event_message, send
    from fbench.bench.measure.runner import measure_in_process
    from fbench.bench.plan.rows import plan_rows
    from fbench.devices import get_device

    config = RunConfig.from_dict(request["config"])
    if config.timing.processes != 1:  # it would start workers of its own, and so on
        raise FbenchError("a worker times in one process; the parent sent processes > 1")
    plans = plan_rows(config)
    try:
        chosen = [plans[index] for index in request["rows"]]
    except IndexError:
        raise FbenchError("the parent asked for a row this config does not plan") from None

    def emit(event: Event) -> None:
        message = event_message(event)
        if message is not None:
            send(channel, message)

    session = get_device(config.device).open_session(config.device_settings)
    cache_dir = Path(request["cache_dir"]) if request.get("cache_dir") else None
    try:
        for row in measure_in_process(
            chosen,
            config,
            session,
            emit,
            cache_dir=cache_dir,
            order_seed=request["order_seed"],
            before_sampling=lambda: _wait_for_go(channel),
            stop_at=request.get("stop_at"),
        ):
            send(channel, {"event": ROW, "row": row.to_dict()})
    finally:
        session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
