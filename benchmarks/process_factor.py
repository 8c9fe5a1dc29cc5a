"""Is part of a multi-process run's between-process spread shared by every row of a process?

Re-analyses stored result files only (it never measures): for each file whose rows were timed
in several processes, the rows × processes matrix of log process medians is split into row
effects, process effects shared by every row, and the rows' own residuals
(benchmarks/analysis/process_effect.py). Per file it prints P (processes common to every row),
R (rows), the share of the between-process variance the shared effects carry, the F test's and
a permutation test's p-values, how much of the shared effects the host probe explains (R², and
the slope of process effect on log probe), and the rows' 95% half-widths: as stored, and with
the shared effects removed (each floored by the pooled calls' own interval, as fbench does).

Then, for each folder of two or more files (back-to-back sweeps of one setting), the honesty
figure of issue 15: over every pair of sweeps, the rows whose medians differ by more than
√(h₁² + h₂²), with the stored intervals, with the adjusted ones, and with the adjusted ones
after dividing out the two sweeps' common shift (the median of the rows' log ratios). And
the same for within-sweep ratios of operators at one shape (PConv / DWConv ...): the stored
rows' intervals combined against the interval of the ratio paired by process, in which the
shared effect cancels.

The reference files it was written for (2026-11-23, a 2-core KVM Xeon VM) are no longer in
the tree; they are in commit b727c80 under results/reference/:

    git worktree add /tmp/ref b727c80      # or: git archive b727c80 results/reference | tar x
    uv run python benchmarks/process_factor.py /tmp/ref/results/reference/processes
    uv run python benchmarks/process_factor.py run1.json run2.json run3.json
    git show b727c80:results/reference/processes/v5-seeds/20261123-145118-cpu-torch.json > a.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.analysis import process_effect as pe  # noqa: E402
from fbench.bench.stats.timing import summarize  # noqa: E402


@dataclass(frozen=True)
class Row:
    label: str
    shape: tuple[int, int, int]
    operator: str
    median_ms: float
    gflops: float  # flops × batch / median, as stored
    stored_h: float  # the stored interval's relative half-width (larger side, ratio terms)
    calls_h: float  # the pooled calls' own half-width
    logs: list[float]  # log medians of the run's first P processes
    probe: list[list[float]] | None  # host-probe round medians, per process (all processes)


@dataclass(frozen=True)
class Sweep:
    path: Path
    rows: list[Row]
    processes: int  # P: the processes every row was timed in

    @property
    def matrix(self) -> np.ndarray:
        return np.array([row.logs for row in self.rows])


def load_sweep(path: Path) -> Sweep | None:
    """The file's measured rows with 2+ process medians, cut to the processes all rows share;
    None when it has fewer than three such rows (nothing to decompose)."""
    data = json.loads(path.read_text())
    raw = [
        row
        for row in data.get("rows", [])
        if row.get("latency_ms")
        and len([p for p in row.get("processes") or [] if p.get("median_ms")]) >= 2
    ]
    if len(raw) < 3:
        return None
    # Rows short of their target may have got extra workers of their own; only the first P
    # processes timed every row, so only they can carry an effect shared by all rows.
    common = min(len(row["processes"]) for row in raw)
    rows = []
    for row in raw:
        latency = row["latency_ms"]
        median = latency["median"]
        stored = max(latency["ci95_high"] / median - 1.0, median / latency["ci95_low"] - 1.0)
        calls = summarize(row["samples_ms"]).ci95_halfwidth_rel if row.get("samples_ms") else 0.0
        shape = (row["channels"], row["height"], row["width"])
        rows.append(
            Row(
                f"{row['operator']} {shape[0]}×{shape[1]}×{shape[2]}",
                shape,
                row["operator"],
                median,
                row["flops"] * row.get("batch", 1) / median / 1e6,
                stored,
                calls or 0.0,
                [math.log(p["median_ms"]) for p in row["processes"][:common]],
                _probe_by_process(row),
            )
        )
    return Sweep(path, rows, common)


def _probe_by_process(row: dict) -> list[list[float]] | None:
    probe = (row.get("host_probe") or {}).get("round_medians_ms") or []
    rounds = [p.get("rounds") or 0 for p in row["processes"]]
    try:
        return pe.split_rounds(probe, rounds) if probe else None
    except ValueError:  # a process without probe rounds (probe failed): no split
        return None


def process_probe_logs(sweep: Sweep) -> np.ndarray | None:
    """Each common process's host-probe median (log). A row sampled in a round stores that
    round's probe, and rows leave as they converge, so the row with most rounds in a process
    holds all of its probe rounds."""
    if any(row.probe is None for row in sweep.rows):
        return None
    logs = []
    for p in range(sweep.processes):
        longest = max((row.probe[p] for row in sweep.rows), key=len)
        if not longest:
            return None
        logs.append(math.log(statistics.median(longest)))
    return np.array(logs)


@dataclass(frozen=True)
class FileFigures:
    name: str
    processes: int
    rows: int
    ss_share: float
    shared_fraction: float
    f_p: float
    permutation_p: float
    probe_r2: float | None
    probe_slope: float | None
    row_scale_p: float  # Bartlett: do the rows share one residual variance?
    operators_agree: float  # mean correlation of the process effects operator by operator
    effect_sd: float  # SD of the process effects (log)
    probe_sd: float | None  # SD of the processes' log probe medians
    stored_h: np.ndarray
    today_h: np.ndarray  # recomputed on the common processes, floored by the calls
    adjusted_h: np.ndarray
    pooled_h: np.ndarray
    extreme: str  # e.g. "slowest p2 16/16"


def analyse(sweep: Sweep) -> FileFigures:
    matrix = sweep.matrix
    fit = pe.decompose(matrix)
    anova = pe.process_anova(matrix)
    probe = process_probe_logs(sweep)
    fitted = pe.probe_fit(fit.process_effects, probe) if probe is not None else None
    calls = np.array([row.calls_h for row in sweep.rows])
    today = np.maximum(pe.today_halfwidths(matrix), calls)
    adjusted = np.maximum(pe.adjusted_halfwidths(matrix)[0], calls)
    pooled = np.maximum(pe.adjusted_halfwidths(matrix, pooled=True)[0], calls)
    return FileFigures(
        f"{sweep.path.parent.name}/{sweep.path.stem[:15]}",
        sweep.processes,
        len(sweep.rows),
        anova.ss_share,
        anova.shared_fraction,
        anova.p_value,
        pe.permutation_p(matrix),
        fitted.r_squared if fitted else None,
        fitted.slope if fitted else None,
        pe.row_scale_p(matrix),
        pe.group_agreement(matrix, [row.operator for row in sweep.rows]),
        float(np.std(fit.process_effects, ddof=1)),
        float(np.std(probe, ddof=1)) if probe is not None else None,
        np.array([row.stored_h for row in sweep.rows]),
        today,
        adjusted,
        pooled,
        _extremes(matrix),
    )


def _extremes(matrix: np.ndarray) -> str:
    """The process that was slowest (or fastest) on most rows, e.g. "slow p2 16/16"."""
    counts = []
    for word, pick in (("slow", np.argmax), ("fast", np.argmin)):
        chosen = pick(matrix, axis=1)
        values, tally = np.unique(chosen, return_counts=True)
        best = int(np.argmax(tally))
        counts.append(
            (int(tally[best]), f"{word} p{int(values[best]) + 1} {tally[best]}/{len(chosen)}")
        )
    return max(counts)[1]


def _pct(value: float) -> str:
    return f"{value:.1%}"


def file_table(figures: Sequence[FileFigures]) -> list[str]:
    lines = [
        "| file | P | R | shared SS | shared σ² | F p | perm p | ops agree | probe R² | slope "
        "| extreme "
        "| equal scales p | h stored med / max | h today med / max | h adjusted med / max "
        "| h pooled med / max |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        probe = f"{f.probe_r2:.2f}" if f.probe_r2 is not None else "—"
        slope = f"{f.probe_slope:+.2f}" if f.probe_slope is not None else "—"
        widths = [
            f"{_pct(float(np.median(h)))} / {_pct(float(np.max(h)))}"
            for h in (f.stored_h, f.today_h, f.adjusted_h, f.pooled_h)
        ]
        lines.append(
            f"| {f.name} | {f.processes} | {f.rows} | {f.ss_share:.2f} | {f.shared_fraction:.2f} "
            f"| {f.f_p:.3g} | {f.permutation_p:.3g} | {f.operators_agree:+.2f} | {probe} | {slope} "
            f"| {f.extreme} "
            f"| {f.row_scale_p:.2g} | " + " | ".join(widths) + " |"
        )
    return lines


def _count(m1, h1, m2, h2) -> int:
    return sum(pe.exceeds_combined(*args) for args in zip(m1, h1, m2, h2, strict=True))


@dataclass(frozen=True)
class Honesty:
    folder: str
    processes: int
    sweeps: int
    pairs: int
    rows: int
    stored: list[int]
    today: list[int]
    adjusted: list[int]
    where_significant: list[int]  # adjusted only in sweeps whose shared effect is significant
    adjusted_shifted: list[int]
    ratios: int
    ratio_stored: list[int]
    ratio_today: list[int]
    ratio_paired: list[int]
    ratio_stored_h: float
    ratio_today_h: float
    ratio_paired_h: float


def honesty(folder: str, sweeps: Sequence[Sweep], figures: Sequence[FileFigures]) -> Honesty | None:
    labels = [row.label for row in sweeps[0].rows]
    if any([row.label for row in sweep.rows] != labels for sweep in sweeps):
        return None
    stored, today, adjusted, significant, shifted = [], [], [], [], []
    ratio_stored, ratio_today, ratio_paired = [], [], []
    ratios = [_ratios(sweep, fig) for sweep, fig in zip(sweeps, figures, strict=True)]
    for (s1, f1, r1), (s2, f2, r2) in itertools.combinations(
        zip(sweeps, figures, ratios, strict=True), 2
    ):
        m1 = [row.median_ms for row in s1.rows]
        m2 = [row.median_ms for row in s2.rows]
        stored.append(_count(m1, f1.stored_h, m2, f2.stored_h))
        today.append(_count(m1, f1.today_h, m2, f2.today_h))
        adjusted.append(_count(m1, f1.adjusted_h, m2, f2.adjusted_h))
        significant.append(_count(m1, _where_significant(f1), m2, _where_significant(f2)))
        shift = math.exp(statistics.median(math.log(b / a) for a, b in zip(m1, m2, strict=True)))
        shifted.append(_count(m1, f1.adjusted_h, [m / shift for m in m2], f2.adjusted_h))
        ratio_stored.append(_count(r1[0], r1[1], r2[0], r2[1]))
        ratio_today.append(_count(r1[0], r1[2], r2[0], r2[2]))
        ratio_paired.append(_count(r1[0], r1[3], r2[0], r2[3]))
    all_ratios = [r for sweep_ratios in ratios for r in zip(*sweep_ratios, strict=True)]
    return Honesty(
        folder,
        min(sweep.processes for sweep in sweeps),
        len(sweeps),
        len(stored),
        len(labels),
        stored,
        today,
        adjusted,
        significant,
        shifted,
        len(ratios[0][0]),
        ratio_stored,
        ratio_today,
        ratio_paired,
        float(np.median([r[1] for r in all_ratios])),
        float(np.median([r[2] for r in all_ratios])),
        float(np.median([r[3] for r in all_ratios])),
    )


def _where_significant(figures: FileFigures, alpha: float = 0.05) -> np.ndarray:
    """Issue 15's proposal: remove the shared part only where it is measured."""
    return figures.adjusted_h if figures.permutation_p < alpha else figures.today_h


