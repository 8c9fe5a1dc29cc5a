"""Custom operators, shapes and zoo models (docs/custom-operators.md): defined in tests/custom_ops
by file path, by module and by an entry point installed into the test environment, then
counted, timed, stored, shown, reported and compared like the built-in operators."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fbench.bench.config import Overrides, RunConfig, resolve
from fbench.bench.errors import FbenchError
from fbench.bench.flop_count import CountMismatch
from fbench.bench.plan.rows import plan_rows
from fbench.bench.results import read_result
from fbench.operators.custom import CustomOperator, parse_flag
from fbench.operators.custom_build import preflight
from fbench.operators.plan import CustomOperatorPlan
from fbench.operators.registry import StageShape
from tests.conftest import REPO, assert_one_line_error

FILE_OPS = REPO / "tests" / "custom_ops" / "file_ops.py"
MODULE_FACTORY = "tests.custom_ops.blocks:make_pointwise"
ENTRY_POINT = "test_pointwise"
SHAPE = StageShape(0, 8, 8, 8)


def file_operator(function: str, name: str | None = None, **params) -> CustomOperator:
    return CustomOperator(name or function, f"{FILE_OPS}:{function}", params)


@pytest.fixture(scope="module")
def entry_point_dir(tmp_path_factory) -> Path:
    """A distribution that declares an `fbench.operators` entry point, as `pip install`
    would leave it: a dist-info directory on the path (importlib.metadata finds it there)."""
    root = tmp_path_factory.mktemp("site")
    info = root / "fbench_test_ops-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fbench-test-ops\nVersion: 0.3\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        f"[fbench.operators]\n{ENTRY_POINT} = {MODULE_FACTORY}\n", encoding="utf-8"
    )
    return root


def fbench_with(entry_point_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """`fbench ARGS` in a fresh process whose environment has the test package installed."""
    path = os.pathsep.join(filter(None, [str(entry_point_dir), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}
    return subprocess.run(
        [sys.executable, "-m", "fbench.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


# --- definitions: flags, tables, names ------------------------------------------------------


def test_operator_flag_takes_a_name_a_file_or_module_and_parameters():
    op = parse_flag("mine=tests/custom_ops/file_ops.py:make_depthwise:kernel=5,tag=wide")
    assert op.name == "mine"
    assert op.factory == f"{FILE_OPS}:make_depthwise"  # resolved to an absolute path
    assert op.params == {"kernel": 5, "tag": "wide"}
    plain = parse_flag(MODULE_FACTORY)
    assert (plain.name, plain.factory, plain.params) == ("make_pointwise", MODULE_FACTORY, {})
    with pytest.raises(FbenchError, match="shadows the built-in"):
        parse_flag("pconv=tests/custom_ops/file_ops.py:make_depthwise")
    with pytest.raises(FbenchError, match=r"FILE\.py:FUNCTION"):
        parse_flag("just_a_module")


def test_config_tables_define_operators_and_shapes_and_round_trip(tmp_path):
    raw = {
        "experiment": {"operators": ["pconv"]},
        "operator": [
            {"name": "wide", "factory": "ops/file_ops.py:make_depthwise", "params": {"kernel": 5}}
        ],
        "shape": [{"channels": 8, "height": 8, "width": 8}],
    }
    config = resolve(raw, str(tmp_path / "bench.toml"))
    assert config.operators == ("pconv", "wide")  # [[operator]] measured beside the list
    (wide,) = config.custom_operators
    assert wide.factory == f"{tmp_path / 'ops' / 'file_ops.py'}:make_depthwise"
    assert config.operator_params["wide"] == {"kernel": 5}
    assert config.stages[-1] == StageShape(0, 8, 8, 8) and len(config.stages) == 5
    # Worker processes rebuild the same plans from the serialised config.
    again = RunConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert [p.key() for p in plan_rows(again)] == [p.key() for p in plan_rows(config)]
    assert isinstance(plan_rows(again)[-1], CustomOperatorPlan)


def test_shape_flags_pick_the_feature_maps_and_quick_keeps_them():
    flags = Overrides(operators=["pconv"], shapes=["8x8x8", "16×4×4"], stages=[1], quick=True)
    config = resolve({}, "built-in defaults", flags)
    assert [(s.stage, s.label) for s in config.stages] == [
        (1, "96×14×14"),  # --quick shrinks the paper's stages only
        (0, "8×8×8"),
        (0, "16×4×4"),
    ]
    with pytest.raises(FbenchError, match="--shape: expected CHANNELSxHEIGHTxWIDTH"):
        resolve({}, "x", Overrides(shapes=["8x8"]))


def test_bad_definitions_are_refused_in_one_line():
    shadow = {"operator": [{"name": "dwconv", "factory": f"{FILE_OPS}:make_depthwise"}]}
    with pytest.raises(FbenchError, match=r"\[\[operator\]\] 'dwconv'.*shadows the built-in"):
        resolve(shadow, "bench.toml")
    twice = Overrides(operator_flags=[f"{FILE_OPS}:make_depthwise", f"{FILE_OPS}:make_depthwise"])
    with pytest.raises(FbenchError, match="defined twice"):
        resolve({}, "x", twice)
    with pytest.raises(FbenchError, match="unknown operator 'nonesuch'"):
        resolve({}, "x", Overrides(operators=["nonesuch"]))


# --- counting on the real module ------------------------------------------------------------


def built(plan: CustomOperatorPlan) -> CustomOperatorPlan:
    from fbench.bench.flop_count import count_flops

    module, example = plan.build()
    plan.check_count(count_flops(module, example[:1]))
    return plan


def plan_for(operator: CustomOperator, layers: int = 2, batch: int = 1) -> CustomOperatorPlan:
    return CustomOperatorPlan(
        operator, SHAPE, layers, batch=batch, dtype="float32", device="cpu", backend="torch"
    )


def test_counted_flops_and_bytes_equal_a_hand_count():
    # Depthwise 3×3 on 8×8×8, 2 layers: 8·8·8·9 multiply-adds a layer; each layer reads its
    # 512-element input and 72 weights and writes a 512-element output (4 bytes each).
    plan = built(plan_for(file_operator("make_depthwise"), batch=2))
    assert plan.flops() == 2 * 8 * 8 * 8 * 9
    assert plan.counts["flops_fvcore"] == plan.counts["flops_torch"] == plan.flops()
    assert plan.memory_access_bytes() == (2 * (2 * 512 * 2 + 72) * 4,) * 2
    row = plan.skeleton(status="ok", method="adaptive")
    assert row.operator_source["flops_from"] == "analytic"
    assert row.operator_source["sha256"] and row.operator_source["path"] == str(FILE_OPS)
    # Pure data movement: the layer sees 512 in and 512 out, but it clones all 512 (read +
    # write), reads and writes 256 for the product and copies 256 back: 2048 elements.
    copies = built(plan_for(file_operator("make_half_clone"), layers=1))
    assert copies.flops() == 0
    assert copies.memory_access_bytes() == (1024 * 4, 2048 * 4)


@pytest.mark.parametrize("name", ["conv", "gconv", "dwconv", "pconv", "pconv_split_cat", "pwconv"])
def test_measured_bytes_and_torch_flops_equal_the_builtin_analytic_counts(name):
    """The measurements custom operators get, checked where the answer is known: the
    built-ins' eqs. 2/3/5 (their full-map forms) and their implementation counts."""
    import torch

    from fbench.bench.flop_count import count_flops_torch, count_memory_access
    from fbench.operators import get_operator

    spec, shape = get_operator(name), StageShape(1, 16, 6, 6)
    params = spec.defaults
    stack = spec.build(shape, params, 2)
    traffic = count_memory_access(stack, torch.randn(2, 16, 6, 6))
    assert traffic.op_elements == spec.implementation_memory_access_elements(shape, params, 2, 2)
    if not name.startswith("pconv"):  # PConv's layer sees all c channels, eq. 5 only c_p
        assert traffic.layer_elements == spec.memory_access_elements(shape, params, 2, 2)
    assert count_flops_torch(stack, torch.randn(1, 16, 6, 6)) == spec.flops(shape, params, 2)


