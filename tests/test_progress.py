"""Progress on stderr: a line at least every few seconds during a long step, the time left,
nothing under --quiet, and `run --no-table`'s one summary line on stdout."""

from __future__ import annotations

import io
import json
import time

import pytest

from fbench.bench.measure.events import Phase, ProcessFinished, RoundFinished
from fbench.bench.measure.protocol import event_message, round_event
from fbench.bench.stats.timing import LatencySummary
from fbench.progress import ProgressPrinter, seconds_text
from tests.conftest import fbench


def _wait_for(stream: io.StringIO, fragment: str, limit_s: float = 20.0) -> str:
    """The stream's text once `fragment` is in it (polled: a loaded host is only slower)."""
    deadline = time.monotonic() + limit_s
    while fragment not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.1)
    return stream.getvalue()


def test_a_silent_step_gets_a_line_every_heartbeat():
    # An ONNX export or a worker building its rows sends no event for half a minute.
    stream = io.StringIO()
    progress = ProgressPrinter(stream, heartbeat_s=0.5)
    progress(Phase("process 1/6: building pconv 96×56×56 (1/16)"))
    text = _wait_for(stream, "(for ")
    progress.close()
    assert "building pconv 96×56×56 (1/16) (for " in text
    assert not text.endswith("\r")  # a log gets whole lines, not a redrawn status


def test_a_round_says_the_time_left():
    stream = io.StringIO()
    progress = ProgressPrinter(stream, heartbeat_s=0.0)
    estimate = LatencySummary(2.0, 1.98, 2.02, 0.01, 2.0, 0.01, 40)
    progress(ProcessFinished("process 1/4", 16, 20.0))
    progress(RoundFinished(3, [("conv 96×56×56", estimate)], 0, 16, "process 2/4", left_s=42.0))
    progress.close()
    line = stream.getvalue().splitlines()[-1]
    assert "process 2/4: round 3: 1 row(s) sampling; widest: conv 96×56×56 2.000 ms" in line
    # 42 s at most in this process; two more processes of about 20 s each after it
    assert line.endswith("at most 42 s left in this process, about 40 s after it")


def test_the_time_left_crosses_the_worker_protocol():
    estimate = LatencySummary(2.0, 1.98, 2.02, 0.01, 2.0, 0.01, 40)
    event = RoundFinished(1, [("dwconv 768×7×7", estimate)], 2, 16, left_s=12.5)
    message = json.loads(json.dumps(event_message(event)))
    assert round_event(message, "process 1/6").left_s == 12.5
    del message["left_s"]  # a worker of an older fbench: no time left, no error
    assert round_event(message, "process 1/6").left_s is None


def test_quiet_prints_nothing():
    stream = io.StringIO()
    progress = ProgressPrinter(stream, quiet=True, heartbeat_s=0.1)
    progress(Phase("building conv 96×56×56 (1/16)"))
    progress.message("measuring 16 row(s)")
    time.sleep(0.5)
    progress.close()
    assert stream.getvalue() == ""


def test_seconds_text():
    assert [seconds_text(s) for s in (0.4, 42, 89.4, 185)] == ["0 s", "42 s", "89 s", "3 min 5 s"]


@pytest.mark.slow
def test_run_no_table_prints_one_summary_line_and_quiet_no_progress(tmp_path):
    result = fbench(
        "run", "--quick", "--operators", "dwconv", "--stages", "4", "--processes", "1",
        "--results-dir", str(tmp_path), "--no-table", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (path,) = tmp_path.glob("*.json")
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"run {path.stem}: complete, 1 of 1 rows (1 ")
    assert line.endswith(f", stored in {path}")
    assert result.stderr == ""
