"""Progress of a run on stderr (the CLI side of the runner's events).

On a terminal one status line is redrawn in place (which row, its estimate so far) and each
finished row is printed for good; when stderr is a file or a CI log only the finished rows
and waits are printed, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from bench.measure.events import Event, Phase, ProcessFinished, RoundFinished, RowFinished
from bench.results import ResultRow


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


class ProgressPrinter:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.started = time.monotonic()
        self._status_shown = False

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self.started:5.1f}s"

    def _status(self, text: str) -> None:
        if self.live:
            self.stream.write(f"\r\x1b[K{self._elapsed()}  {text}")
            self.stream.flush()
            self._status_shown = True

    def _line(self, text: str) -> None:
        if self._status_shown:
            self.stream.write("\r\x1b[K")
            self._status_shown = False
        self.stream.write(f"{self._elapsed()}  {text}\n")
        self.stream.flush()

    def __call__(self, event: Event) -> None:
        if isinstance(event, RowFinished):
            self._line(f"[{event.done:>2}/{event.total}] {describe_row(event.row)}")
        elif isinstance(event, RoundFinished):
            if event.active:
                label, estimate = max(
                    event.active, key=lambda item: item[1].ci95_halfwidth_rel or float("inf")
                )
                halfwidth = estimate.ci95_halfwidth_rel
                interval = f" ±{halfwidth:.1%}" if halfwidth is not None else ""
                where = f"{event.process}: " if event.process else ""
                self._status(
                    f"{where}round {event.round}: {len(event.active)} row(s) sampling; widest: "
                    f"{label} {estimate.median:.3f} ms{interval} (n={estimate.n})"
                )
        elif isinstance(event, ProcessFinished):
            if event.failure:
                self._line(f"{event.failure}; {event.rows} row(s) timed; the run goes on")
            else:
                self._line(f"{event.label} timed {event.rows} row(s) in {event.seconds:.1f} s")
        elif isinstance(event, Phase):
            if event.message.startswith("waited"):
                self._line(event.message)
            else:
                self._status(event.message)

    def message(self, text: str) -> None:
        self._line(text)

    def close(self) -> None:
        if self._status_shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._status_shown = False
