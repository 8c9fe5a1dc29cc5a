"""The regression gate: two stored runs → per-row verdicts and one exit code. Never measures.

The flow, one module each: are the runs the same experiment (comparability), how fast the
host itself ran (host), the tests and intervals (statistics, pure), each row's verdict
(judge) into the verdict model (verdicts), and the table and prose that show it (output).
What the gate decides and why, with measured numbers: docs/regression-gate.md.
"""

# The package's public API (fbench's commands, tests and benchmarks import these from here).
from fbench.reports.compare.comparability import (
    Difference,
    comparability_problems,
    differences,
    experiment,
    experiment_keys,
)
from fbench.reports.compare.host import host_correction
from fbench.reports.compare.judge import compare_runs, row_is_ok
from fbench.reports.compare.output import (
    comparison_export,
    render_markdown,
    render_text,
)
from fbench.reports.compare.statistics import (
    bootstrap_medians,
    bootstrap_ratio,
    bootstrap_ratio_ci,
    host_speed_factor,
    mann_whitney_p,
    welch_p,
    welch_ratio_ci,
)
from fbench.reports.compare.verdicts import (
    DEFAULT_HOST_TOLERANCE,
    DEFAULT_THRESHOLD,
    NOT_JUDGED,
    VERDICTS,
    Comparison,
    HostCorrection,
    RowComparison,
)

__all__ = [
    "DEFAULT_HOST_TOLERANCE",
    "DEFAULT_THRESHOLD",
    "NOT_JUDGED",
    "VERDICTS",
    "Comparison",
    "Difference",
    "HostCorrection",
    "RowComparison",
    "bootstrap_medians",
    "bootstrap_ratio",
    "bootstrap_ratio_ci",
    "comparability_problems",
    "compare_runs",
    "comparison_export",
    "differences",
    "experiment",
    "experiment_keys",
    "host_correction",
    "host_speed_factor",
    "mann_whitney_p",
    "render_markdown",
    "render_text",
    "row_is_ok",
    "welch_p",
    "welch_ratio_ci",
]
