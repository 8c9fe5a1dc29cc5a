"""The ARM device: Pi telemetry parsed from fixture files, the cool-down gate, row checks."""

from __future__ import annotations

import platform

import pytest

from fbench.bench import config
from fbench.devices import arm, arm_telemetry
from fbench.devices.cpu import CPU_SETTINGS, CpuSession
from tests.conftest import FIXTURES, REPO, assert_one_line_error, fbench

PI = FIXTURES / "arm"


def read(name: str) -> str:
    return (PI / name).read_text()


def test_cortex_a72_detected_from_a_pi4_cpuinfo_and_board_model():
    found = arm.detect(cpuinfo=PI / "cpuinfo_pi4.txt", board_model=PI / "model")
    assert found["cpu_implementer"] == "0x41"
    assert found["cpu_part"] == "0xd08"
    assert found["is_cortex_a72"] is True
    assert found["cpu_name"] == "Cortex-A72"
    assert found["board_model"] == "Raspberry Pi 4 Model B Rev 1.4"  # NUL stripped


def test_other_arm_cpu_runs_but_says_so_and_x86_is_unknown():
    neoverse = arm_telemetry.parse_cpu_identity(read("cpuinfo_neoverse_n1.txt"))
    assert neoverse["is_cortex_a72"] is False
    assert neoverse["cpu_part"] == "0xd0c"
    assert "0xd0c" in neoverse["cpu_name"]
    x86 = arm_telemetry.parse_cpu_identity(read("cpuinfo_x86.txt"))
    assert x86 == {
        "cpu_implementer": None,
        "cpu_part": None,
        "cpu_name": None,
        "is_cortex_a72": False,
    }
    missing = arm.detect(cpuinfo=PI / "no-such-file", board_model=PI / "no-such-model")
    assert missing["cpu_part"] is None and missing["board_model"] is None


@pytest.mark.parametrize(
    ("name", "now", "occurred"),
    [
        ("vcgencmd_get_throttled_0x0", set(), set()),
        (
            "vcgencmd_get_throttled_0x50005",
            {"under_voltage", "throttled"},
            {"under_voltage", "throttled"},
        ),
        ("vcgencmd_get_throttled_0x80008", {"soft_temperature_limit"}, {"soft_temperature_limit"}),
        ("vcgencmd_get_throttled_0x50000", set(), {"under_voltage", "throttled"}),
    ],
)
def test_get_throttled_bits_decoded(name, now, occurred):
    decoded = arm_telemetry.parse_throttled(read(name))
    assert decoded["raw"] == name.rsplit("_", 1)[1]
    assert {flag for flag, on in decoded["now"].items() if on} == now
    assert {flag for flag, on in decoded["occurred"].items() if on} == occurred


def test_frequency_capped_bit():
    assert arm_telemetry.decode_throttled(0x20002)["now"]["frequency_capped"] is True
    assert arm_telemetry.decode_throttled(0x20000)["now"]["frequency_capped"] is False


def test_telemetry_from_a_pi_and_from_nothing():
    reading = arm_telemetry.telemetry_from_sources(
        {
            "temp": read("thermal_zone0_temp"),
            "cur_freq": read("scaling_cur_freq"),
            "max_freq": read("scaling_max_freq"),
            "governor": read("scaling_governor").strip(),
            "measure_clock": read("vcgencmd_measure_clock_arm"),
            "get_throttled": read("vcgencmd_get_throttled_0x0"),
        }
    )
    assert reading["soc_temp_c"] == pytest.approx(48.686)
    assert reading["cpu_mhz"] == 1500.0 and reading["cpu_max_mhz"] == 1500.0
    assert reading["governor"] == "ondemand"
    assert reading["arm_clock_mhz"] == pytest.approx(1500.4)
    assert reading["throttled"]["raw"] == "0x0"
    # No sysfs, no vcgencmd (a VM, emulation, a non-Pi board): nulls, never a crash.
    empty = arm_telemetry.telemetry_from_sources({})
    assert set(empty.values()) == {None}
    garbage = arm_telemetry.telemetry_from_sources(
        {"temp": "n/a", "get_throttled": "error", "cur_freq": ""}
    )
    assert garbage["soc_temp_c"] is None and garbage["throttled"] is None
    assert garbage["cpu_mhz"] is None


