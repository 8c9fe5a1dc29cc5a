"""Measure a device's roofline ceilings as the best of a small sweep of probes.

Longer than ~350 lines on purpose: it has one concern, the probe sweep `fbench calibrate`
runs (its plans, kernels, timers and clock reading).

Compute: dense GEMM at several sizes, and 3×3 convolutions at Table 1 shapes through
`torch.nn.functional.conv2d`, the library path the operators take (oneDNN on a CPU, cuDNN on
a GPU): one GEMM size through one library is not a device's ceiling, and on some CPUs
(AMD's, with torch's fp32 GEMM) the convolution path is the faster one. Bandwidth: streaming
copies of two DRAM-sized buffers and a triad; a copy that fits in L2. Each ceiling is the
best probe of its kind; every probe is stored.

The kernels run in an open device session, so the thread count and core pinning are the
ones `fbench run` measures operators under: a single-thread ceiling is the one a
single-thread Conv can be held to, not the whole socket's. Probes are sampled in
interleaved rounds (as the runner does with rows) so a slow spell on a shared host hits
every probe alike, and summarised by the median with its 95% interval (`fbench.bench.stats.timing`).
The clock is read once per round, for the theoretical peak.

What is counted: GEMM n×n×n is n³ multiply-adds (the paper's FLOPs unit); a 3×3 conv is
h·w·9·c² per layer and sample; a copy moves 2 × size bytes (one read, one write; the
write-allocate read a CPU may add is not counted, as STREAM does not count it); the triad
a = b + s·c moves 3 × size bytes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from fbench.bench import environment
from fbench.bench.calibration.model import Ceiling, ceiling_from_latencies
from fbench.bench.stats import timing
from fbench.operators.counting import DTYPE_BYTES

MiB = 2**20
# Table 1's first three feature maps: the stages where the paper's Conv is fastest.
TABLE1_CONV_SHAPES = ((96, 56, 56), (192, 28, 28), (384, 14, 14))


@dataclass(frozen=True)
class CalibrationPlan:
    """Problem sizes and how long to sample; one per device kind, `quick` for smoke tests."""

    gemm_sizes: tuple[int, ...] = (256, 512, 1024, 2048)
    conv_shapes: tuple[tuple[int, int, int], ...] = TABLE1_CONV_SHAPES  # (c, h, w)
    conv_layers: int = 4  # chained 3×3 convs per timed call, distinct weights, as in a stack
    conv_batch: int = 1  # the device's Table 1 batch
    memory_bytes: int = 256 * MiB  # the largest streaming buffer; a quarter of it is probed too
    cache_bytes: int | None = None  # per buffer; None: a quarter of the L2 size, if known
    cache_repeats: int = 0  # copies per timed call; 0: enough to copy ~4 MiB per call
    rounds: int = 4
    round_s: float = 0.3  # sampling time per probe per round
    warmup_s: float = 0.15

    @property
    def copy_sizes(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys((self.memory_bytes // 4, self.memory_bytes)))


PLANS: dict[str, CalibrationPlan] = {
    # ~20 s in all on one core: 11 probes × 4 rounds × 0.3 s, plus warm-up and allocation.
    "cpu": CalibrationPlan(),
    # A GPU needs large problems to fill it, Table 1's batch of 32, 1 GiB buffers, and 32
    # L2-sized copies per timed call so that each call is long beside the events' resolution.
    "cuda": CalibrationPlan(
        gemm_sizes=(1024, 2048, 4096, 8192),
        conv_shapes=(*TABLE1_CONV_SHAPES, (768, 7, 7)),
        conv_batch=32,
        memory_bytes=1024 * MiB,
        cache_repeats=32,
    ),
    # A Raspberry Pi 4 has 1-8 GB of memory and does ~4 GMAC/s: modest sizes, one layer.
    "arm": CalibrationPlan(
        gemm_sizes=(128, 256, 512), conv_layers=1, memory_bytes=64 * MiB, round_s=0.5
    ),
}
QUICK_PLAN = CalibrationPlan(
    gemm_sizes=(64, 96),
    conv_shapes=((16, 8, 8),),
    conv_layers=2,
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
    name: str  # the probe, e.g. "gemm_512"
    ceiling: str  # the ceiling it competes for, e.g. "gemm"
    kind: str
    call: Callable[[], object]
    work_per_call: float
    details: dict[str, Any]
    samples_s: list[float] = field(default_factory=list)


def _size_label(size: int) -> str:
    return f"{size // MiB}MiB" if size % MiB == 0 else f"{size // 1024}KiB"


def _kernels(
    torch_device: str, dtype_name: str, plan: CalibrationPlan, core: int | None
) -> list[_Kernel]:
    import torch
    import torch.nn.functional as functional

    dtype = getattr(torch, dtype_name)
    width = DTYPE_BYTES[dtype_name]
    kernels = []
    generator = torch.Generator().manual_seed(0)

    def randn(*shape: int) -> Any:
        return torch.randn(*shape, generator=generator).to(torch_device, dtype)

    extra: dict[str, Any] = {}
    if torch_device.startswith("cuda"):
        # fp32 GEMM on tensor cores (TF32) is another, higher ceiling; record which was used.
        # Read through the CUDA device's helper: torch ≥ 2.9 refuses the legacy flag once
        # the new fp32_precision API has been used (as the CUDA session does).
        from fbench.devices.cuda import read_tf32

        extra["fp32_precision"] = read_tf32(torch)

    for n in plan.gemm_sizes:
        a, b = randn(n, n), randn(n, n)
        c = torch.empty(n, n, device=torch_device, dtype=dtype)
        kernels.append(
            _Kernel(
                f"gemm_{n}",
                "gemm",
                "compute",
                lambda a=a, b=b, c=c: torch.mm(a, b, out=c),
                float(n**3),
                {"n": n, "shape": [n, n, n], "counted": "n³ multiply-adds", **extra},
            )
        )

    for channels, height, width_px in plan.conv_shapes:
        x = randn(plan.conv_batch, channels, height, width_px)
        weights = [randn(channels, channels, 3, 3) for _ in range(plan.conv_layers)]

        def convs(x: Any = x, weights: list[Any] = weights) -> Any:
            for weight in weights:
                x = functional.conv2d(x, weight, padding=1)
            return x

        flops = plan.conv_batch * plan.conv_layers * height * width_px * 9 * channels**2
        kernels.append(
            _Kernel(
                f"conv3x3_{channels}x{height}x{width_px}",
                "conv",
                "compute",
                convs,
                float(flops),
                {
                    "shape": [plan.conv_batch, channels, height, width_px],
                    "layers": plan.conv_layers,
                    "counted": "batch × layers × h·w·9·c² multiply-adds (dense 3×3, stride 1)",
                    "library": "torch.nn.functional.conv2d",
                    **extra,
                },
            )
        )

    largest = max(plan.copy_sizes) // width
    # Filled, not empty: every page is touched before timing, so no page faults are timed.
    src = torch.full((largest,), 1.0, device=torch_device, dtype=dtype)
    dst = torch.full((largest,), 2.0, device=torch_device, dtype=dtype)
    third = torch.full((largest,), 3.0, device=torch_device, dtype=dtype)
    for size_bytes in plan.copy_sizes:
        elements = size_bytes // width
        size = elements * width
        # Views of the largest buffers: no extra memory for the smaller probe.
        kernels.append(
            _Kernel(
                f"memory_copy_{_size_label(size)}",
                "memory_copy",
                "bandwidth",
                lambda d=dst[:elements], s=src[:elements]: d.copy_(s),
                2.0 * size,
                {"bytes_per_buffer": size, "counted": "read + write (2 × buffer)"},
            )
        )
    size = largest * width
    kernels.append(
        _Kernel(
            f"memory_triad_{_size_label(size)}",
            "memory_triad",
            "bandwidth",
            lambda: torch.add(src, third, alpha=3.0, out=dst),
            3.0 * size,
            {"bytes_per_buffer": size, "counted": "2 reads + 1 write (3 × buffer)"},
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
                f"cache_copy_{_size_label(small)}",
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


@dataclass(frozen=True)
class Sweep:
    """What a calibration measured: every probe, the best per ceiling, the plan and clocks."""

    ceilings: dict[str, Ceiling]
    probes: dict[str, Ceiling]
    plan: dict[str, Any]
    clock_mhz: list[float]  # read once per round (CPU); empty where unknown
    clock_source: str | None = None


def best_per_ceiling(probes: Mapping[str, Ceiling]) -> dict[str, Ceiling]:
    """Each ceiling is its fastest probe (by median), renamed to the ceiling, its probe noted."""
    best: dict[str, Ceiling] = {}
    for name, probe in probes.items():
        ceiling = probe.details.get("ceiling", name)
        if ceiling not in best or probe.median > best[ceiling].median:
            best[ceiling] = replace(probe, name=ceiling, details={**probe.details, "probe": name})
    return best


CLOCK_SOURCES = ("cpufreq scaling_cur_freq", "/proc/cpuinfo cpu MHz")


def read_clock_mhz(core: int | None) -> tuple[float | None, str | None]:
    """The core's current clock and where it was read: sysfs, else /proc/cpuinfo."""
    cpu = core or 0
    current = environment.cpu_frequency_mhz(cpu).get("current")
    if current:
        return current, CLOCK_SOURCES[0]
    mhz = cpuinfo_mhz(environment.read_text("/proc/cpuinfo") or "", cpu)
    return (mhz, CLOCK_SOURCES[1]) if mhz else (None, None)


