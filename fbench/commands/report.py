"""`fbench report`: tables rebuilt from stored result files, e.g. Table 1 across devices."""

from __future__ import annotations

import argparse
from pathlib import Path

from fbench.bench.errors import FbenchError
from fbench.commands import (
    add_result_files,
    add_results_dir,
    add_table_output,
    add_wide,
    output_width,
    summary_format,
    write_output,
)

HELP = "rebuild the paper's tables from stored results; check the paper's claims (claims)"
DESCRIPTION = """\
Rebuild a table of the paper from stored result files; nothing is measured.

  fbench report table1 RESULT...    Table 1 laid out as the paper does: operator, feature
                                    map, FLOPs, then per device throughput (cuda, fps) or
                                    latency (cpu, arm; ms) and FLOPS, per-operator averages
                                    and the PConv/DWConv FLOPS ratio.

  fbench report claims RESULT...    The paper's testable claims (Table 1's FLOPS order and
                                    PConv/DWConv ratio, eqs. 2/5, Table 3's speedups, FLOPS
                                    below ResNet50's) per device: measured value, 95%
                                    interval, the paper's value, and a verdict.

  fbench report board RESULT        What the board looked like during one run: SoC
                                    temperature and clocks, cooling waits, throttle events,
                                    rows by status (the Pi workflow's job summary).

A RESULT is a result file or a run id in --results-dir. Give one file per device (a GPU
run, a CPU run, a Raspberry Pi run): devices with no file get no columns."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    import fbench.reports.roofline.columns  # noqa: F401  registers the --roofline column set
    from fbench.reports.render import FORMATS
    from fbench.reports.table1.columns import COLUMN_SETS

    tables = parser.add_subparsers(dest="table", metavar="TABLE", required=True)
    table1 = tables.add_parser(
        "table1",
        help="Table 1 across devices, beside the paper's numbers with --paper",
        description="Table 1 of the paper from result files of one or more devices.",
    )
    add_result_files(table1)
    table1.add_argument(
        "--paper",
        action="store_true",
        help="add the paper's values and measured/paper FLOPS for each device it reports "
        "(cuda → its GPU column, cpu → CPU, arm → ARM)",
    )
    add_table_output(
        table1,
        formats=tuple(FORMATS),
        format_help="text (terminal, default), md (Markdown), csv, latex (booktabs tabular), "
        "html, json; csv and json are tidy: one record per row and device, full precision",
        summary_help="with --format csv|json: the per-operator averages and the PConv/DWConv "
        "ratio instead of the rows",
    )
    for column_set in COLUMN_SETS.values():
        table1.add_argument(
            f"--{column_set.name}",
            dest=f"columns_{column_set.name}",
            action="store_true",
            help=column_set.help,
        )
    add_wide(table1)
    add_results_dir(table1)

    claims = tables.add_parser(
        "claims",
        help="the paper's claims checked on the results: holds, holds weaker, fails, ...",
        description="The paper's testable claims, each checked per device on the given "
        "results: measured value, 95% interval, the paper's value and a verdict (holds, "
        "holds weaker, fails, not measured, not comparable). Exit 0 whatever the verdicts; "
        "see docs/claims.md.",
    )
    add_result_files(claims)
    claims.add_argument(
        "--format",
        choices=("text", "md", "csv", "json"),
        default="text",
        help="text (terminal, default), md (Markdown, e.g. for $GITHUB_STEP_SUMMARY), csv "
        "(one record per claim and device), json (the fbench.claims/1 document)",
    )
    claims.add_argument(
        "--calibration",
        metavar="FILE",
        action="append",
        default=[],
        help="also check that every operator row is under this device calibration's roofline "
        "(repeat: one per device; default: the calibration each run recorded, if any)",
    )
    claims.add_argument(
        "--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout"
    )
    add_wide(claims)
    add_results_dir(claims)
    board = tables.add_parser(
        "board",
        help="a run's board: SoC temperature, clocks, cooling waits, throttling, row statuses",
        description="What the device looked like during one run, from its stored telemetry "
        "(docs/raspberry-pi.md).",
    )
    board.add_argument("results", metavar="RESULT", nargs=1, help="result file or run id")
    board.add_argument(
        "--format",
        choices=("text", "md"),
        default="text",
        help="text (terminal, default), md (Markdown, e.g. for $GITHUB_STEP_SUMMARY); the "
        "numbers themselves are in the result file's rows[].telemetry",
    )
    add_results_dir(board)


def run(args: argparse.Namespace) -> int:
    if args.table == "claims":
        return _claims(args)
    if args.table == "board":
        from fbench.bench.results import load_results
        from fbench.reports.board import board_table
        from fbench.reports.render import render as render_board

        (result,) = load_results(args.results, Path(args.results_dir))
        print(render_board(board_table(result), args.format))
        return 0
    from fbench.bench.results import load_results
    from fbench.reports.render import render
    from fbench.reports.table1.columns import COLUMN_SETS, device_groups
    from fbench.reports.table1.devices import table1_devices
    from fbench.reports.table1.tidy import table1_export
    from fbench.reports.tidy import MACHINE_FORMATS, export

    summary_format(args)
    runs = load_results(args.results, Path(args.results_dir))
    if not device_groups(runs):
        raise FbenchError(
            f"{', '.join(args.results)}: no operator rows to lay out as Table 1 "
            "(network results go to `fbench show` and `fbench plot figure2`)"
        )
    extras = [name for name in COLUMN_SETS if getattr(args, f"columns_{name}", False)]
    if args.format in MACHINE_FORMATS:
        exported = table1_export(runs, with_paper=args.paper, extras=extras)
        text = export(exported, args.format, summary=args.summary)
    else:
        table = table1_devices(runs, with_paper=args.paper, extras=extras)
        text = render(table, args.format, width=output_width(args))
    write_output(text, args.output)
    return 0


def _claims(args: argparse.Namespace) -> int:
    import json

    from fbench.bench.calibration import from_result_environment, read_calibration
    from fbench.bench.results import load_results
    from fbench.reports import claims
    from fbench.reports.render import render
    from fbench.reports.tidy import to_csv

    runs = load_results(args.results, Path(args.results_dir))
    devices = {row.device for run in runs for row in run.rows}
    calibrations, notes = {}, []
    for path in args.calibration:
        calibration = read_calibration(Path(path))
        if calibration.device in calibrations:
            raise FbenchError(
                f"--calibration {path}: a second file for device {calibration.device!r}; "
                "give one per device"
            )
        calibrations[calibration.device] = calibration
        if calibration.device not in devices:
            notes.append(
                f"--calibration {path}: measured on {calibration.device}, no result has "
                f"{calibration.device} rows; the roofline claim cannot be judged"
            )
    for run in runs:
        for device in dict.fromkeys(row.device for row in run.rows):
            recorded = from_result_environment(run.environment, device)
            if recorded is not None:
                calibrations.setdefault(device, recorded)
    notes += [
        f"{device}: the paper has no column for this device; its rows are not judged"
        for device in claims.unjudged_devices(runs)
    ]
    notes += _headlines(runs)
    results = claims.check_claims(runs, calibrations)
    if not results:
        raise FbenchError(
            f"{', '.join(args.results)}: no rows of a device the paper measured (cuda, cpu, arm)"
        )
    if args.format == "json":
        text = json.dumps(claims.claims_json(results, notes), indent=1, ensure_ascii=False)
    elif args.format == "csv":
        text = to_csv(claims.claims_records(results))
    else:
        text = render(claims.claims_table(results, notes), args.format, width=output_width(args))
    write_output(text, args.output)
    return 0


def _headlines(runs: list) -> list[str]:
    """Table 1's headline per device of operator rows (reports/table1/headline.py): the FLOPS
    ratio beside the FLOPs and latency ones, so that "6.0×" is not read as "6× faster"."""
    from fbench.reports.paper import PAPER_DEVICE_COLUMN
    from fbench.reports.table1.headline import headline

    rows = [row for run in runs for row in run.rows if row.suite == "operators"]
    lines = []
    for device in dict.fromkeys(row.device for row in rows):
        mine = [row for row in rows if row.device == device]
        line = headline(mine, PAPER_DEVICE_COLUMN.get(device), subject=f"PConv on {device}")
        if line is not None:
            lines.append(line)
    return lines
