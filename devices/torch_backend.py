"""The torch eager backend: the module called as it is, under `torch.inference_mode()`.

inference_mode (entered by the device's timing loop) rather than the official script's
`no_grad`: it also skips version-counter and view tracking, which is what deployment uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devices.registry import BackendSpec, DeviceSession, PreparedCall, register_backend


def prepare_torch(
    module: Any, example_input: Any, session: DeviceSession, options: Mapping[str, Any]
) -> PreparedCall:
    return PreparedCall(call=lambda: module(example_input))


register_backend(
    BackendSpec(
        name="torch",
        summary="PyTorch eager, NCHW, inference_mode",
        devices=("cpu", "cuda", "arm"),
        prepare=prepare_torch,
    )
)
