"""`fbench plot`: charts from stored result files (PNG, SVG, and the plotted points as CSV)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fbench.bench.errors import FbenchError
from fbench.commands import add_result_files, add_results_dir, cannot_write_output, comma_list

IMAGE_FORMATS = ("png", "svg", "pdf", "jpg", "webp")

HELP = "plot stored results: operators (FLOPs vs FLOPS), figure2 (networks), roofline"
DESCRIPTION = """\
Draw a chart from stored result files; nothing is measured. Each plot is written as
PREFIX.png and PREFIX.svg, with PREFIX.csv beside them holding every plotted point (with
its 95% interval and status).

  fbench plot operators RESULT...   FLOPs vs FLOPS of the Table 1 operators, one panel per
                                    device (give one result file per device): a colour and
                                    marker per operator, stages labelled S1..S4, bars for
                                    the 95% interval
  fbench plot figure2 RESULT        the paper's Figure 2 for a network-suite run: (a) FLOPS
                                    vs FLOPs, (b) latency vs FLOPs, a marker per family,
                                    FasterNet in red, every network named
  fbench plot roofline RESULT...    the operators on the device's measured roofline (needs a
                                    calibration: fbench calibrate --device ...)

An operator has one colour and marker in every figure (from the operator registry). A
marker's fill is its row's status (filled: ok; pale: imprecise; grey: disturbed); failed
rows are counted in the caption, not drawn. Bars, just right of each marker, are the 95%
interval. The caption names each run
(device, backend, batch, dtype, method). --paper adds the paper's points as hollow markers
(Table 1, or Table 3 with FLOPS derived as FLOPs / latency), each joined by a dotted line
to the measured point it corresponds to. PREFIX defaults to
<results-dir>/plots/<kind>-<first run id> when that id has the form fbench makes
(YYYYMMDD-HHMMSS-device-backend) and every file lands inside --results-dir, symlinks
resolved; else give --output."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fbench.reports.plots import PLOT_KINDS

    parser.add_argument(
        "kind",
        metavar="KIND",
        choices=list(PLOT_KINDS),
        help="; ".join(f"{kind.name}: {kind.help}" for kind in PLOT_KINDS.values()),
    )
    add_result_files(parser)
    parser.add_argument(
        "--paper", action="store_true", help="overlay the paper's numbers as hollow markers"
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="PREFIX",
        help="write PREFIX.png, PREFIX.svg and PREFIX.csv "
        "(default: <results-dir>/plots/<kind>-<first run id>)",
    )
    parser.add_argument(
        "--formats",
        type=comma_list,
        default=["png", "svg"],
        metavar="LIST",
        help=f"image formats, comma-separated, of {', '.join(IMAGE_FORMATS)} (default: png,svg)",
    )
    add_results_dir(parser)


def run(args: argparse.Namespace) -> int:
    from fbench.bench.results import confined, load_results, made_run_id
    from fbench.reports.plots import PLOT_KINDS, build_figure, draw

    kind = PLOT_KINDS[args.kind]
    if kind.max_results is not None and len(args.results) > kind.max_results:
        raise FbenchError(f"plot {kind.name} takes at most {kind.max_results} result file(s)")
    unknown = [fmt for fmt in args.formats if fmt not in IMAGE_FORMATS]
    if unknown:
        raise FbenchError(
            f"--formats: unknown image format(s) {', '.join(unknown)}; "
            f"known: {', '.join(IMAGE_FORMATS)}"
        )
    results_dir = Path(args.results_dir)
    runs = load_results(args.results, results_dir)
    figure = build_figure(kind, runs, args.paper)
    if args.output:
        prefix = Path(args.output)
    else:
        # The name comes from a file, which may have been crafted: only a run id of the
        # form fbench makes, and every file checked to land in --results-dir.
        run_id = made_run_id(runs[0].run_id, args.results[0], "; name the plot with --output")
        more = f"+{len(runs) - 1}" if len(runs) > 1 else ""
        prefix = results_dir / "plots" / f"{kind.name}-{run_id}{more}"
        for suffix in (*args.formats, "csv"):
            confined(prefix.with_name(f"{prefix.name}.{suffix}"), results_dir, "--results-dir")
    try:
        written = draw(figure, prefix, args.formats)
    except OSError as error:
        raise cannot_write_output(prefix, error) from None
    for path in written:
        print(f"wrote {path}")
    return 0
