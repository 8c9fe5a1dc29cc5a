"""The one exporter interface: every tabular report goes through `render(report, fmt)`.

What a report provides: a `Table` (reports/table.py: headers, rows of numbers or text, notes
under it, a formatter per column, and a `Layout` where the report keeps a look of its own),
or a `Report`: that table plus the prose lines above and below it (a title, a summary, how
to read the table). Table 1, the networks and backends tables, claims, compare and depth
build one of these; they never print a table themselves.

What a format is: a name in `FORMATS` (the `--format` value) and a function `Table → str`:
the terminal, Markdown, CSV, LaTeX, HTML and JSON. The text formats print each number with
its column's formatter (the paper's digits, "—" for a missing value), while CSV and JSON keep
full precision so they can be read back for analysis. Notes go where each format can carry
them: lines under the table, LaTeX comments, HTML paragraphs, a JSON list; CSV has only the
table. A `Report`'s prose is plain text or Markdown, so only `text` and `md` print it; the
others print the table alone. The table verbs' own `--format csv|json` are not this table
but its tidy records (reports/tidy.py: one record per measured thing, summaries apart).

How to add a format: write `render_NAME(table: Table) -> str` here (use `text_rows` for the
printed cells, `filled_rows` for values read back), add it to `FORMATS`, and it is a choice
of every command that offers `FORMATS`. A look a report needs that the defaults do not give
(right-aligned columns, a bare Markdown table) is a field of `Layout`, read by that format.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections.abc import Callable
from functools import partial
from typing import Any

from fbench.reports.fit import fit_table, wrap_lines
from fbench.reports.formatting import MISSING
from fbench.reports.table import Report, Table


def _text(value: object, fmt: Callable[[Any], str] | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    if isinstance(value, str):
        return value
    return fmt(value) if fmt else str(value)


def text_rows(table: Table) -> list[list[str]]:
    formats = table.formats or [None] * len(table.headers)
    return [
        [_text(value, fmt) for value, fmt in zip(row, formats, strict=True)] for row in table.rows
    ]


def _tabulate(table: Table, tablefmt: str) -> str:
    from tabulate import tabulate

    align = {"stralign": table.layout.align} if table.layout.align else {}
    return tabulate(
        text_rows(table), headers=table.headers, tablefmt=tablefmt, disable_numparse=True, **align
    )


def render_terminal(table: Table, width: int | None = None) -> str:
    """The terminal's table; with a `width`, fitted to it (reports/fit.py): short heads,
    footnotes, panels, notes wrapped. Without one, one line a row whatever its width."""
    if width is None:
        return "\n".join([_tabulate(table, "simple"), *table.notes])
    body, footnotes = fit_table(table, width, text_rows)
    return "\n".join([body, *wrap_lines([*footnotes, *table.notes], width)])


def render_markdown(table: Table) -> str:
    notes = [f"- {note}" for note in table.notes]
    body = _tabulate(table, "github") if table.layout.padded_markdown else _bare_pipes(table)
    return "\n".join([body, *(["", *notes] if notes else [])])


def _bare_pipes(table: Table) -> str:
    """A pipe table without padding: what a CI summary renders anyway, and shorter to diff."""
    lines = ["| " + " | ".join(table.headers) + " |", "|" + "---|" * len(table.headers)]
    lines += ["| " + " | ".join(cells) + " |" for cells in text_rows(table)]
    return "\n".join(lines)


def _number(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def filled_rows(table: Table) -> list[list[object]]:
    """Rows with the first column filled down: the terminal leaves a repeated operator blank,
    but a CSV or JSON row read on its own must say which operator it belongs to."""
    rows, current = [], None
    for row in table.rows:
        current = row[0] if row[0] not in ("", None) else current
        rows.append([current, *row[1:]])
    return rows


def render_csv(table: Table) -> str:
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator=table.layout.csv_line_end)
    writer.writerow(table.headers)
    for row in filled_rows(table):
        writer.writerow(["" if _number(value) is None else value for value in row])
    # Like every format, without the last newline (print adds it); a "\r\n" line end keeps
    # its "\r", so the last row ends as the others do.
    return stream.getvalue().rstrip("\n")


def render_json(table: Table) -> str:
    data = {
        "headers": table.headers,
        "rows": [
            dict(zip(table.headers, map(_number, row), strict=True)) for row in filled_rows(table)
        ],
        "notes": table.notes,
    }
    return json.dumps(data, indent=1, ensure_ascii=False)


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "×": r"$\times$",
    "—": "--",
    "±": r"$\pm$",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def render_latex(table: Table) -> str:
    """A booktabs `tabular` (needs \\usepackage{booktabs}); notes as comments above it."""
    columns = "ll" + "r" * (len(table.headers) - 2)
    lines = [f"% {note}" for note in table.notes]
    lines += [
        rf"\begin{{tabular}}{{{columns}}}",
        r"\toprule",
        " & ".join(latex_escape(header) for header in table.headers) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(latex_escape(cell) for cell in row) + r" \\" for row in text_rows(table)]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


def render_html(table: Table) -> str:
    lines = ["<table>", "<thead>", "<tr>"]
    lines += [f"<th>{html.escape(header)}</th>" for header in table.headers]
    lines += ["</tr>", "</thead>", "<tbody>"]
    for row in text_rows(table):
        lines.append("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>")
    lines += ["</tbody>", "</table>"]
    lines += [f"<p>{html.escape(note)}</p>" for note in table.notes]
    return "\n".join(lines)


# `--format` name → renderer; add a format with one entry.
FORMATS: dict[str, Callable[[Table], str]] = {
    "text": render_terminal,
    "md": render_markdown,
    "csv": render_csv,
    "latex": render_latex,
    "html": render_html,
    "json": render_json,
}


# The formats whose output is read as prose, so a `Report`'s lines around the table go there.
PROSE_FORMATS = ("text", "md")


def render(table: Table | Report, fmt: str = "text", width: int | None = None) -> str:
    """A table, or a report (its table and prose), in the format named `fmt` (no last newline).
    `width` fits the text format to that many columns (None: `--wide`, today's layout); the
    other formats are for files and other programs, and ignore it."""
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown table format {fmt!r}; known: {', '.join(FORMATS)}") from None
    if fmt == "text" and width is not None:
        renderer = partial(render_terminal, width=width)
    if isinstance(table, Table):
        return renderer(table)
    body = [renderer(table.table)] if table.table is not None else []
    if fmt not in PROSE_FORMATS:
        return "\n".join(body)
    before, after = table.before, table.after
    if fmt == "text" and width is not None:
        before, after = wrap_lines(before, width), wrap_lines(after, width)
    return "\n".join([*before, *body, *after])
