"""The row status vocabulary: four words and the reason codes behind them.

One word covered five causes before (`unstable`: interval wider than the target, processes
that disagree, throttling, a host that moved, an interrupted run), and a reader took it to
mean "do not trust this number". The words now say what a reader may do with the number:

- `ok`: measured, the 95% interval of the median within the target;
- `imprecise`: measured in a steady state, the interval wider than the target; the median is
  still the best estimate, so it is in averages and ratios, and the gate judges it;
- `disturbed`: the device or host was not in its steady state (throttled, capped clock,
  interrupted, warm-up that never settled); kept out of averages, not judged by the gate;
- `failed`: could not run; the error is stored.

Every row that is not `ok` carries machine-readable `reasons` (the codes in `REASONS`, a
stable contract: add codes, never rename them) and one sentence for people (`why`). The
status follows from the reasons (`status_of`), so the two cannot disagree. Pure module: the
devices import it, and nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

OK = "ok"
IMPRECISE = "imprecise"
DISTURBED = "disturbed"
FAILED = "failed"
STATUSES = (OK, IMPRECISE, DISTURBED, FAILED)
# Rows whose median goes into averages, ratios and plots' headline series.
MEASURED = (OK, IMPRECISE)


@dataclass(frozen=True)
class Reason:
    code: str
    status: str  # the status this reason gives a row on its own
    meaning: str  # for docs and `fbench show`


_REASONS = (
    Reason("interval_wide", IMPRECISE, "the median's 95% interval is wider than the target"),
    Reason(
        "processes_differ",
        IMPRECISE,
        "the processes' medians differ by more than their calls' interval (each process "
        "draws its own memory layout); the interval is the processes'",
    ),
    Reason("throttled", DISTURBED, "the device reported throttling or under-voltage"),
    Reason("clock_capped", DISTURBED, "the CPU's maximum clock was lowered during the row"),
    Reason("governor_changed", DISTURBED, "the CPU frequency governor changed during the row"),
    Reason("too_hot", DISTURBED, "the device reached its throttling temperature"),
    Reason("device_problem", DISTURBED, "the device reported another problem (see notes)"),
    Reason(
        "host_moved",
        DISTURBED,
        "within one process, the host probe's sustained level (a running median of its "
        "rounds: spikes do not count) moved by more than [timing] host_moved_above (default "
        "10%): the host changed speed while the row was timed, and the row's median with it",
    ),
    Reason("interrupted", DISTURBED, "the run stopped before every planned process timed it"),
    Reason("warmup_unsettled", DISTURBED, "warm-up never settled within its time limit"),
    Reason(
        "unrecorded",
        DISTURBED,
        "migrated from fbench.result/1: `unstable` with no latency and no recorded cause",
    ),
    Reason("error", FAILED, "the row could not run; `error` says why"),
)
REASONS = {reason.code: reason for reason in _REASONS}

INTERVAL_WIDE = "interval_wide"
PROCESSES_DIFFER = "processes_differ"
THROTTLED = "throttled"
CLOCK_CAPPED = "clock_capped"
GOVERNOR_CHANGED = "governor_changed"
TOO_HOT = "too_hot"
DEVICE_PROBLEM = "device_problem"
HOST_MOVED = "host_moved"
INTERRUPTED = "interrupted"
WARMUP_UNSETTLED = "warmup_unsettled"
UNRECORDED = "unrecorded"
ERROR = "error"

_SEVERITY = {OK: 0, IMPRECISE: 1, DISTURBED: 2, FAILED: 3}

# A warm-up capped below this is too short for "never settled" to say anything about the
# device (--quick caps it at 0.1 s: a few single calls of a slow row, which rarely agree
# within 2%); such a row keeps its note but is not `disturbed` for it.
MIN_SETTLING_S = 0.5


def unsettled_disturbs(warmup_max_s: float) -> bool:
    """Whether a warm-up that hit `warmup_max_s` without settling makes a row `disturbed`."""
    return warmup_max_s >= MIN_SETTLING_S


def status_of(reasons: Iterable[str]) -> str:
    """The row's status: that of its gravest reason (`ok` when it has none)."""
    return max((REASONS[code].status for code in reasons), key=_SEVERITY.__getitem__, default=OK)


def in_averages(status: str) -> bool:
    """Whether a row with this status goes into averages and ratios."""
    return status in MEASURED


def unique(codes: Iterable[str]) -> list[str]:
    """Codes in first-seen order, each once (five throttled processes: one `throttled`)."""
    return list(dict.fromkeys(codes))


class DeviceProblem(str):
    """A device's sentence about a row (`session.problems`) that also carries its reason code.

    A `str`, so devices keep returning `list[str]` and the sentence is stored as before; the
    code spares everyone from recognising causes by matching words in the sentence.
    """

    code: str

    def __new__(cls, text: str, code: str = DEVICE_PROBLEM) -> DeviceProblem:
        if code not in REASONS:
            raise ValueError(f"unknown reason code {code!r}")
        problem = super().__new__(cls, text)
        problem.code = code
        return problem

    def prefixed(self, prefix: str) -> DeviceProblem:
        """The same problem, its sentence prefixed (e.g. with "process 2: ")."""
        return DeviceProblem(prefix + self, self.code)


def problem_code(problem: str) -> str:
    """The reason code of a device problem; a plain string (a device that gives no code)
    is `device_problem`."""
    return getattr(problem, "code", DEVICE_PROBLEM)


def sentence(causes: Iterable[str], interval_notes: Iterable[str]) -> str | None:
    """The row's one sentence for people: its first disturbance if it has one (the gravest
    news), else what its interval was ("95% CI ... is ±3.4% ...; the processes' medians...")."""
    for cause in causes:
        if cause:
            return cause
    return "; ".join(interval_notes) or None
