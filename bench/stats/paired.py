"""Estimates paired in time: quantities computed round by round from what was timed in the
same rounds of the same process, so that a drift of the host that every row shares cancels.

Every round of a run times each active row and three anchors (the GEMM host probe, a memory
copy and a small convolution: bench/measure/host_probe.py), and each row stores, per
process, its median in each round and the anchors' (`round_medians`, fbench.result/3). A
paired estimate takes, in each process, the per-round values of a quantity (row A / row B,
a row / an anchor, Table 1's PConv/DWConv FLOPS ratio) on the rounds all its inputs share,
and summarises them:

- in one process: the median of the rounds' values (a spike is one round of many), with the
  distribution-free sign-test interval of that median (the rounds are the unit);
- over two or more processes: each process's median is one draw of the memory layout
  (docs/methodology.md, step 10), and the estimate is their geometric mean, with Student's t
  on their logs: the interval's centre is the estimate.

Pairing cancels what the inputs share within a round (the host's drift); it cannot cancel
what differs between processes (each row's own memory layout), which the processes'
interval keeps. Pure: numbers and rows' stored fields only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fbench.bench.stats.timing import median, median_ci_ranks

# A single process needs this many shared rounds for the sign-test interval of their median
# (timing.MIN_SAMPLES_FOR_CI); over several processes, each process's median is one sample
# whatever its rounds (a default run gives a row only a few rounds in each of 6 processes),
# and Student's t weighs how much they scatter.
MIN_PAIRED_ROUNDS = 6
# The compute anchor (the host probe), the bandwidth anchor and the latency anchor
# (bench/measure/host_probe.py); a row stores each one's per-round medians as f"{kind}_ms".
ANCHORS = ("gemm", "copy", "smallconv")


@dataclass(frozen=True)
class PairedEstimate:
    """A ratio estimated from rounds paired in time, with its 95% interval (None: too few
    rounds or processes to give one)."""

    ratio: float
    ci95_low: float | None
    ci95_high: float | None
    processes: int  # processes that contributed
    rounds: int  # paired rounds, all processes together
    method: str  # "rounds of one process" or "processes (t on logs)"

    @property
    def halfwidth_rel(self) -> float | None:
        """The larger side of the interval, relative to the ratio (0.01 = ±1%)."""
        if self.ci95_low is None or self.ci95_high is None:
            return None
        return max(self.ratio / self.ci95_low, self.ci95_high / self.ratio) - 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ratio": self.ratio,
            "ci95_low": self.ci95_low,
            "ci95_high": self.ci95_high,
            "processes": self.processes,
            "rounds": self.rounds,
            "method": self.method,
        }


def aligned(series: Sequence[tuple[int, Sequence[float]]]) -> list[list[float]]:
    """Series of one process given as (first round, consecutive values): each one's values in
    the rounds that all of them have, in round order."""
    if not series:
        return []
    start = max(first for first, _ in series)
    stop = min(first + len(values) for first, values in series)
    return [list(values[start - first : stop - first]) for first, values in series]


def estimate(per_process_logs: Sequence[Sequence[float]]) -> PairedEstimate | None:
    """The paired estimate from each process's per-round log values (module docstring);
    processes without a shared round are left out, and one process alone needs
    `MIN_PAIRED_ROUNDS`. None: too little left."""
    usable = [list(logs) for logs in per_process_logs if logs]
    if not usable or (len(usable) == 1 and len(usable[0]) < MIN_PAIRED_ROUNDS):
        return None
    rounds = sum(len(logs) for logs in usable)
    if len(usable) == 1:
        logs = sorted(usable[0])
        centre = median(logs)
        ranks = median_ci_ranks(len(logs))
        low, high = (logs[ranks[0] - 1], logs[ranks[1] - 1]) if ranks else (None, None)
        return PairedEstimate(
            math.exp(centre),
            None if low is None else math.exp(low),
            None if high is None else math.exp(high),
            1,
            rounds,
            "rounds of one process",
        )
    from scipy.stats import t

    medians = [median(logs) for logs in usable]
    n = len(medians)
    centre = math.fsum(medians) / n
    sd = math.sqrt(math.fsum((m - centre) ** 2 for m in medians) / (n - 1))
    half = float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return PairedEstimate(
        math.exp(centre),
        math.exp(centre - half),
        math.exp(centre + half),
        n,
        rounds,
        "processes (t on logs)",
    )


def _process_entries(rows: Sequence[Any]) -> list[list[Mapping[str, Any]]]:
    """For each process that timed every one of `rows`, the rows' round records in it.
    Processes are matched by position and, where stored, by hash seed (an extra process
    that timed only some rows is another process)."""
    if not rows or any(not row.round_medians for row in rows):
        return []
    count = min(len(row.round_medians) for row in rows)
    matched = []
    for index in range(count):
        entries = [row.round_medians[index] for row in rows]
        if any(entry is None for entry in entries):
            continue
        seeds = {
            (row.processes or [{}] * count)[index].get("hash_seed")
            for row in rows
            if row.processes and index < len(row.processes)
        }
        if len(seeds - {None}) > 1:
            continue
        matched.append(entries)
    return matched


def paired_logs(
    rows: Sequence[Any],
    value: Callable[[Sequence[float]], float],
    anchor: str | None = None,
) -> list[list[float]]:
    """Per process, log(`value`(the rows' medians in a round)) for each round all `rows`
    (and the `anchor`'s series of the first row, if given: `value` then gets the anchor's
    median last) share."""
    out = []
    for entries in _process_entries(rows):
        series = [(entry["first_round"], entry["row_ms"]) for entry in entries]
        if anchor is not None:
            first = entries[0]
            anchor_ms = first.get(f"{anchor}_ms") or []
            if not anchor_ms:
                continue
            series.append((first["first_round"], anchor_ms))
        columns = aligned(series)
        out.append([math.log(value(round_values)) for round_values in zip(*columns, strict=True)])
    return out


def row_ratio(row: Any, reference: Any) -> PairedEstimate | None:
    """Row latency / reference row latency, paired by round."""
    return estimate(paired_logs([row, reference], lambda ms: ms[0] / ms[1]))


def against_anchor(row: Any, anchor: str) -> PairedEstimate | None:
    """Row latency / anchor latency (`anchor`: one of ANCHORS), paired by round: the row's
    time in units of a workload that does not change with the code."""
    return estimate(paired_logs([row], lambda ms: ms[0] / ms[1], anchor=anchor))


def flops_ratio(numerator: Sequence[Any], denominator: Sequence[Any]) -> PairedEstimate | None:
    """Mean FLOPS of the `numerator` rows / mean FLOPS of the `denominator` rows (Table 1's
    PConv/DWConv ratio: FLOPS averaged over the stages), paired by round: in each round,
    FLOPS = flops × batch / the row's median in that round."""
    rows = [*numerator, *denominator]
    work = [row.flops * row.batch for row in rows]
    split = len(numerator)

    def value(ms: Sequence[float]) -> float:
        rates = [w / t for w, t in zip(work, ms, strict=True)]
        return (math.fsum(rates[:split]) / split) / (math.fsum(rates[split:]) / len(denominator))

    return estimate(paired_logs(rows, value))


def pairing_words(row: Any) -> str | None:
    """Why a row cannot be paired, or None when it can: files before fbench.result/3 and the
    official method store no per-round medians."""
    if row.round_medians and any(row.round_medians):
        return None
    if row.method == "official":
        return "cannot be paired: --method official times rows one after another, not in rounds"
    return (
        "cannot be paired: no per-round medians stored (a file from before fbench.result/3, "
        "or a row without samples)"
    )
