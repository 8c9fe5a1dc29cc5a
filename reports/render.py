"""Tables to text: the terminal, Markdown, CSV, LaTeX, HTML and JSON, one function each.

A `Table` holds numbers; the text formats print them with the table's per-column formats
(the paper's digits, "—" for a missing value), while CSV and JSON keep full precision so they
can be read back for analysis. Notes (devices, the PConv/DWConv ratio) go where each format
can carry them: lines under the table, LaTeX comments, HTML paragraphs, a JSON list; CSV has
only the table.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections.abc import Callable
from typing import Any

from reports.formatting import MISSING
from reports.table import Table


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

    return tabulate(
        text_rows(table), headers=table.headers, tablefmt=tablefmt, disable_numparse=True
    )


def render_terminal(table: Table) -> str:
    return "\n".join([_tabulate(table, "simple"), *table.notes])


def render_markdown(table: Table) -> str:
    notes = [f"- {note}" for note in table.notes]
    return "\n".join([_tabulate(table, "github"), *(["", *notes] if notes else [])])


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
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(table.headers)
    for row in filled_rows(table):
        writer.writerow(["" if _number(value) is None else value for value in row])
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


def render(table: Table, fmt: str = "text") -> str:
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown table format {fmt!r}; known: {', '.join(FORMATS)}") from None
    return renderer(table)
