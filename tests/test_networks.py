"""The network suite (Figure 2 / Table 3): the right networks, BN folding, a run end to end.

Building and counting all 35 networks once takes about a minute on one thread, so one
module-scoped fixture does it and every count test reads from it. Nothing downloads
weights: every network is built with random weights.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from fbench.bench import config as config_module
from fbench.bench.flop_count import count_flops
from fbench.networks import NETWORKS, get_network
from fbench.networks.cyclemlp import CycleFC
from fbench.networks.fuse import fuse_batchnorm
from fbench.networks.plan import NetworkPlan
from fbench.reports import paper
from tests.conftest import assert_one_line_error, fbench

TOLERANCE = 0.03  # Table 3's params and FLOPs are printed to 2-3 significant digits


@pytest.fixture(scope="module")
def counted() -> dict[str, tuple[int, int, dict[str, int]]]:
    """key → (params, fvcore multiply-adds for one image, uncounted ops), as defined."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    results = {}
    try:
        for key, spec in NETWORKS.items():
            torch.manual_seed(0)
            model = spec.build()
            image = torch.randn(1, 3, spec.resolution, spec.resolution)
            count = count_flops(model, image)
            params = sum(p.numel() for p in model.parameters())
            results[key] = (params, count.flops, count.uncounted_ops)
            del model
    finally:
        torch.set_num_threads(threads)
    return results


def test_the_suite_is_table3_by_the_papers_names():
    assert [spec.network for spec in NETWORKS.values()] == list(paper.table3())
    for spec in NETWORKS.values():
        assert spec.resolution == paper.table3()[spec.network].resolution, spec.key
    assert {spec.family for spec in NETWORKS.values()} == {
        "ShuffleNetV2", "MobileNetV2", "MobileViT", "EdgeNeXt", "FasterNet", "GhostNet",
        "PVT", "CycleMLP", "PoolFormer", "ResNet", "ConvNeXt", "Swin",
    }  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("key", list(NETWORKS))
def test_params_and_flops_match_table3(counted, key):
    params, flops, _ = counted[key]
    reference = paper.table3()[get_network(key).network]
    assert params / 1e6 == pytest.approx(reference.params_m, rel=TOLERANCE)
    assert flops / 1e9 == pytest.approx(reference.flops_g, rel=TOLERANCE)


@pytest.mark.slow
def test_attention_and_cycle_fc_are_counted_not_listed(counted):
    for key in ("mobilevit_s", "swin_tiny", "edgenext_small", "cyclemlp_b1"):
        uncounted = counted[key][2]
        assert "aten::scaled_dot_product_attention" not in uncounted, key
        assert "torchvision::deform_conv2d" not in uncounted, key


def test_scaled_dot_product_attention_handle_counts_both_matmuls():
    class Attention(nn.Module):
        def forward(self, x):
            q, k, v = x[..., :8], x[..., 8:16], x[..., 16:]
            return nn.functional.scaled_dot_product_attention(q, k, v)

    batch, heads, tokens = 2, 3, 5
    count = count_flops(Attention(), torch.randn(batch, heads, tokens, 28))
    # Q·Kᵀ: L·S·E, then ·V: L·S·Eᵥ (E = 8, Eᵥ = 12), for every batch and head.
    assert count.flops == batch * heads * tokens * tokens * (8 + 12)


def test_cycle_fc_reads_the_neighbour_that_cycles_with_the_channel():
    torch.manual_seed(0)
    layer = CycleFC(6, 4, (1, 3)).eval()
    x = torch.randn(1, 6, 5, 7)
    # Channel i reads column w + ((i + 1) mod 3 − 1), zero outside: then a 1×1 convolution.
    shifted = torch.zeros_like(x)
    for channel in range(6):
        step = (channel + 1) % 3 - 1
        source = x[0, channel]
        if step == 1:
            shifted[0, channel, :, :-1] = source[:, 1:]
        elif step == -1:
            shifted[0, channel, :, 1:] = source[:, :-1]
        else:
            shifted[0, channel] = source
    expected = nn.functional.conv2d(shifted, layer.weight, layer.bias)
    with torch.no_grad():
        assert torch.allclose(layer(x), expected, atol=1e-5)
    assert count_flops(layer, x).flops == 5 * 7 * 6 * 4


