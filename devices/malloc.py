"""Make glibc's malloc behave the same for every row, whatever ran before it in the process.

Why: PyTorch's CPU tensors come straight from malloc. glibc serves a block above its mmap
threshold (128 KiB at start) with a fresh mmap, which the kernel page-faults and zeroes on
first touch and unmaps on free; it raises that threshold (and the heap-trim threshold, to
twice it) each time a larger mmapped block is freed. So a row's latency depended on which
rows had freed what before it: a DWConv row run alone in a process took about twice as long
a call as after a Conv row, paying page faults on every call (docs/methodology.md).

"steady" (the default) fixes both thresholds before anything is built: blocks up to 32 MiB
(glibc's ceiling for the dynamic threshold) come from the heap, and freed heap memory is
kept, as in a long-running inference process after its first calls. "system" leaves glibc as
it is (a fresh process, history-dependent). Either way the result file records what was set.
On a libc other than glibc nothing can be set and the record says so.
"""

from __future__ import annotations

import ctypes
import platform
from typing import Any

MODES = ("steady", "system")
# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
STEADY_MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
STEADY_TRIM_THRESHOLD = 1024 * 1024 * 1024  # keep up to 1 GiB of freed heap


def libc_version() -> str | None:
    """ "glibc 2.36", or None when this is not glibc (musl, macOS)."""
    name, version = platform.libc_ver()
    return f"{name} {version}" if name == "glibc" and version else None


def configure(mode: str) -> dict[str, Any]:
    """Apply `mode` to this process's malloc; the record stored in the run's environment."""
    if mode not in MODES:
        raise ValueError(f"malloc mode must be one of {MODES}, got {mode!r}")
    record: dict[str, Any] = {"mode": mode, "libc": libc_version()}
    if mode == "system":
        return {**record, "note": "malloc left as the system set it (history-dependent)"}
    if record["libc"] is None:
        return {**record, "applied": False, "note": "not glibc: malloc thresholds not set"}
    libc = ctypes.CDLL(None)
    applied = bool(libc.mallopt(M_MMAP_THRESHOLD, STEADY_MMAP_THRESHOLD)) and bool(
        libc.mallopt(M_TRIM_THRESHOLD, STEADY_TRIM_THRESHOLD)
    )
    return {
        **record,
        "applied": applied,
        "mmap_threshold": STEADY_MMAP_THRESHOLD,
        "trim_threshold": STEADY_TRIM_THRESHOLD,
    }
