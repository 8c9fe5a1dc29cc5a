"""Which device a run measured: one identity, one function, used for calibrations and baselines.

A calibration belongs to a device kind, hardware model and dtype (a Xeon's ceilings are not
an EPYC's); a baseline to the board, CPU, device, backend and torch version (another board,
or the same board after a torch upgrade, must find no baseline rather than a wrong one). Both
are names drawn from the same `DeviceIdentity`, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Keys of the device session's environment that name the hardware, first found wins
# (cpu_model from fbench.bench.environment; the GPU's name from a CUDA session).
MODEL_KEYS = ("gpu_name", "cuda_device_name", "device_name", "cpu_model")


@dataclass(frozen=True)
class DeviceIdentity:
    device: str | None  # "cpu", "cuda", "arm"
    model: str  # the hardware that ran the rows: the GPU's name, else the CPU model
    machine: str | None  # platform.machine(): x86_64, aarch64
    cpu_model: str | None
    board_model: str | None  # e.g. "Raspberry Pi 4 Model B Rev 1.4" (None off boards)
    backend: str | None
    torch: str | None
    dtype: str | None

    def calibration_name(self) -> str:
        """e.g. cpu-amd-epyc-9r14-96-core-processor-float32: device kind, model and dtype."""
        # device and dtype come from a result file too: slugged, so no name leaves its folder
        return f"{slug(str(self.device))}-{slug(self.model)}-{slug(str(self.dtype))}"

    def baseline_name(self) -> str:
        """e.g. raspberry-pi-4-model-b-rev-1.4_cortex-a72_arm_torch_torch-2.5.1."""
        parts = [
            self.board_model or self.machine,
            self.cpu_model,
            self.device,
            self.backend,
            f"torch-{self.torch}",
        ]
        text = "_".join(str(part) for part in parts if part)
        return re.sub(r"[^a-z0-9._+-]+", "-", text.lower()).strip("-") or "unknown"

    def baseline_name_any_torch(self) -> str:
        """A glob for this device's baseline names under any torch version (the last part),
        for `fbench compare --accept-difference torch`."""
        return self.baseline_name().rsplit("_torch-", 1)[0] + "_torch-*"


def device_model(environment: Mapping[str, Any]) -> str:
    for key in MODEL_KEYS:
        value = environment.get(key)
        if isinstance(value, str) and value:
            return value
    return "unknown"


def slug(text: str) -> str:
    """A file-name-safe lower-case form: "AMD EPYC 9R14 96-Core" → "amd-epyc-9r14-96-core"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def device_identity(
    environment: Mapping[str, Any],
    device: str | None,
    backend: str | None = None,
    dtype: str | None = None,
) -> DeviceIdentity:
    """The identity of the device described by a run's (or a calibration's) `environment`."""
    return DeviceIdentity(
        device=device,
        model=device_model(environment),
        machine=environment.get("machine"),
        cpu_model=environment.get("cpu_model"),
        board_model=environment.get("board_model"),
        backend=backend,
        torch=environment.get("torch"),
        dtype=dtype,
    )