@pytest.mark.slow
@pytest.mark.parametrize("key", ["mobilenet_v2", "mobilevit_xxs"])  # plain BN; timm BNAct
def test_folding_batchnorm_leaves_outputs_unchanged(key):
    spec = get_network(key)
    torch.manual_seed(0)
    model = spec.build()
    for module in model.modules():  # non-trivial statistics, so a wrong fold would show
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    image = torch.randn(1, 3, spec.resolution, spec.resolution)
    with torch.no_grad():
        before = model(image)
        flops_before = count_flops(model, image).flops
        fused = fuse_batchnorm(model, image)
        after = model(image)
    assert fused.folded == {"mobilenet_v2": 52, "mobilevit_xxs": 32}[key]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert torch.allclose(before, after, rtol=1e-4, atol=1e-4)
    assert count_flops(model, image).flops == flops_before - fused.flops_removed


def test_folding_that_would_change_outputs_is_an_error():
    class ConvOutputReadTwice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.bn = nn.BatchNorm2d(4).eval()
            self.bn.running_var.fill_(4.0)

        def forward(self, x):
            y = self.conv(x)
            return self.bn(y) + y  # folding the BN into conv would change the skip too

    with pytest.raises(RuntimeError, match="changed the network's output"):
        fuse_batchnorm(ConvOutputReadTwice().eval(), torch.randn(1, 3, 8, 8))


@pytest.mark.slow
def test_network_plan_counts_the_network_as_defined_and_checks_the_fused_one():
    plan = NetworkPlan("fasternet_t0", batch=1, dtype="float32", device="cpu", backend="torch")
    module, example = plan.build()
    assert example.shape == (1, 3, 224, 224)
    assert plan.counts["bn_fused"] == 17
    reference = paper.table3()["FasterNet-T0"]
    assert plan.flops() / 1e9 == pytest.approx(reference.flops_g, rel=TOLERANCE)
    plan.check_count(count_flops(module, example))  # passes: fused = defined − folded BNs
    from fbench.bench.flop_count import CountMismatch

    with pytest.raises(CountMismatch, match="BN-fused network"):
        plan.check_count(count_flops(nn.Sequential(module, nn.Linear(1000, 10)), example))


def test_network_timing_in_bench_toml_equals_the_built_in_defaults():
    from tests.conftest import REPO

    overrides = config_module.Overrides(suite="networks")
    from_file = config_module.load(REPO / "bench.toml", overrides)
    built_in = config_module.load(None, overrides)
    assert from_file.to_dict() | {"source": None} == built_in.to_dict() | {"source": None}
    assert built_in.models == tuple(NETWORKS)
    assert built_in.timing == config_module.NETWORK_TIMING


def test_unknown_model_is_one_line_listing_the_known_ones(tmp_path):
    result = fbench(
        "run", "--suite", "networks", "--models", "resnet51", "--results-dir", str(tmp_path)
    )
    assert_one_line_error(result, "--models: unknown network 'resnet51'", "resnet50", "pvt_tiny")
    config = tmp_path / "bench.toml"
    config.write_text('[networks]\nmodels = ["pvt_v2_b0"]\n')
    result = fbench("run", "--config", str(config), "--results-dir", str(tmp_path))
    assert_one_line_error(result, "[networks] models: unknown network 'pvt_v2_b0'", "known:")
    assert not list(tmp_path.glob("*.json"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[experiment]\nsuite = "nets"\n', "[experiment] suite must be one of operators, networks"),
        ("[networks]\nmodels = []\n", "[networks] models: must be a non-empty list"),
        ('[networks]\nmodels = ["resnet50", "resnet50"]\n', "lists resnet50 more than once"),
        ("[networks]\nbatch = 2\n", "[networks] unknown key 'batch'; known: models, timing"),
        ("[networks.timing]\nci_target = 2\n", "[networks.timing] ci_target must be in (0, 1)"),
    ],
)
def test_bad_network_settings_are_one_clear_error(tmp_path, text, message):
    from fbench.bench.errors import FbenchError

    path = tmp_path / "bench.toml"
    path.write_text(text)
    with pytest.raises(FbenchError) as error:
        config_module.load(path)
    assert message in str(error.value)


