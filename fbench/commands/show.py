"""`fbench show`: print a stored run's Table 1 (and how it was measured) without measuring."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from fbench.commands import (
    add_results_dir,
    add_table_output,
    add_wide,
    output_width,
    summary_format,
    write_output,
)

if TYPE_CHECKING:
    from fbench.bench.results import RunResult

HELP = "print a stored run's Table 1 (or networks table) beside the paper's numbers"
DESCRIPTION = """\
Print Table 1 of a stored run (a run id in --results-dir, or a result file) with the
paper's numbers beside it, and a header saying how and where it was measured. A
network-suite run shows its networks instead: params, FLOPs, latency ± CI, FLOPS and
the paper's Table 3 values. Nothing is measured: the tables come from the file alone.
Several devices side by side: fbench report table1.

Row statuses: ok (interval within the target), imprecise (steady, interval wider than the
target: still in averages), disturbed (throttled, interrupted...: left out of averages),
failed. The last line says how many rows reached the target, the widest and why, and what
would narrow it. Older (fbench.result/1) files are read too; see docs/result-format.md."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run",
        metavar="RUN",
        nargs="?",
        default="latest",
        help="run id (e.g. 20261123-071500-cpu-torch), file, or latest: the newest run in "
        "--results-dir (default)",
    )
    parser.add_argument("--no-paper", action="store_true", help="leave out the paper's columns")
    add_table_output(
        parser,
        summary_help="with --format csv|json: the per-operator averages and the PConv/DWConv "
        "ratio instead of the rows",
    )
    add_wide(parser)
    add_results_dir(parser)


def run(args: argparse.Namespace) -> int:
    from fbench.bench.results import read_result, resolve_path

    summary_format(args)
    result = read_result(resolve_path(args.run, Path(args.results_dir)))
    if args.format in ("csv", "json"):
        from fbench.reports.run_export import run_export
        from fbench.reports.tidy import export

        exported = run_export(result, with_paper=not args.no_paper)
        text = export(exported, args.format, summary=args.summary)
    else:
        width = output_width(args) if args.format == "text" else None
        text = render_run(result, with_paper=not args.no_paper, fmt=args.format, width=width)
    write_output(text, args.output)
    return 0


def render_run(
    result: RunResult, with_paper: bool = True, fmt: str = "text", width: int | None = None
) -> str:
    """The run's header, its table(s) and its precision line in `fmt` (text or md); `width`
    fits text to that many columns (reports/fit.py), None prints one line a row."""
    from fbench.reports.networks import networks_table
    from fbench.reports.render import render
    from fbench.reports.run_summary import precision_line, run_header
    from fbench.reports.table1.one_device import table1

    header = _header(run_header(result), fmt, width)
    if not result.rows:
        return "\n".join([*header, "", "no rows stored yet"])
    layouts = {"operators": table1, "networks": networks_table}  # suite → its table
    blocks = header
    for suite in dict.fromkeys(row.suite for row in result.rows):
        layout = layouts.get(suite, table1)
        suite_rows = [row for row in result.rows if row.suite == suite]
        for device in dict.fromkeys(row.device for row in suite_rows):
            rows = [row for row in suite_rows if row.device == device]
            blocks += ["", render(layout(rows, with_paper=with_paper), fmt, width=width)]
    summary = precision_line(result.rows, result.config.get("timing") or {})
    summary_lines = _wrapped([summary], width) if summary else []
    return "\n".join([*blocks, *(["", *summary_lines] if summary else [])])


def _header(lines: list[str], fmt: str, width: int | None) -> list[str]:
    """The run's header: wrapped lines on a terminal; in Markdown a bullet list, so a
    renderer keeps its lines apart (plain lines would run together into one paragraph)."""
    if fmt == "md":
        return [f"- {line}" for line in lines]
    return _wrapped(lines, width)


def _wrapped(lines: list[str], width: int | None) -> list[str]:
    from fbench.reports.fit import wrap_lines

    return list(lines) if width is None else wrap_lines(lines, width)
