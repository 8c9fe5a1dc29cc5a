"""CUDA GPU throughput, the paper's way: batch 32, timed with CUDA events, synchronised.

A GPU call returns as soon as its kernels are queued, so a host clock around one call
measures the launch, not the work. CUDA events recorded on the stream around a block of
calls, read after `synchronize()`, time the work itself; the per-call average of each block
is one sample. Blocks last about `block_target_s` so the event resolution (~0.5 µs) and the
launch gaps between blocks are negligible. cuDNN autotuning is on (the algorithm is chosen
during warm-up, not timed); TF32 is off unless asked for, because it changes the arithmetic
the FLOPS stand for. Both are recorded.
"""

from __future__ import annotations

import gc
import math
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from typing import Any

from fbench.devices.registry import DeviceSpec, register_device

CUDA_SETTINGS: dict[str, Any] = {
    "batch": 32,  # the paper's GPU throughput is at batch 32
    "gpu": 0,  # CUDA device index
    "tf32": False,
    "cudnn_benchmark": True,
    "block_target_s": 0.01,  # length of one timed block of calls
}
# nvidia-smi --query-gpu fields read once per run, and before/after every row.
ENVIRONMENT_QUERY = (
    "name",
    "driver_version",
    "memory.total",
    "clocks.sm",
    "clocks.max.sm",
    "clocks.mem",
    "clocks.max.mem",
    "power.limit",
    "pstate",
    "persistence_mode",
    "temperature.gpu",
)
TELEMETRY_QUERY = ("temperature.gpu", "clocks.sm", "clocks.mem", "power.draw", "pstate")


def check_cuda_settings(settings: Mapping[str, Any]) -> str | None:
    if settings["batch"] < 1:
        return f"batch must be a positive integer, got {settings['batch']}"
    if settings["gpu"] < 0:
        return f"gpu must be a device index ≥ 0, got {settings['gpu']}"
    if not 0 < settings["block_target_s"] <= 1:
        return f"block_target_s must be in (0, 1] seconds, got {settings['block_target_s']}"
    return None


def block_calls(per_call_s: float, block_target_s: float, remaining: int | None = None) -> int:
    """Calls per timed block: about `block_target_s` of work, at least 1, at most `remaining`."""
    count = max(1, math.floor(block_target_s / per_call_s)) if per_call_s > 0 else 1000
    return min(count, remaining) if remaining is not None else count


def parse_query(fields: tuple[str, ...], text: str) -> dict[str, Any]:
    """One line of `nvidia-smi --query-gpu=... --format=csv,noheader,nounits` → a dict.

    Numbers become floats; "[N/A]", "[Not Supported]" and missing values become None.
    """
    values = [value.strip() for value in text.strip().splitlines()[0].split(",")] if text else []
    parsed: dict[str, Any] = {}
    for index, name in enumerate(fields):
        value = values[index] if index < len(values) else None
        if value is None or value.startswith("[") or value in ("", "N/A"):
            parsed[name] = None
            continue
        try:
            parsed[name] = float(value)
        except ValueError:
            parsed[name] = value
    return parsed


def query_nvidia_smi(fields: tuple[str, ...], gpu: int) -> dict[str, Any] | None:
    """`nvidia-smi` readings for one GPU, or None where nvidia-smi is missing or fails."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        result = subprocess.run(
            [
                "nvidia-smi",
                f"--query-gpu={','.join(fields)}",
                "--format=csv,noheader,nounits",
                f"--id={gpu}",
            ],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return parse_query(fields, result.stdout)


def set_tf32(torch: Any, enabled: bool) -> None:
    """TF32 for cuDNN convolutions and matmuls, through torch ≥ 2.9's API when it has it."""
    precision = "tf32" if enabled else "ieee"
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        conv.fp32_precision = precision
        torch.backends.cuda.matmul.fp32_precision = precision
    else:  # torch < 2.9
        torch.backends.cudnn.allow_tf32 = enabled
        torch.backends.cuda.matmul.allow_tf32 = enabled


def read_tf32(torch: Any) -> dict[str, Any]:
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        return {
            "cudnn_conv": conv.fp32_precision,
            "matmul": torch.backends.cuda.matmul.fp32_precision,
        }
    return {
        "cudnn_conv": "tf32" if torch.backends.cudnn.allow_tf32 else "ieee",
        "matmul": "tf32" if torch.backends.cuda.matmul.allow_tf32 else "ieee",
    }


