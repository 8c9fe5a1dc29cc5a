"""The table model every report lays out into: headers, rows of numbers or text, notes and how
each column prints a number; and the `Report` around a table, its prose lines. Layout modules
(table1, networks, claims, compare, depth...) build a `Table` or a `Report`; reports/render.py
turns one into text in each format. Kept apart from both so that neither imports the other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Layout:
    """How the formats lay a table out where a report keeps a look of its own; the defaults
    are Table 1's. Each format reads only its own field."""

    align: str | None = None  # text: "right" aligns every column right (depth); None: tabulate's
    padded_markdown: bool = True  # md: False writes a bare pipe table (compare's CI summary)
    csv_line_end: str = "\n"  # csv: depth keeps the csv module's own "\r\n"


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[object]]
    notes: list[str] = field(default_factory=list)
    # How each column prints a number (None prints as "—"); cells that are already text are
    # printed as they are. Exports such as CSV and JSON keep the numbers themselves.
    formats: list[Callable[[Any], str]] | None = None
    layout: Layout = Layout()
    # Fitting the terminal (reports/fit.py): heads for the text format when it fits a width
    # (short, units once: "Latency (ms)"), and how many leading columns name a row (repeated
    # in every panel when a table is split).
    short_headers: list[str] | None = None
    key_columns: int = 2
    # Columns that belong together (one device's block of Table 1), one label per column:
    # a table split into panels keeps a group in one panel. None: every column alone.
    column_groups: list[object] | None = None
    # The same content laid out narrower (cells over two lines, columns merged), for a
    # terminal the table does not fit even with short heads: what the claims print at 100.
    narrow: Table | None = None


@dataclass(frozen=True)
class Report:
    """What a tabular report produces: its table (None when there is nothing to tabulate) and
    the prose lines above and below it (a title, a summary, how to read it), blank lines
    included. Prose is plain text or Markdown, so only the text and md formats carry it."""

    table: Table | None
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