def _reading(throttled: int | None = 0, temp: float = 50.0, max_mhz: float = 1500.0) -> dict:
    return {
        "soc_temp_c": temp,
        "cpu_mhz": 1500.0,
        "cpu_max_mhz": max_mhz,
        "governor": "ondemand",
        "arm_clock_mhz": 1500.0,
        "throttled": arm_telemetry.decode_throttled(throttled) if throttled is not None else None,
    }


def test_row_problems_name_what_made_the_row_untrustworthy():
    assert arm_telemetry.row_problems(_reading(), _reading(), 80.0) == []
    # "Has occurred since boot" bits that were already set before the row are not its fault.
    assert arm_telemetry.row_problems(_reading(0x50000), _reading(0x50000), 80.0) == []
    during = arm_telemetry.row_problems(_reading(0x0), _reading(0x50000), 80.0)
    assert len(during) == 1 and "under voltage" in during[0] and "during the row" in during[0]
    now = arm_telemetry.row_problems(_reading(0x0), _reading(0x50005), 80.0)
    assert any("under voltage, throttled after the row" in p for p in now)
    soft = arm_telemetry.row_problems(_reading(0x80008), _reading(0x80008), 80.0)
    assert any("soft temperature limit" in p for p in soft)
    capped = arm_telemetry.row_problems(_reading(max_mhz=1500.0), _reading(max_mhz=1000.0), 80.0)
    assert capped == ["CPU max frequency capped during the row: 1500 → 1000 MHz"]
    hot = arm_telemetry.row_problems(_reading(temp=70.0), _reading(temp=82.5), 80.0)
    assert hot and "82.5 °C" in hot[0]
    # Without vcgencmd or sysfs there is nothing to judge: not a problem.
    nothing = arm_telemetry.telemetry_from_sources({})
    assert arm_telemetry.row_problems(nothing, nothing, 80.0) == []


class FakeBoard:
    """A SoC that cools by `rate_c_per_s` on a fake clock; sleeping advances the clock."""

    def __init__(self, start_c: float | None, rate_c_per_s: float) -> None:
        self.now = 0.0
        self.start_c, self.rate = start_c, rate_c_per_s
        self.sleeps: list[float] = []

    def temperature(self) -> float | None:
        return None if self.start_c is None else self.start_c - self.rate * self.now

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _wait(board: FakeBoard, below_c=60.0, max_wait_s=120.0, poll_s=2.0):
    return arm.wait_until_cool(
        board.temperature, below_c, max_wait_s, poll_s, clock=board.clock, sleep=board.sleep
    )


def test_cool_down_waits_until_below_the_threshold():
    board = FakeBoard(start_c=70.0, rate_c_per_s=0.5)  # 60 °C after 20 s
    waited = _wait(board)
    assert waited["cooled"] is True
    assert waited["from_c"] == 70.0 and waited["to_c"] < 60.0
    assert 20.0 <= waited["waited_s"] <= 22.0
    assert all(s == 2.0 for s in board.sleeps)


def test_cool_down_is_bounded_and_says_it_did_not_cool():
    board = FakeBoard(start_c=85.0, rate_c_per_s=0.01)
    waited = _wait(board, max_wait_s=30.0, poll_s=4.0)
    assert waited["cooled"] is False
    assert waited["waited_s"] == 30.0  # the last sleep is shortened to the bound
    assert board.now == 30.0


def test_no_wait_when_cool_or_when_temperature_is_unknown():
    cool = FakeBoard(start_c=45.0, rate_c_per_s=0.0)
    assert _wait(cool) is None and cool.sleeps == []
    unknown = FakeBoard(start_c=None, rate_c_per_s=0.0)
    assert _wait(unknown) is None and unknown.sleeps == []


