"""How the tables print numbers: one formatter per kind of number, shared by every report, so
that a latency or a FLOPS value reads the same in Table 1, the networks table, the backend
table, the roofline, the gate (compare) and the depth fit. Exports such as CSV and JSON keep
the numbers themselves."""

from __future__ import annotations

from collections.abc import Callable

MISSING = "—"  # a value that is not there (not measured, no paper value, no ceiling)


def format_g(value: float | None) -> str:
    """G/s, fps or millions as the paper prints them: two decimals, whole numbers from 1000."""
    return MISSING if value is None else f"{value:.2f}" if value < 1000 else f"{value:.0f}"


def format_g_prose(value: float) -> str:
    """G/s inside a sentence, as the paper's text prints them: whole numbers from 100 up,
    three significant digits below (the claims report's "72.9 > 25.9 > 6.42 G/s")."""
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


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


def format_fitted_ms(ms: float | None) -> str:
    """Milliseconds of a fitted line (slope, intercept, its error; may be negative): three
    decimals below 10 ms, two above, so a per-layer cost keeps about four digits."""
    if ms is None:
        return MISSING
    return f"{ms:.3f}" if abs(ms) < 10 else f"{ms:.2f}"


def format_change(change: float | None) -> str:
    """A relative change, signed, in percent with one decimal: +4.2%, -0.3%."""
    return MISSING if change is None else f"{change:+.1%}"


def format_share(share: float | None) -> str:
    """A fraction of a whole in whole percent: 12%."""
    return MISSING if share is None else f"{share:.0%}"


def format_p(p_value: float | None) -> str:
    """A p-value to two significant digits: 0.031, 1e-05, 1."""
    return MISSING if p_value is None else f"{p_value:.2g}"