def cpuinfo_mhz(text: str, cpu: int) -> float | None:
    """ "cpu MHz" of processor `cpu` in /proc/cpuinfo text (x86 only; None elsewhere)."""
    processor = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "processor":
            processor = int(value.strip()) if value.strip().isdigit() else None
        elif key == "cpu MHz" and processor == cpu:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def measure_ceilings(
    session: Any,
    dtype: str,
    plan: CalibrationPlan,
    emit: Callable[[str], None] = lambda message: None,
) -> Sweep:
    """Measure every probe on an open session; the best of each kind is its ceiling."""
    core = getattr(session, "core", None)
    on_cpu = not str(session.torch_device).startswith("cuda")
    emit("allocating buffers")
    kernels = _kernels(str(session.torch_device), dtype, plan, core)
    measure = _timer(session)
    for kernel in kernels:
        emit(f"warming up {kernel.name}")
        measure(kernel.call, plan.warmup_s)
    order = random.Random(0)
    clocks: list[float] = []
    source = None
    for round_number in range(1, plan.rounds + 1):
        emit(f"round {round_number}/{plan.rounds}")
        for kernel in order.sample(kernels, len(kernels)):
            kernel.samples_s.extend(measure(kernel.call, plan.round_s))
        clock, where = read_clock_mhz(core) if on_cpu else (None, None)
        if clock:
            clocks.append(clock)
            source = where
    probes = {
        kernel.name: ceiling_from_latencies(
            kernel.name,
            kernel.kind,
            kernel.work_per_call,
            timing.summarize([s * 1000.0 for s in kernel.samples_s]),
            {**kernel.details, "ceiling": kernel.ceiling},
        )
        for kernel in kernels
    }
    return Sweep(best_per_ceiling(probes), probes, asdict(plan), clocks, source)


def describe(ceilings: Mapping[str, Ceiling], peak_gflops_per_s: float | None = None) -> list[str]:
    """One line per ceiling or probe for the terminal: rate, interval, samples, share of peak."""
    lines = []
    for ceiling in ceilings.values():
        interval = (
            f"[{ceiling.ci95_low:.1f}, {ceiling.ci95_high:.1f}]"
            if ceiling.ci95_low is not None and ceiling.ci95_high is not None
            else "[no interval: < 6 samples]"
        )
        share = (
            f"  {ceiling.median / peak_gflops_per_s:.0%} of peak"
            if peak_gflops_per_s and ceiling.kind == "compute"
            else ""
        )
        probe = ceiling.details.get("probe")
        # The file keeps its unit ("GMAC/s"); the terminal says FLOPS as every report does.
        unit = "G/s" if ceiling.unit == "GMAC/s" else ceiling.unit
        lines.append(
            f"{ceiling.name:<20} {ceiling.median:10.1f} {unit:<7} 95% CI {interval}"
            f"  n={ceiling.latency_ms.n}{share}" + (f"  (best: {probe})" if probe else "")
        )
    return lines
