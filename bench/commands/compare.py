"""`fbench compare`: the CI regression gate between a baseline run and a current run."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from bench.commands import add_results_dir
from bench.commands.baseline import add_baselines_dir

HELP = "compare two runs row by row; exit 1 on a significant regression (CI gate)"
DESCRIPTION = """\
Compare a CURRENT run with a BASELINE run (run ids in --results-dir, or files; BASELINE
"auto" takes the baseline stored for CURRENT's device, see `fbench baseline`). Rows are
matched by operator, parameters, shape, layers, batch, device, backend and dtype. A row is
SLOWER or FASTER only when the change of its median is both significant (p < alpha) and
larger than the threshold. Significance: Welch's t on the logs of the per-process medians
when both runs timed the row in several processes ([timing] processes), else two-sided
Mann–Whitney U on the stored per-call samples. The bootstrap 95% interval of the median
ratio is shown beside it. Nothing is measured.

Every row stores a host probe (a fixed GEMM timed in the same rounds), and the output says
how much faster or slower the host itself ran in CURRENT. --host-correction divides that
out before judging (the rows' common shift, kept within [compare] host_tolerance of the
probe's); it is off by default because on the noisy hosts it was measured on it did not
reduce the pairs that fail (README, "fbench compare on a noisy host").

When $GITHUB_STEP_SUMMARY is set, the table is also appended there in Markdown.

exit codes:
  0  no significant regression
  1  a row is significantly slower by more than the threshold
     (or faster, with --fail-on-improvement: time to refresh the baseline)
  2  usage or input error (bad flags, missing or corrupt result file)
  3  not comparable or not trustworthy: different device, software or config, or rows
     not judged (disturbed: throttled, clock capped, interrupted...; or imprecise where
     only one process timed them), not measured (failed) or missing"""


def fraction(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
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
        help="smallest change worth reporting, e.g. 0.05 or 5%% "
        "(default: bench.toml [compare] threshold, 0.05)",
    )
    parser.add_argument(
        "--alpha",
        type=fraction,
        metavar="P",
        help="significance level of the test (default: [compare] alpha, 0.05)",
    )
    parser.add_argument(
        "--format", choices=("text", "md", "json"), default="text", help="output (default: text)"
    )
    parser.add_argument(
        "--fail-on-improvement",
        action="store_true",
        help="exit 1 also when a row got significantly faster (the baseline is stale)",
    )
    parser.add_argument(
        "--allow-unstable",
        action="store_true",
        help="judge rows that are not judged otherwise (imprecise, disturbed) instead of "
        "exiting 3 (noisy hosts; not on a Pi)",
    )
    parser.add_argument(
        "--host-correction",
        action=argparse.BooleanOptionalAction,
        help="divide out how much faster or slower the host ran (host probe) before judging "
        "(default: [compare] host_correction = false)",
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
    from bench import baselines
    from bench import config as config_module
    from bench.results import read_result, resolve_path
    from reports import compare

    results_dir = Path(args.results_dir)
    current = read_result(resolve_path(args.current, results_dir))
    if args.baseline == "auto":
        baseline = baselines.find(current, Path(args.baselines_dir))
    else:
        baseline = read_result(resolve_path(args.baseline, results_dir))
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
    )
    code = comparison.exit_code(args.fail_on_improvement, args.allow_unstable)
    markdown = compare.render_markdown(comparison, code)
    if args.format == "json":
        print(json.dumps({**comparison.to_dict(), "exit_code": code}, indent=1))
    elif args.format == "md":
        print(markdown, end="")
    else:
        print(compare.render_text(comparison, code))
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
