"""`fbench compare`: the CI regression gate between a baseline run and a current run."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fbench.commands import (
    add_results_dir,
    add_table_output,
    add_wide,
    output_width,
    summary_format,
    write_output,
)
from fbench.commands.baseline import add_baselines_dir

HELP = "compare two runs row by row; exit 1 on a significant regression (CI gate)"
DESCRIPTION = """\
Compare a CURRENT run with a BASELINE run (run ids in --results-dir, or files; BASELINE
"auto" takes the baseline stored for CURRENT's device, see `fbench baseline`). Nothing is
measured.

The runs must be the same experiment: machine, CPU, board, device, backend and its
options, dtype, layers, quick, method, schedule, processes, latency estimator, torch (and
onnxruntime for its backend), and every device setting (batch, threads, pin_core, malloc,
...). Every key that differs is listed and the exit code is 3; --accept-difference KEY
judges the runs anyway, on purpose (e.g. a torch upgrade), and the output lists it.

Rows are matched by operator, parameters, shape, layers, batch, device, backend and dtype.
A row is SLOWER or FASTER only when its change is both significant (p < alpha) and larger
than the threshold. Change, test and 95% interval are about one ratio: of the per-process
medians' geometric means (Welch's t on their logs) when both runs timed the row in several
processes ([timing] processes), else of the calls' medians (one bootstrap gives interval
and p).

Rows stored as disturbed are not judged (exit 3), and neither are imprecise rows that
only one process timed; an imprecise row timed in several processes is judged on its
process medians. A slowdown whose whole interval lies past the threshold counts (exit 1)
even on a row held back; --allow-unstable judges all of them like ok rows (a significant
slowdown among them exits 1).

