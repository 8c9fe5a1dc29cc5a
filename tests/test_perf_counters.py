"""Hardware counters: parsing `perf stat -x,` output, nulls where unsupported, the opt-in."""

from __future__ import annotations

import shutil

import pytest

from fbench.bench import config
from fbench.devices import perf_counters

# `perf stat -x, -e cycles,instructions,LLC-load-misses` on bare metal, then in a VM.
BARE_METAL = """\
3012345678,,cycles,1002003,100.00,,
6024691356,,instructions,1002003,100.00,2.00,insn per cycle
1234567,,LLC-load-misses,1002003,100.00,,
"""
VIRTUAL = """\
<not supported>,,cycles,0,100.00,,
<not supported>,,instructions,0,100.00,,
<not supported>,,LLC-load-misses,0,100.00,,
"""


def test_parse_counts_and_unsupported_events():
    assert perf_counters.parse_perf_stat_csv(BARE_METAL) == {
        "cycles": 3012345678,
        "instructions": 6024691356,
        "LLC-load-misses": 1234567,
    }
    assert perf_counters.parse_perf_stat_csv(VIRTUAL) == dict.fromkeys(perf_counters.EVENTS)
    # user-space-only modifiers and float software counters
    assert perf_counters.parse_perf_stat_csv(
        "12.5,msec,task-clock:u,1,100.00,,", ["task-clock"]
    ) == {"task-clock": 12.5}


@pytest.mark.skipif(shutil.which("perf") is None, reason="perf is not installed")
def test_count_attaches_to_this_process():
    # task-clock is a software event: it counts even in VMs without hardware counters.
    reason = perf_counters.unavailable_reason(("task-clock",))
    if reason:
        pytest.skip(reason)
    result = perf_counters.count(lambda: sum(range(20000)), 0.1, events=("task-clock",))
    assert result["calls"] > 0 and result["unavailable"] is None
    assert result["task-clock"] is not None and result["task-clock"] >= 0


def test_opt_in_flag_reaches_the_timing_config():
    assert config.load(None).timing.perf_counters is False
    resolved = config.load(None, config.Overrides(perf_counters=True, quick=True))
    assert resolved.timing.perf_counters is True
    assert config.RunConfig.from_dict(resolved.to_dict()) == resolved