def time_blocks(
    call: Callable[[], object],
    budget_s: float | None,
    calls: int | None,
    block_target_s: float,
) -> list[float]:
    """Per-call seconds, one average per block of calls timed with CUDA events."""
    import torch

    if (budget_s is None) == (calls is None):
        raise ValueError("give exactly one of budget_s and calls")
    samples: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with torch.inference_mode():
            torch.cuda.synchronize()
            # One untimed call sizes the blocks (cuDNN autotuning happens in warm-up).
            begin = time.perf_counter()
            call()
            torch.cuda.synchronize()
            per_call_s = time.perf_counter() - begin
            deadline = time.perf_counter() + (budget_s or 0.0)
            done = 0
            while True:
                count = block_calls(
                    per_call_s, block_target_s, None if calls is None else calls - done
                )
                start, end = (
                    torch.cuda.Event(enable_timing=True),
                    torch.cuda.Event(enable_timing=True),
                )
                start.record()
                for _ in range(count):
                    call()
                end.record()
                end.synchronize()
                per_call_s = start.elapsed_time(end) / 1000.0 / count
                samples.append(per_call_s)
                done += count
                if calls is not None and done >= calls:
                    break
                if calls is None and time.perf_counter() >= deadline:
                    break
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


class CudaSession:
    """One GPU set up for a run: selected, cuDNN autotuning and TF32 set as configured."""

    name = "cuda"
    torch_device = "cuda"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        import torch

        from fbench.bench.errors import FbenchError

        self.settings = dict(settings)
        self.gpu = int(settings["gpu"])
        if self.gpu >= torch.cuda.device_count():
            raise FbenchError(
                f"[devices.cuda] gpu {self.gpu}: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
        torch.cuda.set_device(self.gpu)
        self.torch_device = f"cuda:{self.gpu}" if self.gpu else "cuda"
        torch.backends.cudnn.enabled = True
        torch.backends.cudnn.benchmark = bool(settings["cudnn_benchmark"])
        set_tf32(torch, bool(settings["tf32"]))

    def environment(self) -> dict[str, Any]:
        import torch

        properties = torch.cuda.get_device_properties(self.gpu)
        return {
            "gpu_name": torch.cuda.get_device_name(self.gpu),  # shown in Table 1's header
            "gpu": {
                "index": self.gpu,
                "name": torch.cuda.get_device_name(self.gpu),
                "memory_bytes": properties.total_memory,
                "compute_capability": f"{properties.major}.{properties.minor}",
                "multiprocessors": properties.multi_processor_count,
                "nvidia_smi": query_nvidia_smi(ENVIRONMENT_QUERY, self.gpu),
            },
            "cuda_runtime": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "tf32": read_tf32(torch),
            "timing": "CUDA events around blocks of calls, synchronised",
        }

    def telemetry(self) -> dict[str, Any]:
        return query_nvidia_smi(TELEMETRY_QUERY, self.gpu) or {}

    def measure(
        self, call: Callable[[], object], budget_s: float | None = None, calls: int | None = None
    ) -> list[float]:
        return time_blocks(call, budget_s, calls, float(self.settings["block_target_s"]))

    def problems(self, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        return []

    def telemetry_notes(self, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        return []

    def wait_until_ready(self, max_wait_s: float | None = None) -> dict[str, Any] | None:
        return None

    def close(self) -> None:
        import torch

        torch.cuda.empty_cache()


def cuda_unavailable() -> str | None:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return "torch is not installed"
    if torch.version.cuda is None:
        return f"this torch ({torch.__version__}) is built without CUDA"
    if not torch.cuda.is_available():
        return (
            f"no CUDA GPU visible (torch {torch.__version__}, CUDA {torch.version.cuda}: "
            "torch.cuda.is_available() is False)"
        )
    return None


register_device(
    DeviceSpec(
        name="cuda",
        summary="NVIDIA GPU throughput: batch 32, CUDA events, cudnn.benchmark, TF32 off "
        "(Table 1's GPU column)",
        settings=CUDA_SETTINGS,
        headline="throughput",
        unavailable_reason=cuda_unavailable,
        open_session=CudaSession,
        check_settings=check_cuda_settings,
        dtypes=("float32", "float16", "bfloat16"),
        official_warmup_calls=50,
    )
)
