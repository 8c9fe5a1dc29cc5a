"""CPU latency, the paper's way: batch 1, one thread, the process pinned to one core.

One thread because that is what Table 1 reports (an i9-9900X "using a single thread") and
because a multi-threaded number on a 2-core shared host mostly measures the neighbours.
Pinning keeps the scheduler from migrating the process between cores mid-call (cold caches,
another core's frequency). The clock is `perf_counter_ns` around every call: the per-call
samples are kept so the median and its interval can be computed, not only a mean.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from fbench.bench import environment
from fbench.bench.errors import FbenchError
from fbench.devices import malloc
from fbench.devices.registry import DeviceSpec, register_device

CPU_SETTINGS: dict[str, Any] = {
    "batch": 1,
    "threads": 1,
    # "auto": the last core this process may use (core 0 takes most interrupts on Linux);
    # an integer: that core; "none": leave scheduling to the OS.
    "pin_core": "auto",
    # "steady": fix glibc's malloc thresholds so no row pays page faults that depend on the
    # rows before it (devices/malloc.py); "system": leave malloc as it is.
    "malloc": "steady",
}


def check_cpu_settings(settings: Mapping[str, Any]) -> str | None:
    if settings["batch"] < 1:
        return f"batch must be a positive integer, got {settings['batch']}"
    if settings["threads"] < 1:
        return f"threads must be a positive integer, got {settings['threads']}"
    if settings["malloc"] not in malloc.MODES:
        return f'malloc must be "steady" or "system", got {settings["malloc"]!r}'
    pin = settings["pin_core"]
    if isinstance(pin, bool) or (isinstance(pin, str) and pin not in ("auto", "none")):
        return f'pin_core must be a core number, "auto" or "none", got {pin!r}'
    if isinstance(pin, int) and pin < 0:
        return f"pin_core must be a core number ≥ 0, got {pin}"
    return None


def resolve_pin_core(pin: int | str, allowed: set[int]) -> int | None:
    """The core to pin to, given the setting and the cores this process may run on."""
    if pin == "none":
        return None
    if pin == "auto":
        return max(allowed)
    if pin not in allowed:
        raise FbenchError(
            f"pin_core {pin}: this process may only run on cores "
            f"{', '.join(map(str, sorted(allowed)))}"
        )
    return int(pin)


def pin_process(core: int) -> None:
    """Pin every thread of this process (torch may already have started some) to `core`."""
    task_dir = "/proc/self/task"
    thread_ids = [int(tid) for tid in os.listdir(task_dir)] if os.path.isdir(task_dir) else [0]
    for tid in thread_ids:
        with contextlib.suppress(OSError):  # a thread that exited meanwhile
            os.sched_setaffinity(tid, {core})
    os.sched_setaffinity(0, {core})


def set_torch_threads(threads: int) -> dict[str, int]:
    """Set intra- and inter-op threads, then verify: a silent 2-thread run is a wrong result."""
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # settable once per process; verified below
        torch.set_num_interop_threads(threads)
    actual = {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()}
    if actual != {"intra_op": threads, "inter_op": threads}:
        raise FbenchError(
            f"could not set torch to {threads} thread(s): intra-op {actual['intra_op']}, "
            f"inter-op {actual['inter_op']} (inter-op threads can only be set before "
            "torch starts parallel work)"
        )
    return actual


def time_calls(
    call: Callable[[], object], budget_s: float | None = None, calls: int | None = None
) -> list[float]:
    """Call for about `budget_s` (at least once) or exactly `calls` times; per-call seconds.

    The garbage collector is off while timing (as `timeit` does) so that a collection
    triggered by the harness's own allocations does not land inside a timed call.
    """
    import torch

    if (budget_s is None) == (calls is None):
        raise ValueError("give exactly one of budget_s and calls")
    clock = time.perf_counter_ns
    samples: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with torch.inference_mode():
            deadline = clock() + int((budget_s or 0.0) * 1e9)
            while True:
                start = clock()
                call()
                end = clock()
                samples.append((end - start) * 1e-9)
                if (len(samples) >= calls) if calls is not None else (end >= deadline):
                    break
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


class CpuSession:
    """The CPU set up for one run: threads fixed and verified, process pinned."""

    name = "cpu"
    torch_device = "cpu"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = dict(settings)
        allowed = os.sched_getaffinity(0)
        self.core = resolve_pin_core(settings["pin_core"], allowed)
        self.threads = set_torch_threads(settings["threads"])
        self.malloc = malloc.configure(settings["malloc"])
        if self.core is not None:
            if settings["threads"] > 1:
                raise FbenchError(
                    f"threads = {settings['threads']} with pin_core = {self.core}: pinning "
                    'to one core serialises the threads; set pin_core = "none"'
                )
            pin_process(self.core)

    def environment(self) -> dict[str, Any]:
        import torch

        watched = self.core if self.core is not None else 0
        return {
            "threads": self.threads,
            "affinity": sorted(os.sched_getaffinity(0)),
            "pinned_core": self.core,
            "governor": environment.governor(watched),
            "cpu_mhz": environment.cpu_frequency_mhz(watched),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch_mkldnn": torch.backends.mkldnn.is_available(),
            "torch_parallel_backend": _parallel_backend(torch),
            "malloc": self.malloc,
        }

    def telemetry(self) -> dict[str, Any]:
        return environment.telemetry(self.core if self.core is not None else 0)

    def measure(
        self, call: Callable[[], object], budget_s: float | None = None, calls: int | None = None
    ) -> list[float]:
        return time_calls(call, budget_s, calls)

    def problems(self, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        return []

    def telemetry_notes(self, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        return []

    def wait_until_ready(self, max_wait_s: float | None = None) -> dict[str, Any] | None:
        return None

    def close(self) -> None:
        pass


def _parallel_backend(torch: Any) -> str | None:
    for line in torch.__config__.parallel_info().splitlines():
        if line.startswith("ATen parallel backend:"):
            return line.split(":", 1)[1].strip()
    return None


def _cpu_unavailable() -> str | None:
    return None if hasattr(os, "sched_getaffinity") else "needs Linux (sched_setaffinity)"


register_device(
    DeviceSpec(
        name="cpu",
        summary="host CPU latency: batch 1, one thread, pinned to one core (Table 1's CPU column)",
        settings=CPU_SETTINGS,
        headline="latency",
        unavailable_reason=_cpu_unavailable,
        open_session=CpuSession,
        check_settings=check_cpu_settings,
        setting_types={"pin_core": (int, str)},
        dtypes=("float32", "bfloat16"),
    )
)