def test_module_factory_counts_and_records_its_module():
    operator = parse_flag(f"{MODULE_FACTORY}:expansion=2")
    plan = built(plan_for(operator))
    assert plan.flops() == 2 * 8 * 8 * (2 * 2 * 8 * 8)  # 2 layers of 8→16→8 1×1 convs
    source = plan.skeleton(status="ok", method="adaptive").operator_source
    assert source["flops_from"] == "fvcore" and source["params"] == {"expansion": 2}
    assert source["path"].endswith("blocks.py")


def test_counters_that_disagree_are_noted_and_a_wrong_analytic_count_fails():
    normed = built(plan_for(file_operator("make_normed")))
    assert normed.counts["flops_torch"] == 0 < normed.counts["flops_fvcore"]
    (note,) = normed.notes()
    assert "FLOPs counters disagree" in note and "fvcore" in note
    with pytest.raises(CountMismatch, match="analytic count 2 vs fvcore"):
        built(plan_for(file_operator("make_miscounted")))


@pytest.mark.parametrize(
    ("operator", "reason"),
    [
        (CustomOperator("gone", "no_such_module_xyz:make"), "module not found: no_such_module_xyz"),
        (file_operator("make_nothing"), "has no factory 'make_nothing'"),
        (file_operator("make_raising"), "factory raised ValueError: this block needs an even"),
        (file_operator("make_not_a_module"), "factory returned int, not a torch nn.Module"),
        (file_operator("make_shrinking"), "changes the feature map's shape: 8×8×8 → 8×4×4"),
    ],
)
def test_preflight_names_the_reason(operator, reason):
    ((name, problem),) = preflight([operator], [(8, 8, 8)], "cpu", "torch", {})
    assert name == operator.name
    assert reason in problem