def _ratios(
    sweep: Sweep, figures: FileFigures
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Every pair of operators at one shape: the ratio of medians, its half-width from the two
    rows' intervals combined (stored; today's method), and paired by process (floored by the
    calls' combined)."""
    values, combined, today, paired = [], [], [], []
    for a, b in itertools.combinations(range(len(sweep.rows)), 2):
        row_a, row_b = sweep.rows[a], sweep.rows[b]
        if row_a.shape != row_b.shape:
            continue
        values.append(row_a.median_ms / row_b.median_ms)
        combined.append(
            math.expm1(math.hypot(math.log1p(figures.stored_h[a]), math.log1p(figures.stored_h[b])))
        )
        today.append(
            math.expm1(math.hypot(math.log1p(figures.today_h[a]), math.log1p(figures.today_h[b])))
        )
        calls = math.expm1(math.hypot(math.log1p(row_a.calls_h), math.log1p(row_b.calls_h)))
        paired.append(max(pe.paired_ratio_halfwidth(row_a.logs, row_b.logs), calls))
    return values, combined, today, paired


def honesty_table(results: Sequence[Honesty]) -> list[str]:
    def mean(counts: list[int]) -> str:
        return f"{statistics.fmean(counts):.1f} ({max(counts)})"

    lines = [
        "Rows (or ratios) whose two sweeps' values differ by more than √(h₁² + h₂²): mean per "
        "pair of sweeps (worst pair). 'if exact': the mean for exact intervals (rows / ratios).",
        "",
        "| folder | P | sweeps | pairs | rows | if exact | stored h | today's h | adjusted h "
        "| adjusted where p < 0.05 "
        "| adjusted, common shift out | ratios | stored h combined | today's combined "
        "| paired by process | ratio h med: stored / today / paired |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in [*results, _together(results)]:
        exact = pe.exceedance_if_exact(r.processes) if r.processes >= 2 else None
        floor = f"{exact * r.rows:.1f} / {exact * r.ratios:.1f}" if exact is not None else "—"
        lines.append(
            f"| {r.folder} | {r.processes or '—'} | {r.sweeps} | {r.pairs} | {r.rows} "
            f"| {floor} | {mean(r.stored)} "
            f"| {mean(r.today)} | {mean(r.adjusted)} | {mean(r.where_significant)} "
            f"| {mean(r.adjusted_shifted)} | {r.ratios} "
            f"| {mean(r.ratio_stored)} | {mean(r.ratio_today)} | {mean(r.ratio_paired)} "
            f"| {_pct(r.ratio_stored_h)} / {_pct(r.ratio_today_h)} / {_pct(r.ratio_paired_h)} |"
        )
    return lines


def _together(results: Sequence[Honesty]) -> Honesty:
    """All folders' pairs as one set (the ratios' half-widths: the median folder's)."""

    def joined(name: str) -> list[int]:
        return [count for r in results for count in getattr(r, name)]

    def middle(name: str) -> float:
        return float(np.median([getattr(r, name) for r in results]))

    return Honesty(
        "all",
        0,  # mixed: no one floor
        sum(r.sweeps for r in results),
        sum(r.pairs for r in results),
        results[0].rows,
        joined("stored"),
        joined("today"),
        joined("adjusted"),
        joined("where_significant"),
        joined("adjusted_shifted"),
        results[0].ratios,
        joined("ratio_stored"),
        joined("ratio_today"),
        joined("ratio_paired"),
        middle("ratio_stored_h"),
        middle("ratio_today_h"),
        middle("ratio_paired_h"),
    )


def _mean(figures: Sequence[FileFigures], name: str) -> str:
    values = [getattr(f, name) for f in figures if getattr(f, name) is not None]
    return f"{statistics.fmean(values):.2f}" if values else "—"


def _median(figures: Sequence[FileFigures], name: str) -> str:
    values = [getattr(f, name) for f in figures if getattr(f, name) is not None]
    return _pct(statistics.median(values)) if values else "—"


def summary(figures: Sequence[FileFigures]) -> list[str]:
    """The files together: how often the shared effect is there, and whether the probe
    explains more of it than a random regressor would (E R² = 1/(P − 1) with P points)."""
    significant = [f for f in figures if f.permutation_p < 0.05]
    rest = [f for f in figures if f.permutation_p >= 0.05]
    probed = [f for f in figures if f.probe_r2 is not None]
    chance = statistics.fmean(1 / (f.processes - 1) for f in probed) if probed else math.nan
    narrowing = np.concatenate([f.adjusted_h / f.today_h for f in figures])
    shared = [f.shared_fraction for f in figures]
    lines = [
        f"files: {len(figures)}; shared effect significant (permutation p < 0.05) in "
        f"{len(significant)}; shared σ² fraction median {statistics.median(shared):.2f}, "
        f"max {max(shared):.2f}",
        f"host probe R²: median {statistics.median(f.probe_r2 for f in probed):.2f} over "
        f"{len(probed)} files (a random regressor: {chance:.2f}); in the significant files "
        f"{statistics.median(f.probe_r2 for f in significant if f.probe_r2 is not None):.2f}; "
        f"slope > 0 in {sum(f.probe_slope > 0 for f in probed)} of {len(probed)}"
        if probed and significant
        else "host probe: not in every file",
        f"process effects, operator by operator, correlate {_mean(significant, 'operators_agree')} "
        f"on average in the significant files, {_mean(rest, 'operators_agree')} in the others",
        f"process-to-process SD in the significant files: rows' shared effect "
        f"{_median(significant, 'effect_sd')}, host probe {_median(significant, 'probe_sd')}",
        f"rows' process half-width, adjusted / today: median {np.median(narrowing):.2f}, "
        f"narrower in {np.mean(narrowing < 1):.0%} of {narrowing.size} rows",
        "rows' 95% half-widths (floored by the calls'), median / worst row: "
        + "; ".join(
            f"{name} {_pct(float(np.median(h)))} / {_pct(float(np.max(h)))}"
            for name, h in (
                ("stored", np.concatenate([f.stored_h for f in figures])),
                ("today's method", np.concatenate([f.today_h for f in figures])),
                ("adjusted", np.concatenate([f.adjusted_h for f in figures])),
            )
        ),
        f"rows sharing one residual scale (Bartlett p ≥ 0.05): "
        f"{sum(f.row_scale_p >= 0.05 for f in figures)} of {len(figures)} files",
    ]
    return lines


def per_operator(figures: Sequence[FileFigures], sweeps: Sequence[Sweep]) -> list[str]:
    """Median adjusted / today half-width by operator over all files: where removing the
    shared part narrows and where it does not."""
    ratios: dict[str, list[float]] = {}
    for fig, sweep in zip(figures, sweeps, strict=True):
        for row, today, adjusted in zip(sweep.rows, fig.today_h, fig.adjusted_h, strict=True):
            ratios.setdefault(row.operator, []).append(adjusted / today)
    lines = [
        "| operator | rows | adjusted / today half-width, median (quartiles) |",
        "|---|---|---|",
    ]
    for operator, values in ratios.items():
        q1, q2, q3 = np.quantile(values, [0.25, 0.5, 0.75])
        lines.append(f"| {operator} | {len(values)} | {q2:.2f} ({q1:.2f}–{q3:.2f}) |")
    return lines


@dataclass(frozen=True)
class Headline:
    """Table 1's PConv / DWConv FLOPS ratio of one sweep and two 95% half-widths for it."""

    ratio: float
    paired_h: float  # Student t on the per-process ratios (the shared effect cancels)
    unpaired_h: float  # the two averages' own intervals combined, as if from other processes


def headline(sweep: Sweep, top: str = "pconv", bottom: str = "dwconv") -> Headline | None:
    """fbench.reports.table1.averages.pconv_dwconv_ratio, and the same ratio process by process."""
    tops = [row for row in sweep.rows if row.operator == top]
    bottoms = [row for row in sweep.rows if row.operator == bottom]
    if not tops or not bottoms:
        return None

    def per_process(rows: list[Row]) -> np.ndarray:
        # Average FLOPS of the rows as each process timed them, in log.
        flops = np.array(
            [[row.gflops * row.median_ms / math.exp(v) for v in row.logs] for row in rows]
        )
        return np.log(flops.mean(axis=0))

    upper, lower = per_process(tops), per_process(bottoms)
    ratio = statistics.fmean(r.gflops for r in tops) / statistics.fmean(r.gflops for r in bottoms)
    paired = pe.paired_ratio_halfwidth(upper, lower)
    own = pe.today_halfwidths(np.vstack([upper, lower]))
    unpaired = math.expm1(math.hypot(*np.log1p(own)))
    return Headline(ratio, paired, unpaired)


def headline_table(groups: dict[str, list[Sweep]]) -> list[str]:
    lines = [
        "PConv / DWConv FLOPS (Table 1's ratio) per sweep, its 95% half-width paired by process "
        "and unpaired; pairs of sweeps whose ratios differ by more than √(h₁² + h₂²).",
        "",
        "| folder | ratios | paired h med | unpaired h med | pairs | beyond, paired "
        "| beyond, unpaired |",
        "|---|---|---|---|---|---|---|",
    ]
    for folder, sweeps in groups.items():
        found = [h for h in (headline(sweep) for sweep in sweeps) if h is not None]
        if len(found) < 2:
            continue
        pairs = list(itertools.combinations(found, 2))
        paired = sum(
            pe.exceeds_combined(a.ratio, a.paired_h, b.ratio, b.paired_h) for a, b in pairs
        )
        unpaired = sum(
            pe.exceeds_combined(a.ratio, a.unpaired_h, b.ratio, b.unpaired_h) for a, b in pairs
        )
        lines.append(
            f"| {folder} | {', '.join(f'{h.ratio:.2f}' for h in found)} "
            f"| {_pct(statistics.median(h.paired_h for h in found))} "
            f"| {_pct(statistics.median(h.unpaired_h for h in found))} "
            f"| {len(pairs)} | {paired} | {unpaired} |"
        )
    return lines


def find_files(paths: Sequence[Path]) -> list[Path]:
    found = []
    for path in paths:
        found += sorted(path.rglob("*.json")) if path.is_dir() else [path]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="The reference files are in commit b727c80 under results/reference/ "
        "(`git worktree add /tmp/ref b727c80`, or `git show b727c80:PATH > FILE` for one).",
    )
    parser.add_argument(
        "paths", nargs="+", type=Path, help="result files, or folders searched for *.json"
    )
    args = parser.parse_args(argv)
    sweeps: list[Sweep] = []
    for path in find_files(args.paths):
        try:
            sweep = load_sweep(path)
        except (OSError, ValueError, KeyError, TypeError) as error:
            print(f"process_factor: skipping {path}: {error}", file=sys.stderr)
            continue
        if sweep is not None:
            sweeps.append(sweep)
    if not sweeps:
        print("process_factor: no multi-process result files in the given paths", file=sys.stderr)
        return 2
    figures = [analyse(sweep) for sweep in sweeps]
    print("\n".join(file_table(figures)))
    print()
    print("\n".join(summary(figures)))
    print()
    print("\n".join(per_operator(figures, sweeps)))
    groups: dict[Path, list[int]] = {}
    for index, sweep in enumerate(sweeps):
        groups.setdefault(sweep.path.parent, []).append(index)
    results = []
    for folder, indices in groups.items():
        if len(indices) < 2:
            continue
        result = honesty(folder.name, [sweeps[i] for i in indices], [figures[i] for i in indices])
        if result is not None:
            results.append(result)
    if results:
        print()
        print("\n".join(honesty_table(results)))
    print()
    print("\n".join(headline_table({f.name: [sweeps[i] for i in g] for f, g in groups.items()})))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
