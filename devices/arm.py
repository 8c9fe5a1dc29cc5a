"""Raspberry Pi 4 (Cortex-A72) latency: the CPU method plus the board's thermal facts.

A Pi 4 throttles at 80–85 °C, its governor steps between 600 and 1500 MHz, and under-voltage
silently caps the clock, so a number measured on a hot or badly powered board is a different
measurement. The session therefore waits for the SoC to cool before every round, records
temperature, clocks and the firmware's throttle bits before and after every row, and marks a
row `disturbed` with the reason when the board was throttled or capped while it ran. This module
reads the board and runs the session; parsing what it reads is devices/arm_telemetry.py.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fbench.bench import environment
from fbench.devices.arm_telemetry import (
    parse_board_model,
    parse_cpu_identity,
    row_problems,
    telemetry_from_sources,
    telemetry_notes,
)
from fbench.devices.cpu import CPU_SETTINGS, CpuSession, check_cpu_settings
from fbench.devices.registry import DeviceSpec, register_device

ARM_MACHINES = ("aarch64", "arm64", "armv7l", "armv8l")
CPUINFO = Path("/proc/cpuinfo")
BOARD_MODEL = Path("/sys/firmware/devicetree/base/model")
SOC_TEMPERATURE = Path("/sys/class/thermal/thermal_zone0/temp")
CPUFREQ = Path("/sys/devices/system/cpu/cpu{core}/cpufreq")


ARM_SETTINGS: dict[str, Any] = {
    **CPU_SETTINGS,
    # Cool-down gate: before every round, wait until the SoC is below this temperature...
    "cooldown_below_c": 60.0,
    # ... but never longer than this per wait (then measure anyway and record it).
    "cooldown_max_wait_s": 120.0,
    "cooldown_poll_s": 2.0,
    # A row whose SoC reached this temperature is stored `disturbed` (firmware throttling
    # starts at 80–85 °C; the soft limit's bit covers boards that throttle earlier).
    "disturbed_above_c": 80.0,
}

# Timing defaults on a Pi 4, applied over [timing] (bench.toml: [devices.arm.timing]).
# Paper latencies are 50–780 ms a call, so the CPU's 0.05 s rounds would give one call per
# round and the 6 s cap ~8 calls of Conv; a round here gives every row at least 0.5 s and a
# row at most 20 s, which keeps a full Table 1 at a few minutes (docs/raspberry-pi.md).
ARM_TIMING: dict[str, Any] = {
    "min_samples": 12,
    "min_rounds": 6,
    "round_s": 0.5,
    "max_row_s": 20.0,
    "warmup_min_s": 1.0,
    "warmup_max_s": 5.0,
}


def wait_until_cool(
    read_temperature_c: Callable[[], float | None],
    below_c: float,
    max_wait_s: float,
    poll_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any] | None:
    """Poll until the SoC is below `below_c`, at most `max_wait_s`; what was waited for.

    None when no wait was needed or the temperature cannot be read; otherwise the start and
    end temperature, the seconds waited and whether it cooled in time.
    """
    start_temperature = read_temperature_c()
    if start_temperature is None or start_temperature < below_c:
        return None
    started = clock()
    temperature = start_temperature
    while True:
        waited = clock() - started
        if temperature is None or temperature < below_c or waited >= max_wait_s:
            break
        sleep(min(poll_s, max_wait_s - waited))
        temperature = read_temperature_c()
    return {
        "waited_s": round(clock() - started, 1),
        "from_c": start_temperature,
        "to_c": temperature,
        "below_c": below_c,
        "cooled": temperature is None or temperature < below_c,
    }


# --- reading the machine (I/O) ----------------------------------------------------------------


def detect(cpuinfo: Path = CPUINFO, board_model: Path = BOARD_MODEL) -> dict[str, Any]:
    """The CPU and board this process runs on; unknown parts are null, never an error."""
    identity = parse_cpu_identity(environment.read_text(cpuinfo) or "")
    try:
        model = parse_board_model(board_model.read_bytes())
    except OSError:
        model = None
    return {"machine": platform.machine(), **identity, "board_model": model}


def _vcgencmd(*args: str) -> str | None:
    executable = shutil.which("vcgencmd")
    if executable is None:
        return None
    try:
        done = subprocess.run(
            [executable, *args], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def read_telemetry(core: int) -> dict[str, Any]:
    cpufreq = Path(str(CPUFREQ).format(core=core))
    return telemetry_from_sources(
        {
            "temp": environment.read_text(SOC_TEMPERATURE),
            "cur_freq": environment.read_text(cpufreq / "scaling_cur_freq"),
            "max_freq": environment.read_text(cpufreq / "scaling_max_freq"),
            "governor": environment.read_text(cpufreq / "scaling_governor"),
            "measure_clock": _vcgencmd("measure_clock", "arm"),
            "get_throttled": _vcgencmd("get_throttled"),
        }
    )


def check_arm_settings(settings: Mapping[str, Any]) -> str | None:
    problem = check_cpu_settings(settings)
    if problem:
        return problem
    for key in ("cooldown_max_wait_s", "cooldown_poll_s"):
        if settings[key] < 0 or (key == "cooldown_poll_s" and settings[key] == 0):
            return f"{key} must be a positive number of seconds, got {settings[key]}"
    return None


class ArmSession(CpuSession):
    """The CPU session (one thread, pinned) plus Pi telemetry, cool-down and row checks."""

    name = "arm"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        super().__init__(settings)
        self.watched_core = self.core if self.core is not None else 0

    def environment(self) -> dict[str, Any]:
        detected = detect()
        notes = []
        if not detected["is_cortex_a72"]:
            notes.append(
                f"not a Cortex-A72 ({detected['cpu_name'] or 'CPU part unknown'}): "
                "not the paper's ARM processor"
            )
        return {
            **super().environment(),
            "arm": {**detected, "notes": notes, "vcgencmd": shutil.which("vcgencmd") is not None},
            "board_model": detected["board_model"],
        }

    def telemetry(self) -> dict[str, Any]:
        return read_telemetry(self.watched_core)

    def problems(self, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        # A run stored before the key was renamed (fbench run --resume) has the old one.
        limit = self.settings.get("disturbed_above_c", self.settings.get("unstable_above_c"))
        return row_problems(before, after, 80.0 if limit is None else limit)

    def telemetry_notes(self, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        return telemetry_notes(before, after)

    def wait_until_ready(self, max_wait_s: float | None = None) -> dict[str, Any] | None:
        own = self.settings["cooldown_max_wait_s"]
        limited = max_wait_s is not None and max_wait_s < own
        waited = wait_until_cool(
            lambda: read_telemetry(self.watched_core)["soc_temp_c"],
            self.settings["cooldown_below_c"],
            max_wait_s if limited else own,
            self.settings["cooldown_poll_s"],
        )
        # Out of its own patience the board is measured anyway (and the row says how hot);
        # out of the run's time budget it is not: the time is up, not the patience.
        if waited is not None and limited and not waited["cooled"]:
            waited["out_of_budget"] = True
        return waited


def arm_unavailable(machine: str | None = None) -> str | None:
    machine = machine or platform.machine()
    if machine.lower() not in ARM_MACHINES:
        return f"this is a {machine} machine, not an ARM CPU (use --device cpu here)"
    return None


register_device(
    DeviceSpec(
        name="arm",
        summary="ARM CPU latency (Raspberry Pi 4, Cortex-A72): batch 1, one thread, pinned, "
        "cool-down gate and throttle checks (Table 1's ARM column)",
        settings=ARM_SETTINGS,
        headline="latency",
        unavailable_reason=arm_unavailable,
        open_session=ArmSession,
        check_settings=check_arm_settings,
        setting_types={"pin_core": (int, str)},
        dtypes=("float32",),
        timing=ARM_TIMING,
    )
)
