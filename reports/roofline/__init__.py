"""The roofline: where each stored row sits against its device's measured ceilings.

maths.py places rows (pure: intensity, attainable FLOPS, ridge point, which roof applies);
report.py says it as a table, sentences and CSV (`fbench roofline`); columns.py adds it to
Table 1 (`fbench report table1 --roofline`). The picture (`fbench roofline --plot`, `fbench
plot roofline`: one drawing) is reports/plots/roofline.py. Measured rooflines are in
docs/roofline.md.
"""

# The package's public API, for the CLI and other packages:
from fbench.reports.roofline.maths import (
    CEILING_TOO_LOW,
    OperatorSummary,
    RooflinePoint,
    above_roof,
    arithmetic_intensity,
    attainable_gflops_per_s,
    bound,
    ceiling_lines,
    intensity_range,
    operator_summaries,
    ridge_point,
    roofline_point,
    roofline_points,
)
from fbench.reports.roofline.report import (
    ROOFLINE_HEADERS,
    roofline_export,
    roofline_report,
    roofline_table,
    roofline_text,
    summary_sentence,
    write_csv,
)

__all__ = [
    "CEILING_TOO_LOW",
    "ROOFLINE_HEADERS",
    "OperatorSummary",
    "RooflinePoint",
    "above_roof",
    "arithmetic_intensity",
    "attainable_gflops_per_s",
    "bound",
    "ceiling_lines",
    "intensity_range",
    "operator_summaries",
    "ridge_point",
    "roofline_export",
    "roofline_point",
    "roofline_points",
    "roofline_report",
    "roofline_table",
    "roofline_text",
    "summary_sentence",
    "write_csv",
]
