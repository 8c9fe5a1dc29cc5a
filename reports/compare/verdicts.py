"""The gate's verdict model: a row's verdict, the host's speed, the whole comparison and its
exit code. Data only; reports/compare/judge.py fills it, reports/compare/output.py prints it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from fbench.bench.config.model import COMPARE_DEFAULTS
from fbench.bench.errors import EXIT_NOT_COMPARABLE, EXIT_OK, EXIT_REGRESSION

# One source for the defaults: bench.toml's [compare] table falls back to the same values.
DEFAULT_THRESHOLD: float = COMPARE_DEFAULTS["threshold"]
DEFAULT_ALPHA: float = COMPARE_DEFAULTS["alpha"]
# How far the rows' common shift may stray from the probe's before the rest counts as the
# code's doing: the probe tracked the rows' common shift closely through much larger host
# swings (docs/methodology.md, "Host-speed correction in the gate").
DEFAULT_HOST_TOLERANCE: float = COMPARE_DEFAULTS["host_tolerance"]

# Verdicts of a row. SLOWER and FASTER are measured changes; UNTRUSTED ones make the gate
# exit 3 when nothing is slower.
# "not judged" / "not measured" are verdicts, not row statuses
# (fbench.bench.results.status.STATUSES): a row held back because of its stored status or too few
# samples, and a row that failed.
SLOWER, FASTER, SAME, NOT_JUDGED, NOT_MEASURED, MISSING, NEW = VERDICTS = (
    "slower", "faster", "same", "not judged", "not measured", "missing", "new",
)  # fmt: skip
UNTRUSTED = (NOT_JUDGED, NOT_MEASURED, MISSING)


def percent_text(fraction: float) -> str:
    """A threshold or tolerance in percent with the digits it was given: 5%, 0.5%, 0.1%
    (`:.0%` printed --threshold 0.5% as "0%")."""
    return f"{round(fraction * 100, 6):g}%"


@dataclass(frozen=True)
class RowComparison:
    label: str  # e.g. "conv 96×56×56"
    baseline_ms: float | None
    current_ms: float | None
    change: float | None  # current / baseline − 1 of what `test` is about (see there)
    ratio_ci95: tuple[float, float] | None  # 95% interval of current / baseline (see test)
    p_value: float | None  # two-sided, from `test`
    verdict: str  # one of VERDICTS
    reason: str = ""
    raw_change: float | None = None  # before host-speed correction (= change when none)
    # "bootstrap-medians": the ratio of the calls' medians, bootstrapped; "welch-processes":
    # the ratio of the per-process medians' geometric means, Welch's t on their logs (both
    # runs timed in several processes: bench/measure/processes.py); "paired-anchors": the
    # rows' time against an anchor timed in the same rounds (reports/compare/normalised.py)
    test: str = "bootstrap-medians"
    # A row held back as NOT_JUDGED because of its stored status: what the test said of it
    # (SLOWER, FASTER or SAME), which `allow_unstable` uses as its verdict.
    judged: str | None = None
    # Held back for its stored status but judged anyway, because of --allow-unstable.
    allowed_unstable: bool = False
    # What the row is, beyond its display label (rows that differ only in layers, batch or
    # params share a label): operator, operator_params, channels, height, width, layers,
    # batch, dtype, device, backend, backend_options. Empty for rows built by hand.
    identity: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HostCorrection:
    """How much faster or slower the host itself ran in the current run (ratios, 1 = same)."""

    applied: bool
    factor: float = 1.0  # what the current samples were divided by
    probe_ratio: float | None = None  # the host probe's median ratio (current / baseline)
    rows_ratio: float | None = None  # the median of the rows' raw latency ratios
    tolerance: float = DEFAULT_HOST_TOLERANCE
    reason: str = ""  # why it was not applied, or how the factor was chosen

    def line(self) -> str:
        if not self.applied and self.probe_ratio is not None:
            return (
                f"the host itself ran {self.probe_ratio - 1:+.1%} in the current run "
                f"(host probe); not divided out ({self.reason})"
            )
        if not self.applied:
            return f"host-speed correction off: {self.reason}"
        return (
            f"host-speed correction {self.factor - 1:+.1%}: the host probe ran "
            f"{self.probe_ratio - 1:+.1%}, the rows together {self.rows_ratio - 1:+.1%}"
            f" ({self.reason}); changes below are corrected"
        )


@dataclass(frozen=True)
class Comparison:
    baseline: str  # run ids
    current: str
    threshold: float
    alpha: float
    rows: list[RowComparison]
    not_comparable: list[str] = field(default_factory=list)  # why the runs cannot be judged
    host: HostCorrection = field(default_factory=lambda: HostCorrection(False, reason="off"))
    accepted: list[str] = field(default_factory=list)  # differences accepted on purpose
    # Host-probe failures stored in either run, in words (bench/stats/host_probe.py).
    host_probe_failures: list[str] = field(default_factory=list)
    # A run whose file is not `complete` (interrupted, partial...), one line each.
    unfinished_runs: list[str] = field(default_factory=list)
    gate: str = "plain"  # "plain" or "anchors" (reports/compare/normalised.py)
    gate_lines: list[str] = field(default_factory=list)  # what the anchors gate did

    @property
    def regressions(self) -> list[RowComparison]:
        return [row for row in self.rows if row.verdict == SLOWER]

    @property
    def improvements(self) -> list[RowComparison]:
        return [row for row in self.rows if row.verdict == FASTER]

    def exit_code(self, fail_on_improvement: bool = False, allow_unstable: bool = False) -> int:
        """0 no significant regression; 1 regression (or improvement, if asked); 3 cannot judge.

        A regression among trustworthy rows is reported as such even when other rows could
        not be judged: it is real evidence. Runs that are not the same experiment are never
        judged. `allow_unstable` judges rows held back as NOT_JUDGED by what their test said
        (as `compare_runs(allow_unstable=True)` does): a slowdown among them exits 1.
        """
        if self.not_comparable:
            return EXIT_NOT_COMPARABLE
        verdicts = [
            row.judged if allow_unstable and row.judged is not None else row.verdict
            for row in self.rows
        ]
        if SLOWER in verdicts or (fail_on_improvement and FASTER in verdicts):
            return EXIT_REGRESSION
        return EXIT_NOT_COMPARABLE if any(v in UNTRUSTED for v in verdicts) else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