def test_preflight_exports_for_onnxruntime_and_names_the_reason():
    operator = file_operator("make_data_dependent")
    assert preflight([operator], [(8, 8, 8)], "cpu", "torch", {}) == []  # eager runs it
    options = {"exporter": "dynamo", "opset": 18}
    ((name, problem),) = preflight([operator], [(8, 8, 8)], "cpu", "onnxruntime", options)
    assert name == "make_data_dependent"
    assert problem.startswith("not exportable to ONNX at 8×8×8: TorchExportError")
    assert "\n" not in problem and "\x1b" not in problem


# --- the whole path through the CLI ---------------------------------------------------------


@pytest.fixture(scope="module")
def custom_run(tmp_path_factory, entry_point_dir):
    """pconv beside a file factory, a module factory and an entry point, in 2 processes."""
    results = tmp_path_factory.mktemp("results")
    result = fbench_with(
        entry_point_dir,
        "run",
        "--quick",
        "--operators",
        f"pconv,{ENTRY_POINT}",
        "--operator",
        "dw=tests/custom_ops/file_ops.py:make_depthwise",
        "--operator",
        f"{MODULE_FACTORY}:expansion=2",
        "--shape",
        "8x8x8",
        "--layers",
        "2",
        "--processes",
        "2",
        "--no-table",
        "--results-dir",
        str(results),
    )
    assert result.returncode == 0, result.stderr
    (path,) = results.glob("*.json")
    return path, results


@pytest.mark.slow
def test_custom_rows_are_timed_counted_and_record_their_source(custom_run):
    path, _ = custom_run
    rows = {row.operator: row for row in read_result(path).rows}
    assert set(rows) == {"pconv", ENTRY_POINT, "dw", "make_pointwise"}
    for row in rows.values():
        assert row.status != "failed", row.error
        assert (row.stage, row.shape_label, row.layers) == (0, "8×8×8", 2)
        assert row.latency and row.gflops_per_s and len(row.processes) == 2
    assert rows["dw"].flops == 2 * 8 * 8 * 8 * 9
    assert rows["dw"].memory_access_bytes == 2 * (512 * 2 + 72) * 4
    assert rows["make_pointwise"].flops == rows["make_pointwise"].flops_torch == 2 * 8192 * 2
    assert rows[ENTRY_POINT].flops == 2 * 8192  # expansion 1
    assert rows[ENTRY_POINT].operator_source["package"] == "fbench-test-ops"
    assert rows[ENTRY_POINT].operator_source["version"] == "0.3"
    assert rows["dw"].operator_source["sha256"]
    assert rows["pconv"].operator_source is None  # built-ins keep their analytic count


