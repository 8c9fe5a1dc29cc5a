"""The measurement procedure on the real CPU device, with small shapes."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
import torch

from fbench.bench import config as config_module
from fbench.bench.measure import host_probe
from fbench.bench.measure.entry import measure
from fbench.bench.measure.events import RowFinished
from fbench.bench.plan.rows import plan_rows
from fbench.bench.results.status import status_of
from fbench.devices.cpu import CPU_SETTINGS, CpuSession
from fbench.operators import OPERATORS, OperatorSpec, register
from fbench.operators.counting import ConvPiece, LayerCost


@pytest.fixture
def session():
    return CpuSession({**CPU_SETTINGS, "pin_core": "none"})


def _config(**overrides):
    # One process: these tests time rows in this process (the default, several worker
    # processes, is tested in tests/test_processes.py); monkeypatches reach no worker.
    values = {"stages": [4], "layers": 1, "quick": True, "pin_core": "none", "processes": 1}
    values |= overrides
    return config_module.load(None, config_module.Overrides(**values))


@pytest.fixture
def broken_operators():
    """Two operators that cannot be measured: one fails to build, one miscounts its FLOPs."""

    def out_of_memory(channels, params):
        raise RuntimeError("simulated: DefaultCPUAllocator: not enough memory")

    def conv3x3(channels, params):
        return torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    register(
        OperatorSpec(
            name="test_oom",
            title="OOM",
            summary="fails to build",
            layer_cost=lambda c, p: LayerCost(convs=(ConvPiece(c, c, 3),)),
            build_layer=out_of_memory,
        )
    )
    register(
        OperatorSpec(
            name="test_miscounted",
            title="Miscounted",
            summary="claims 1×1, builds 3×3",
            layer_cost=lambda c, p: LayerCost(convs=(ConvPiece(c, c, 1),)),
            build_layer=conv3x3,
        )
    )
    yield
    del OPERATORS["test_oom"], OPERATORS["test_miscounted"]


def test_session_runs_on_exactly_one_thread(session):
    assert torch.get_num_threads() == 1
    assert torch.get_num_interop_threads() == 1
    assert session.environment()["threads"] == {"intra_op": 1, "inter_op": 1}


def test_failed_rows_are_stored_with_their_error_and_the_run_goes_on(session, broken_operators):
    config = _config(operators=["test_oom", "conv", "test_miscounted", "dwconv"])
    events = []
    rows = list(measure(plan_rows(config), config, session, events.append))
    by_name = {row.operator: row for row in rows}
    assert by_name["test_oom"].status == "failed"
    assert "not enough memory" in by_name["test_oom"].error
    assert by_name["test_miscounted"].status == "failed"
    assert "FLOPs disagree" in by_name["test_miscounted"].error
    assert by_name["conv"].status != "failed" and by_name["conv"].latency > 0
    assert by_name["test_oom"].reasons == ["error"] and by_name["test_oom"].why
    assert by_name["dwconv"].samples_ms
    finished = [e for e in events if isinstance(e, RowFinished)]
    assert [e.done for e in finished] == [1, 2, 3, 4] and finished[-1].total == 4


def test_adaptive_rows_carry_their_samples_and_statistics(session):
    config = _config(operators=["pconv"], stages=[1, 2])
    rows = list(measure(plan_rows(config), config, session, lambda event: None))
    assert len(rows) == 2
    # Timed here, not pooled from worker processes (a pooled row lists its processes).
    assert config.timing.processes == 1 and [row.processes for row in rows] == [None, None]
    for row in rows:
        assert row.method == "adaptive" and row.latency_estimator == "median"
        assert len(row.samples_ms) == row.latency_ms.n >= config.timing.min_samples
        assert row.rounds >= config.timing.min_rounds
        assert row.latency_ms.ci95_low <= row.latency_ms.median <= row.latency_ms.ci95_high
        assert row.gflops_per_s == pytest.approx(row.flops / (row.latency / 1e3) / 1e9)
        assert row.flops_fvcore == row.flops
        assert row.warmup["calls"] >= 1
        assert set(row.telemetry) == {"before", "after"}
        assert row.device_problems == []  # the cpu device reported nothing
        assert row.status == status_of(row.reasons)
        if "interval_wide" in row.reasons:
            assert "95% CI" in row.notes[0] and row.why
        # The host probe took a slice of every round this row was sampled in.
        probe = row.host_probe["round_medians_ms"]
        assert row.host_probe["workload"] == host_probe.WORKLOAD
        assert len(probe) == row.rounds and all(0 < value < 1000 for value in probe)
    # Both rows were sampled in the first rounds: those rounds' probe values are shared.
    assert rows[0].host_probe["round_medians_ms"][0] == rows[1].host_probe["round_medians_ms"][0]


def test_host_probe_can_be_switched_off_and_official_runs_have_none(session):
    config = _config(operators=["dwconv"])
    off = config_module.RunConfig(
        **{**config.__dict__, "timing": replace(config.timing, host_probe=False)}
    )
    (row,) = measure(plan_rows(off), off, session, lambda event: None)
    assert row.host_probe is None and row.samples_ms
    official = _config(operators=["dwconv"], method="official")
    (row,) = measure(plan_rows(official), official, session, lambda event: None)
    assert row.host_probe is None


def test_a_probe_that_breaks_mid_run_stops_probing_and_the_run_goes_on(session, monkeypatch):
    real_build = host_probe.build

    def breaking_build(torch_device, seed=0):
        probe = real_build(torch_device, seed)
        state = {"slices": 0, "last": 0.0}

        def call():
            # Calls of one slice come back to back; a gap means the runner timed other rows
            # in between. Slice 1 is the warm-up, slice 2 round 1: fail from round 2 on,
            # however fast this machine is (the rows need at least 2 rounds).
            now = time.perf_counter()
            if now - state["last"] > 0.005:
                state["slices"] += 1
            state["last"] = now
            if state["slices"] >= 3:
                raise RuntimeError("simulated: probe kernel failed")
            return probe()

        return call

    monkeypatch.setattr(host_probe, "build", breaking_build)
    config = _config(operators=["dwconv", "conv"])
    events = []
    rows = list(measure(plan_rows(config), config, session, events.append))
    assert [row.status != "failed" for row in rows] == [True, True]
    assert any("host probe off: RuntimeError" in getattr(e, "message", "") for e in events)
    assert [row.processes for row in rows] == [None, None]  # the patched probe ran here
    # Rounds before the failure keep their probe values; none after it.
    for row in rows:
        assert row.host_probe is None or len(row.host_probe["round_medians_ms"]) < row.rounds


def test_official_method_is_the_mean_of_a_fixed_number_of_calls(session):
    config = _config(operators=["dwconv"], method="official")
    (row,) = measure(plan_rows(config), config, session, lambda event: None)
    assert row.method == "official" and row.latency_estimator == "mean"
    assert row.latency_ms.n == config.timing.official_calls
    assert row.latency == pytest.approx(sum(row.samples_ms) / len(row.samples_ms), rel=1e-6)
    assert row.warmup["calls"] == 10  # the FasterNet script's CPU warm-up


def test_unreachable_target_marks_rows_imprecise_not_ok(session):
    config = _config(operators=["dwconv"])
    strict = config_module.RunConfig(
        **{
            **config.__dict__,
            "timing": config_module.TimingConfig(
                ci_target=1e-6,
                min_samples=6,
                min_rounds=1,
                round_s=0.01,
                max_row_s=0.1,
                warmup_min_s=0.0,
                warmup_max_s=0.02,
                # Not what this test is about: on a busy host the probe's rounds could move
                # past host_moved_above and make the row disturbed for that reason instead.
                host_probe=False,
                processes=1,  # one process is enough to miss a target of ±0.0001%
            ),
        }
    )
    (row,) = measure(plan_rows(strict), strict, session, lambda event: None)
    assert "interval_wide" in row.reasons and "target ±0.0%" in row.notes[0]
    # A warm-up capped at 0.02 s is too short for "never settled" to disturb the row.
    assert row.status == "imprecise" and "warmup_unsettled" not in row.reasons
