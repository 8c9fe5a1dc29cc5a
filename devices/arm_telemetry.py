"""A Raspberry Pi 4's telemetry, parsed: which CPU and board this is, the SoC temperature,
the clocks, the firmware's throttle bits (`vcgencmd get_throttled`), and the problems they
make of a row (throttled, capped clock, changed governor, too hot). Pure functions of the
files' and commands' text, tested on a real Pi's formats in tests/fixtures/arm/; reading
them and the board's session are devices/arm.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fbench.bench import environment
from fbench.bench.results.status import (
    CLOCK_CAPPED,
    GOVERNOR_CHANGED,
    THROTTLED,
    TOO_HOT,
    DeviceProblem,
)

ARM_IMPLEMENTER = 0x41
CORTEX_A72_PART = 0xD08

# Bits of `vcgencmd get_throttled`: 0–3 now, 16–19 "has occurred since boot".
THROTTLE_FLAGS = {
    0: "under_voltage",
    1: "frequency_capped",
    2: "throttled",
    3: "soft_temperature_limit",
}
OCCURRED_SHIFT = 16


def _hex_or_int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def parse_cpu_identity(cpuinfo_text: str) -> dict[str, Any]:
    """Implementer/part from /proc/cpuinfo → whether this is a Cortex-A72 (null if not ARM)."""
    fields = environment.parse_cpuinfo(cpuinfo_text)
    implementer = _hex_or_int(fields.get("CPU implementer"))
    part = _hex_or_int(fields.get("CPU part"))
    if implementer == ARM_IMPLEMENTER and part == CORTEX_A72_PART:
        name = "Cortex-A72"
    elif implementer is not None:
        name = f"Arm CPU implementer {implementer:#x} part {part:#x}" if part is not None else None
    else:
        name = None
    return {
        "cpu_implementer": f"{implementer:#x}" if implementer is not None else None,
        "cpu_part": f"{part:#x}" if part is not None else None,
        "cpu_name": name,
        "is_cortex_a72": name == "Cortex-A72",
    }


def parse_board_model(raw: bytes | str | None) -> str | None:
    """The device tree's model string (NUL-terminated), e.g. "Raspberry Pi 4 Model B Rev 1.4"."""
    if raw is None:
        return None
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    text = text.strip("\x00").strip()
    return text or None


def parse_millidegrees(text: str | None) -> float | None:
    """sysfs thermal zone text (milli-°C) → °C."""
    try:
        return int(text.strip()) / 1000.0 if text is not None else None
    except ValueError:
        return None


def parse_measure_clock(text: str | None) -> float | None:
    """`vcgencmd measure_clock arm` output, e.g. "frequency(48)=1500398464" → MHz."""
    if not text or "=" not in text:
        return None
    try:
        return round(int(text.strip().rsplit("=", 1)[1]) / 1e6, 1)
    except ValueError:
        return None


def decode_throttled(value: int) -> dict[str, Any]:
    """The get_throttled bit field → flags now and "has occurred since boot"."""
    return {
        "raw": f"{value:#x}",
        "now": {name: bool(value >> bit & 1) for bit, name in THROTTLE_FLAGS.items()},
        "occurred": {
            name: bool(value >> (bit + OCCURRED_SHIFT) & 1) for bit, name in THROTTLE_FLAGS.items()
        },
    }


def parse_throttled(text: str | None) -> dict[str, Any] | None:
    """`vcgencmd get_throttled` output, e.g. "throttled=0x50005" → decoded flags, or None."""
    if not text or "=" not in text:
        return None
    value = _hex_or_int(text.strip().rsplit("=", 1)[1])
    return decode_throttled(value) if value is not None else None


def _mhz(khz_text: str | None) -> float | None:
    try:
        return int(khz_text) / 1000.0 if khz_text is not None else None
    except ValueError:
        return None


