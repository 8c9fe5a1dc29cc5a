"""The device and backend registries: where and with what engine an operator stack is timed.

A device (cpu, cuda, arm) owns the machine-level setup (threads, pinning, GPU selection),
the clock used to time calls, the environment and telemetry it can read. A backend (torch,
onnxruntime, ...) owns how a module is turned into one zero-argument inference call.
Both are found by name; importing this module imports neither torch nor onnxruntime.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from fbench.bench.registry import Registry

if TYPE_CHECKING:
    import torch


class DeviceSession(Protocol):
    """A device set up for measuring (threads fixed, process pinned, GPU chosen...)."""

    name: str
    torch_device: str  # where modules and inputs live: "cpu" or "cuda"

    def environment(self) -> dict[str, Any]:
        """Device-specific environment fields, merged into the run's `environment` block."""

    def telemetry(self) -> dict[str, Any]:
        """Cheap readings (temperatures, clocks...) taken before and after every row."""

    def measure(
        self, call: Callable[[], object], budget_s: float | None = None, calls: int | None = None
    ) -> list[float]:
        """Run `call` for about `budget_s` (at least once) or exactly `calls` times.

        Returns per-call latencies in seconds; a device whose clock cannot time single calls
        (CUDA events around a block) returns one per-call average per block.
        """

    def problems(self, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        """Why a row whose telemetry went from `before` to `after` cannot be trusted.

        Any reason given (throttling, a capped clock...) marks the row "disturbed"; give it
        as a `fbench.bench.results.status.DeviceProblem` to name its reason code (a plain string is
        `device_problem`).
        """

    def telemetry_notes(self, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        """What the row should note about its telemetry (a source that vanished or read
        garbage); notes only, the row's status is `problems`' business."""

    def wait_until_ready(self, max_wait_s: float | None = None) -> dict[str, Any] | None:
        """Block until the device is fit to measure (e.g. cooled down); what was waited for.

        `max_wait_s` (a time budget's remainder) shortens the device's own limit; a wait it
        cut short before the device was ready says so (`"out_of_budget": true`)."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class PreparedCall:
    """One inference, ready to be timed, plus what the backend wants recorded about it
    (`details`; its "notes", a list of sentences, also go under the row: e.g. a graph the
    delegate did not take whole)."""

    call: Callable[[], object]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeviceSpec:
    name: str
    summary: str
    # The [devices.<name>] table of bench.toml: every key and its default.
    settings: Mapping[str, Any]
    # What Table 1 shows for this device, as the paper does: latency (batch 1) or throughput.
    headline: str
    # None when this machine can run the device, else the reason it cannot.
    unavailable_reason: Callable[[], str | None]
    open_session: Callable[[Mapping[str, Any]], DeviceSession]
    # Checks beyond "known key, right type"; returns what is wrong, or None.
    check_settings: Callable[[Mapping[str, Any]], str | None] = lambda settings: None
    # Keys whose values may take more than the default's type (e.g. pin_core: 0 or "auto").
    setting_types: Mapping[str, tuple[type, ...]] = field(default_factory=dict)
    dtypes: tuple[str, ...] = ("float32",)
    # --method official: the FasterNet script's untimed warm-up calls (10 on CPU, 50 on GPU).
    official_warmup_calls: int = 10
    # Timing defaults for this device ([timing] keys, e.g. longer rounds on a slow board),
    # applied over bench.toml's [timing]; a [devices.<name>.timing] table overrides them.
    timing: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BackendSpec:
    name: str
    summary: str
    devices: tuple[str, ...]
    # module and example input (already on the device, in the run's dtype) → a timed call.
    # `options` are the row's backend_options plus "cache_dir" (where a backend may keep
    # what it builds, e.g. exported models; not part of what is measured).
    prepare: Callable[[Any, torch.Tensor, DeviceSession, Mapping[str, Any]], PreparedCall]
    # None when this machine can run the backend on `device`, else the reason it cannot.
    unavailable_reason: Callable[[str], str | None] = lambda device: None
    # Every option the backend takes and its default; the resolved values are recorded in
    # each row's backend_options (and so are part of the row's identity).
    options: Mapping[str, Any] = field(default_factory=dict)
    # Checks beyond "known option, right type"; returns what is wrong, or None.
    check_options: Callable[[Mapping[str, Any]], str | None] = lambda options: None
    # The packages it needs that the project's lock may not have, as "name==version" for a
    # device and dtype (executorch: torch 2.9.x with executorch 1.0.1): the workers then run
    # in an environment built with them (bench/measure/stack.py) unless this one has them.
    requires: Callable[[str, str], tuple[str, ...]] = lambda device, dtype: ()
    # The dtypes it runs, when not the device's (int8 is a backend's quantisation, e.g.
    # executorch's; the stack is built in float32 and the backend quantises it).
    dtypes: tuple[str, ...] | None = None


DEVICES: Registry[DeviceSpec] = Registry("device")
BACKENDS: Registry[BackendSpec] = Registry("backend")


def register_device(spec: DeviceSpec) -> DeviceSpec:
    return DEVICES.add(spec.name, spec)


def register_backend(spec: BackendSpec) -> BackendSpec:
    return BACKENDS.add(spec.name, spec)


def backends_for(device: str) -> list[str]:
    return [name for name, spec in BACKENDS.items() if device in spec.devices]


def get_device(name: str) -> DeviceSpec:
    return DEVICES.find(name)


def get_backend(name: str) -> BackendSpec:
    return BACKENDS.find(name)