Every row stores a host probe (a fixed GEMM timed in the same rounds), and the output says
how much faster or slower the host itself ran in CURRENT, or that the probe failed (in
which round of which run). --host-correction divides that out before judging (the rows'
common shift, kept within [compare] host_tolerance of the probe's); it is off by default
because on the noisy hosts it was measured on it did not reduce the pairs that fail.

When $GITHUB_STEP_SUMMARY is set, the table is also appended there in Markdown.

exit codes:
  0  no significant regression (rows the same or faster)
  1  a row is significantly slower by more than the threshold
     (or faster, with --fail-on-improvement: time to refresh the baseline)
  2  usage or input error (bad flags, missing or corrupt result file, unknown key)
  3  not comparable or not trustworthy: a key of the experiment differs (not accepted),
     no baseline for the device, or rows not judged (disturbed: throttled, clock capped,
     interrupted...; or imprecise where only one process timed them), not measured
     (failed), missing, or with too few samples to test (and nothing slower)"""


def accepted_keys(text: str) -> list[str]:
    """--accept-difference KEY[,KEY...]: the names, checked against the runs later."""
    keys = [key.strip() for key in text.split(",") if key.strip()]
    if not keys:
        raise argparse.ArgumentTypeError(f"expected a key such as torch or malloc, got {text!r}")
    return keys


def fraction(text: str) -> float:
    try:
        # One trailing % at most: "5%%" is a typo, not 5%.
        value = float(text.removesuffix("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a fraction like 0.05 or 5%, got {text!r}"
        ) from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", metavar="BASELINE", help='run id, result file, or "auto"')
    parser.add_argument("current", metavar="CURRENT", help="run id or result file")
    parser.add_argument(
        "--threshold",
        type=fraction,
        metavar="F",
        help="smallest change worth reporting, a fraction in (0, 1): e.g. 0.05 or 5%% "
        "(default: bench.toml [compare] threshold, 0.05)",
    )
    parser.add_argument(
        "--alpha",
        type=fraction,
        metavar="P",
        help="significance level of the test, in (0, 1) (default: [compare] alpha, 0.05)",
    )
    add_table_output(
        parser,
        format_help="text (terminal, default), md (Markdown, e.g. for $GITHUB_STEP_SUMMARY), "
        "csv or json: tidy, one record per compared row (columns: docs/reports.md)",
        summary_help="with --format csv|json: the comparison in one record (verdict, exit "
        "code, counts, host speed) instead of the rows",
    )
    add_wide(parser)
    parser.add_argument(
        "--fail-on-improvement",
        action="store_true",
        help="exit 1 also when a row got significantly faster (the baseline is stale)",
    )
    parser.add_argument(
        "--allow-unstable",
        action="store_true",
        help="judge the rows that are otherwise not judged (disturbed; imprecise rows timed "
        "in one process) like the others instead of exiting 3; a significant slowdown among "
        "them exits 1 (noisy hosts; not on a Pi)",
    )
    parser.add_argument(
        "--accept-difference",
        type=accepted_keys,
        action="append",
        default=[],
        metavar="KEY[,KEY]",
        help="judge the runs although they differ on KEY, e.g. torch or malloc; versions "
        "accepts every version key (repeatable; the output lists each accepted difference)",
    )
    parser.add_argument(
        "--host-correction",
        action=argparse.BooleanOptionalAction,
        help="divide out how much faster or slower the host ran (host probe) before judging "
        "(default: [compare] host_correction = false)",
    )
    parser.add_argument(
        "--gate",
        choices=("plain", "anchors"),
        help="plain: each row's own times; anchors: each row's time against an anchor timed "
        "in the same rounds (GEMM, copy or small conv), where both runs stored them "
        "(default: [compare] gate, plain)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="read [compare] from FILE (default: ./bench.toml)",
    )
    add_baselines_dir(parser)
    add_results_dir(parser)


def run(args: argparse.Namespace) -> int:
    from fbench.bench import config as config_module
    from fbench.bench.errors import FbenchError
    from fbench.bench.results import baselines, read_result, resolve_path
    from fbench.reports import compare
    from fbench.reports.tidy import MACHINE_FORMATS, export

    summary_format(args)
    results_dir = Path(args.results_dir)
    accept = {key for keys in args.accept_difference for key in keys}
    current = read_result(resolve_path(args.current, results_dir))
    if args.baseline == "auto":
        baseline = baselines.find(current, Path(args.baselines_dir), accept)
    else:
        baseline = read_result(resolve_path(args.baseline, results_dir))
    known = compare.experiment_keys(baseline, current)
    unknown = sorted(accept - set(known))
    if unknown:
        raise FbenchError(
            f"--accept-difference: unknown key {unknown[0]!r}; known: {', '.join(known)}"
        )
    path = args.config if args.config is not None else config_module.default_config_path()
    settings = config_module.load_compare_settings(path)
    threshold = args.threshold if args.threshold is not None else settings["threshold"]
    alpha = args.alpha if args.alpha is not None else settings["alpha"]

    corrected = (
        settings["host_correction"] if args.host_correction is None else args.host_correction
    )
    comparison = compare.compare_runs(
        baseline,
        current,
        threshold=threshold,
        alpha=alpha,
        host_tolerance=settings["host_tolerance"] if corrected else None,
        accept=accept,
        allow_unstable=args.allow_unstable,
        gate=args.gate or settings["gate"],
    )
    code = comparison.exit_code(args.fail_on_improvement)
    markdown = compare.render_markdown(comparison, code)
    if args.format in MACHINE_FORMATS:
        exported = compare.comparison_export(comparison, code)
        write_output(export(exported, args.format, summary=args.summary), args.output)
    elif args.format == "md":
        write_output(markdown.removesuffix("\n"), args.output)
    else:
        write_output(compare.render_text(comparison, code, width=output_width(args)), args.output)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as stream:
                stream.write(markdown + "\n")
        except OSError as error:
            print(
                f"fbench compare: cannot append to $GITHUB_STEP_SUMMARY: {error}", file=sys.stderr
            )
    return code