def test_suite_from_bench_toml_and_models_flag(tmp_path):
    path = tmp_path / "bench.toml"
    path.write_text('[experiment]\nsuite = "networks"\n[networks.timing]\nci_target = 0.03\n')
    resolved = config_module.load(path, config_module.Overrides(models=["resnet50", "pvt_tiny"]))
    assert (resolved.suite, resolved.models) == ("networks", ("resnet50", "pvt_tiny"))
    assert resolved.timing.ci_target == 0.03
    assert resolved.timing.max_row_s == config_module.NETWORK_TIMING.max_row_s
    restored = config_module.RunConfig.from_dict(json.loads(json.dumps(resolved.to_dict())))
    assert restored == resolved  # what --resume reads back from the result file


def test_models_and_operator_flags_do_not_mix(tmp_path):
    result = fbench("run", "--models", "resnet50", "--results-dir", str(tmp_path))
    assert_one_line_error(result, "--models", "--suite networks")
    result = fbench("run", "--suite", "networks", "--stages", "1", "--results-dir", str(tmp_path))
    assert_one_line_error(result, "--stages", "operator suite")


@pytest.mark.slow
def test_a_small_network_is_timed_end_to_end_and_resumes(tmp_path):
    models = "fasternet_t0,shufflenet_v2_x1_5"
    result = fbench(
        "run", "--suite", "networks", "--models", models, "--quick", "--pin-core", "none",
        "--results-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "FasterNet-T0 224×224" in result.stderr  # progress names the network
    assert "FasterNet-T0" in result.stdout and "9.2" in result.stdout  # beside Table 3
    (path,) = tmp_path.glob("*.json")
    data = json.loads(path.read_text())
    assert data["state"] == "complete" and data["config"]["suite"] == "networks"
    rows = {row["operator"]: row for row in data["rows"]}
    assert set(rows) == {"fasternet_t0", "shufflenet_v2_x1_5"}
    row = rows["fasternet_t0"]
    assert row["status"] in ("ok", "imprecise", "disturbed"), row  # --quick: loose timing
    assert (row["suite"], row["network"], row["family"]) == (
        "networks",
        "FasterNet-T0",
        "FasterNet",
    )
    assert (row["channels"], row["height"], row["width"], row["stage"], row["layers"]) == (
        3, 224, 224, 0, 1,
    )  # fmt: skip
    assert row["memory_access_bytes"] is None and row["implementation_memory_access_bytes"] is None
    assert row["params"] == pytest.approx(3.9e6, rel=TOLERANCE)
    assert row["flops"] == pytest.approx(0.34e9, rel=TOLERANCE)
    assert row["flops_fvcore"] < row["flops"]  # the timed network has its BNs folded
    assert row["backend_details"]["source"] == "timm:fasternet_t0"
    assert row["backend_details"]["bn_fused"] == 17
    assert row["latency_ms"]["median"] > 0 and row["gflops_per_s"] > 0
    assert row["gflops_per_s"] == pytest.approx(row["flops"] / row["latency_ms"]["median"] / 1e6)

    # Drop one row as if interrupted: --resume measures exactly that one again.
    data["rows"] = [r for r in data["rows"] if r["operator"] != "shufflenet_v2_x1_5"]
    data["state"] = "interrupted"
    path.write_text(json.dumps(data))
    resumed = fbench("run", "--resume", str(path), "--no-table")
    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(path.read_text())
    assert [r["operator"] for r in data["rows"]] == ["fasternet_t0", "shufflenet_v2_x1_5"]
    assert data["state"] == "complete"
