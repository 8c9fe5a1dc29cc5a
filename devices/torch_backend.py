"""The torch backends: eager (`torch`) and `torch.compile` (`torch-compile`).

Eager runs the module as it is, under `torch.inference_mode()` (entered by the device's
timing loop) rather than the official script's `no_grad`: it also skips version-counter and
view tracking, which is what deployment uses. `channels_last` stores weights and input as
NHWC, the layout oneDNN and cuDNN prefer for convolutions; PConv's channel slice is then no
longer one contiguous block, which is exactly the kind of effect the option exists to show.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections.abc import Mapping
from typing import Any

from fbench.devices.registry import BackendSpec, DeviceSession, PreparedCall, register_backend

TORCH_OPTIONS: dict[str, Any] = {"channels_last": False}


def apply_memory_format(module: Any, example_input: Any, channels_last: bool) -> tuple[Any, Any]:
    """The module and input in NHWC (channels_last) or left as they are (NCHW)."""
    import torch

    if not channels_last:
        return module, example_input
    module = module.to(memory_format=torch.channels_last)
    return module, example_input.contiguous(memory_format=torch.channels_last)


def prepare_torch(
    module: Any, example_input: Any, session: DeviceSession, options: Mapping[str, Any]
) -> PreparedCall:
    channels_last = bool(options.get("channels_last", False))
    module, example_input = apply_memory_format(module, example_input, channels_last)
    return PreparedCall(
        call=lambda: module(example_input),
        details={"memory_format": "channels_last" if channels_last else "contiguous"},
    )


def prepare_torch_compile(
    module: Any, example_input: Any, session: DeviceSession, options: Mapping[str, Any]
) -> PreparedCall:
    """`torch.compile` the stack and compile it now, so warm-up does not time the compiler."""
    import torch

    channels_last = bool(options.get("channels_last", False))
    module, example_input = apply_memory_format(module, example_input, channels_last)
    # inductor's C++ toolchain probe warns "No CUDA runtime is found" on CPU-only hosts;
    # the CLI owns the terminal and the warning says nothing about the CPU kernels.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    compiled = torch.compile(module, mode=options.get("mode", "default"), dynamic=False)
    start = time.perf_counter()
    with torch.inference_mode():
        compiled(example_input)
    if session.torch_device.startswith("cuda"):
        torch.cuda.synchronize()
    return PreparedCall(
        call=lambda: compiled(example_input),
        details={
            "memory_format": "channels_last" if channels_last else "contiguous",
            "compile_s": round(time.perf_counter() - start, 3),
            "compiler": "inductor",
        },
    )


def compile_unavailable(device: str) -> str | None:
    """Why torch.compile (inductor) cannot run here, or None."""
    if sys.platform == "win32":
        return "torch.compile's inductor needs Linux or macOS here"
    if device in ("cpu", "arm") and not (shutil.which("gcc") or shutil.which("cc")):
        return "inductor compiles C++ kernels on CPU and no C compiler (gcc/cc) is on PATH"
    if device == "cuda":  # whether there is a GPU at all is the device's question
        try:
            import triton  # noqa: F401
        except ImportError:
            return "inductor needs triton for CUDA kernels and it is not installed"
    return None


register_backend(
    BackendSpec(
        name="torch",
        summary="PyTorch eager, inference_mode (NCHW, or NHWC with --channels-last)",
        devices=("cpu", "cuda", "arm"),
        prepare=prepare_torch,
        options=TORCH_OPTIONS,
    )
)
register_backend(
    BackendSpec(
        name="torch-compile",
        summary="torch.compile (inductor), compiled before warm-up; compile time recorded",
        devices=("cpu", "cuda", "arm"),
        prepare=prepare_torch_compile,
        unavailable_reason=compile_unavailable,
        # No flag sets `mode`: it stays because every torch-compile row records it in its
        # backend_options, which decide comparability (a new run must match stored ones).
        options={**TORCH_OPTIONS, "mode": "default"},
    )
)
