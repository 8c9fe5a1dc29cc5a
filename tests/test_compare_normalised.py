"""The normalised gate (reports/compare/normalised.py): a row's time against an anchor timed
in the same rounds, compared between runs. Hand-made result files, nothing timed."""

from __future__ import annotations

import json
import math
import random

import pytest

from fbench.bench.results import parse_result
from fbench.reports import compare
from fbench.reports.compare.normalised import choose_anchor
from tests.conftest import FIXTURES


def _run(
    run_id: str, seed: int, host: float, code: float = 1.0, processes: int = 3,
    mode: float = 1.0,
) -> dict:  # fmt: skip
    """The Table 1 fixture with per-round medians: each row's rounds follow a host that runs
    `host` times slower than 1 (drifting ±5% round to round, as the GEMM anchor sees it too),
    and the code `code` times slower; each process draws its own 0.5% layout offset. A host
    `mode` (a sibling hyperthread's tenant) slows the rows and the small-conv anchor by that
    factor in a random half of the rounds, and neither the GEMM nor the copy."""
    data = json.loads((FIXTURES / "cpu_table1.json").read_text())
    data["run_id"] = run_id
    rng = random.Random(seed)
    for row in data["rows"]:
        if row["status"] == "failed" or not row.get("latency_ms"):
            continue
        entries, samples, medians = [], [], []
        for _ in range(processes):
            offset = math.exp(rng.gauss(0, 0.005))
            drift = [host * rng.uniform(0.95, 1.05) for _ in range(10)]
            modes = [mode if rng.random() < 0.5 else 1.0 for _ in drift]
            row_ms = [row["latency_ms"]["median"] * code * offset * d * m * rng.gauss(1, 0.003)
                      for d, m in zip(drift, modes, strict=True)]  # fmt: skip
            gemm = [0.2 * d * rng.gauss(1, 0.003) for d in drift]
            copy = [2.0 * rng.gauss(1, 0.05) for _ in drift]  # a copy that does not track
            # It follows the host too, a little less tightly than the GEMM (short calls jitter).
            small = [0.05 * d * m * rng.gauss(1, 0.01) for d, m in zip(drift, modes, strict=True)]
            entries.append(
                {"first_round": 1, "row_ms": row_ms, "gemm_ms": gemm, "copy_ms": copy,
                 "smallconv_ms": small}
            )  # fmt: skip
            samples += row_ms
            medians.append(sorted(row_ms)[5])
        row["samples_ms"] = samples
        row["processes"] = [{"median_ms": m, "n": 10, "rounds": 10} for m in medians]
        row["round_medians"] = entries
        row["status"], row["reasons"], row["why"] = "ok", [], None
        geo = math.exp(sum(math.log(m) for m in medians) / len(medians))
        row["latency_ms"] = {**row["latency_ms"], "median": geo, "ci95_low": geo * 0.9,
                             "ci95_high": geo * 1.1}  # fmt: skip
        row["gflops_per_s"] = row["flops"] * row["batch"] / (geo / 1000.0) / 1e9
        row["throughput_per_s"] = row["batch"] * 1000.0 / geo
    return data


def _compare(base: dict, cur: dict, gate: str) -> compare.Comparison:
    return compare.compare_runs(
        parse_result(base, base["run_id"]), parse_result(cur, cur["run_id"]), gate=gate
    )


def test_a_slower_host_is_a_false_alarm_for_the_plain_gate_and_not_for_the_anchors():
    base, cur = _run("a", 1, host=1.0), _run("b", 2, host=1.15)
    plain = _compare(base, cur, "plain")
    assert plain.exit_code() == 1 and len(plain.regressions) >= 12
    anchors = _compare(base, cur, "anchors")
    assert anchors.exit_code() == 0, [r.reason for r in anchors.rows if r.verdict != "same"]
    assert all(r.test == "paired-anchors" for r in anchors.rows if r.verdict == "same")
    assert anchors.gate_lines == [
        "gate: each row against the anchor timed in its rounds (GEMM, copy or small conv)"
    ]


def test_a_real_ten_percent_slowdown_on_a_slower_host_is_caught_at_its_size():
    base, cur = _run("a", 1, host=1.0), _run("b", 2, host=1.15, code=1.10)
    anchors = _compare(base, cur, "anchors")
    assert anchors.exit_code() == 1
    changes = [r.change for r in anchors.rows if r.verdict == "slower"]
    assert len(changes) >= 14 and all(0.06 < c < 0.14 for c in changes)
    # Change, interval and test are about one ratio: the change is the interval's centre.
    row = anchors.rows[0]
    assert row.change + 1 == pytest.approx(math.sqrt(row.ratio_ci95[0] * row.ratio_ci95[1]), 1e-3)


def test_the_anchor_that_tracks_the_row_is_chosen():
    base, cur = _run("a", 1, host=1.0), _run("b", 2, host=1.0)
    row_a = parse_result(base, "a").rows[0]
    row_b = parse_result(cur, "b").rows[0]
    assert choose_anchor(row_a, row_b) == "gemm"  # the copy here does not follow the host


def test_a_host_mode_only_the_small_conv_follows_is_divided_out_by_it():
    # Half the rounds of every process run 50% slower for rows and small convolution alike
    # (the mode seen on shared EPYC guests), and the current run's host is 10% slower too.
    base, cur = _run("a", 1, host=1.0, mode=1.5), _run("b", 2, host=1.1, mode=1.5)
    rows_a, rows_b = parse_result(base, "a").rows, parse_result(cur, "b").rows
    assert choose_anchor(rows_a[0], rows_b[0]) == "smallconv"
    anchors = _compare(base, cur, "anchors")
    assert anchors.exit_code() == 0, [r.reason for r in anchors.rows if r.verdict != "same"]
    assert all("small-conv" in r.reason or "smallconv" in r.reason for r in anchors.rows
               if r.test == "paired-anchors")  # fmt: skip
    # A real 10% slowdown under the same modes is still caught, at its size.
    slower = _compare(base, _run("c", 3, host=1.1, code=1.1, mode=1.5), "anchors")
    changes = [r.change for r in slower.rows if r.verdict == "slower"]
    assert slower.exit_code() == 1 and len(changes) >= 14
    assert all(0.06 < c < 0.14 for c in changes)


def test_an_unpaired_file_is_judged_by_the_plain_method_and_says_so():
    base = json.loads((FIXTURES / "cpu_table1.json").read_text())  # /2: no round medians
    cur = _run("b", 2, host=1.0)
    result = _compare(base, cur, "anchors")
    assert all(r.test != "paired-anchors" for r in result.rows)
    (line,) = result.gate_lines
    assert line.startswith("gate: ") and "judged by the plain method" in line
    assert "cannot be paired" in line


def test_a_row_whose_normalised_interval_cannot_resolve_the_threshold_is_not_judged():
    base, cur = _run("a", 1, host=1.0, processes=2), _run("b", 2, host=1.0, processes=2)
    # Two processes a side whose layouts differ by 30%: t with 1-2 df cannot resolve 5%.
    for data, factor in ((base, 1.3), (cur, 0.77)):
        for row in data["rows"]:
            if row.get("round_medians"):
                second = row["round_medians"][1]
                second["row_ms"] = [v * factor for v in second["row_ms"]]
    result = _compare(base, cur, "anchors")
    held = [r for r in result.rows if r.verdict == "not judged"]
    assert held and "processes a side would narrow it enough" in held[0].reason
    assert result.exit_code() == 3
