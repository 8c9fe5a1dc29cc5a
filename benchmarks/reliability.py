"""Is `fbench compare` a gate people can leave switched on? Measure its false-alarm rate.

Runs the CPU sweep N times (fresh processes, as CI would), compares every pair of runs with
the gate's own logic (reports.compare) at the default threshold, and counts false regressions
(nothing changed, so every SLOWER/FASTER row is a false alarm). Then it plants a 10% slowdown
in every row of a copy of the later run of each pair (its stored samples × 1.10) and counts how
many planted rows the gate flags. Prints a Markdown summary for the README.

    uv run python benchmarks/reliability.py                 # 5 full sweeps (lead, quiet host)
    uv run python benchmarks/reliability.py --quick --runs 3   # smoke test, a minute or so
    uv run python benchmarks/reliability.py --reuse results/rel/*.json   # re-analyse only
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.results import RunResult, read_result  # noqa: E402
from reports import compare  # noqa: E402


def measure(runs: int, results_dir: Path, quick: bool, extra: list[str]) -> list[Path]:
    paths = []
    for index in range(1, runs + 1):
        before = set(results_dir.glob("*.json"))
        command = [sys.executable, "-m", "bench.cli", "run", "--device", "cpu", "--no-table"]
        command += ["--results-dir", str(results_dir), *(["--quick"] if quick else []), *extra]
        print(f"run {index}/{runs}: {' '.join(command[2:])}", file=sys.stderr, flush=True)
        subprocess.run(command, cwd=REPO, check=True)
        (new,) = set(results_dir.glob("*.json")) - before
        paths.append(new)
    return paths


def slowed(run: RunResult, factor: float) -> RunResult:
    """A copy of `run` whose every row's samples are `factor` × slower."""
    rows = [replace(row, samples_ms=[s * factor for s in row.samples_ms]) for row in run.rows]
    return replace(run, run_id=f"{run.run_id}×{factor:g}", rows=rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fbench run --quick sweeps")
    parser.add_argument("--results-dir", type=Path, default=REPO / "results" / "reliability")
    parser.add_argument("--reuse", nargs="+", type=Path, help="analyse these runs, measure none")
    parser.add_argument("--threshold", type=float, default=compare.DEFAULT_THRESHOLD)
    parser.add_argument("--slowdown", type=float, default=1.10)
    parser.add_argument("run_args", nargs="*", help="extra fbench run flags after --")
    args = parser.parse_args(argv)

    if args.reuse:
        paths = args.reuse
    else:
        args.results_dir.mkdir(parents=True, exist_ok=True)
        paths = measure(args.runs, args.results_dir, args.quick, args.run_args)
    runs = [read_result(path) for path in paths]
    if len(runs) < 2:
        parser.error("need at least two runs")

    pairs = list(itertools.combinations(range(len(runs)), 2))
    false_alarms, failed_pairs, untrusted_pairs, unstable_rows, judged_rows = 0, 0, 0, 0, 0
    worst_change = 0.0
    detected, planted, pairs_all_detected = 0, 0, 0
    for i, j in pairs:
        plain = compare.compare_runs(runs[i], runs[j], threshold=args.threshold)
        if plain.not_comparable:
            raise SystemExit(f"runs {i} and {j} are not comparable: {plain.not_comparable}")
        false_alarms += len(plain.regressions) + len(plain.improvements)
        failed_pairs += plain.exit_code() == 1
        untrusted_pairs += plain.exit_code() == 3
        unstable_rows += sum(row.verdict == "unstable" for row in plain.rows)
        judged_rows += len(plain.rows)
        changes = [abs(row.change) for row in plain.rows if row.change is not None]
        worst_change = max([worst_change, *changes])

        slow = compare.compare_runs(
            runs[i], slowed(runs[j], args.slowdown), threshold=args.threshold
        )
        flagged = len(slow.regressions)
        rows = sum(1 for row in slow.rows if row.verdict not in ("missing", "new", "failed"))
        detected += flagged
        planted += rows
        pairs_all_detected += flagged == rows

    quick = any(run.config.get("quick") for run in runs)
    sweep = f"fbench run --device {runs[0].config.get('device')}" + (" --quick" if quick else "")
    print(f"### Reliability of `fbench compare` ({len(runs)} × `{sweep}`, {len(pairs)} pairs)")
    print()
    print("| check | result |\n|---|---|")
    print(
        f"| false regressions/improvements, threshold {args.threshold:.0%} | "
        f"{false_alarms} of {judged_rows} row comparisons |"
    )
    print(f"| pairs where the gate fails (exit 1): false alarms | {failed_pairs} of {len(pairs)} |")
    print(f"| largest run-to-run change of a median | {worst_change:.1%} |")
    print(
        f"| pairs that exit 3 (a row `unstable` in either run) | "
        f"{untrusted_pairs} of {len(pairs)} ({unstable_rows} unstable row comparisons) |"
    )
    print(
        f"| planted ×{args.slowdown:g} slowdown flagged | {detected} of {planted} rows; "
        f"every row in {pairs_all_detected} of {len(pairs)} pairs |"
    )
    print()
    print("runs: " + ", ".join(str(path) for path in paths))
    ok = failed_pairs == 0 and pairs_all_detected == len(pairs)
    print("PASS" if ok else "FAIL: see the table", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
