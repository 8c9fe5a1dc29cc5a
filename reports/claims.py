"""The paper's testable claims checked on stored results: measured value, interval, verdict.

Pure functions of loaded runs (`RunResult`); `fbench report claims` does the I/O. Each claim
is judged per device on rows of one device setup, and its verdict comes from the interval:

- a ratio's interval combines the rows' 95% intervals on the log scale: a mean of rows has
  the half-width sqrt(Σ (hᵢ·gᵢ)²) / n (rows independent), and log(a / b) the half-width
  sqrt(log(1 + h_a)² + log(1 + h_b)²), where h is a relative half-width;
- `holds`: the interval reaches the paper's value (or lies beyond it);
- `holds weaker`: the interval lies below the paper's value but beyond "no difference" (same
  direction, smaller); for an ordering, the order is seen but an interval includes a tie;
- `fails`: the interval excludes the paper's value and does not show its direction;
- `not measured`: the results lack the rows (the reason names the command that measures them);
- `not comparable`: the rows exist but cannot be judged against the paper (two devices mixed,
  another dtype or batch, not Table 1's configuration, no interval). Never a verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from bench.calibration import Calibration
from bench.results import ResultRow, RunResult
from bench.results.identity import device_model
from bench.results.status import DISTURBED, FAILED
from reports import paper
from reports.paper import paper_row
from reports.rows import operator_title
from reports.table import Table

HOLDS = "holds"
WEAKER = "holds weaker"
FAILS = "fails"
NOT_MEASURED = "not measured"
NOT_COMPARABLE = "not comparable"
VERDICTS = (HOLDS, WEAKER, FAILS, NOT_MEASURED, NOT_COMPARABLE)

# The paper's columns, in its order; only devices with a column have claims to check.
DEVICES = ("cuda", "cpu", "arm")


def usable(row: ResultRow) -> bool:
    """A row a claim may use: measured in a steady state (`ok` or `imprecise`,
    bench/results/status.py).

    An imprecise row (interval wider than the target) is used: its interval widens the
    claim's, which is what it should do. Disturbed and failed rows are not.
    """
    return row.in_averages and row.gflops_per_s is not None


def _why_unusable(rows: Sequence[ResultRow], operators: Sequence[str] = ()) -> str:
    """' (8 rows disturbed (host_moved))': why the rows of `operators` (all: empty) were left
    out, counted by reason; '' where there were none to leave out."""
    counts: dict[str, int] = {}
    for row in rows:
        if (not operators or row.operator in operators) and not usable(row):
            reason = _unusable_reason(row)
            counts[reason] = counts.get(reason, 0) + 1
    if not counts:
        return ""
    return " (" + ", ".join(f"{n} row(s) {reason}" for reason, n in counts.items()) + ")"


def _unusable_reason(row: ResultRow) -> str:
    if row.status == FAILED:
        return f"failed ({row.error})" if row.error else "failed"
    if row.status == DISTURBED:
        return f"disturbed ({', '.join(row.reasons)})"
    return "no measured FLOPS"


# --- estimates and their intervals -------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A positive quantity with a symmetric half-width on the log scale (its 95% interval)."""

    value: float
    log_halfwidth: float

    @property
    def low(self) -> float:
        return self.value * math.exp(-self.log_halfwidth)

    @property
    def high(self) -> float:
        return self.value * math.exp(self.log_halfwidth)

    def over(self, other: Estimate) -> Estimate:
        """The ratio self / other; independent errors add in quadrature on the log scale."""
        return Estimate(
            self.value / other.value, math.hypot(self.log_halfwidth, other.log_halfwidth)
        )


def row_estimate(row: ResultRow, speed: bool = False) -> Estimate | None:
    """The row's FLOPS, or with `speed` its throughput (GPU) or calls per second, with its
    interval: all are work / latency, so their relative half-width is the latency's.
    None where the row has no interval (fewer than 6 samples).
    """
    relative = row.latency_ms.ci95_halfwidth_rel if row.latency_ms else None
    if speed:
        value = row.throughput_per_s if row.device == "cuda" else 1000.0 / (row.latency or math.inf)
    else:
        value = row.gflops_per_s
    if relative is None or value is None or value <= 0:
        return None
    return Estimate(value, math.log1p(relative))