def test_arm_timing_defaults_apply_and_devices_arm_timing_overrides(tmp_path):
    cpu = config.load(None, config.Overrides(device="cpu"))
    pi = config.load(None, config.Overrides(device="arm"))
    assert cpu.timing.round_s == 0.05 and cpu.timing.max_row_s == 6.0
    assert pi.timing.round_s == arm.ARM_TIMING["round_s"] == 0.5
    assert pi.timing.max_row_s == 20.0
    assert config.load(REPO / "bench.toml", config.Overrides(device="arm")) == pi.__class__(
        **{**pi.__dict__, "source": str(REPO / "bench.toml")}
    )
    path = tmp_path / "bench.toml"
    path.write_text("[devices.arm]\ncooldown_below_c = 55\n[devices.arm.timing]\nmax_row_s = 40\n")
    custom = config.load(path, config.Overrides(device="arm"))
    assert custom.timing.max_row_s == 40.0 and custom.timing.round_s == 0.5
    assert custom.device_settings["cooldown_below_c"] == 55.0
    path.write_text("[devices.arm.timing]\nround = 1\n")
    with pytest.raises(config.FbenchError, match=r"\[devices.arm.timing\] unknown key 'round'"):
        config.load(path, config.Overrides(device="arm"))


def test_non_arm_host_is_refused():
    assert "not an ARM CPU" in arm.arm_unavailable("x86_64")
    assert arm.arm_unavailable("aarch64") is None


@pytest.mark.skipif(platform.machine() in arm.ARM_MACHINES, reason="this host is ARM")
def test_run_device_arm_on_this_host_is_exit_2(tmp_path):
    result = fbench("run", "--device", "arm", "--quick", "--results-dir", str(tmp_path))
    assert_one_line_error(result, "--device arm", "not an ARM CPU")
    assert list(tmp_path.iterdir()) == []


# --- telemetry that vanishes or answers garbage mid-run (issue 24) -----------------------


def test_telemetry_that_vanishes_or_reads_garbage_is_noted_not_fatal():
    pi = {"temp": "55000", "get_throttled": "throttled=0x0", "cur_freq": "1500000"}
    before = arm_telemetry.telemetry_from_sources(pi)
    assert "unreadable" not in before
    after = arm_telemetry.telemetry_from_sources(
        {"temp": "\x00\x00garbage", "get_throttled": None, "cur_freq": "1500000"}
    )
    assert after["soc_temp_c"] is None and after["unreadable"] == {"soc_temp_c": "\x00\x00garbage"}
    notes = arm_telemetry.telemetry_notes(before, after)
    assert notes == [
        "SoC temperature (thermal_zone0) unreadable after the row (read '\\x00\\x00garbage')",
        "vcgencmd get_throttled vanished during the row (no reading after it)",
    ]
    # The row's checks still run on what is left, and raise nothing.
    assert arm_telemetry.row_problems(before, after, 80.0) == []
    assert arm_telemetry.telemetry_notes(before, before) == []


class VanishingBoard(CpuSession):
    """The CPU, reporting a Pi's telemetry that goes bad after the first reading: the
    thermal zone answers garbage, then vcgencmd disappears (a firmware update mid-run)."""

    def __init__(self, settings):
        super().__init__(settings)
        self.readings = 0

    def telemetry(self):
        self.readings += 1
        if self.readings == 1:
            return arm_telemetry.telemetry_from_sources(
                {"temp": "51000", "get_throttled": "throttled=0x0"}
            )
        return arm_telemetry.telemetry_from_sources({"temp": "¿?", "get_throttled": None})

    def problems(self, before, after):
        return arm_telemetry.row_problems(before, after, 80.0)

    def telemetry_notes(self, before, after):
        return arm_telemetry.telemetry_notes(before, after)


def test_a_row_whose_telemetry_goes_bad_says_so_and_is_stored():
    from fbench.bench.measure.entry import measure
    from fbench.bench.plan.rows import plan_rows

    run_config = config.load(
        None,
        config.Overrides(
            stages=[4], layers=1, quick=True, pin_core="none", processes=1, operators=["conv"]
        ),
    )
    session = VanishingBoard({**CPU_SETTINGS, "pin_core": "none"})
    (row,) = measure(plan_rows(run_config), run_config, session, lambda event: None)
    assert row.status != "failed" and row.samples_ms
    assert any("SoC temperature (thermal_zone0) unreadable after the row" in n for n in row.notes)
    assert any("vcgencmd get_throttled vanished during the row" in n for n in row.notes)
    assert row.telemetry["after"]["soc_temp_c"] is None
