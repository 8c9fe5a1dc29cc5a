"""One worker of a multi-process run (bench/processes.py): `python -m bench.worker`.

Reads one JSON request on stdin ({"config", "rows", "order_seed", "cache_dir"}), times those
rows of the config's plan in this fresh process with the ordinary runner, and writes one JSON
message per line on stdout: {"event": "phase" | "round" | "row" | "error", ...}. Anything
else the libraries print goes to stderr, so stdout carries nothing but messages.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO


def _send(channel: TextIO, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def main() -> int:
    from bench.errors import FbenchError, one_line

    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # stray prints from torch or a backend must not corrupt the messages
    sys.stdout = sys.stderr
    try:
        return _work(channel)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the parent prints it as one line naming this process
        lines = str(error).strip().splitlines()
        # An FbenchError is already worded for the user; anything else gets its type.
        message = lines[0] if isinstance(error, FbenchError) and lines else one_line(error)
        _send(channel, {"event": "error", "message": message})
        return 2


def _work(channel: TextIO) -> int:
    from bench.config import RunConfig
    from bench.errors import FbenchError
    from bench.runner import Phase, RoundFinished, measure, plan_rows
    from devices import get_device

    request = json.loads(sys.stdin.read())
    config = RunConfig.from_dict(request["config"])
    plans = plan_rows(config)
    try:
        chosen = [plans[index] for index in request["rows"]]
    except IndexError:
        raise FbenchError("the parent asked for a row this config does not plan") from None

    def emit(event: object) -> None:
        if isinstance(event, Phase):
            _send(channel, {"event": "phase", "message": event.message})
        elif isinstance(event, RoundFinished):
            active = [[label, summary.to_dict()] for label, summary in event.active]
            _send(
                channel,
                {
                    "event": "round",
                    "round": event.round,
                    "active": active,
                    "progress": [event.done, event.total],
                },
            )

    session = get_device(config.device).open_session(config.device_settings)
    cache_dir = Path(request["cache_dir"]) if request.get("cache_dir") else None
    try:
        for row in measure(
            chosen, config, session, emit, cache_dir=cache_dir, order_seed=request["order_seed"]
        ):
            _send(channel, {"event": "row", "row": row.to_dict()})
    finally:
        session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
