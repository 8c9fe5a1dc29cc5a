"""Is `fbench compare` a gate people can leave switched on? Measure its false-alarm rate.

Runs the CPU sweep N times (fresh processes, as CI would), compares every pair of runs with
the gate's own logic (fbench.reports.compare) at the default threshold, and counts false regressions
(nothing changed, so every SLOWER/FASTER row is a false alarm). Then it plants a 10% slowdown
in a copy of the later run of each pair (its stored samples and per-process medians × 1.10;
its host probe untouched, as when the code and not the host got slower), once in every row
and once in PConv's rows only, and counts how many planted rows the gate flags. Both without
the host-speed correction (the default) and with it.

It also reports, from the result files alone (benchmarks/analysis/sweep_precision.py), each
sweep's wall time and interval widths (median and widest row, rows within ±1% and ±1.5%) and
the honesty figure of issue 15: per pair of sweeps, the rows whose medians moved by more than
the two intervals combined, √(h₁² + h₂²), over all pairs and over back-to-back pairs; then
issue 15's goals as a checklist. Prints a Markdown summary for docs/methodology.md and
docs/regression-gate.md; `--json FILE` writes the figures too. Sweeps are taken in the order
they were created (the files' `created`). Exit 0 when the gate passes, 1 when it does not (the
goals do not change it), 2 for a result file that cannot be read.

    uv run python benchmarks/reliability.py                 # 5 full sweeps (lead, quiet host)
    uv run python benchmarks/reliability.py --quick --runs 3   # smoke test, a minute or so
    uv run python benchmarks/reliability.py --reuse results/rel/*.json   # re-analyse only
    uv run python benchmarks/reliability.py --reuse a.json b.json --json figures.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.analysis import process_effect  # noqa: E402
from benchmarks.analysis import sweep_precision as sp  # noqa: E402
from fbench.bench.errors import FbenchError  # noqa: E402
from fbench.bench.results import RunResult, read_result  # noqa: E402
from fbench.bench.results import status as row_status  # noqa: E402
from fbench.reports import compare  # noqa: E402


def measure(runs: int, results_dir: Path, quick: bool, extra: list[str]) -> list[Path]:
    paths = []
    for index in range(1, runs + 1):
        before = set(results_dir.glob("*.json"))
        command = [sys.executable, "-m", "fbench.cli", "run", "--device", "cpu", "--no-table"]
        command += ["--results-dir", str(results_dir), *(["--quick"] if quick else []), *extra]
        print(f"run {index}/{runs}: {' '.join(command[2:])}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=True)
        (new,) = set(results_dir.glob("*.json")) - before
        paths.append(new)
        # The file's own wall time (the figures below) leaves out the start-up; this does not.
        print(f"run {index}/{runs}: {time.perf_counter() - start:.0f} s, {new}", file=sys.stderr)
    return paths


def slowed(run: RunResult, factor: float, operator: str | None = None) -> RunResult:
    """A copy of `run` whose rows' samples and per-process medians are `factor` × slower:
    every row, or one operator's.

    The host probe is left as it was: this is the code getting slower, not the host.
    """
    rows = [
        replace(
            row,
            samples_ms=[s * factor for s in row.samples_ms],
            processes=[
                {**entry, "median_ms": entry["median_ms"] * factor} for entry in row.processes
            ]
            if row.processes
            else row.processes,
        )
        if operator in (None, row.operator)
        else row
        for row in run.rows
    ]
    return replace(run, run_id=f"{run.run_id}×{factor:g}", rows=rows)


@dataclass
class GateStats:
    """How the gate did over every pair of runs, with one setting of the host correction."""

    pairs: int = 0
    false_alarms: int = 0  # SLOWER/FASTER rows where nothing changed
    failed_pairs: int = 0  # pairs that would fail CI (exit 1) on nothing
    untrusted_pairs: int = 0  # exit 3: a row not judged (disturbed, imprecise) in either run
    failed_pairs_allowing_unstable: int = 0  # exit ≠ 0 with --allow-unstable
    false_rows: list[str] = field(default_factory=list)  # "conv 768×7×7 +5.2%", per alarm
    not_judged_rows: int = 0
    judged_rows: int = 0
    worst_change: float = 0.0  # largest |change| the gate judged (after correction, if on)
    detected: dict[str, int] = field(default_factory=dict)  # planted kind → rows flagged
    planted: dict[str, int] = field(default_factory=dict)  # planted kind → rows planted
    pairs_all_detected: dict[str, int] = field(default_factory=dict)
    pairs_failing: dict[str, int] = field(default_factory=dict)  # planted kind → exit 1 pairs

    def ok(self) -> bool:
        """The issue's goal: no pair fails on nothing, every planted slowdown fails its pair."""
        return self.failed_pairs == 0 and all(n == self.pairs for n in self.pairs_failing.values())


