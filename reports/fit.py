"""Text output that fits a terminal (100 columns unless the terminal is wider): prose wrapped,
column heads shortened and broken over lines, long cells moved to numbered footnotes under
the table, and as a last resort the columns split into panels that repeat the leading key
columns. Pure functions of a `Table` and a width; `--wide` skips all of it (render's
`width=None`), which prints today's one-line-per-row layout whatever its width.

Why footnotes and not wrapped cells: a row stays one line, so `grep` and `sort` still work,
and an explanation shared by many rows ("2 of 4 rows ok, 4 averaged") is printed once."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence

from fbench.reports.table import Table

DEFAULT_WIDTH = 100  # what every text output fits unless the terminal is wider
_MARKER = re.compile(r"\[\d+\]")  # a cell moved to a footnote
_MIN_CELL = 9  # a text column is not squeezed below this (a status word, "±1.0%")


def text_width(columns: str | None, terminal: int | None = None) -> int:
    """The width text output fits: the terminal's (`COLUMNS` first, as the shell sets it)
    when it is wider than 100, else 100. A `COLUMNS` that is not a positive whole number
    (0, "abc", "") is ignored; one below 100 ("20") still gets 100, which reads better
    than a table squeezed into a column a word wide."""
    for candidate in (columns, terminal):
        try:
            value = int(str(candidate).strip())
        except ValueError:
            continue
        if value > 0:
            return max(DEFAULT_WIDTH, value)
    return DEFAULT_WIDTH


def widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def _encoded(text: str) -> int:
    return len(text.encode("utf-8"))


def wrap_lines(lines: Sequence[str], width: int) -> list[str]:
    """Each prose line wrapped at `width`; a continuation is indented two more spaces than
    the line it continues (a footnote's "[n] " more), so a reader sees where a line ends.

    Prose is measured in UTF-8 bytes, never fewer than its characters: a line with ×, ± or
    – then fits `width` for a tool that counts bytes too (`wc -L` or awk under LANG=C), at
    the cost of a few characters on such lines. (Tables keep characters: squeezing them by
    bytes would move cells into footnotes that every terminal has room for.)"""
    out: list[str] = []
    for line in lines:
        for part in line.split("\n"):
            if _encoded(part) <= width:
                out.append(part)
                continue
            stripped = part.lstrip(" ")
            indent = part[: len(part) - len(stripped)]
            hang = " " * len(stripped.split(" ", 1)[0] + " ") if stripped.startswith("[") else "  "
            wrap_at = width
            while True:
                wrapped = textwrap.wrap(
                    stripped,
                    width=wrap_at,
                    initial_indent=indent,
                    subsequent_indent=indent + hang,
                    break_long_words=False,
                    break_on_hyphens=False,
                ) or [part]
                over = max(_encoded(piece) for piece in wrapped) - width
                # Narrower by what the widest line has over; a word longer than the width
                # stays whole, so stop before the wrapping is only that word.
                if over <= 0 or wrap_at - over < width // 2:
                    break
                wrap_at -= over
            out += wrapped
    return out


def _tabulate(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str | None) -> str:
    import tabulate as tabulate_module

    options = {"stralign": align} if align else {}
    # tabulate widens a column two spaces past its head; two spaces already part columns,
    # and on a fitted table those spaces are worth more as room for a column.
    padding, tabulate_module.MIN_PADDING = tabulate_module.MIN_PADDING, 0
    try:
        return tabulate_module.tabulate(
            [list(row) for row in rows],
            headers=list(headers),
            tablefmt="simple",
            disable_numparse=True,
            **options,
        )
    finally:
        tabulate_module.MIN_PADDING = padding


def _column_widths(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """Each column's width as tabulate lays it out (no padding): its widest cell or head line."""
    widths = [_cell_width(h) for h in headers]
    for row in rows:
        widths = [max(w, _cell_width(cell)) for w, cell in zip(widths, row, strict=True)]
    return widths


def _cell_width(text: str) -> int:
    return max((len(part) for part in text.split("\n")), default=0)


def _total(widths: Sequence[int]) -> int:
    return sum(widths) + 2 * (len(widths) - 1)


def _break_header(header: str, cell_width: int) -> str:
    """A head over lines no wider than its column's widest cell, its longest word or half
    its length (two lines are read at a glance; five are not)."""
    longest = max((len(word) for word in header.split()), default=0)
    limit = max(cell_width, longest, -(-len(header) // 2))
    return "\n".join(textwrap.wrap(header, width=limit)) or header


def _break_headers(headers: list[str], cells: list[list[str]], width: int) -> None:
    """Break the heads wider than their cells over lines, the one that gains most first,
    until the table fits or no head can gain."""
    cell_widths = _column_widths([""] * len(headers), cells)
    gains = sorted(
        range(len(headers)),
        key=lambda i: len(headers[i]) - cell_widths[i],
        reverse=True,
    )
    for index in gains:
        if _total(_column_widths(headers, cells)) <= width:
            return
        if len(headers[index]) > cell_widths[index]:
            headers[index] = _break_header(headers[index], cell_widths[index])


class _Footnotes:
    """Cell texts moved under the table, numbered in order of first use; equal texts share
    a number."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def marker(self, text: str) -> str:
        if text not in self.texts:
            self.texts.append(text)
        return f"[{self.texts.index(text) + 1}]"

    def renumber(self, cells: list[list[str]]) -> list[str]:
        """Number the footnotes in reading order of the cells that cite them (rewriting
        those cells); their lines, in that order."""
        cited = [cell for row in cells for cell in row if _MARKER.fullmatch(cell)]
        order = list(dict.fromkeys(cited))
        new = {marker: f"[{number}]" for number, marker in enumerate(order, start=1)}
        for row in cells:
            row[:] = [new.get(cell, cell) for cell in row]
        return [f"{new[marker]} {self.texts[int(marker[1:-1]) - 1]}" for marker in order]


def fit_table(
    table: Table, width: int, text_rows: Callable[[Table], list[list[str]]]
) -> tuple[str, list[str]]:
    """The table's text (a panel or more) and its footnotes, fitted to `width` where the
    table allows it: short heads, heads broken over lines, long text cells as footnotes,
    then panels. `text_rows` prints a table's cells (fbench.reports.render.text_rows)."""
    headers = list(table.short_headers or table.headers)
    cells = text_rows(table)
    if table.narrow is not None and _total(_column_widths(headers, cells)) > width:
        return fit_table(table.narrow, width, text_rows)
    align = table.layout.align
    footnotes = _Footnotes()
    groups = list(table.column_groups or range(len(headers)))
    keys, constant = table.key_columns, []
    if _total(_column_widths(headers, cells)) > width:
        _break_headers(headers, cells, width)
    if _total(_column_widths(headers, cells)) > width and len(cells) > 1:
        # A column with one value in every row (one device) says it once, under the table.
        for index in reversed(range(len(headers))):
            values = {row[index] for row in cells}
            if len(values) == 1 and values != {""} and len(headers) > 2:
                value = values.pop()
                constant.insert(0, f"{' '.join(headers[index].split())}: {value} (every row)")
                keys -= index < keys
                for row in [headers, groups, *cells]:
                    del row[index]
    whole = [list(row) for row in cells]
    if _total(_column_widths(headers, cells)) > width:
        _to_footnotes(headers, cells, width, footnotes, keys)
    if _total(_column_widths(headers, cells)) <= width:
        return _tabulate(headers, cells, align), [*constant, *footnotes.renumber(cells)]
    # Too wide even with its prose as footnotes: panels, split from the whole cells (a
    # cell that fits its panel stays in it), with footnotes only where a panel needs them.
    footnotes, texts = _Footnotes(), []
    for columns in _panels(_narrowest(headers, whole, keys), groups, width, keys):
        panel_headers = [headers[i] for i in columns]
        panel = [[row[i] for i in columns] for row in whole]
        _to_footnotes(panel_headers, panel, width, footnotes, min(keys, len(columns)))
        texts.append((panel_headers, panel))
    lines = footnotes.renumber([row for _, panel in texts for row in panel])
    return "\n\n".join(_tabulate(h, panel, align) for h, panel in texts), [*constant, *lines]


def _narrowest(headers: list[str], cells: list[list[str]], keys: int) -> list[int]:
    """Each column's width once its prose went to footnotes: what a panel must make room for."""
    widths = _column_widths(headers, cells)
    heads = _column_widths(headers, [])
    return [
        max(heads[i], min(w, _MIN_CELL))
        if i >= keys and any(_WORD.search(row[i]) for row in cells)
        else w
        for i, w in enumerate(widths)
    ]


_WORD = re.compile(r"[^\W\d_]{3,}")  # a word of three letters: prose, not a number and its unit


def _to_footnotes(
    headers: list[str], cells: list[list[str]], width: int, notes: _Footnotes, keys: int
) -> None:
    """Move the longest prose cells of the widest prose column to footnotes until the table
    fits or no prose column can give more. Only cells with words move ("failed: ...",
    "2 of 4 rows ok, 4 averaged"): a footnote for a number helps nobody."""
    prose = [
        index
        for index in range(keys, len(headers))
        if any(_WORD.search(row[index]) for row in cells)
    ]
    while prose:
        widths = _column_widths(headers, cells)
        excess = _total(widths) - width
        if excess <= 0:
            return
        column = max(prose, key=lambda index: widths[index])
        head = max((len(line) for line in headers[column].split("\n")), default=0)
        target = max(widths[column] - excess, head, _MIN_CELL)
        moved = False
        for row in cells:
            if _cell_width(row[column]) > target and _WORD.search(row[column]):
                row[column] = notes.marker("; ".join(p.strip() for p in row[column].split("\n")))
                moved = True
        if not moved:
            prose.remove(column)


def _panels(
    widths: Sequence[int], groups: Sequence[object], width: int, keys: int
) -> list[list[int]]:
    """Column indices of each panel: the first `keys` columns in every panel, then the
    others in order, as many to a panel as fit, a group of columns (one device's) kept
    together unless it alone is too wide."""
    keys = min(keys, len(widths))
    key_columns = list(range(keys))
    units: list[list[int]] = []
    for index in range(keys, len(widths)):
        if units and groups[units[-1][-1]] == groups[index]:
            units[-1].append(index)
        else:
            units.append([index])
    panels: list[list[int]] = []
    current = list(key_columns)
    for unit in units:
        fits = _total([widths[i] for i in [*current, *unit]]) <= width
        if len(current) > keys and not fits:
            panels.append(current)
            current = list(key_columns)
        for index in unit:  # a group too wide for a panel of its own is split
            if len(current) > keys and _total([widths[i] for i in [*current, index]]) > width:
                panels.append(current)
                current = list(key_columns)
            current.append(index)
    if len(current) > keys or not panels:
        panels.append(current)
    return panels
