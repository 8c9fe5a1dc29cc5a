"""The host-speed probe: one fixed GEMM timed in every round, beside the rows.

Why: on shared hosts the whole machine speeds up and slows down together: every row of
Table 1 moves by the same several percent between sweeps whose own 95% intervals are ±1%, a
compute-speed swing of the host (clock, a neighbour on the sibling hyperthread), not of the
code (docs/methodology.md, "The host's own speed"). No amount of sampling inside one run
removes it, and a regression gate that ignores it raises false alarms. A fixed workload that
does not change with the code under test, timed in the same interleaved rounds as the rows,
measures that swing: it is stored with every row (its median in each round the row was
sampled in), `fbench show` reports how much it moved, and `fbench compare` uses it to tell a
host that got slower from code that got slower.

A dense GEMM is the probe because the swing is a compute-speed swing: the probe's round
medians follow the convolution rows' closely, while a memory copy's barely move. It is small
(256³ multiply-adds, well under a round on a CPU and on a Pi 4) so a slice of it fits in
every round.

This module builds, warms and samples the probe and makes the record a row stores; the
runner calls it in every round; the arithmetic on its round medians is
bench/stats/host_probe.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fbench.bench.config.model import TimingConfig
from fbench.bench.stats.host_probe import (
    COPY_MIB,
    SIZE,
    SMALL_CONV,
    SMALL_CONV_HW,
    WORKLOAD,
    round_median,
)


def build(torch_device: str, seed: int = 0) -> Callable[[], object]:
    """The probe call, on the device the rows run on (inputs made once, fixed seed)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    a = torch.randn(SIZE, SIZE, generator=generator).to(torch_device)
    b = torch.randn(SIZE, SIZE, generator=generator).to(torch_device)
    return lambda: torch.mm(a, b)


def build_copy(torch_device: str) -> Callable[[], object]:
    """The bandwidth anchor: one copy of COPY_MIB MiB into another buffer. Rows that stream
    memory (DWConv) drift with the memory system, which a GEMM does not feel (docs/
    methodology.md, "The host's own speed"), so the paired estimates have one anchor of each
    kind (bench/stats/paired.py)."""
    import torch

    elements = COPY_MIB * 1024 * 1024 // 4
    source = torch.ones(elements, device=torch_device)
    target = torch.empty_like(source)
    return lambda: target.copy_(source)


def build_small_conv(torch_device: str, seed: int = 0) -> Callable[[], object]:
    """The latency anchor: one small 3×3 convolution (fixed seed), like the smallest rows:
    a host mode that slows short, dispatch-bound calls and leaves a GEMM or a copy alone
    moves it as it moves them (bench/stats/host_probe.py, SMALL_CONV)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    shape = (1, SMALL_CONV, SMALL_CONV_HW, SMALL_CONV_HW)
    x = torch.randn(*shape, generator=generator).to(torch_device)
    weight = torch.randn(SMALL_CONV, SMALL_CONV, 3, 3, generator=generator).to(torch_device)

    def call() -> object:
        with torch.no_grad():
            return torch.nn.functional.conv2d(x, weight, padding=1)

    return call


def start(
    session: Any, settings: TimingConfig, seed: int, kind: str = "gemm"
) -> Callable[[], object]:
    """An anchor (`kind` "gemm": the host probe, "copy" or "smallconv"), built on the
    session's device and warmed up like a row."""
    device = session.torch_device
    if kind == "gemm":
        probe = build(device, seed)
    elif kind == "copy":
        probe = build_copy(device)
    else:
        probe = build_small_conv(device, seed)
    session.measure(probe, budget_s=max(settings.warmup_min_s, settings.round_s))
    return probe


def sample(
    anchor: Callable[[], object], session: Any, settings: TimingConfig, kind: str = "gemm"
) -> float:
    """An anchor's median in one round, in ms (`kind`: which anchor it is, so that a test can
    make one of them fail and not the others)."""
    samples_s = session.measure(anchor, budget_s=settings.round_s)
    return round_median([s * 1000.0 for s in samples_s])


def record(
    round_medians_ms: list[float],
    failure: dict[str, Any] | None = None,
    drift: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """A row's `host_probe`: the probe's median in each round the row was sampled in, the
    failure if the probe failed meanwhile, and the host's sustained drift over those rounds
    (bench/stats/host_probe.py `drift`); None for a row sampled without a probe."""
    if not round_medians_ms and failure is None:
        return None
    stored: dict[str, Any] = {
        "workload": WORKLOAD,
        "round_medians_ms": [round(value, 6) for value in round_medians_ms],
    }
    if failure is not None:
        stored["failure"] = failure
    if drift is not None:
        stored["drift"] = drift
    return stored
