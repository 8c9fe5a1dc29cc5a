"""`fbench depth`: per-layer cost vs fixed overhead, fitted from runs at several depths."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fbench.commands import (
    add_result_files,
    add_results_dir,
    add_table_output,
    add_wide,
    output_width,
    positive_int,
    summary_format,
    write_output,
)

HELP = "fit latency vs stack depth: per-layer cost and fixed framework overhead"
DESCRIPTION = """\
Given runs of the same operators at several depths (e.g. --layers 1, 5 and 10), fit
latency = overhead + layers × per-layer cost by least squares for every operator × feature
map, and show how much of a 10-layer stack's latency is the fixed per-call overhead
(Python, dispatch, allocation) rather than the operator. Nothing is measured:

  fbench run --layers-sweep 1,5,10          # one interleaved run: noise hits every depth alike
  fbench depth RUN_ID
Runs at single depths (fbench run --layers 1, then 5, then 10) can be combined too, but on
a noisy host a slow spell during one of them bends the line."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_result_files(parser, help="run ids or result files")
    parser.add_argument(
        "--at-layers",
        metavar="N",
        type=positive_int,
        default=10,
        help="depth at which the overhead share is stated (default: %(default)s, the paper's)",
    )
    add_table_output(
        parser,
        format_help="text (terminal, default), md (Markdown), csv or json: tidy, one record "
        "per operator × feature map × depth with its fit's numbers (columns: docs/reports.md)",
        summary_help="with --format csv|json: one record per fitted line instead of per depth",
    )
    add_wide(parser)
    add_results_dir(parser)


def run(args: argparse.Namespace) -> int:
    from fbench.bench.errors import FbenchError
    from fbench.bench.results import load_results
    from fbench.reports.depth import depth_export, depth_fits, depth_report
    from fbench.reports.render import render
    from fbench.reports.tidy import MACHINE_FORMATS, export

    summary_format(args)
    runs = load_results(args.results, Path(args.results_dir))
    rows = [row for result in runs for row in result.rows]
    fits, skipped = depth_fits(rows)
    if not fits:
        depths = sorted({row.layers for row in rows})
        raise FbenchError(
            f"no operator × shape is measured at two or more depths (these results have "
            f"layers {', '.join(map(str, depths)) or 'none'}); run e.g. --layers 1, 5 and 10"
        )
    if args.format in MACHINE_FORMATS:
        text = export(depth_export(fits, args.at_layers), args.format, summary=args.summary)
    else:
        text = render(depth_report(fits, args.at_layers), args.format, width=output_width(args))
    write_output(text, args.output)
    for note in skipped:
        print(f"note: skipped {note}", file=sys.stderr)
    return 0


def render_depth(rows: list, at_layers: int = 10, width: int | None = None) -> str:
    """The depth table as text, with how to read it (also under a --layers-sweep run)."""
    from fbench.reports.depth import depth_fits, depth_report
    from fbench.reports.render import render

    return render(depth_report(depth_fits(rows)[0], at_layers), "text", width=width)
