"""`fbench baseline`: store a run as the baseline of its device, or show where it would go."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fbench.commands import add_results_dir

HELP = "store a run as this device's baseline for fbench compare"
DESCRIPTION = """\
Baselines are runs kept per device identity (board model, CPU, device, backend and torch
version) in --baselines-dir, so that `fbench compare auto CURRENT` compares a run with the
baseline of the same device only, never with another board's. After a torch upgrade,
`fbench compare auto CURRENT --accept-difference torch` takes the device's baseline of the
other torch version (when there is one) until a new one is saved.

  fbench baseline save RUN    copy RUN (a run id or file) to the baseline of its device
  fbench baseline path RUN    print the baseline file RUN's device uses (exists or not)

Only a complete run can be saved (exit 2 otherwise). A run with disturbed (throttled, host
moved...) or failed rows is refused (exit 3): as the reference, it would make every later
compare exit 3; --force stores it anyway and the baseline file records that it was forced.
Imprecise rows are saved with a warning: compare cannot clear them (exit 3) unless it can
judge them anyway (see fbench compare --help). A missing --baselines-dir is created; one
that is a file or not writable is an error naming it (exit 2)."""


def directory(text: str) -> str:
    """A directory flag's value: an empty one would silently mean the working directory; a
    leading ~ is the user's home even where no shell expanded it (a workflow's env value)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a directory, got an empty path")
    return os.path.expanduser(text)


def add_baselines_dir(parser: argparse.ArgumentParser) -> None:
    from fbench.bench.results.baselines import DEFAULT_BASELINES_DIR

    parser.add_argument(
        "--baselines-dir",
        metavar="DIR",
        type=directory,
        default=DEFAULT_BASELINES_DIR,
        help="where baselines are kept, one file per device identity (default: %(default)s/)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("save", "path"), help="save or path (see above)")
    parser.add_argument("run", metavar="RUN", help="run id (in --results-dir) or result file")
    parser.add_argument(
        "--force",
        action="store_true",
        help="save: store a run with disturbed or failed rows too (recorded in the baseline)",
    )
    add_baselines_dir(parser)
    add_results_dir(parser)


def run(args: argparse.Namespace) -> int:
    from fbench.bench.results import baselines, read_result, resolve_path
    from fbench.reports.compare import row_is_ok

    result = read_result(resolve_path(args.run, Path(args.results_dir)))
    directory = Path(args.baselines_dir)
    if args.action == "path":
        print(baselines.baseline_path(result, directory))
        return 0
    path = baselines.save(result, directory, force=args.force)
    print(f"baseline for this device: {path} (from run {result.run_id})", file=sys.stderr)
    forced = baselines.untrusted_rows(result)
    if forced:
        print(
            f"warning: stored with --force although {len(forced)} row(s) are disturbed or "
            f"failed ({', '.join(forced)}); the baseline file records it",
            file=sys.stderr,
        )
    untrusted = [
        f"{row.operator} {row.shape_label}"
        for row in result.rows
        if not row_is_ok(row) and f"{row.operator} {row.shape_label} {row.status}" not in forced
    ]
    if untrusted:
        print(
            f"warning: {len(untrusted)} row(s) not ok ({', '.join(untrusted)}): fbench compare "
            "may exit 3 on them (not trustworthy) until a clean run is saved",
            file=sys.stderr,
        )
    return 0