def mean_estimate(rows: Sequence[ResultRow]) -> Estimate | None:
    """The mean FLOPS of rows (Table 1's "Average" line) with the propagated interval."""
    values = [(row.gflops_per_s, row.latency_ms.ci95_halfwidth_rel) for row in rows]
    if not values or any(g is None or h is None for g, h in values):
        return None
    mean = sum(g for g, _ in values) / len(values)
    halfwidth = math.sqrt(sum((g * h) ** 2 for g, h in values)) / len(values)
    return Estimate(mean, math.log1p(halfwidth / mean))


def magnitude_verdict(measured: Estimate, claimed: float, null: float = 1.0) -> str:
    """A claim "X is `claimed` times Y" (claimed > null) judged by the measured interval."""
    if measured.high >= claimed:
        return HOLDS
    return WEAKER if measured.low > null else FAILS


def order_verdict(ratio: Estimate) -> str:
    """A claim "A > B" judged on the interval of A / B."""
    if ratio.low > 1:
        return HOLDS
    if ratio.high < 1:
        return FAILS
    return WEAKER  # the interval includes a tie: the order is not resolved


# --- one claim's result ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimResult:
    """One claim on one device: what was measured, the paper's value, and the verdict."""

    claim: str  # a stable id, e.g. "pconv-dwconv-ratio"
    statement: str  # the paper's claim, e.g. "PConv/DWConv FLOPS ratio (Table 1)"
    device: str  # "cpu", "cuda", "arm", or "any" for the counting claims
    verdict: str
    measured: float | None = None
    low: float | None = None
    high: float | None = None
    paper: float | None = None
    measured_text: str = ""
    interval_text: str = ""
    paper_text: str = ""
    reason: str = ""  # why not measured / not comparable, or what the verdict rests on
    runs: tuple[str, ...] = ()
    # Per-network verdicts of a set claim: (network, "below"/"above"/"tie" here, in the paper)
    items: tuple[tuple[str, str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["runs"] = list(self.runs)
        data["items"] = [
            {"network": name, "measured": here, "paper": theirs}
            for name, here, theirs in self.items
        ]
        return data


def _ratio_result(
    claim: str,
    statement: str,
    device: str,
    measured: Estimate,
    claimed: float,
    runs: Iterable[str],
    show: Callable[[float], str] = lambda value: f"{value:.2f}×",
    reason: str = "",
) -> ClaimResult:
    return ClaimResult(
        claim=claim,
        statement=statement,
        device=device,
        verdict=magnitude_verdict(measured, claimed),
        measured=measured.value,
        low=measured.low,
        high=measured.high,
        paper=claimed,
        measured_text=show(measured.value),
        interval_text=f"{show(measured.low)} – {show(measured.high)}",
        paper_text=show(claimed),
        reason=reason,
        runs=tuple(dict.fromkeys(runs)),
    )


# --- which rows a claim on one device may use --------------------------------------------------


@dataclass(frozen=True)
class RowSet:
    """A device's rows of one suite, from one device setup, or why they cannot be judged."""

    device: str
    suite: str
    rows: tuple[ResultRow, ...] = ()
    runs: tuple[str, ...] = ()
    problem: str | None = None  # set: not comparable, and why
    model: str | None = None  # the hardware the rows were measured on


def setup_label(run: RunResult, row: ResultRow) -> str:
    """What must be equal for rows to be compared: hardware model, dtype, backend."""
    return f"{device_model(run.environment)} {row.dtype} {row.backend}"


def select_rows(runs: Sequence[RunResult], device: str, suite: str) -> RowSet:
    """The rows of `device` in `suite`; a problem where they mix setups or repeat a row."""
    found = [
        (run, row) for run in runs for row in run.rows if (row.device, row.suite) == (device, suite)
    ]
    if not found:
        return RowSet(device, suite)
    rows = tuple(row for _, row in found)
    run_ids = tuple(dict.fromkeys(run.run_id for run, _ in found))
    setups = list(dict.fromkeys(setup_label(run, row) for run, row in found))
    problem = None
    if len(setups) > 1:
        problem = (
            f"{device} rows come from {len(setups)} setups ({'; '.join(setups)}); "
            "give one run per device"
        )
    elif rows[0].dtype != "float32":
        problem = f"{device} rows are {rows[0].dtype}; the paper measured float32"
    else:
        seen: dict[tuple, str] = {}
        for run, row in found:
            key = row.key()
            if key in seen:
                problem = (
                    f"{row.network or operator_title(row.operator)} {row.shape_label} on "
                    f"{device} is in two results ({seen[key]}, {run.run_id}); give one run "
                    "per device"
                )
                break
            seen[key] = run.run_id
    return RowSet(device, suite, rows, run_ids, problem, device_model(found[0][0].environment))


def _not_judged(
    claim: str, statement: str, device: str, verdict: str, reason: str, runs: Iterable[str] = ()
) -> ClaimResult:
    return ClaimResult(claim, statement, device, verdict, reason=reason, runs=tuple(runs))


def _measure_operators(device: str, operators: str) -> str:
    return f"measure with: fbench run --device {device} --operators {operators}"


# --- Table 1 ------------------------------------------------------------------------------------

ORDER = ("pconv", "gconv", "dwconv")  # the paper's FLOPS ordering, highest first


def _table1_rows(rowset: RowSet) -> tuple[dict[str, dict[str, ResultRow]], str | None]:
    """Usable Table 1 rows by operator and feature map, or why there are none to compare."""
    by_operator: dict[str, dict[str, ResultRow]] = {}
    other = [row for row in rowset.rows if paper_row(row) is None]
    for row in rowset.rows:
        if paper_row(row) is not None and usable(row):
            shapes = by_operator.setdefault(row.operator, {})
            if row.shape_label in shapes:
                return {}, (
                    f"two {operator_title(row.operator)} {row.shape_label} rows on "
                    f"{rowset.device} ({shapes[row.shape_label].operator_params}, "
                    f"{row.operator_params}); give one per feature map"
                )
            shapes[row.shape_label] = row
    if other and not by_operator:
        row = other[0]
        column = paper.PAPER_DEVICE_COLUMN[rowset.device]
        return {}, (
            f"{rowset.device} rows are not Table 1's configuration (e.g. "
            f"{operator_title(row.operator)} {row.shape_label}: {row.layers} layers, batch "
            f"{row.batch}; the paper: {paper.PAPER_LAYERS} layers, batch "
            f"{paper.PAPER_BATCH[column]}, fp32, its operator parameters)"
        )
    return by_operator, None


def _common(
    by_operator: Mapping[str, Mapping[str, ResultRow]], names: Sequence[str]
) -> tuple[dict[str, list[ResultRow]], set[str]]:
    """Each operator's rows at the feature maps every one of `names` has usable rows for."""
    shapes = set.intersection(*(set(by_operator[name]) for name in names))
    return {name: [by_operator[name][s] for s in sorted(shapes)] for name in names}, shapes


def _coverage(rowset: RowSet, names: Sequence[str], shapes: set[str]) -> str:
    """Which rows were left out of an average, and why: the reason a verdict rests on less."""
    left = [
        f"{operator_title(row.operator)} {row.shape_label} "
        + (_unusable_reason(row) if not usable(row) else "(its partner is missing)")
        for row in rowset.rows
        if row.operator in names and row.shape_label not in shapes
    ]
    return f"over {len(shapes)} feature maps; left out: {', '.join(left)}" if left else ""


def _compared_means(
    claim: str, statement: str, rowset: RowSet, names: Sequence[str]
) -> tuple[dict[str, Estimate], set[str]] | ClaimResult:
    """The mean FLOPS estimate of each of `names` over the feature maps all of them have
    usable rows for (as _common), and those feature maps; or the claim not judged, and why:
    runs not comparable, an operator or a common feature map missing, a row without an
    interval."""
    device = rowset.device
    if rowset.problem:
        return _not_judged(claim, statement, device, NOT_COMPARABLE, rowset.problem, rowset.runs)
    by_operator, problem = _table1_rows(rowset)
    if problem:
        return _not_judged(claim, statement, device, NOT_COMPARABLE, problem, rowset.runs)
    wanted = ",".join(names)
    missing = [name for name in names if name not in by_operator]
    if missing:
        return _not_judged(
            claim,
            statement,
            device,
            NOT_MEASURED,
            f"no usable {', '.join(missing)} rows{_why_unusable(rowset.rows, missing)}; "
            f"{_measure_operators(device, wanted)}",
            rowset.runs,
        )
    rows, shapes = _common(by_operator, names)
    if not shapes:
        return _not_judged(
            claim,
            statement,
            device,
            NOT_MEASURED,
            "no feature map has usable rows of every operator compared; "
            + _measure_operators(device, wanted),
            rowset.runs,
        )
    means = {name: mean_estimate(rows[name]) for name in names}
    if any(estimate is None for estimate in means.values()):
        return _not_judged(
            claim,
            statement,
            device,
            NOT_COMPARABLE,
            "a row has no 95% interval (fewer than 6 samples)",
            rowset.runs,
        )
    return means, shapes


def claim_table1_order(rowset: RowSet) -> ClaimResult:
    """Table 1: PConv > GConv > DWConv in FLOPS, on average over the feature maps."""
    column = paper.PAPER_DEVICE_COLUMN[rowset.device]
    averages = paper.table1_average_gflops()
    text = " > ".join(_g(averages[name][column]) for name in ORDER) + " G/s"
    return _with_paper(_table1_order(rowset), None, text)


def _table1_order(rowset: RowSet) -> ClaimResult:
    claim, statement, device = (
        "table1-order",
        "Table 1: FLOPS PConv > GConv > DWConv",
        rowset.device,
    )
    found = _compared_means(claim, statement, rowset, ORDER)
    if isinstance(found, ClaimResult):
        return found
    means, shapes = found
    pairs = [(ORDER[i], ORDER[i + 1]) for i in range(len(ORDER) - 1)]
    ratios = [means[a].over(means[b]) for a, b in pairs]
    verdicts = [order_verdict(ratio) for ratio in ratios]
    verdict = FAILS if FAILS in verdicts else WEAKER if WEAKER in verdicts else HOLDS
    column = paper.PAPER_DEVICE_COLUMN[device]
    averages = paper.table1_average_gflops()
    notes = [
        f"{operator_title(a).split()[0]}/{operator_title(b).split()[0]} "
        f"{ratio.value:.2f}× [{ratio.low:.2f}, {ratio.high:.2f}]"
        for (a, b), ratio in zip(pairs, ratios, strict=True)
    ]
    coverage = _coverage(rowset, ORDER, shapes)
    return ClaimResult(
        claim=claim,
        statement=statement,
        device=device,
        verdict=verdict,
        measured=min(ratio.value for ratio in ratios),
        low=min(ratio.low for ratio in ratios),
        high=min(ratio.high for ratio in ratios),
        paper=None,
        measured_text=" > ".join(_g(means[name].value) for name in ORDER) + " G/s",
        interval_text="; ".join(f"{ratio.low:.2f}–{ratio.high:.2f}×" for ratio in ratios),
        paper_text=" > ".join(_g(averages[name][column]) for name in ORDER) + " G/s",
        reason="; ".join(filter(None, ["ratios " + ", ".join(notes), coverage])),
        runs=rowset.runs,
    )


def claim_pconv_dwconv_ratio(rowset: RowSet) -> ClaimResult:
    """Table 1: PConv's average FLOPS over DWConv's (10.5× GPU, 6.2× CPU, 22.8× ARM)."""
    claimed = paper.pconv_dwconv_ratio(paper.PAPER_DEVICE_COLUMN[rowset.device])
    return _with_paper(_pconv_dwconv_ratio(rowset), claimed, f"{claimed:.1f}×")


def _with_paper(result: ClaimResult, value: float | None, text: str) -> ClaimResult:
    """The paper's value shown beside a claim that could not be judged, too."""
    if result.paper_text:
        return result
    return replace(result, paper=value if result.paper is None else result.paper, paper_text=text)


def _pconv_dwconv_ratio(rowset: RowSet) -> ClaimResult:
    claim, device = "pconv-dwconv-ratio", rowset.device
    column = paper.PAPER_DEVICE_COLUMN[device]
    claimed = paper.pconv_dwconv_ratio(column)
    statement = f"Table 1: PConv/DWConv FLOPS {claimed:.1f}× ({column.upper()})"
    names = ("pconv", "dwconv")
    found = _compared_means(claim, statement, rowset, names)
    if isinstance(found, ClaimResult):
        return found
    means, shapes = found
    pconv, dwconv = means["pconv"], means["dwconv"]
    return _ratio_result(
        claim,
        statement,
        device,
        pconv.over(dwconv),
        claimed,
        rowset.runs,
        show=lambda value: f"{value:.1f}×",
        reason=_coverage(rowset, names, shapes),
    )


def claim_pconv_counts(rowsets: Sequence[RowSet]) -> list[ClaimResult]:
    """Eqs. 2 and 5: PConv (r = 1/4) has 1/16 of Conv's FLOPs and about 1/4 of its memory access.

    Analytic counts stored with the rows, so one device's rows suffice; the range over the
    feature maps is shown (the weights' k²·c² term makes the memory ratio smaller at 7×7).
    """
    flops_claim = ("pconv-flops", "Eq. 4: PConv FLOPs 1/16 of Conv's")
    memory_claim = ("pconv-memory", "Eqs. 2, 5: PConv memory access ~1/4 of Conv's")
    pairs, runs = [], []
    for rowset in rowsets:
        if rowset.problem:
            continue
        conv = {r.shape_label: r for r in rowset.rows if r.operator == "conv" and paper_row(r)}
        for row in rowset.rows:
            if row.operator == "pconv" and row.shape_label in conv:
                pairs.append((row, conv[row.shape_label]))
        if pairs:
            runs = list(rowset.runs)
            break
    if not pairs:
        reason = (
            f"no Conv and PConv rows of the same shape; {_measure_operators('cpu', 'conv,pconv')}"
        )
        return [
            _not_judged(*flops_claim, "any", NOT_MEASURED, reason),
            _not_judged(*memory_claim, "any", NOT_MEASURED, reason),
        ]
    if not all(paper_row(pconv) for pconv, _ in pairs):
        params = pairs[0][0].operator_params
        reason = f"PConv rows use {params}; the paper's claim is for r = 1/4"
        return [
            _not_judged(*flops_claim, "any", NOT_COMPARABLE, reason, runs),
            _not_judged(*memory_claim, "any", NOT_COMPARABLE, reason, runs),
        ]
    flops = [pconv.flops / conv.flops for pconv, conv in pairs]
    memory = [
        (pconv.memory_access_bytes / conv.memory_access_bytes, pconv, conv) for pconv, conv in pairs
    ]
    implementation = [
        pconv.implementation_memory_access_bytes / conv.memory_access_bytes
        for pconv, conv in pairs
        if pconv.implementation_memory_access_bytes
    ]
    exact = all(math.isclose(value, 1 / 16, rel_tol=1e-3) for value in flops)
    results = [
        ClaimResult(
            *flops_claim,
            "any",
            HOLDS if exact else FAILS,
            measured=max(flops),
            low=min(flops),
            high=max(flops),
            paper=1 / 16,
            measured_text=_fraction(max(flops)),
            interval_text="exact (counted, not timed)",
            paper_text="1/16",
            reason=f"{len(flops)} feature maps",
            runs=tuple(runs),
        )
    ]
    low = min(memory, key=lambda item: item[0])
    high = max(memory, key=lambda item: item[0])
    # "About 1/4" as an upper bound: eq. 5's h·w·2c_p term is a quarter of Conv's, and the
    # weights' share is smaller still (1/16), so PConv never moves more than ~1/4.
    holds = high[0] <= 0.25 * 1.1
    copy_note = (
        f"; with the implementation's copy (slicing clone) "
        f"{_fraction(min(implementation))}–{_fraction(max(implementation))}"
        if implementation
        else ""
    )
    results.append(
        ClaimResult(
            *memory_claim,
            "any",
            HOLDS if holds else FAILS,
            measured=high[0],
            low=low[0],
            high=high[0],
            paper=0.25,
            measured_text=f"{_fraction(low[0])}–{_fraction(high[0])}",
            interval_text="exact (counted, not timed)",
            paper_text="1/4",
            reason=(
                f"{_fraction(high[0])} at {high[1].shape_label}, {_fraction(low[0])} at "
                f"{low[1].shape_label} (weights dominate){copy_note}"
            ),
            runs=tuple(runs),
        )
    )
    return results


def _fraction(value: float) -> str:
    """1/16.0 for a part of a whole; 1.25× where the part is more than the whole."""
    return f"1/{1 / value:.1f}" if 0 < value < 1 else f"{value:.2f}×"


def _g(value: float) -> str:
    """G/s as the paper prints them: whole numbers from 100 up, three digits below."""
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


# --- networks (Table 3) --------------------------------------------------------------------------


@dataclass(frozen=True)
class Speedup:
    """ "`fast` runs `times`× faster than `slow` on a device" (Table 3)."""

    claim: str
    fast: tuple[str, str]  # (the paper's name, fbench's model key)
    slow: tuple[str, str]
    statement: str  # with {paper} for the paper's value
    show: Callable[[float], str]
    devices: tuple[str, ...]


T0 = ("FasterNet-T0", "fasternet_t0")
MOBILEVIT_XXS = ("MobileViT-XXS", "mobilevit_xxs")
FASTERNET_L = ("FasterNet-L", "fasternet_l")
SWIN_B = ("Swin-B", "swin_base")
RESNET50 = ("ResNet50", "resnet50")


def _times(value: float) -> str:
    return f"{value:.2f}×"


def _higher_throughput(value: float) -> str:
    return f"{value - 1:+.0%}"


def _less_time(value: float) -> str:
    return f"{1 - 1 / value:.0%}"


SPEEDUPS = (
    Speedup(
        "t0-vs-mobilevit-xxs",
        T0,
        MOBILEVIT_XXS,
        "Table 3: FasterNet-T0 {paper} faster than MobileViT-XXS",
        _times,
        ("cuda", "cpu", "arm"),
    ),
    Speedup(
        "l-vs-swin-b",
        FASTERNET_L,
        SWIN_B,
        "Table 3: FasterNet-L {paper} throughput vs Swin-B",
        _higher_throughput,
        ("cuda",),
    ),
    Speedup(
        "l-vs-swin-b",
        FASTERNET_L,
        SWIN_B,
        "Table 3: FasterNet-L {paper} less time than Swin-B",
        _less_time,
        ("cpu",),
    ),
)


def paper_speed(network: str, column: str) -> float | None:
    """The paper's speed of a network on a column: throughput (GPU) or 1 / latency."""
    reference = paper.table3().get(network)
    if reference is None:
        return None
    if column == "gpu":
        return reference.gpu_fps
    latency = getattr(reference, f"{column}_latency_ms")
    return 1.0 / latency if latency else None


def paper_flops(network: str, column: str) -> float | None:
    """The paper's FLOPS (G multiply-adds/s) of a network: Table 3's FLOPs × its speed."""
    reference = paper.table3().get(network)
    speed = paper_speed(network, column)
    if reference is None or speed is None:
        return None
    return reference.flops_g * speed * (1.0 if column == "gpu" else 1000.0)


def _network_rows(rowset: RowSet) -> dict[str, ResultRow]:
    """A device's network rows by the paper's name (fbench's model key where none)."""
    return {row.network or row.operator: row for row in rowset.rows}


def _measure_networks(device: str, keys: Iterable[str]) -> str:
    return f"measure with: fbench run --suite networks --device {device} --models {','.join(keys)}"


def _network_problem(rowset: RowSet, needed: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """(verdict, reason) where the networks a claim needs are missing or not comparable."""
    if rowset.problem:
        return NOT_COMPARABLE, rowset.problem
    found = _network_rows(rowset)
    missing = [(name, key) for name, key in needed if name not in found and key not in found]
    if missing:
        return NOT_MEASURED, (
            f"no {', '.join(name for name, _ in missing)} row on {rowset.device}; "
            + _measure_networks(rowset.device, [key for _, key in needed])
        )
    rows = [found.get(name) or found[key] for name, key in needed]
    broken = [row for row in rows if not usable(row)]
    if broken:
        return NOT_MEASURED, (
            "; ".join(f"{row.network or row.operator} {_unusable_reason(row)}" for row in broken)
            + "; "
            + _measure_networks(rowset.device, [key for _, key in needed])
        )
    column = paper.PAPER_DEVICE_COLUMN[rowset.device]
    if rows[0].batch != paper.PAPER_BATCH[column]:
        return NOT_COMPARABLE, (
            f"{rowset.device} networks measured at batch {rows[0].batch}; the paper's "
            f"{column.upper()} column is at batch {paper.PAPER_BATCH[column]}"
        )
    if any(row_estimate(row) is None for row in rows):
        return NOT_COMPARABLE, "a row has no 95% interval (fewer than 6 samples)"
    return None


def claim_speedup(speedup: Speedup, rowset: RowSet) -> ClaimResult:
    """`speedup` on one device: the speed ratio of its two networks against Table 3's."""
    column = paper.PAPER_DEVICE_COLUMN[rowset.device]
    claimed = paper_speed(speedup.fast[0], column) / paper_speed(speedup.slow[0], column)
    return _with_paper(_speedup(speedup, rowset), claimed, speedup.show(claimed))


def _speedup(speedup: Speedup, rowset: RowSet) -> ClaimResult:
    device = rowset.device
    column = paper.PAPER_DEVICE_COLUMN[device]
    fast_name, slow_name = speedup.fast[0], speedup.slow[0]
    claimed = paper_speed(fast_name, column) / paper_speed(slow_name, column)
    statement = speedup.statement.format(paper=speedup.show(claimed))
    problem = _network_problem(rowset, (speedup.fast, speedup.slow))
    if problem:
        return _not_judged(speedup.claim, statement, device, *problem, rowset.runs)
    found = _network_rows(rowset)
    fast = found.get(fast_name) or found[speedup.fast[1]]
    slow = found.get(slow_name) or found[speedup.slow[1]]
    ratio = row_estimate(fast, speed=True).over(row_estimate(slow, speed=True))
    return _ratio_result(
        speedup.claim, statement, device, ratio, claimed, rowset.runs, speedup.show
    )


def claim_below_resnet50(rowset: RowSet) -> ClaimResult:
    """Which networks' FLOPS fall below ResNet50's (the paper's motivation, Table 3's speeds)."""
    device = rowset.device
    column = paper.PAPER_DEVICE_COLUMN[device]
    claim, statement = "below-resnet50", "Table 3: networks with FLOPS below ResNet50's"
    problem = _network_problem(rowset, (RESNET50,))
    if problem:
        return _not_judged(claim, statement, device, *problem, rowset.runs)
    found = _network_rows(rowset)
    resnet = found.get(RESNET50[0]) or found[RESNET50[1]]
    reference = paper_flops(RESNET50[0], column)
    items, skipped = [], []
    for name, row in found.items():
        if row is resnet:
            continue
        theirs = paper_flops(name, column)
        if theirs is None:
            skipped.append(f"{name} (not in the paper's {column.upper()} column)")
            continue
        if not usable(row) or row_estimate(row) is None:
            why = _unusable_reason(row) if not usable(row) else "no interval"
            skipped.append(f"{name} ({why.split(' (')[0]})")
            continue
        ratio = row_estimate(row).over(row_estimate(resnet))
        here = "below" if ratio.high < 1 else "above" if ratio.low > 1 else "tie"
        items.append((name, here, "below" if theirs < reference else "above"))
    if not items:
        return _not_judged(
            claim,
            statement,
            device,
            NOT_MEASURED,
            f"no network of Table 3 beside ResNet50 on {device}; "
            + _measure_networks(device, ["mobilenetv2_100", "mobilevit_xxs", RESNET50[1]]),
            rowset.runs,
        )
    against = [f"{n} ({h} here, {p} in the paper)" for n, h, p in items if h not in (p, "tie")]
    ties = [name for name, here, _ in items if here == "tie"]
    agree = sum(here == theirs for _, here, theirs in items)
    below_here = [name for name, here, _ in items if here == "below"]
    details = []
    if against:
        details.append(f"against the paper: {', '.join(against)}")
    if ties:
        details.append(f"interval includes ResNet50's: {', '.join(ties)}")
    if skipped:
        details.append(f"not judged: {', '.join(skipped)}")
    if len(items) <= 6:
        details.append(f"below ResNet50 here: {', '.join(below_here) or 'none'}")
    return ClaimResult(
        claim=claim,
        statement=statement,
        device=device,
        verdict=FAILS if against else WEAKER if ties else HOLDS,
        measured=float(agree),
        paper=float(len(items)),
        measured_text=f"{len(below_here)} of {len(items)} below",
        interval_text=f"{agree} of {len(items)} resolved as the paper",
        paper_text=f"{sum(theirs == 'below' for _, _, theirs in items)} of {len(items)} below",
        reason="; ".join(details),
        items=tuple(items),
        runs=rowset.runs,
    )


# --- the roofline: fbench's own claim that its ceilings bound the data ---------------------------


def claim_under_roof(rowset: RowSet, calibration: Calibration | None) -> ClaimResult | None:
    """Every Table 1 row under the device's measured roofline (None: no calibration given)."""
    from reports.roofline import CEILING_TOO_LOW, roofline_point

    if calibration is None:
        return None
    claim, statement, device = (
        "under-roof",
        "fbench: every operator row under its roofline",
        rowset.device,
    )
    if rowset.problem:
        return _not_judged(claim, statement, device, NOT_COMPARABLE, rowset.problem, rowset.runs)
    if not rowset.rows:
        return _not_judged(
            claim,
            statement,
            device,
            NOT_MEASURED,
            _measure_operators(device, "conv,gconv,dwconv,pconv"),
        )
    dtype = rowset.rows[0].dtype
    if (calibration.device, calibration.dtype) != (device, dtype):
        return _not_judged(
            claim,
            statement,
            device,
            NOT_COMPARABLE,
            f"calibration {calibration.identity} is for {calibration.device}/"
            f"{calibration.dtype}, the rows are {device}/{dtype}",
            rowset.runs,
        )
    model = device_model(calibration.environment)
    if "unknown" not in (model, rowset.model) and model != rowset.model:
        return _not_judged(
            claim,
            statement,
            device,
            NOT_COMPARABLE,
            f"calibration {calibration.identity} was measured on {model}, the rows on "
            f"{rowset.model}",
            rowset.runs,
        )
    points = [roofline_point(row, calibration) for row in rowset.rows if usable(row)]
    points = [point for point in points if point is not None]
    if not points:  # no verdict from nothing: every row was disturbed or failed
        return _not_judged(
            claim,
            statement,
            device,
            NOT_MEASURED,
            f"no usable operator rows{_why_unusable(rowset.rows)}; "
            + _measure_operators(device, "conv,gconv,dwconv,pconv"),
            rowset.runs,
        )
    above = [f"{p.title} {p.shape_label}" for p in points if p.roof == CEILING_TOO_LOW]
    return ClaimResult(
        claim=claim,
        statement=statement,
        device=device,
        verdict=FAILS if above else HOLDS,
        measured=float(len(points) - len(above)),
        paper=float(len(points)),
        measured_text=f"{len(points) - len(above)} of {len(points)} rows under",
        interval_text="row and roof 95% intervals",
        paper_text="—",
        reason="; ".join(
            [
                *([f"{CEILING_TOO_LOW}: {', '.join(above)}"] if above else []),
                f"calibration {calibration.identity}",
            ]
        ),
        runs=rowset.runs,
    )


# --- all claims ----------------------------------------------------------------------------------


def check_claims(
    runs: Sequence[RunResult], calibrations: Mapping[str, Calibration] | None = None
) -> list[ClaimResult]:
    """Every claim on every device of `runs` the paper has a column for, in the paper's order."""
    present = {row.device for run in runs for row in run.rows}
    devices = [device for device in DEVICES if device in present]
    if not devices:
        return []
    operators = {device: select_rows(runs, device, "operators") for device in devices}
    networks = {device: select_rows(runs, device, "networks") for device in devices}
    results: list[ClaimResult] = []
    for device in devices:
        results.append(claim_table1_order(operators[device]))
        results.append(claim_pconv_dwconv_ratio(operators[device]))
    results += claim_pconv_counts([operators[device] for device in devices])
    for speedup in SPEEDUPS:
        results += [claim_speedup(speedup, networks[d]) for d in devices if d in speedup.devices]
    results += [claim_below_resnet50(networks[device]) for device in devices]
    for device in devices:
        checked = claim_under_roof(operators[device], (calibrations or {}).get(device))
        if checked is not None:
            results.append(checked)
    return results


def unjudged_devices(runs: Sequence[RunResult]) -> list[str]:
    """Devices in `runs` the paper has no column for: their rows are not judged."""
    present = dict.fromkeys(row.device for run in runs for row in run.rows)
    return [device for device in present if device not in DEVICES]


METHOD = (
    "Intervals: 95%, from the rows' latency intervals; a mean's half-width is "
    "sqrt(sum (h_i g_i)^2) / n, a ratio's log half-width the two log half-widths in "
    "quadrature. holds: the interval reaches the paper's value; holds weaker: below it but "
    "the same direction; fails: the interval excludes the paper's value and its direction."
)


def claims_table(results: Sequence[ClaimResult], notes: Sequence[str] = ()) -> Table:
    """The claims as a `reports.render` table: one line each; reasons as notes under it."""
    headers = ["Claim", "Device", "Measured", "95% interval", "Paper", "Verdict"]
    rows: list[list[object]] = [
        [
            r.statement,
            r.device,
            r.measured_text or "—",
            r.interval_text or "—",
            r.paper_text or "—",
            r.verdict,
        ]
        for r in results
    ]
    lines = [
        f"{r.device} {r.claim}: {r.verdict}" + (f": {r.reason}" if r.reason else "")
        for r in results
        if r.reason
    ]
    return Table(headers=headers, rows=rows, notes=[*lines, *notes, METHOD])


def claims_json(results: Sequence[ClaimResult], notes: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "schema": "fbench.claims/1",
        "claims": [result.to_dict() for result in results],
        "notes": list(notes),
        "method": METHOD,
        "verdicts": list(VERDICTS),
    }
