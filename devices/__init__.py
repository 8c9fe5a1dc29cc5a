"""Where and how to time: the device registry (cpu, cuda, arm) and the backend registry.

Importing registers every device and backend; none of them imports torch until used.
"""

from devices import arm, cpu, cuda, onnxruntime_backend, torch_backend  # noqa: F401  (registration)
from devices.registry import (
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