def gate_stats(
    runs: list[RunResult], threshold: float, slowdown: float, host_tolerance: float | None
) -> GateStats:
    stats = GateStats()
    operator = "pconv" if any(row.operator == "pconv" for row in runs[0].rows) else None
    plants = {"every row": None, **({f"{operator} only": operator} if operator else {})}
    for i, j in itertools.combinations(range(len(runs)), 2):
        stats.pairs += 1
        plain = compare.compare_runs(runs[i], runs[j], threshold, host_tolerance=host_tolerance)
        if plain.not_comparable:
            raise SystemExit(f"runs {i} and {j} are not comparable: {plain.not_comparable}")
        stats.false_alarms += len(plain.regressions) + len(plain.improvements)
        stats.failed_pairs += plain.exit_code() == 1
        stats.untrusted_pairs += plain.exit_code() == 3
        stats.failed_pairs_allowing_unstable += plain.exit_code(allow_unstable=True) != 0
        stats.false_rows += [
            f"{row.label} {row.change:+.1%}" for row in plain.regressions + plain.improvements
        ]
        stats.not_judged_rows += sum(row.verdict == compare.NOT_JUDGED for row in plain.rows)
        stats.judged_rows += len(plain.rows)
        changes = [abs(row.change) for row in plain.rows if row.change is not None]
        stats.worst_change = max([stats.worst_change, *changes])
        for kind, only in plants.items():
            slow = compare.compare_runs(
                runs[i], slowed(runs[j], slowdown, only), threshold, host_tolerance=host_tolerance
            )
            targets = {
                f"{row.operator} {row.shape_label}"
                for row in runs[j].rows
                if only in (None, row.operator)
            }
            judged = [row for row in slow.rows if row.verdict not in ("missing", "new", "failed")]
            flagged = [row for row in slow.regressions if row.label in targets]
            planted = len(targets)
            stats.detected[kind] = stats.detected.get(kind, 0) + len(flagged)
            stats.planted[kind] = stats.planted.get(kind, 0) + planted
            stats.pairs_all_detected[kind] = stats.pairs_all_detected.get(kind, 0) + (
                len(flagged) >= planted and len(judged) > 0
            )
            stats.pairs_failing[kind] = stats.pairs_failing.get(kind, 0) + (slow.exit_code() == 1)
    return stats


def in_time_order(runs: list[RunResult], paths: list[Path]) -> tuple[list[RunResult], list[Path]]:
    """Runs (and their paths) by creation time, so that neighbours are back-to-back sweeps."""

    def created(pair: tuple[RunResult, Path]) -> dt.datetime:
        try:
            moment = dt.datetime.fromisoformat(pair[0].created)
        except ValueError:
            return dt.datetime.min.replace(tzinfo=dt.UTC)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

    ordered = sorted(zip(runs, paths, strict=True), key=created)
    return [run for run, _ in ordered], [path for _, path in ordered]