@pytest.mark.slow
def test_custom_rows_show_report_compare_and_load(custom_run, entry_point_dir):
    from fbench.bench.calibration import read_calibration
    from fbench.bench.results import load
    from fbench.reports.plots import operators_figure
    from fbench.reports.roofline import roofline_points

    path, results = custom_run
    report = fbench_with(
        entry_point_dir, "report", "table1", str(path), "--results-dir", str(results)
    )
    assert report.returncode == 0, report.stderr
    lines = report.stdout.splitlines()
    pconv = next(i for i, line in enumerate(lines) if line.startswith("PConv"))
    dw = next(i for i, line in enumerate(lines) if line.startswith("dw "))
    assert pconv < dw  # the paper's operators first, custom rows below
    assert "0.01" in lines[dw]  # 9,216 multiply-adds
    # --allow-unstable: a row the busy host disturbed (host_moved) is still judged, so the
    # custom rows are compared whatever the machine was doing; against itself: no change.
    compare = fbench_with(entry_point_dir, "compare", str(path), str(path), "--allow-unstable")
    assert compare.returncode == 0, compare.stdout
    assert "dw 8×8×8" in compare.stdout
    show = fbench_with(entry_point_dir, "show", str(path))
    assert show.returncode == 0 and "make_pointwise" in show.stdout, show.stderr
    figure = operators_figure([read_result(path)])
    assert {series.key for panel in figure.panels for series in panel.series} >= {"dw", "pconv"}
    calibration = read_calibration(REPO / "tests" / "fixtures" / "cpu_calibration.json")
    points = {p.operator: p for p in roofline_points(read_result(path).rows, calibration)}
    assert points["dw"].intensity_implementation == pytest.approx(9216 / (2 * 1096 * 4))
    frame = load(path)
    assert set(frame["operator"]) == {"pconv", ENTRY_POINT, "dw", "make_pointwise"}
    assert (
        frame.loc[frame["operator"] == "dw", "operator_source"]
        .iloc[0]["factory"]
        .endswith("file_ops.py:make_depthwise")
    )


def test_devices_lists_installed_operators(entry_point_dir, monkeypatch):
    from fbench.commands.devices import installed_operators_text

    monkeypatch.syspath_prepend(str(entry_point_dir))  # where importlib.metadata looks
    text = installed_operators_text()
    assert ENTRY_POINT in text and "fbench-test-ops 0.3" in text and MODULE_FACTORY in text


@pytest.mark.slow
def test_bad_operator_exits_2_before_timing_unless_keep_going(tmp_path):
    args = ["run", "--quick", "--operators", "dwconv", "--shape", "8x8x8", "--no-table"]
    bad = "--operator=tests/custom_ops/file_ops.py:make_shrinking"
    result = fbench_with(tmp_path, *args, bad, "--results-dir", str(tmp_path / "a"))
    assert_one_line_error(result, "operator make_shrinking", "changes the feature map's shape")
    assert not (tmp_path / "a").exists()  # nothing timed, nothing stored
    kept = fbench_with(tmp_path, *args, bad, "--keep-going", "--results-dir", str(tmp_path / "b"))
    # Stored, and the run says it was not all measured: exit 4 with the count.
    assert kept.returncode == 4, kept.stderr
    assert "warning: operator make_shrinking" in kept.stderr
    assert (
        kept.stderr.strip().splitlines()[-1].startswith("fbench run: error: 1 of 2 row(s) failed")
    )
    (path,) = (tmp_path / "b").glob("*.json")
    rows = {row.operator: row for row in read_result(path).rows}
    assert rows["dwconv"].status != "failed"
    assert rows["make_shrinking"].status == "failed"
    assert "changes the feature map's shape" in rows["make_shrinking"].error


# --- any zoo model --------------------------------------------------------------------------


def test_zoo_models_are_planned_built_counted_and_folded_like_table3():
    from fbench.networks.plan import NetworkPlan

    flags = Overrides(suite="networks", models=["torchvision:resnet18"], input_size=32)
    config = resolve({}, "built-in defaults", flags)
    (plan,) = plan_rows(RunConfig.from_dict(config.to_dict()))
    assert isinstance(plan, NetworkPlan) and plan.input_size == 32
    _, example = plan.build()
    assert tuple(example.shape) == (1, 3, 32, 32)
    assert plan.counts["bn_fused"] == 20  # every BatchNorm of ResNet-18 folded
    assert plan.counts["params"] == 11_689_512  # random weights of the real architecture
    row = plan.skeleton(status="ok", method="adaptive")
    assert (row.operator, row.network, row.family, row.height) == (
        "torchvision:resnet18",
        "resnet18",
        "torchvision",
        32,
    )
    assert row.operator_source["package"] == "torchvision" and row.operator_source["version"]
    with pytest.raises(FbenchError, match="--input-size sets the networks' input"):
        resolve({}, "x", Overrides(input_size=64))


def test_unknown_zoo_model_exits_2_before_timing(tmp_path, capsys):
    from fbench.cli import main

    results = tmp_path / "r"
    argv = ["run", "--suite", "networks", "--models", "timm:nonesuch", "--quick"]
    assert main([*argv, "--results-dir", str(results)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "--models timm:nonesuch" in error
    assert "timm has no model 'nonesuch'" in error
    assert not results.exists()