def telemetry_from_sources(sources: Mapping[str, str | None]) -> dict[str, Any]:
    """One telemetry reading from the raw texts (any of them None when the source is missing).

    Keys of `sources`: temp (thermal_zone0/temp), cur_freq, max_freq (cpufreq kHz),
    governor, measure_clock and get_throttled (vcgencmd output).
    """
    reading = {
        "soc_temp_c": parse_millidegrees(sources.get("temp")),
        "cpu_mhz": _mhz(sources.get("cur_freq")),
        "cpu_max_mhz": _mhz(sources.get("max_freq")),
        "governor": sources.get("governor"),
        "arm_clock_mhz": parse_measure_clock(sources.get("measure_clock")),
        "throttled": parse_throttled(sources.get("get_throttled")),
    }
    # A source that answered with something unreadable is kept as it read (cut short), so
    # the row can say so rather than pass it off as a missing source.
    unreadable = {
        key: sources[source][:40]
        for key, (source, _) in SOURCES.items()
        if sources.get(source) and reading[key] is None
    }
    if unreadable:
        reading["unreadable"] = unreadable
    return reading


# Each reading's source (a key of telemetry_from_sources' `sources`) and its name in notes.
SOURCES = {
    "soc_temp_c": ("temp", "SoC temperature (thermal_zone0)"),
    "cpu_mhz": ("cur_freq", "CPU frequency (scaling_cur_freq)"),
    "cpu_max_mhz": ("max_freq", "CPU max frequency (scaling_max_freq)"),
    "arm_clock_mhz": ("measure_clock", "vcgencmd measure_clock arm"),
    "throttled": ("get_throttled", "vcgencmd get_throttled"),
}


def telemetry_notes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """What a row should say about telemetry that vanished or answered garbage around it:
    the checks that need it could not be made (the row is not marked disturbed for it)."""
    notes = []
    for key, (_, name) in SOURCES.items():
        for when, reading in (("before", before), ("after", after)):
            raw = (reading.get("unreadable") or {}).get(key)
            if raw is not None:
                notes.append(f"{name} unreadable {when} the row (read {raw!r})")
        vanished = before.get(key) is not None and after.get(key) is None
        if vanished and key not in (after.get("unreadable") or {}):
            notes.append(f"{name} vanished during the row (no reading after it)")
    return notes


def _flag_names(flags: Mapping[str, bool]) -> list[str]:
    return [name.replace("_", " ") for name, on in flags.items() if on]


def row_problems(
    before: Mapping[str, Any], after: Mapping[str, Any], disturbed_above_c: float
) -> list[str]:
    """Why a row measured between two telemetry readings cannot be trusted ([] if it can):
    sentences that carry their reason code (fbench.bench.results.status.DeviceProblem)."""
    problems = []
    for when, reading in (("before", before), ("after", after)):
        throttled = reading.get("throttled")
        if throttled:
            now = _flag_names(throttled["now"])
            if now:
                problems.append(
                    DeviceProblem(
                        f"{', '.join(now)} {when} the row (get_throttled {throttled['raw']})",
                        THROTTLED,
                    )
                )
    if before.get("throttled") and after.get("throttled"):
        new = [
            name
            for name, on in after["throttled"]["occurred"].items()
            if on and not before["throttled"]["occurred"].get(name)
        ]
        if new:
            problems.append(
                DeviceProblem(
                    f"{', '.join(n.replace('_', ' ') for n in new)} occurred during the row "
                    f"(get_throttled {before['throttled']['raw']} → {after['throttled']['raw']})",
                    THROTTLED,
                )
            )
    max_before, max_after = before.get("cpu_max_mhz"), after.get("cpu_max_mhz")
    if max_before is not None and max_after is not None and max_after < max_before:
        problems.append(
            DeviceProblem(
                f"CPU max frequency capped during the row: {max_before:g} → {max_after:g} MHz",
                CLOCK_CAPPED,
            )
        )
    if before.get("governor") and after.get("governor") and before["governor"] != after["governor"]:
        problems.append(
            DeviceProblem(
                f"governor changed during the row: {before['governor']} → {after['governor']}",
                GOVERNOR_CHANGED,
            )
        )
    hottest = max(
        (t for t in (before.get("soc_temp_c"), after.get("soc_temp_c")) if t is not None),
        default=None,
    )
    if hottest is not None and hottest >= disturbed_above_c:
        problems.append(
            DeviceProblem(
                f"SoC at {hottest:.1f} °C (≥ {disturbed_above_c:g} °C: throttling range)", TOO_HOT
            )
        )
    return problems
