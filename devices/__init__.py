"""Where and how to time: the device registry (cpu, cuda, arm) and the backend registry.

Importing registers every device and backend; none of them imports torch until used.
"""

from fbench.devices import (  # noqa: F401  (registration)
    arm,
    cpu,
    cuda,
    executorch_backend,
    onnxruntime_backend,
    torch_backend,
)
from fbench.devices.registry import (
    BACKENDS,
    DEVICES,
    BackendSpec,
    DeviceSession,
    DeviceSpec,
    PreparedCall,
    backends_for,
    get_backend,
    get_device,
    register_backend,
    register_device,
)

__all__ = [
    "BACKENDS",
    "DEVICES",
    "BackendSpec",
    "DeviceSession",
    "DeviceSpec",
    "PreparedCall",
    "backends_for",
    "get_backend",
    "get_device",
    "register_backend",
    "register_device",
]
