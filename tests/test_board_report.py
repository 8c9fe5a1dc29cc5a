"""`fbench report board`: the board during a run, from its stored telemetry (issue 24)."""

from __future__ import annotations

import json

from fbench.cli import main
from tests.conftest import FIXTURES


def _reading(temp, mhz, throttled):
    return {
        "soc_temp_c": temp,
        "cpu_mhz": 1500.0,
        "cpu_max_mhz": 1500.0,
        "governor": "performance",
        "arm_clock_mhz": mhz,
        "throttled": {"raw": throttled, "now": {}, "occurred": {}},
    }


def test_board_report_from_stored_telemetry(tmp_path, capsys):
    data = json.loads((FIXTURES / "arm_table1.json").read_text())
    for number, row in enumerate(data["rows"]):
        row["telemetry"] = {
            "before": _reading(50.0 + number, 1500.0, "0x0"),
            "after": _reading(
                51.0 + number,
                1200.0 if number == 3 else 1500.0,
                "0x50005" if number == 3 else "0x0",
            ),
            "cooling": {"waits": 2, "waited_s": 12.5 + number},
        }
    data["rows"][3]["reasons"] = ["throttled"]
    data["rows"][3]["status"] = "disturbed"
    data["time_budget"] = {"budget_s": 2280.0, "left_s": 600.0, "ran_out": False}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data))
    assert main(["report", "board", str(path), "--format", "md"]) == 0
    out = capsys.readouterr().out
    last = len(data["rows"]) - 1
    assert f"| SoC temperature         | 50.0–{51.0 + last:.1f} °C" in out
    assert "1200–1500 MHz" in out and "| governor                | performance" in out
    assert f"{12.5 + last:.0f} s in 2 wait(s)" in out
    assert "0x0, 0x50005" in out and f"1 of {len(data['rows'])}" in out
    assert "2280 s, 600 s left" in out


def test_board_report_without_telemetry_says_not_read(capsys):
    assert main(["report", "board", str(FIXTURES / "cpu_table1.json")]) == 0
    out = capsys.readouterr().out
    assert "SoC temperature          not read" in out and "cooling waits            none" in out
