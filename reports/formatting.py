"""How the tables print numbers: one formatter per kind of number, shared by every report, so
that a latency or a FLOPS value reads the same in Table 1, the networks table, the backend
table and the roofline. Exports such as CSV and JSON keep the numbers themselves."""

from __future__ import annotations

from collections.abc import Callable

MISSING = "—"  # a value that is not there (not measured, no paper value, no ceiling)


def format_g(value: float | None) -> str:
    """G/s, fps or millions as the paper prints them: two decimals, whole numbers from 1000."""
    return MISSING if value is None else f"{value:.2f}" if value < 1000 else f"{value:.0f}"


def format_ms(ms: float | None) -> str:
    """Milliseconds: two decimals, three below 1 ms."""
    if ms is None:
        return MISSING
    return f"{ms:.2f}" if ms >= 1 else f"{ms:.3f}"


def fixed(digits: int) -> Callable[[float | None], str]:
    """A formatter with a fixed number of decimals (ratios, params in M, FLOPs in G)."""

    def formatted(value: float | None) -> str:
        return MISSING if value is None else f"{value:.{digits}f}"

    return formatted
