"""The table model every report lays out into: headers, rows of numbers or text, notes and how
each column prints a number. Layout modules (table1, networks, claims...) build a `Table`;
reports/render.py turns one into text in each format. Kept apart from both so that neither
imports the other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[object]]
    notes: list[str] = field(default_factory=list)
    # How each column prints a number (None prints as "—"); cells that are already text are
    # printed as they are. Exports such as CSV and JSON keep the numbers themselves.
    formats: list[Callable[[Any], str]] | None = None
