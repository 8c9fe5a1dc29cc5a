"""`fbench report`: tables rebuilt from stored result files, e.g. Table 1 across devices."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.commands import add_results_dir
from bench.errors import FbenchError

HELP = "rebuild the paper's tables from stored results (table1: all devices side by side)"
DESCRIPTION = """\
Rebuild a table of the paper from stored result files; nothing is measured.

  fbench report table1 RESULT...    Table 1 laid out as the paper does: operator, feature
                                    map, FLOPs, then per device throughput (cuda, fps) or
                                    latency (cpu, arm; ms) and FLOPS, per-operator averages
                                    and the PConv/DWConv FLOPS ratio.

A RESULT is a result file or a run id in --results-dir. Give one file per device (a GPU
run, a CPU run, a Raspberry Pi run): devices with no file get no columns."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from reports import load_extensions
    from reports.render import FORMATS
    from reports.table1 import COLUMN_SETS

    load_extensions()  # column sets registered elsewhere get their flag below

    tables = parser.add_subparsers(dest="table", metavar="TABLE", required=True)
    table1 = tables.add_parser(
        "table1",
        help="Table 1 across devices, beside the paper's numbers with --paper",
        description="Table 1 of the paper from result files of one or more devices.",
    )
    table1.add_argument("results", metavar="RESULT", nargs="+", help="result file or run id")
    table1.add_argument(
        "--paper",
        action="store_true",
        help="add the paper's values and measured/paper FLOPS for each device it reports "
        "(cuda → its GPU column, cpu → CPU, arm → ARM)",
    )
    table1.add_argument(
        "--format",
        choices=list(FORMATS),
        default="text",
        help="text (terminal, default), md (Markdown), csv, latex (booktabs tabular), "
        "html, json; csv and json keep full precision",
    )
    table1.add_argument(
        "--output", "-o", metavar="FILE", help="write the table to FILE instead of stdout"
    )
    for column_set in COLUMN_SETS.values():
        table1.add_argument(
            f"--{column_set.name}",
            dest=f"columns_{column_set.name}",
            action="store_true",
            help=column_set.help,
        )
    add_results_dir(table1)


def run(args: argparse.Namespace) -> int:
    from bench.results import load_results
    from reports.render import render
    from reports.table1 import COLUMN_SETS, device_groups, table1_devices

    runs = load_results(args.results, Path(args.results_dir))
    if not device_groups(runs):
        raise FbenchError(
            f"{', '.join(args.results)}: no operator rows to lay out as Table 1 "
            "(network results go to `fbench show` and `fbench plot figure2`)"
        )
    extras = [name for name in COLUMN_SETS if getattr(args, f"columns_{name}", False)]
    table = table1_devices(runs, with_paper=args.paper, extras=extras)
    text = render(table, args.format)
    if args.output:
        path = Path(args.output)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + "\n", encoding="utf-8")
        except OSError as error:
            raise FbenchError(f"--output {path}: cannot write ({error.strerror})") from None
        print(f"wrote {path}")
    else:
        print(text)
    return 0
