"""Interval widths and the honesty figure (benchmarks/analysis/sweep_precision.py,
benchmarks/reliability.py) on copies of frozen result files whose medians are shifted by hand,
so every count is known."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest

from benchmarks import reliability
from benchmarks.analysis import sweep_precision as sp
from fbench.bench.results import parse_result, read_result

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
TABLE1 = FIXTURES / "cpu_table1.json"  # /2, 16 rows at ±1.0% but dwconv 768×7×7 at ±5.0%
SIX = FIXTURES / "v1" / "reference-six-processes-cpu.json"  # a real /1 run, 6 processes


def _shifted(source: Path, factors: dict[int, float], minute: int, seconds: int = 60) -> dict:
    """The file's data with row i's timings × factors[i]; created at 08:<minute>, lasting
    `seconds`. Intervals scale with their medians, so their relative widths do not move."""
    data = copy.deepcopy(json.loads(source.read_text()))
    data["run_id"] = f"copy-{minute}"
    data["created"] = f"2026-11-23T08:{minute:02d}:00+00:00"
    data["finished"] = f"2026-11-23T08:{minute + seconds // 60:02d}:{seconds % 60:02d}+00:00"
    for index, factor in factors.items():
        row = data["rows"][index]
        for name in ("median", "ci95_low", "ci95_high", "iqr", "mean", "stdev"):
            row["latency_ms"][name] *= factor
        row["samples_ms"] = [s * factor for s in row["samples_ms"]]
        for entry in row.get("processes") or []:
            entry["median_ms"] *= factor
        row["throughput_per_s"] /= factor
        row["gflops_per_s"] /= factor
    return data


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / f"{data['run_id']}.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def three(tmp_path):
    """Three copies of cpu_table1 (every row ±1.0% but row 11, ±5.0%); combined ±1.41%.

    sweep 1: as stored; sweep 2: row 0 +3%, row 1 +0.5%; sweep 3: row 0 +3%, row 2 −4%,
    row 11 +6% (inside its ±5% ⊕ ±5% = ±7.3%). Exceeding rows: 1–2: row 0; 1–3: rows 0
    and 2; 2–3: row 2 (row 0 moved together, row 1's 0.5% is inside)."""
    datas = [
        _shifted(TABLE1, {}, 0, 61),
        _shifted(TABLE1, {0: 1.03, 1: 1.005}, 10, 74),
        _shifted(TABLE1, {0: 1.03, 2: 0.96, 11: 1.06}, 20, 76),
    ]
    return [_write(tmp_path, data) for data in datas]


def test_sweep_figures_of_the_fixture():
    figures = sp.sweep_figures(read_result(TABLE1))
    assert figures.wall_s == 60.0
    assert figures.rows == 16
    assert figures.median_halfwidth == pytest.approx(0.01)
    assert figures.worst_halfwidth == pytest.approx(0.05)
    assert figures.worst_row == "dwconv 768×7×7"
    # Exactly ±1% counts as within ±1%, though the floats read back a hair wider.
    assert figures.within == {0.010: 15, 0.015: 15}
    assert figures.statuses == {"ok": 15, "imprecise": 1}


def test_sweep_figures_of_a_real_six_process_run():
    figures = sp.sweep_figures(read_result(SIX))
    assert figures.wall_s == 57.0
    assert figures.worst_row == "dwconv 192×28×28"
    assert figures.worst_halfwidth == pytest.approx(0.0689, abs=5e-5)
    # 16 rows: the median is the mean of the 8th and 9th widest (±1.40% and ±1.70%).
    assert figures.median_halfwidth == pytest.approx(0.0155, abs=5e-5)
    assert figures.within == {0.010: 5, 0.015: 8}


def test_a_resumed_or_unfinished_run_has_no_wall_time():
    data = json.loads(TABLE1.read_text())
    resumed = parse_result({**data, "resumed": ["2026-11-23T08:00:30+00:00"]}, "memory")
    running = parse_result({**data, "state": "running", "finished": None}, "memory")
    assert sp.wall_seconds(resumed) is None
    assert sp.wall_seconds(running) is None


def test_a_failed_row_has_no_interval_and_meets_no_target():
    data = json.loads(TABLE1.read_text())
    row = data["rows"][3]
    row.update(status="failed", latency_ms=None, samples_ms=[], error="boom")
    row.update(throughput_per_s=None, gflops_per_s=None, reasons=["error"], why="it failed")
    figures = sp.sweep_figures(parse_result(data, "memory"))
    assert figures.worst_halfwidth == math.inf
    assert figures.worst_row == "conv 768×7×7"
    assert figures.within[0.015] == 14
    assert sp.percent(figures.worst_halfwidth) == "no interval"


def test_honesty_counts_rows_beyond_the_combined_interval(three):
    runs = [read_result(path) for path in three]
    pairs = sp.honesty(runs)
    assert [(p.first, p.second, p.exceeding, p.rows) for p in pairs.pairs] == [
        (0, 1, 1, 16),
        (0, 2, 2, 16),
        (1, 2, 1, 16),
    ]
    assert [m.label for m in pairs.pairs[1].moves] == ["conv 96×56×56", "conv 384×14×14"]
    move = pairs.pairs[1].moves[1]
    assert move.change == pytest.approx(-0.04)
    assert move.combined == pytest.approx(math.expm1(math.sqrt(2) * math.log(1.01)))
    assert pairs.mean_exceeding == pytest.approx(4 / 3)
    assert (pairs.worst.first, pairs.worst.second) == (0, 2)
    neighbours = sp.honesty(runs, back_to_back=True)
    assert [(p.first, p.second, p.exceeding) for p in neighbours.pairs] == [(0, 1, 1), (1, 2, 1)]
    assert neighbours.mean_exceeding == 1.0


def test_honesty_compares_only_rows_measured_in_both(three):
    data = json.loads(three[1].read_text())
    data["rows"] = data["rows"][1:]  # row 0, the one that moved, is missing
    data["rows_planned"] = 15
    pair = sp.pair_honesty(read_result(three[0]), parse_result(data, "memory"))
    assert (pair.rows, pair.exceeding) == (15, 0)


def test_goals_say_what_was_measured_and_whether_it_is_met(three):
    runs = [read_result(path) for path in three]
    sweeps = [sp.sweep_figures(run) for run in runs]
    goals = sp.goals(sweeps, sp.honesty(runs))
    assert [(g.measured, g.met) for g in goals] == [
        ("slowest sweep 76 s", False),
        ("widest row of any sweep ±5.0%", False),
        ("widest median row of any sweep ±1.0%", True),
        ("1.33 of 16 per pair over 3 pairs of 3 sweeps", False),
    ]
    # Five sweeps within every goal: copies of sweep 1, none moved, none slower than 75 s.
    quiet = [sp.sweep_figures(runs[0])] * 5
    calm = sp.honesty([runs[0]] * 5)
    assert calm.mean_exceeding == 0
    assert [g.met for g in sp.goals(quiet, calm)] == [True, False, True, True]


def test_reliability_script_prints_and_writes_the_figures(three, tmp_path, capsys):
    out = tmp_path / "figures.json"
    # Given out of order: the script takes the sweeps in the order they were created.
    code = reliability.main(["--reuse", str(three[2]), *map(str, three[:2]), "--json", str(out)])
    printed = capsys.readouterr().out
    assert code in (0, 1)  # the gate's verdict; not what this test is about
    assert "| all pairs | 3 | 1.33 | sweeps 1–3: 2 of 16 (conv 96×56×56 +3.0% vs ±1.4%, " in printed
    assert "| back-to-back | 2 | 1.00 | sweeps 1–2: 1 of 16 (conv 96×56×56 +3.0% vs" in printed
    assert "| 1 `copy-0` | 61 s | ±1.0% | ±5.0% (dwconv 768×7×7) | 15 of 16 | 15 of 16 |" in (
        printed
    )
    assert "- [x] median row ±1.0%: widest median row of any sweep ±1.0%: met" in printed
    assert printed.rstrip().endswith("over 3 pairs of 3 sweeps: not met")
    figures = json.loads(out.read_text())
    assert [s["run_id"] for s in figures["sweeps"]] == ["copy-0", "copy-10", "copy-20"]
    assert [s["wall_s"] for s in figures["sweeps"]] == [61.0, 74.0, 76.0]
    assert figures["honesty"]["all_pairs"]["worst_pair"] == [0, 2]
    assert figures["honesty"]["back_to_back"]["mean_exceeding"] == 1.0
    assert [g["met"] for g in figures["goals"]] == [False, False, True, False]
    assert figures["honesty"]["exact_intervals_share"] is None  # one process per row
    assert set(figures["gate"]) == {"raw (default)", "host-corrected (--host-correction)"}


def test_reliability_script_says_which_file_is_bad(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert reliability.main(["--reuse", str(bad), str(TABLE1)]) == 2
    assert str(bad) in capsys.readouterr().err


def test_the_floor_for_exact_intervals_uses_the_runs_processes(tmp_path):
    datas = [_shifted(SIX, {}, 0, 57), _shifted(SIX, {0: 1.03}, 5, 71)]
    runs = [read_result(_write(tmp_path, data)) for data in datas]
    figures = reliability.precision(runs)
    assert figures.processes == 6
    assert figures.exact_share == pytest.approx(0.028, abs=0.004)
    # conv 96×56×56 at ±0.86% moved 3%: beyond ±1.2% combined; nothing else moved.
    assert [m.label for m in figures.all_pairs.pairs[0].moves] == ["conv 96×56×56"]
