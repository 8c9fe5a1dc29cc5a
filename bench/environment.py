"""Everything recorded about the machine a run was measured on, collected in one place.

A measurement is only worth what its method and environment are: a reader judging a result
file needs the versions, the CPU, the threads, the governor and the temperatures. Sources
that a machine lacks (no cpufreq in a VM, no thermal zone) are recorded as null, never an
error. Device-specific fields (threads, GPU, Pi telemetry) come from the device session.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from fbench import bench

SYSFS_CPU = Path("/sys/devices/system/cpu")
SYSFS_THERMAL = Path("/sys/class/thermal")
PACKAGES = ("torch", "torchvision", "onnxruntime", "onnx", "fvcore", "numpy", "timm")


def read_text(path: Path | str) -> str | None:
    """The stripped contents of a small text file, or None if it cannot be read."""
    try:
        return Path(path).read_text(errors="replace").strip().rstrip("\x00")
    except OSError:
        return None


def read_int(path: Path | str) -> int | None:
    text = read_text(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def parse_cpuinfo(text: str) -> dict[str, str]:
    """The first processor's `key : value` lines of /proc/cpuinfo (later ones repeat it)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_model(cpuinfo: dict[str, str] | None = None) -> str:
    """A human name for the CPU: x86 "model name", else the Arm implementer/part, else uname."""
    if cpuinfo is None:
        cpuinfo = parse_cpuinfo(read_text("/proc/cpuinfo") or "")
    for key in ("model name", "Model", "Hardware", "cpu model"):
        if cpuinfo.get(key):
            return cpuinfo[key]
    if "CPU implementer" in cpuinfo:
        return f"Arm implementer {cpuinfo['CPU implementer']} part {cpuinfo.get('CPU part', '?')}"
    return platform.processor() or platform.machine()


def cpu_flags(cpuinfo: dict[str, str]) -> list[str]:
    """The SIMD features that decide which kernels oneDNN/XNNPACK pick."""
    flags = set((cpuinfo.get("flags") or cpuinfo.get("Features") or "").split())
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "asimd", "sve")
    return [flag for flag in wanted if flag in flags]


def governor(cpu: int) -> str | None:
    return read_text(SYSFS_CPU / f"cpu{cpu}" / "cpufreq" / "scaling_governor")


def cpu_frequency_mhz(cpu: int) -> dict[str, float | None]:
    """Current, min and max scaling frequency of one CPU (sysfs reports kHz); null in VMs."""
    base = SYSFS_CPU / f"cpu{cpu}" / "cpufreq"

    def mhz(name: str) -> float | None:
        khz = read_int(base / name)
        return khz / 1000.0 if khz is not None else None

    return {
        "current": mhz("scaling_cur_freq"),
        "min": mhz("scaling_min_freq"),
        "max": mhz("scaling_max_freq"),
    }


def temperatures_c() -> dict[str, float] | None:
    """Every thermal zone's temperature in °C (sysfs gives milli-°C), or None if there are none."""
    readings: dict[str, float] = {}
    for zone in sorted(SYSFS_THERMAL.glob("thermal_zone*")):
        millidegrees = read_int(zone / "temp")
        if millidegrees is not None:
            kind = read_text(zone / "type") or zone.name
            readings[f"{zone.name}:{kind}"] = millidegrees / 1000.0
    return readings or None


ASLR_MODES = {"0": "off", "1": "conservative", "2": "full"}


def address_randomisation() -> str | None:
    """Linux's address-space randomisation ("off", "conservative", "full"), None elsewhere.

    Recorded (as pyperf does) because the layout it draws for each process moves a row's
    speed between processes (bench/measure/processes.py): with it off, only the hash seed varies it.
    """
    value = read_text("/proc/sys/kernel/randomize_va_space")
    return ASLR_MODES.get(value, value) if value else None


def load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def git_commit(path: Path | None = None) -> tuple[str | None, bool | None]:
    """The fbench checkout's commit and whether it has uncommitted changes, or (None, None)."""
    where = path or Path(bench.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return commit.stdout.strip(), bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


def collect() -> dict[str, Any]:
    """The machine-level environment block; devices add their own fields on top."""
    import psutil

    cpuinfo = parse_cpuinfo(read_text("/proc/cpuinfo") or "")
    commit, dirty = git_commit()
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    environment: dict[str, Any] = {
        "fbench": bench.__version__,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        **{name: package_version(name) for name in PACKAGES},
        "os": platform.platform(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(cpuinfo),
        "cpu_flags": cpu_flags(cpuinfo),
        "hypervisor": "hypervisor" in (cpuinfo.get("flags") or "").split(),
        "logical_cpus": os.cpu_count(),
        "physical_cpus": psutil.cpu_count(logical=False),
        "memory_total_bytes": psutil.virtual_memory().total,
        "affinity": affinity,
        "governor": None,
        "load_average": load_average(),
        "temperatures_c": temperatures_c(),
        "aslr": address_randomisation(),
        # This process's PYTHONHASHSEED, or None (random); workers get their own (processes).
        "python_hash_seed": os.environ.get("PYTHONHASHSEED"),
        "git_commit": commit,
        "git_dirty": dirty,
        "argv": sys.argv[1:],
    }
    return environment


def telemetry(cpu: int | None) -> dict[str, Any]:
    """Readings taken before and after each row: what can change while a run is going."""
    return {
        "temperatures_c": temperatures_c(),
        "cpu_mhz": cpu_frequency_mhz(cpu)["current"] if cpu is not None else None,
        "load_average": load_average(),
    }
