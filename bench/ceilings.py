"""Measure a device's roofline ceilings: dense GEMM, a streaming copy and triad, a cached copy.

The kernels run in an open device session, so the thread count and core pinning are the
ones `fbench run` measures operators under: a single-thread GEMM is the ceiling a
single-thread Conv can be held to, not the whole socket's. Kernels are sampled in
interleaved rounds (as the runner does with rows) so a slow spell on a shared host hits
every ceiling alike, and summarised by the median with its 95% interval (`bench.timing`).

What is counted: GEMM n×n×n is n³ multiply-adds (the paper's FLOPs unit); a copy moves
2 × size bytes (one read, one write; the write-allocate read a CPU may add is not counted,
as STREAM does not count it); the triad a = b + s·c moves 3 × size bytes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench import timing
from bench.calibration import Ceiling, ceiling_from_latencies
from operators.counting import DTYPE_BYTES

MiB = 2**20


@dataclass(frozen=True)
class CalibrationPlan:
    """Problem sizes and how long to sample; one per device kind, `quick` for smoke tests."""

    gemm_n: int = 1024  # 1024³: METHOD.md's single-thread GEMM (≈ 46 GMAC/s here)
    memory_bytes: int = 256 * MiB  # per buffer: far beyond any per-core cache share
    cache_bytes: int | None = None  # per buffer; None: a quarter of the L2 size, if known
    cache_repeats: int = 0  # copies per timed call; 0: enough to copy ~4 MiB per call
    rounds: int = 5
    round_s: float = 0.5  # sampling time per kernel per round
    warmup_s: float = 0.3


PLANS: dict[str, CalibrationPlan] = {
    # ~15 s in all on one core: 4 kernels × 5 rounds × 0.5 s, plus warm-up and allocation.
    "cpu": CalibrationPlan(),
    # A GPU needs large problems to fill it: an 8192³ GEMM, 1 GiB buffers, and 32 L2-sized
    # copies per timed call so that each call is long beside the events' resolution.
    "cuda": CalibrationPlan(gemm_n=8192, memory_bytes=1024 * MiB, cache_repeats=32),
    # A Raspberry Pi 4 has 1-8 GB of memory: keep the buffers modest.
    "arm": CalibrationPlan(gemm_n=512, memory_bytes=64 * MiB),
}
QUICK_PLAN = CalibrationPlan(
    gemm_n=96,
    memory_bytes=4 * MiB,
    cache_bytes=64 * 1024,
    cache_repeats=4,
    rounds=2,
    round_s=0.02,
    warmup_s=0.01,
)


def plan_for(device: str, quick: bool = False, **overrides: Any) -> CalibrationPlan:
    """The device's plan (the CPU's for a device without one), with flags applied."""
    plan = QUICK_PLAN if quick else PLANS.get(device, PLANS["cpu"])
    given = {name: value for name, value in overrides.items() if value is not None}
    return replace(plan, **given)


def l2_cache_bytes(torch_device: str, core: int | None) -> int | None:
    """The L2 size of the pinned core (sysfs) or of the GPU; None where it cannot be read."""
    if torch_device.startswith("cuda"):
        import torch

        properties = torch.cuda.get_device_properties(torch.cuda.current_device())
        return getattr(properties, "L2_cache_size", None) or None
    base = Path(f"/sys/devices/system/cpu/cpu{core or 0}/cache")
    for index in sorted(base.glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if level == "2" and kind in ("Unified", "Data"):
            units = {"K": 1024, "M": MiB, "G": 1024 * MiB}
            if size[-1:] in units:
                return int(size[:-1]) * units[size[-1]]
            return int(size)
    return None


@dataclass
class _Kernel:
    name: str
    kind: str
    call: Callable[[], object]
    work_per_call: float
    details: dict[str, Any]
    samples_s: list[float]


def _kernels(
    torch_device: str, dtype_name: str, plan: CalibrationPlan, core: int | None
) -> list[_Kernel]:
    import torch

    dtype = getattr(torch, dtype_name)
    width = DTYPE_BYTES[dtype_name]
    kernels = []

    n = plan.gemm_n
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, generator=generator).to(torch_device, dtype) for _ in range(2))
    c = torch.empty(n, n, device=torch_device, dtype=dtype)
    details: dict[str, Any] = {"n": n, "counted": "n³ multiply-adds"}
    if torch_device.startswith("cuda"):
        # fp32 GEMM on tensor cores (TF32) is another, higher ceiling; record which was used.
        # Read through the CUDA device's helper: torch ≥ 2.9 refuses the legacy flag once
        # the new fp32_precision API has been used (as the CUDA session does).
        from devices.cuda import read_tf32

        details["fp32_precision"] = read_tf32(torch)
    kernels.append(
        _Kernel("gemm", "compute", lambda: torch.mm(a, b, out=c), float(n**3), details, [])
    )

    elements = plan.memory_bytes // width
    # Filled, not empty: every page is touched before timing, so no page faults are timed.
    src = torch.full((elements,), 1.0, device=torch_device, dtype=dtype)
    dst = torch.full((elements,), 2.0, device=torch_device, dtype=dtype)
    third = torch.full((elements,), 3.0, device=torch_device, dtype=dtype)
    size = elements * width
    kernels.append(
        _Kernel(
            "memory_copy",
            "bandwidth",
            lambda: dst.copy_(src),
            2.0 * size,
            {"bytes_per_buffer": size, "counted": "read + write (2 × buffer)"},
            [],
        )
    )
    kernels.append(
        _Kernel(
            "memory_triad",
            "bandwidth",
            lambda: torch.add(src, third, alpha=3.0, out=dst),
            3.0 * size,
            {"bytes_per_buffer": size, "counted": "2 reads + 1 write (3 × buffer)"},
            [],
        )
    )

    l2 = l2_cache_bytes(torch_device, core)
    cache_bytes = plan.cache_bytes or (l2 // 4 if l2 else None)
    if cache_bytes:
        cache_elements = cache_bytes // width
        small_src = torch.full((cache_elements,), 1.0, device=torch_device, dtype=dtype)
        small_dst = torch.full((cache_elements,), 2.0, device=torch_device, dtype=dtype)
        small = cache_elements * width
        # Several copies per timed call so the clock's own cost is small beside them; each
        # copy still pays torch's per-op dispatch, as every operator in a stack does.
        repeats = plan.cache_repeats or max(1, (4 * MiB) // small)

        def cached_copies() -> None:
            for _ in range(repeats):
                small_dst.copy_(small_src)

        kernels.append(
            _Kernel(
                "cache_copy",
                "bandwidth",
                cached_copies,
                2.0 * small * repeats,
                {
                    "bytes_per_buffer": small,
                    "repeats_per_call": repeats,
                    "l2_bytes": l2,
                    "counted": "read + write per copy; both buffers fit in half the L2",
                },
                [],
            )
        )
    return kernels


def cuda_event_times(call: Callable[[], object], budget_s: float) -> list[float]:
    """Per-call seconds from CUDA events around each call, synchronised in blocks of 10.

    Host clocks around an asynchronous launch measure the launch, not the work; events are
    recorded on the stream and read after a synchronize.
    """
    import torch

    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    with torch.inference_mode():
        while True:
            events = []
            for _ in range(10):
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                call()
                end.record()
                events.append((start, end))
            torch.cuda.synchronize()
            samples.extend(start.elapsed_time(end) / 1000.0 for start, end in events)
            if time.perf_counter() >= deadline:
                return samples


def _timer(session: Any) -> Callable[[Callable[[], object], float], list[float]]:
    if str(session.torch_device).startswith("cuda"):
        return cuda_event_times
    return lambda call, budget_s: session.measure(call, budget_s=budget_s)


def measure_ceilings(
    session: Any,
    dtype: str,
    plan: CalibrationPlan,
    emit: Callable[[str], None] = lambda message: None,
) -> tuple[dict[str, Ceiling], dict[str, Any]]:
    """Measure every ceiling on an open session; (ceilings by name, the plan as recorded)."""
    core = getattr(session, "core", None)
    emit("allocating buffers")
    kernels = _kernels(str(session.torch_device), dtype, plan, core)
    measure = _timer(session)
    for kernel in kernels:
        emit(f"warming up {kernel.name}")
        measure(kernel.call, plan.warmup_s)
    order = random.Random(0)
    for round_number in range(1, plan.rounds + 1):
        emit(f"round {round_number}/{plan.rounds}")
        for kernel in order.sample(kernels, len(kernels)):
            kernel.samples_s.extend(measure(kernel.call, plan.round_s))
    ceilings = {
        kernel.name: ceiling_from_latencies(
            kernel.name,
            kernel.kind,
            kernel.work_per_call,
            timing.summarize([s * 1000.0 for s in kernel.samples_s]),
            kernel.details,
        )
        for kernel in kernels
    }
    return ceilings, asdict(plan)


def describe(ceilings: Mapping[str, Ceiling]) -> list[str]:
    """One line per ceiling for the terminal: rate, interval, samples."""
    lines = []
    for ceiling in ceilings.values():
        interval = (
            f"[{ceiling.ci95_low:.1f}, {ceiling.ci95_high:.1f}]"
            if ceiling.ci95_low is not None and ceiling.ci95_high is not None
            else "[no interval: < 6 samples]"
        )
        lines.append(
            f"{ceiling.name:<13} {ceiling.median:10.1f} {ceiling.unit:<7} 95% CI {interval}"
            f"  n={ceiling.latency_ms.n}"
        )
    return lines
