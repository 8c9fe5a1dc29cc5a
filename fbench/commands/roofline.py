"""`fbench roofline`: place stored rows on the device's measured roofline (table and plot)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fbench.commands import (
    add_result_files,
    add_results_dir,
    add_table_output,
    add_wide,
    cannot_write_output,
    output_width,
    summary_format,
    write_output,
)

HELP = "place stored rows on the device's roofline: intensity, attainable FLOPS, bound"
DESCRIPTION = """\
For every row of the given results: arithmetic intensity (multiply-adds per byte, from
the paper's memory-access equations and from the bytes the implementation moves), the
roofline's attainable FLOPS (G/s) at that intensity, the measured FLOPS as a
fraction of it and of the compute ceiling (the best of the GEMM and conv probes), the
bandwidth the row achieved, whether it is memory- or compute-bound, and "ceiling too low"
where the row's 95% interval lies wholly above the roof's: the calibration did not find the
device's ceiling there. With --plot, also the roofline picture (PNG and SVG: the drawing of
fbench plot roofline) and this table as PREFIX.csv.

The ceilings come from --calibration FILE (one per device), else from the calibration the
run recorded, else from calibrations/ by the run's device identity (fbench calibrate).
Nothing is measured."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fbench.bench.calibration import DEFAULT_CALIBRATIONS_DIR

    add_result_files(parser, help="run ids or result files")
    parser.add_argument(
        "--calibration",
        metavar="FILE",
        type=Path,
        action="append",
        help="calibration file from fbench calibrate (repeat: one per device)",
    )
    parser.add_argument(
        "--plot",
        metavar="PREFIX",
        type=Path,
        help="also draw the roofline (as fbench plot roofline) to PREFIX.png and PREFIX.svg, "
        "with the table as PREFIX.csv",
    )
    add_table_output(
        parser,
        summary_help="with --format csv|json: one record per device and operator (its bound, "
        "shares of the ceilings, GB/s) instead of one per row",
    )
    add_wide(parser)
    parser.add_argument(
        "--calibrations-dir",
        metavar="DIR",
        default=DEFAULT_CALIBRATIONS_DIR,
        help="where calibrations are looked up by device identity (default: %(default)s/)",
    )
    add_results_dir(parser)


def run(args: argparse.Namespace) -> int:
    from fbench.bench.calibration import calibrations_for_runs
    from fbench.bench.errors import FbenchError
    from fbench.bench.results import load_results
    from fbench.reports.render import render
    from fbench.reports.roofline import roofline_export, roofline_points, roofline_report
    from fbench.reports.tidy import MACHINE_FORMATS, export

    summary_format(args)
    runs = load_results(args.results, Path(args.results_dir))
    calibrations, notes = calibrations_for_runs(
        runs, args.calibration or [], Path(args.calibrations_dir)
    )
    rows = [row for result in runs for row in result.rows if row.status != "failed"]
    points = roofline_points(rows, calibrations)
    if not points:
        raise FbenchError("no row has a memory-access count to place on a roofline")
    if args.format in MACHINE_FORMATS:
        text = export(roofline_export(points), args.format, summary=args.summary)
    else:
        width = output_width(args)
        text = render(roofline_report(points, calibrations), args.format, width=width)
    write_output(text, args.output)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.plot:
        from fbench.reports.plots import plot_roofline, run_caption

        captions = list(dict.fromkeys(run_caption(run) for run in runs))
        try:
            written = plot_roofline(rows, calibrations, args.plot, captions)
        except OSError as error:
            raise cannot_write_output(args.plot, error) from None
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
    return 0