@dataclass(frozen=True)
class Precision:
    """Everything benchmarks.analysis.sweep_precision measures on a set of sweeps."""

    sweeps: list[sp.SweepFigures]
    all_pairs: sp.Honesty
    back_to_back: sp.Honesty
    goals: list[sp.Goal]
    processes: int | None
    exact_share: float | None  # share of rows exceeding if the intervals were exact


def precision(runs: Sequence[RunResult]) -> Precision:
    sweeps = [sp.sweep_figures(run) for run in runs]
    all_pairs = sp.honesty(runs)
    processes = sp.processes_per_row(runs)
    exact = process_effect.exceedance_if_exact(processes) if processes else None
    return Precision(
        sweeps,
        all_pairs,
        sp.honesty(runs, back_to_back=True),
        sp.goals(sweeps, all_pairs),
        processes,
        exact,
    )


def _pair_line(name: str, figure: sp.Honesty) -> str:
    worst = figure.worst
    if worst is None:
        return f"| {name} | 0 | – | – |"
    moves = ", ".join(f"{m.label} {m.change:+.1%} vs ±{m.combined:.1%}" for m in worst.moves)
    mean = f"{figure.mean_exceeding:.2f}"
    if any(pair.rows != 16 for pair in figure.pairs):  # the goal counts of 16 rows
        mean += f" ({figure.mean_per_16:.2f} of 16)"
    return (
        f"| {name} | {len(figure.pairs)} | {mean} | sweeps {worst.first + 1}–"
        f"{worst.second + 1}: {worst.exceeding} of {worst.rows}"
        + (f" ({moves})" if moves else "")
        + " |"
    )


def precision_lines(figures: Precision, sweep: str) -> list[str]:
    """Markdown: the sweeps' widths and times, then the honesty figure."""
    limits = list(figures.sweeps[0].within) if figures.sweeps else []
    lines = [
        f"### Interval widths and honesty ({len(figures.sweeps)} × `{sweep}`)",
        "",
        "| sweep | wall time | median row | widest row | "
        + " | ".join(f"rows within ±{limit:.1%}" for limit in limits)
        + " | rows not ok |",
        "|---|---|---|---|" + "---|" * len(limits) + "---|",
    ]
    for index, s in enumerate(figures.sweeps, 1):
        wall = f"{s.wall_s:.0f} s" if s.wall_s is not None else "unknown"
        not_ok = ", ".join(
            f"{n} {status}" for status, n in sorted(s.statuses.items()) if status != row_status.OK
        )
        lines.append(
            f"| {index} `{s.run_id}` | {wall} | {sp.percent(s.median_halfwidth)} | "
            f"{sp.percent(s.worst_halfwidth)} ({s.worst_row}) | "
            + " | ".join(f"{s.within[limit]} of {s.rows}" for limit in limits)
            + f" | {not_ok or 'none'} |"
        )
    lines += [
        "",
        "Rows whose medians moved between two sweeps by more than the two intervals combined,",
        "√(h₁² + h₂²) on the log scale:",
        "",
        "| pairs of sweeps | pairs | rows exceeding per pair, mean | worst pair |",
        "|---|---|---|---|",
        _pair_line("all pairs", figures.all_pairs),
        _pair_line("back-to-back", figures.back_to_back),
        "",
    ]
    if figures.exact_share is not None:
        lines.append(
            f"With exact intervals ({figures.processes} processes per row, no drift between "
            f"sweeps) about {16 * figures.exact_share:.2f} of 16 rows per pair would exceed."
        )
    else:
        lines.append("Rows timed in one process: no figure for exact intervals.")
    return lines


def goal_lines(goals: Sequence[sp.Goal]) -> list[str]:
    lines = ["### Issue 15 goals (default `fbench run --device cpu`)", ""]
    for goal in goals:
        mark = "x" if goal.met else " "
        lines.append(f"- [{mark}] {goal.goal}: {goal.measured}: {'met' if goal.met else 'not met'}")
    return lines


