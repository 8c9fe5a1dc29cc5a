"""Estimates paired in time (bench/stats/paired.py): known answers, and what pairing cancels
(a drift every row shares) and what it cannot (a process's own layout)."""

from __future__ import annotations

import math
import random

import pytest

from fbench.bench.results import ResultRow
from fbench.bench.stats import paired


def _row(per_process, operator="dwconv", flops=100, gemm=None, copy=None, first=1, seeds=None):
    """A stored row whose processes measured these per-round medians (ms)."""
    entries = []
    for index, rounds in enumerate(per_process):
        entry = {"first_round": first, "row_ms": list(rounds)}
        if gemm is not None:
            entry["gemm_ms"] = list(gemm[index])
        if copy is not None:
            entry["copy_ms"] = list(copy[index])
        entries.append(entry)
    processes = [{"hash_seed": s} for s in seeds] if seeds else None
    return ResultRow(
        operator, {}, 1, 96, 56, 56, 10, 1, "cpu", "torch", "float32", "adaptive", flops,
        1000, 1000, "ok", round_medians=entries, processes=processes,
    )  # fmt: skip


def test_aligned_takes_the_rounds_every_series_has():
    assert paired.aligned([(1, [1, 2, 3, 4]), (2, [20, 30])]) == [[2, 3], [20, 30]]
    assert paired.aligned([(1, [1, 2]), (3, [3])]) == [[], []]


def test_a_drift_both_rows_share_cancels_round_by_round():
    drift = [1.0, 1.0, 1.3, 1.3, 1.0, 0.8, 0.8, 1.0]  # the host, shared by both rows
    a = _row([[2.0 * d for d in drift]])
    b = _row([[1.0 * d for d in drift]])
    estimate = paired.row_ratio(a, b)
    assert estimate.ratio == pytest.approx(2.0)
    assert estimate.ci95_low == pytest.approx(2.0) and estimate.ci95_high == pytest.approx(2.0)
    assert estimate.processes == 1 and estimate.rounds == 8


def test_one_process_gives_the_sign_test_interval_of_the_rounds_median():
    ratios = [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8]  # n = 9: ranks 2 and 8
    a = _row([ratios])
    b = _row([[1.0] * 9])
    estimate = paired.row_ratio(a, b)
    assert estimate.ratio == pytest.approx(1.4)
    assert (estimate.ci95_low, estimate.ci95_high) == pytest.approx((1.1, 1.7))


def test_several_processes_give_t_on_the_logs_of_their_medians_centred_on_the_estimate():
    # Process medians of the ratio 1, 2, 4 (each a steady process): geometric mean 2, log
    # sd ln 2, t(0.975, 2) = 4.302653.
    a = _row([[1.0] * 5, [2.0] * 5, [4.0] * 5])
    b = _row([[1.0] * 5] * 3)
    estimate = paired.row_ratio(a, b)
    factor = math.exp(4.302653 * math.log(2) / math.sqrt(3))
    assert estimate.ratio == pytest.approx(2.0)
    assert estimate.ci95_low == pytest.approx(2.0 / factor, rel=1e-6)
    assert estimate.ci95_high == pytest.approx(2.0 * factor, rel=1e-6)
    assert estimate.method == "processes (t on logs)" and estimate.rounds == 15
    assert math.sqrt(estimate.ci95_low * estimate.ci95_high) == pytest.approx(estimate.ratio)


def test_processes_are_matched_by_hash_seed_and_short_ones_left_out():
    a = _row([[2.0] * 6, [2.0] * 6], seeds=[11, 12])
    b = _row([[1.0] * 6, [1.0] * 6], seeds=[11, 99])  # its second process is another one
    assert paired.row_ratio(a, b).processes == 1
    short = _row([[1.0] * 5])  # one process needs 6 rounds for the sign-test interval
    assert paired.row_ratio(short, short) is None
    few = _row([[1.0] * 2, [1.1] * 1])  # several processes: any shared round counts
    assert paired.row_ratio(few, _row([[1.0] * 2, [1.0] * 1])).processes == 2


def test_against_an_anchor_and_the_flops_ratio():
    host = [1.0, 1.2, 1.2, 1.0, 0.9, 1.1]
    row = _row([[3.0 * h for h in host]], gemm=[[0.5 * h for h in host]], copy=[[1.5] * 6])
    assert paired.against_anchor(row, "gemm").ratio == pytest.approx(6.0)
    assert paired.against_anchor(_row([[1.0] * 6]), "copy") is None  # no anchor stored
    # FLOPS: pconv 160 FLOPs in 1 ms and 320 in 4 ms (mean 120/ms), dwconv 10 in 1 ms and
    # 20 in 1 ms (mean 15/ms): 8x, whatever the host did in each round.
    pconv = [_row([[1.0 * h for h in host]], flops=160), _row([[4.0 * h for h in host]], flops=320)]
    dwconv = [_row([[1.0 * h for h in host]], flops=10), _row([[1.0 * h for h in host]], flops=20)]
    assert paired.flops_ratio(pconv, dwconv).ratio == pytest.approx(8.0)


def test_pairing_narrows_a_ratio_when_the_host_drifts_and_keeps_its_coverage():
    # Two rows that share a host drifting ±10% in slow spells, each with 1% round noise,
    # three processes each with its own layout offset of 2% per row.
    rng = random.Random(5)
    covered, widths = 0, []
    for _ in range(200):
        a_proc, b_proc = [], []
        for _ in range(3):
            offset_a, offset_b = rng.gauss(0, 0.02), rng.gauss(0, 0.02)
            level = 1.0
            a_rounds, b_rounds = [], []
            for _ in range(12):
                level = level * 0.7 + rng.uniform(0.9, 1.1) * 0.3
                a_rounds.append(2.0 * level * math.exp(offset_a + rng.gauss(0, 0.01)))
                b_rounds.append(1.0 * level * math.exp(offset_b + rng.gauss(0, 0.01)))
            a_proc.append(a_rounds)
            b_proc.append(b_rounds)
        estimate = paired.row_ratio(_row(a_proc), _row(b_proc))
        covered += estimate.ci95_low <= 2.0 <= estimate.ci95_high
        widths.append(estimate.halfwidth_rel)
    assert covered >= 180  # about 95% of 200
    assert sorted(widths)[100] < 0.15


def test_rows_without_round_medians_say_they_cannot_be_paired():
    row = _row([[1.0] * 5])
    assert paired.pairing_words(row) is None
    old = ResultRow(
        "dwconv", {}, 1, 96, 56, 56, 10, 1, "cpu", "torch", "float32", "adaptive", 1, 1, 1, "ok"
    )
    assert "cannot be paired" in paired.pairing_words(old)
    assert paired.row_ratio(old, row) is None
