"""How long a full CPU sweep takes and how well back-to-back sweeps agree, per method.

Runs the default experiment (Table 1's 16 rows) several times, each in a fresh process as a
user would, for the adaptive method and for the official FasterNet procedure, then prints
per method: sweep wall time, the per-row spread between consecutive runs (median and
worst), how many rows agree within 3%, rows that missed their CI target, and the
PConv/DWConv FLOPS ratio of each run. This is a benchmark, not a test: its numbers depend
on the machine and the moment, and they go in docs/methodology.md with the CPU, the torch
version, the defaults and this command.

    uv run python benchmarks/stability.py                # 2 runs per method
    uv run python benchmarks/stability.py --runs 3 --methods adaptive
    uv run python benchmarks/stability.py --reuse results/stability/*.json   # runs kept from before

Between each pair it also prints how much faster or slower the host itself ran (the host
probe, as `fbench compare` estimates it) and the spread once that is divided out.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fbench.bench.results import ResultRow, RunResult, read_result
from fbench.reports import compare
from fbench.reports.table1.averages import pconv_dwconv_ratio

AGREEMENT = 0.03  # issue 3: two back-to-back full runs agree per row within 3%


def relative_spread(a: float, b: float) -> float:
    """|a - b| relative to their mean: symmetric, so the order of the two runs does not matter."""
    return abs(a - b) / ((a + b) / 2)


def row_spreads(
    first: list[ResultRow], second: list[ResultRow], host_factor: float = 1.0
) -> dict[tuple, float]:
    """Per matching row, the relative spread of the headline latency between two runs, the
    second run's divided by `host_factor` (how much slower the host itself ran in it)."""
    latest = {row.key(): row for row in second}
    return {
        row.key(): relative_spread(row.latency, latest[row.key()].latency / host_factor)
        for row in first
        if row.key() in latest and row.latency and latest[row.key()].latency
    }


def host_factor(first: RunResult, second: RunResult) -> float:
    """The host-speed ratio `fbench compare` would correct by (1.0 without host probes)."""
    latest = {row.key(): row for row in second.rows}
    pairs = [(row, latest[row.key()]) for row in first.rows if row.key() in latest]
    return compare.host_correction(pairs).factor


@dataclass
class MethodSummary:
    method: str
    sweep_s: list[float]
    spreads: list[float]  # every row of every consecutive pair
    corrected: list[float]  # the same, host-speed corrected as fbench compare does
    host_changes: list[float]  # the host-speed factor of each pair, − 1
    not_ok: int
    ratios: list[float]

    def lines(self) -> list[str]:
        def spread(values: list[float]) -> str:
            if not values:
                return "— (one run)"
            within = sum(v <= AGREEMENT for v in values)
            return f"{statistics.median(values):.1%} / {max(values):.1%} | {within}/{len(values)}"

        host = ", ".join(f"{change:+.1%}" for change in self.host_changes) or "—"
        return [
            f"| {self.method} | {statistics.median(self.sweep_s):.0f} s "
            f"| {spread(self.spreads)} | {host} | {spread(self.corrected)} "
            f"| {self.not_ok} | {', '.join(f'{r:.2f}×' for r in self.ratios)} |"
        ]


def run_sweep(method: str, results_dir: Path, extra: list[str]) -> tuple[RunResult, float]:
    before = set(results_dir.glob("*.json"))
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "fbench.cli",
            "run",
            "--device",
            "cpu",
            "--method",
            method,
            "--no-table",
            "--results-dir",
            str(results_dir),
            *extra,
        ],
        check=True,
    )
    elapsed = time.monotonic() - started
    (path,) = set(results_dir.glob("*.json")) - before
    return read_result(path), elapsed


def run_method(run: RunResult) -> str:
    return (run.config.get("timing") or {}).get("method", "adaptive")


def stored_duration(run: RunResult) -> float:
    from datetime import datetime

    starts = [row.started for row in run.rows if row.started]
    ends = [row.finished for row in run.rows if row.finished]
    if not starts or not ends:
        return float("nan")
    return (datetime.fromisoformat(max(ends)) - datetime.fromisoformat(min(starts))).total_seconds()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="sweeps per method (default 2)")
    parser.add_argument("--methods", default="adaptive,official")
    parser.add_argument("--results-dir", type=Path, help="keep the runs here (default: temp)")
    parser.add_argument("--reuse", nargs="+", type=Path, help="analyse these runs, measure none")
    parser.add_argument("extra", nargs="*", help="more `fbench run` flags, after --")
    args = parser.parse_args(argv)

    if args.reuse:
        results_dir = args.reuse[0].parent
        stored = [read_result(path) for path in args.reuse]
        # Sweep time from the file: its first row's start to its last row's end.
        by_method = {
            method: [(run, stored_duration(run)) for run in stored if run_method(run) == method]
            for method in dict.fromkeys(run_method(run) for run in stored)
        }
    else:
        results_dir = args.results_dir or Path(tempfile.mkdtemp(prefix="fbench-stability-"))
        results_dir.mkdir(parents=True, exist_ok=True)
        by_method = {
            method: [run_sweep(method, results_dir, args.extra) for _ in range(args.runs)]
            for method in args.methods.split(",")
        }
    summaries = []
    all_runs = {}
    for method, runs in by_method.items():
        all_runs[method] = runs
        spreads, corrected, host_changes = [], [], []
        for (first, _), (second, _) in itertools.pairwise(runs):
            spreads += list(row_spreads(first.rows, second.rows).values())
            factor = host_factor(first, second)
            host_changes.append(factor - 1)
            corrected += list(row_spreads(first.rows, second.rows, factor).values())
        summaries.append(
            MethodSummary(
                method=method,
                sweep_s=[elapsed for _, elapsed in runs],
                spreads=spreads,
                corrected=corrected,
                host_changes=host_changes,
                not_ok=sum(row.status != "ok" for run, _ in runs for row in run.rows),
                ratios=[pconv_dwconv_ratio(run.rows) or float("nan") for run, _ in runs],
            )
        )
        for run, elapsed in runs:
            print(f"{method}: {run.run_id} in {elapsed:.1f} s", file=sys.stderr)

    if {"adaptive", "official"} <= set(all_runs):
        # Same rows, two procedures: how much the official mean reads above the median.
        adaptive, official = all_runs["adaptive"][0][0], all_runs["official"][0][0]
        medians = {row.key(): row.latency for row in adaptive.rows}
        differences = [
            row.latency / medians[row.key()] - 1 for row in official.rows if row.key() in medians
        ]
        middle = statistics.median(differences)
        print(
            f"official mean vs adaptive median, per row: median {middle:+.1%}, "
            f"range {min(differences):+.1%} to {max(differences):+.1%}"
        )

    print(f"\nruns stored in {results_dir}")
    print(
        "| method | sweep (median) | per-row spread, median / worst | rows within 3% "
        "| host speed change per pair | host-corrected spread, median / worst "
        "| rows within 3% | rows not ok | PConv/DWConv FLOPS per run |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for summary in summaries:
        print("\n".join(summary.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