def write_json(path: Path, figures: Precision, stats: dict[str, GateStats]) -> None:
    data = sp.as_dict(
        figures.sweeps, figures.all_pairs, figures.back_to_back, figures.goals, figures.exact_share
    )
    data["honesty"]["processes_per_row"] = figures.processes
    data["gate"] = {name: {**asdict(stat), "ok": stat.ok()} for name, stat in stats.items()}
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fbench run --quick sweeps")
    parser.add_argument("--results-dir", type=Path, default=REPO / "results" / "reliability")
    parser.add_argument("--reuse", nargs="+", type=Path, help="analyse these runs, measure none")
    parser.add_argument("--threshold", type=float, default=compare.DEFAULT_THRESHOLD)
    parser.add_argument("--slowdown", type=float, default=1.10)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("run_args", nargs="*", help="extra fbench run flags after --")
    args = parser.parse_args(argv)

    if args.reuse:
        paths = list(args.reuse)
    else:
        args.results_dir.mkdir(parents=True, exist_ok=True)
        paths = measure(args.runs, args.results_dir, args.quick, args.run_args)
    try:
        runs = [read_result(path) for path in paths]
    except FbenchError as error:
        print(f"reliability.py: {error}", file=sys.stderr)
        return 2
    if len(runs) < 2:
        parser.error("need at least two runs")
    runs, paths = in_time_order(runs, paths)
    figures = precision(runs)

    settings = {
        "raw (default)": None,
        "host-corrected (--host-correction)": compare.DEFAULT_HOST_TOLERANCE,
    }
    stats = {
        name: gate_stats(runs, args.threshold, args.slowdown, tolerance)
        for name, tolerance in settings.items()
    }
    quick = any(run.config.get("quick") for run in runs)
    sweep = f"fbench run --device {runs[0].config.get('device')}" + (" --quick" if quick else "")
    pairs = next(iter(stats.values())).pairs
    print(f"### Reliability of `fbench compare` ({len(runs)} × `{sweep}`, {pairs} pairs)")
    print()
    print("| check | " + " | ".join(stats) + " |")
    print("|---|" + "---|" * len(stats))

    def line(check: str, cell) -> None:
        print(f"| {check} | " + " | ".join(cell(s) for s in stats.values()) + " |")

    line(
        f"false regressions/improvements, threshold {args.threshold:.0%}",
        lambda s: f"{s.false_alarms} of {s.judged_rows} rows",
    )
    line("pairs that fail on nothing (exit 1)", lambda s: f"{s.failed_pairs} of {s.pairs}")
    line("largest run-to-run change judged", lambda s: f"{s.worst_change:.1%}")
    line(
        "pairs that exit 3 (a row `not judged`)",
        lambda s: f"{s.untrusted_pairs} of {s.pairs} ({s.not_judged_rows} rows)",
    )
    line(
        "pairs that fail on nothing with --allow-unstable",
        lambda s: f"{s.failed_pairs_allowing_unstable} of {s.pairs}",
    )
    for kind in next(iter(stats.values())).planted:
        line(
            f"planted ×{args.slowdown:g} slowdown, {kind}: flagged",
            lambda s, k=kind: (
                f"{s.detected[k]} of {s.planted[k]} rows, all in {s.pairs_all_detected[k]} "
                f"of {s.pairs} pairs; the gate fails (exit 1) in {s.pairs_failing[k]}"
            ),
        )
    print()
    for name, stat in stats.items():
        print(f"false alarms, {name}: {', '.join(stat.false_rows) or 'none'}")
    print()
    print("\n".join(precision_lines(figures, sweep)))
    print()
    print("runs: " + ", ".join(str(path) for path in paths))
    print()
    print("\n".join(goal_lines(figures.goals)))
    if args.json:
        try:
            write_json(args.json, figures, stats)
        except OSError as error:
            print(f"reliability.py: --json {args.json}: cannot write ({error})", file=sys.stderr)
            return 2
    ok = stats["raw (default)"].ok()
    print("PASS" if ok else "FAIL: see the table", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
