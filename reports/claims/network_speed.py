"""Table 3's claims on networks: FasterNet-T0 against MobileViT-XXS and FasterNet-L against
Swin-B (speed ratios), and which networks' FLOPS fall below ResNet50's (the paper's
motivation). Measured values: docs/claims.md."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from fbench.bench.results import ResultRow
from fbench.reports import paper
from fbench.reports.claims.model import (
    FAILS,
    HOLDS,
    NO_INTERVAL,
    NOT_COMPARABLE,
    NOT_MEASURED,
    WEAKER,
    ClaimResult,
    not_judged,
    ratio_result,
    row_estimate,
    times,
    with_paper,
)
from fbench.reports.claims.rows import RowSet, unusable_reason, usable

# A network as (the paper's name, fbench's model key).
Network = tuple[str, str]


@dataclass(frozen=True)
class Speedup:
    """ "`fast` runs `times`× faster than `slow` on a device" (Table 3)."""

    claim: str
    fast: Network
    slow: Network
    statement: str  # with {paper} for the paper's value
    show: Callable[[float], str]
    devices: tuple[str, ...]


T0 = ("FasterNet-T0", "fasternet_t0")
MOBILEVIT_XXS = ("MobileViT-XXS", "mobilevit_xxs")
FASTERNET_L = ("FasterNet-L", "fasternet_l")
SWIN_B = ("Swin-B", "swin_base")
RESNET50 = ("ResNet50", "resnet50")


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
        times,
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


def _row_of(found: dict[str, ResultRow], network: Network) -> ResultRow | None:
    """A network's row, found by the paper's name or fbench's model key."""
    name, key = network
    return found.get(name) or found.get(key)


def _measure_networks(device: str, keys: Iterable[str]) -> str:
    return f"measure with: fbench run --suite networks --device {device} --models {','.join(keys)}"


def _network_problem(rowset: RowSet, needed: Sequence[Network]) -> tuple[str, str] | None:
    """(verdict, reason) where the networks a claim needs are missing or not comparable."""
    if rowset.problem:
        return NOT_COMPARABLE, rowset.problem
    found = _network_rows(rowset)
    measure = _measure_networks(rowset.device, [key for _, key in needed])
    missing = [name for name, key in needed if name not in found and key not in found]
    if missing:
        return NOT_MEASURED, f"no {', '.join(missing)} row on {rowset.device}; {measure}"
    rows = [_row_of(found, network) for network in needed]
    broken = [row for row in rows if not usable(row)]
    if broken:
        return NOT_MEASURED, (
            "; ".join(f"{row.network or row.operator} {unusable_reason(row)}" for row in broken)
            + f"; {measure}"
        )
    column = paper.PAPER_DEVICE_COLUMN[rowset.device]
    if rows[0].batch != paper.PAPER_BATCH[column]:
        return NOT_COMPARABLE, (
            f"{rowset.device} networks measured at batch {rows[0].batch}; the paper's "
            f"{column.upper()} column is at batch {paper.PAPER_BATCH[column]}"
        )
    if any(row_estimate(row) is None for row in rows):
        return NOT_COMPARABLE, NO_INTERVAL
    return None


def claim_speedup(speedup: Speedup, rowset: RowSet) -> ClaimResult:
    """`speedup` on one device: the speed ratio of its two networks against Table 3's."""
    column = paper.PAPER_DEVICE_COLUMN[rowset.device]
    claimed = paper_speed(speedup.fast[0], column) / paper_speed(speedup.slow[0], column)
    return with_paper(_speedup(speedup, rowset, claimed), claimed, speedup.show(claimed))


def _speedup(speedup: Speedup, rowset: RowSet, claimed: float) -> ClaimResult:
    statement = speedup.statement.format(paper=speedup.show(claimed))
    problem = _network_problem(rowset, (speedup.fast, speedup.slow))
    if problem:
        return not_judged(speedup.claim, statement, rowset.device, *problem, rowset.runs)
    found = _network_rows(rowset)
    fast = row_estimate(_row_of(found, speedup.fast), speed=True)
    slow = row_estimate(_row_of(found, speedup.slow), speed=True)
    return ratio_result(
        speedup.claim,
        statement,
        rowset.device,
        fast.over(slow),
        claimed,
        rowset.runs,
        speedup.show,
    )


def claim_below_resnet50(rowset: RowSet) -> ClaimResult:
    """Which networks' FLOPS fall below ResNet50's (the paper's motivation, Table 3's speeds)."""
    device = rowset.device
    column = paper.PAPER_DEVICE_COLUMN[device]
    claim, statement = "below-resnet50", "Table 3: networks with FLOPS below ResNet50's"
    problem = _network_problem(rowset, (RESNET50,))
    if problem:
        return not_judged(claim, statement, device, *problem, rowset.runs)
    found = _network_rows(rowset)
    resnet = _row_of(found, RESNET50)
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
            why = unusable_reason(row) if not usable(row) else "no interval"
            skipped.append(f"{name} ({why.split(' (')[0]})")
            continue
        ratio = row_estimate(row).over(row_estimate(resnet))
        here = "below" if ratio.high < 1 else "above" if ratio.low > 1 else "tie"
        items.append((name, here, "below" if theirs < reference else "above"))
    if not items:
        return not_judged(
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
