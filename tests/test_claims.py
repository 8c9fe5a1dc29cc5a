"""`fbench report claims`: each verdict from hand-made results, the interval arithmetic, the CLI."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from fbench.bench.calibration import read_calibration
from fbench.bench.results import read_result
from fbench.bench.stats.timing import LatencySummary
from fbench.reports import claims
from fbench.reports.claims import (
    FAILS,
    HOLDS,
    NOT_COMPARABLE,
    NOT_MEASURED,
    WEAKER,
    Estimate,
    check_claims,
    magnitude_verdict,
    mean_estimate,
    order_verdict,
    usable,
)
from tests.conftest import FIXTURES, assert_one_line_error, fbench

CPU = FIXTURES / "cpu_table1.json"
NETWORKS = FIXTURES / "cpu_networks.json"
CUDA = FIXTURES / "cuda_table1.json"
ARM = FIXTURES / "arm_table1.json"
CALIBRATION = FIXTURES / "cpu_calibration.json"


def load(path):
    return read_result(path)


def by_claim(results, claim, device):
    (found,) = [r for r in results if r.claim == claim and r.device == device]
    return found


def latency_summary(median_ms: float, halfwidth: float) -> LatencySummary:
    """A latency of 50 samples with a ±halfwidth (relative) 95% interval."""
    return LatencySummary(
        median_ms, median_ms * (1 - halfwidth), median_ms * (1 + halfwidth), 0.0, median_ms, 0.0, 50
    )


def scaled(row, speed: float, halfwidth: float = 0.01):
    """The row `speed` times faster, with a ±halfwidth latency interval."""
    return dataclasses.replace(
        row,
        latency_ms=latency_summary(row.latency_ms.median / speed, halfwidth),
        gflops_per_s=row.gflops_per_s * speed,
        throughput_per_s=(row.throughput_per_s or 0) * speed or None,
    )


def with_rows(run, transform):
    return dataclasses.replace(run, rows=[transform(row) for row in run.rows])


def network_row(template, name, key, latency_ms, halfwidth=0.01, flops=1_000_000_000):
    return dataclasses.replace(
        template,
        operator=key,
        network=name,
        flops=flops,
        latency_ms=latency_summary(latency_ms, halfwidth),
        status="ok",
        gflops_per_s=flops / (latency_ms / 1000) / 1e9,
        throughput_per_s=1000 / latency_ms,
    )


def networks_run(*specs):
    """A CPU networks run with rows (name, key, latency_ms[, halfwidth[, flops]])."""
    base = load(NETWORKS)
    template = base.rows[0]
    return dataclasses.replace(base, rows=[network_row(template, *spec) for spec in specs])


# --- the arithmetic --------------------------------------------------------------------------


def test_ratio_interval_adds_log_halfwidths_in_quadrature():
    a, b = Estimate(6.0, math.log1p(0.03)), Estimate(2.0, math.log1p(0.04))
    ratio = a.over(b)
    assert ratio.value == pytest.approx(3.0)
    width = math.hypot(math.log(1.03), math.log(1.04))
    assert ratio.low == pytest.approx(3.0 * math.exp(-width))
    assert ratio.high == pytest.approx(3.0 * math.exp(width))


def test_mean_estimate_propagates_row_halfwidths():
    run = load(CPU)
    rows = [r for r in run.rows if r.operator == "pconv"]
    estimate = mean_estimate(rows)
    values = [r.gflops_per_s for r in rows]
    mean = sum(values) / 4
    halfwidth = (
        math.sqrt(
            sum(
                (g * r.latency_ms.ci95_halfwidth_rel) ** 2
                for g, r in zip(values, rows, strict=True)
            )
        )
        / 4
    )
    assert estimate.value == pytest.approx(mean)
    assert estimate.log_halfwidth == pytest.approx(math.log1p(halfwidth / mean))


@pytest.mark.parametrize(
    ("value", "halfwidth", "verdict"),
    [
        (6.5, 0.02, HOLDS),  # beyond the paper's 6.2
        (5.0, 0.5, HOLDS),  # below, but the interval reaches 6.2
        (3.0, 0.05, WEAKER),  # below 6.2, clearly above 1
        (1.05, 0.2, FAILS),  # excludes 6.2, and includes no difference
        (0.5, 0.05, FAILS),  # the other direction
    ],
)
def test_magnitude_verdict_comes_from_the_interval(value, halfwidth, verdict):
    assert magnitude_verdict(Estimate(value, math.log1p(halfwidth)), 6.2) == verdict


def test_order_verdict():
    assert order_verdict(Estimate(1.5, 0.05)) == HOLDS
    assert order_verdict(Estimate(1.02, 0.1)) == WEAKER  # a tie is inside the interval
    assert order_verdict(Estimate(0.7, 0.05)) == FAILS


def test_usable_rows_exclude_failed_and_device_problems():
    rows = load(ARM).rows
    failed = next(r for r in rows if r.status == "failed")
    assert not usable(failed)
    ok = next(r for r in rows if r.status == "ok")
    assert usable(ok)
    throttled = dataclasses.replace(
        ok, status="disturbed", reasons=["throttled"], device_problems=["throttled (0x50005)"]
    )
    assert not usable(throttled)
    # Only imprecise: the interval is wide, the device reported nothing: used.
    imprecise = dataclasses.replace(ok, status="imprecise", reasons=["interval_wide"])
    assert usable(imprecise)


# --- verdicts on hand-made results ----------------------------------------------------------


def test_fixtures_hold_table1_claims():
    results = check_claims([load(CPU), load(CUDA)])
    ratio = by_claim(results, "pconv-dwconv-ratio", "cpu")
    assert ratio.verdict == HOLDS and ratio.paper == pytest.approx(39.91 / 6.42)
    assert ratio.low < ratio.measured < ratio.high
    assert by_claim(results, "table1-order", "cpu").verdict == HOLDS
    assert by_claim(results, "pconv-dwconv-ratio", "cuda").verdict == HOLDS
    assert by_claim(results, "pconv-flops", "any").verdict == HOLDS
    memory = by_claim(results, "pconv-memory", "any")
    assert memory.verdict == HOLDS and memory.high == pytest.approx(155712 / 685056)


def test_arm_ratio_holds_weaker_and_says_which_rows_were_left_out():
    results = check_claims([load(ARM)])
    ratio = by_claim(results, "pconv-dwconv-ratio", "arm")
    assert ratio.verdict == WEAKER and ratio.measured < 22.8 and ratio.low > 1
    assert "768×7×7 failed" in ratio.reason and "over 3 feature maps" in ratio.reason
    # The ARM fixture has no GConv: the ordering cannot be checked, and says how to.
    order = by_claim(results, "table1-order", "arm")
    assert order.verdict == NOT_MEASURED
    assert "fbench run --device arm --operators" in order.reason


def test_pconv_slower_than_dwconv_fails():
    run = with_rows(load(CPU), lambda r: scaled(r, 0.1) if r.operator == "pconv" else r)
    results = check_claims([run])
    assert by_claim(results, "pconv-dwconv-ratio", "cpu").verdict == FAILS
    assert by_claim(results, "table1-order", "cpu").verdict == FAILS


def test_wide_intervals_keep_a_low_ratio_from_failing():
    run = with_rows(
        load(CPU), lambda r: scaled(r, 0.8, halfwidth=0.9) if r.operator == "pconv" else r
    )
    ratio = by_claim(check_claims([run]), "pconv-dwconv-ratio", "cpu")
    assert ratio.measured < 6.2 <= ratio.high and ratio.verdict == HOLDS


@pytest.mark.parametrize(
    ("mobilevit_ms", "verdict"),
    [(34.0, HOLDS), (23.8, WEAKER), (9.5, FAILS)],
)
def test_fasternet_t0_against_mobilevit_xxs(mobilevit_ms, verdict):
    run = networks_run(
        ("FasterNet-T0", "fasternet_t0", 10.0), ("MobileViT-XXS", "mobilevit_xxs", mobilevit_ms)
    )
    result = by_claim(check_claims([run]), "t0-vs-mobilevit-xxs", "cpu")
    assert result.verdict == verdict
    assert result.measured == pytest.approx(mobilevit_ms / 10.0)
    assert result.paper == pytest.approx(30.8 / 9.2)


def test_fasternet_l_against_swin_b_on_cpu_is_weaker():
    run = networks_run(("FasterNet-L", "fasternet_l", 397.0), ("Swin-B", "swin_base", 433.0))
    result = by_claim(check_claims([run]), "l-vs-swin-b", "cpu")
    assert result.verdict == WEAKER
    assert result.measured_text == "8%" and result.paper_text == "37%"


def test_networks_below_resnet50():
    common = [("ResNet50", "resnet50", 80.0, 0.01, 4_110_000_000)]
    # MobileNetV2's FLOPS is below ResNet50's in the paper on every device.
    below = networks_run(*common, ("MobileNetV2", "mobilenetv2_100", 12.0, 0.01, 310_000_000))
    assert by_claim(check_claims([below]), "below-resnet50", "cpu").verdict == HOLDS
    above = networks_run(*common, ("MobileNetV2", "mobilenetv2_100", 1.0, 0.01, 310_000_000))
    result = by_claim(check_claims([above]), "below-resnet50", "cpu")
    assert result.verdict == FAILS and "against the paper: MobileNetV2" in result.reason


def test_missing_networks_are_not_measured_with_the_command():
    results = check_claims([load(NETWORKS)])
    result = by_claim(results, "t0-vs-mobilevit-xxs", "cpu")
    assert result.verdict == NOT_MEASURED
    assert "no MobileViT-XXS row" in result.reason
    assert "fbench run --suite networks --device cpu --models fasternet_t0,mobilevit_xxs" in (
        result.reason
    )


def test_a_failed_network_is_not_measured():
    run = networks_run(
        ("FasterNet-T0", "fasternet_t0", 10.0), ("MobileViT-XXS", "mobilevit_xxs", 30.0)
    )
    run = with_rows(
        run,
        lambda r: (
            dataclasses.replace(r, status="failed", error="OOM", gflops_per_s=None)
            if r.operator == "mobilevit_xxs"
            else r
        ),
    )
    result = by_claim(check_claims([run]), "t0-vs-mobilevit-xxs", "cpu")
    assert result.verdict == NOT_MEASURED and "MobileViT-XXS failed (OOM)" in result.reason


# --- incomparable input: a reason, never a verdict ------------------------------------------


def test_two_cpus_mixed_are_not_comparable():
    other = load(CPU)
    other = dataclasses.replace(
        other, run_id="other-cpu", environment={**other.environment, "cpu_model": "Other CPU"}
    )
    results = check_claims([load(CPU), other])
    for claim in ("table1-order", "pconv-dwconv-ratio"):
        result = by_claim(results, claim, "cpu")
        assert result.verdict == NOT_COMPARABLE and result.measured is None
        assert "2 setups" in result.reason and "Other CPU" in result.reason


def test_the_same_run_twice_is_not_comparable():
    results = check_claims([load(CPU), dataclasses.replace(load(CPU), run_id="again")])
    result = by_claim(results, "pconv-dwconv-ratio", "cpu")
    assert result.verdict == NOT_COMPARABLE and "in two results" in result.reason


def test_another_dtype_is_not_comparable():
    run = with_rows(load(CPU), lambda r: dataclasses.replace(r, dtype="bfloat16"))
    result = by_claim(check_claims([run]), "pconv-dwconv-ratio", "cpu")
    assert result.verdict == NOT_COMPARABLE and "bfloat16" in result.reason


def test_rows_not_in_table1_configuration_are_not_comparable():
    run = with_rows(load(CPU), lambda r: dataclasses.replace(r, layers=2))
    result = by_claim(check_claims([run]), "table1-order", "cpu")
    assert result.verdict == NOT_COMPARABLE and "not Table 1's configuration" in result.reason


def test_gpu_networks_at_another_batch_are_not_comparable():
    run = networks_run(
        ("FasterNet-T0", "fasternet_t0", 10.0), ("MobileViT-XXS", "mobilevit_xxs", 30.0)
    )
    run = with_rows(run, lambda r: dataclasses.replace(r, device="cuda", batch=1))
    result = by_claim(check_claims([run]), "t0-vs-mobilevit-xxs", "cuda")
    assert result.verdict == NOT_COMPARABLE and "batch 1" in result.reason


def test_roofline_claim_and_a_calibration_of_another_dtype_or_device():
    calibration = read_calibration(CALIBRATION)
    run = dataclasses.replace(
        load(CPU), environment={**load(CPU).environment, "cpu_model": "Hand-made Test CPU"}
    )
    result = by_claim(check_claims([run], {"cpu": calibration}), "under-roof", "cpu")
    assert result.verdict == HOLDS and result.measured == result.paper == 16
    bf16 = dataclasses.replace(calibration, dtype="bfloat16")
    result = by_claim(check_claims([run], {"cpu": bf16}), "under-roof", "cpu")
    assert result.verdict == NOT_COMPARABLE and "cpu/bfloat16" in result.reason
    other = dataclasses.replace(calibration, environment={"cpu_model": "Another CPU"})
    result = by_claim(check_claims([run], {"cpu": other}), "under-roof", "cpu")
    assert result.verdict == NOT_COMPARABLE and "Another CPU" in result.reason
    # A ceiling far below the data: every row is above its roof.
    low = dataclasses.replace(
        calibration,
        ceilings={
            name: dataclasses.replace(c, median=c.median / 100, ci95_low=None, ci95_high=None)
            for name, c in calibration.ceilings.items()
        },
    )
    # Without conv probes (a /1 calibration) the roof is a GEMM's, which a convolution
    # library's kernels may beat: no verdict, and what to do about it.
    result = by_claim(check_claims([run], {"cpu": low}), "under-roof", "cpu")
    assert result.verdict == NOT_MEASURED
    assert "the calibration has no conv probes" in result.reason
    assert "fbench calibrate --device cpu" in result.reason
    # With them, a row above the roof is a failure of the calibration to bound the data.
    conv = dataclasses.replace(low.ceilings["gemm"], name="conv")
    low = dataclasses.replace(low, ceilings={**low.ceilings, "conv": conv})
    result = by_claim(check_claims([run], {"cpu": low}), "under-roof", "cpu")
    assert result.verdict == FAILS and "ceiling too low" in result.reason


def test_a_run_whose_every_row_was_disturbed_gets_no_verdict_and_says_why():
    # A noisy host: every row disturbed (host_moved). No claim may hold from no rows.
    calibration = read_calibration(CALIBRATION)
    run = dataclasses.replace(
        load(CPU), environment={**load(CPU).environment, "cpu_model": "Hand-made Test CPU"}
    )
    noisy = with_rows(
        run,
        lambda r: dataclasses.replace(
            r, status="disturbed", reasons=["host_moved"], why="the host probe moved 28%"
        ),
    )
    results = check_claims([noisy], {"cpu": calibration})
    for claim in ("under-roof", "table1-order", "pconv-dwconv-ratio"):
        result = by_claim(results, claim, "cpu")
        assert result.verdict == NOT_MEASURED, claim
        assert "disturbed (host_moved)" in result.reason, result.reason


# --- the command ------------------------------------------------------------------------------


def test_cli_text_md_and_json(tmp_path):
    paths = [str(p) for p in (CPU, NETWORKS, CUDA, ARM)]
    text = fbench("report", "claims", "--wide", *paths)
    assert text.returncode == 0, text.stderr
    line = next(x for x in text.stdout.splitlines() if "PConv 6.2× the FLOPS of DWConv" in x)
    assert line.split()[-1] == "holds"
    assert "Intervals: 95%" in text.stdout
    md = fbench("report", "claims", *paths, "--format", "md")
    assert md.stdout.startswith("| Claim") and "| holds weaker" in md.stdout
    out = tmp_path / "claims.json"
    data = fbench("report", "claims", *paths, "--format", "json", "-o", str(out))
    assert data.returncode == 0, data.stderr
    report = json.loads(out.read_text())
    assert report["schema"] == "fbench.claims/1"
    verdicts = {(c["claim"], c["device"]): c["verdict"] for c in report["claims"]}
    assert verdicts[("pconv-dwconv-ratio", "arm")] == WEAKER
    assert verdicts[("t0-vs-mobilevit-xxs", "cpu")] == NOT_MEASURED
    assert set(verdicts.values()) <= set(claims.VERDICTS)


def test_cli_calibration_of_another_device_is_one_note(tmp_path):
    calibration = json.loads(CALIBRATION.read_text())
    calibration["device"] = "cuda"
    path = tmp_path / "cuda.json"
    path.write_text(json.dumps(calibration))
    result = fbench("report", "claims", str(CPU), "--calibration", str(path))
    assert result.returncode == 0, result.stderr
    assert "no result has cuda rows; the roofline claim cannot be judged" in result.stdout


def test_cli_bad_input_is_one_line(tmp_path):
    assert_one_line_error(fbench("report", "claims", str(tmp_path / "absent.json")), "absent.json")
    run = json.loads(CPU.read_text())
    for row in run["rows"]:
        row["device"] = "mps"
    path = tmp_path / "mps.json"
    path.write_text(json.dumps(run))
    assert_one_line_error(fbench("report", "claims", str(path)), "no rows of a device the paper")


def test_two_pconv_variants_at_one_feature_map_are_not_comparable():
    run = load(CPU)
    pconv = next(r for r in run.rows if r.operator == "pconv")
    # Both match the paper's parameters (r = 1/4), so both would enter the same average.
    variant = dataclasses.replace(pconv, operator_params={**pconv.operator_params, "bias": True})
    run = dataclasses.replace(run, rows=[*run.rows, variant])
    result = by_claim(check_claims([run]), "pconv-dwconv-ratio", "cpu")
    assert result.verdict == NOT_COMPARABLE and "two PConv 3×3 96×56×56 rows" in result.reason


def test_operators_at_no_common_feature_map_are_not_measured():
    run = load(CPU)
    keep = [
        r
        for r in run.rows
        if (r.operator, r.stage) in {("pconv", 1), ("dwconv", 2)} or r.operator == "gconv"
    ]
    result = by_claim(
        check_claims([dataclasses.replace(run, rows=keep)]), "pconv-dwconv-ratio", "cpu"
    )
    assert result.verdict == NOT_MEASURED and "no feature map" in result.reason


def test_the_report_in_the_docs_is_current():
    from tests.conftest import REPO

    paths = [str(p.relative_to(REPO)) for p in (CUDA, CPU, NETWORKS, ARM)]
    result = fbench("report", "claims", *paths, "--calibration", str(CALIBRATION.relative_to(REPO)))
    assert result.returncode == 0, result.stderr
    assert result.stdout in (REPO / "docs" / "claims.md").read_text()


def _quick_like(tmp_path, pconv_ratio=0.25):
    """The CPU fixture as a --quick run records it: 2 layers, `quick` in its config (the
    counts are per layer times layers, so their ratios do not change)."""
    data = json.loads(CPU.read_text(encoding="utf-8"))
    data["config"].update(quick=True, layers=2)
    for row in data["rows"]:
        row["layers"] = 2
        if row["operator"] == "pconv":
            row["operator_params"] = {"partial_ratio": pconv_ratio}
    path = tmp_path / "quick.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return read_result(path)


def test_counting_claims_are_judged_on_a_quick_run(tmp_path):
    # Eqs. 2, 4, 5 hold at any feature map and depth: a quick run's Conv and PConv pair up.
    results = check_claims([_quick_like(tmp_path)])
    flops = by_claim(results, "pconv-flops", "any")
    assert flops.verdict == HOLDS and flops.measured == pytest.approx(1 / 16, rel=1e-3)
    assert flops.reason == "4 feature maps"
    assert by_claim(results, "pconv-memory", "any").verdict == HOLDS


def test_counting_claims_name_another_partial_ratio(tmp_path):
    results = check_claims([_quick_like(tmp_path, pconv_ratio=0.5)])
    flops = by_claim(results, "pconv-flops", "any")
    assert flops.verdict == NOT_COMPARABLE
    assert flops.reason == "PConv rows use partial_ratio 0.5; the paper's claim is for r = 1/4"


def test_quick_run_says_the_table1_claims_need_a_full_run(tmp_path):
    results = check_claims([_quick_like(tmp_path)])
    for claim in ("table1-order", "pconv-dwconv-ratio"):
        result = by_claim(results, claim, "cpu")
        assert result.verdict == NOT_COMPARABLE
        assert result.reason.startswith("quick run: cpu rows are not the paper's shapes and depth")
        assert result.reason.endswith("run without --quick")


def test_counting_claims_not_measured_without_a_conv_pconv_pair(tmp_path):
    run = load(CPU)
    conv_deeper = [
        dataclasses.replace(r, layers=5) if r.operator == "conv" else r for r in run.rows
    ]
    results = check_claims([dataclasses.replace(run, rows=conv_deeper)])
    flops = by_claim(results, "pconv-flops", "any")
    assert flops.verdict == NOT_MEASURED
    assert flops.reason.startswith("no Conv and PConv rows of the same shape, layers, batch")


def test_rows_timed_together_give_the_ratio_paired_by_round():
    # Each row's per-round medians: its stored median times a host that drifts ±15% in every
    # round alike, in three processes. Independent row intervals of ±3% each give a wide
    # ratio; pairing by round cancels the shared drift.
    host = [1.0, 1.15, 0.9, 1.1, 0.85, 1.0, 1.05, 0.95]

    def paired_row(row):
        row = scaled(row, 1.0, halfwidth=0.03)
        entries = [
            {"first_round": 1, "row_ms": [row.latency_ms.median * h * k for h in host]}
            for k in (1.0, 1.01, 0.99)
        ]
        return dataclasses.replace(row, round_medians=entries)

    run = with_rows(load(CPU), paired_row)
    ratio = by_claim(check_claims([run]), "pconv-dwconv-ratio", "cpu")
    assert "paired by round over 3 process(es)" in ratio.reason
    independent = by_claim(check_claims([with_rows(load(CPU), lambda r: scaled(r, 1.0, 0.03))]),
                           "pconv-dwconv-ratio", "cpu")  # fmt: skip
    assert ratio.measured == pytest.approx(independent.measured, rel=1e-3)
    assert (ratio.high - ratio.low) < (independent.high - independent.low) / 2
    from fbench.reports.table1.one_device import table1

    note = next(n for n in table1(run.rows).notes if n.startswith("PConv:"))
    assert "× the FLOPS of DWConv (95% " in note and "×, paired)" in note
