"""Backends: ONNX Runtime export and parity, torch options, `fbench devices` and `fbench check`.

Real torch and onnxruntime throughout, on small shapes; nothing here asserts a time.
"""

from __future__ import annotations

import json
import shutil
import sys
from typing import ClassVar

import numpy as np
import pytest
import torch

from fbench.bench.config import Overrides, resolve
from fbench.bench.errors import FbenchError
from fbench.bench.parity import output_error, tolerance_for
from fbench.devices.onnxruntime_backend import export_model, prepare_onnxruntime
from fbench.operators import StageShape, get_operator
from tests.conftest import FIXTURES, assert_one_line_error, fbench


class _CpuSession:
    name = "cpu"
    torch_device = "cpu"
    settings: ClassVar[dict] = {"threads": 1}


def _stack(operator: str, channels: int = 32, size: int = 8, layers: int = 3):
    torch.manual_seed(0)
    spec = get_operator(operator)
    module = spec.build(StageShape(1, channels, size, size), spec.defaults, layers)
    return module, torch.randn(1, channels, size, size)


# --- parity: pure ---------------------------------------------------------------------------


def test_output_error_measures_the_largest_difference():
    reference = np.array([[1.0, -4.0], [2.0, 0.0]])
    error = output_error(reference, reference + np.array([[0.0, 0.002], [0.0, 0.0]]))
    assert error.max_abs == pytest.approx(0.002)
    assert error.scale == 4.0
    assert error.within(1e-3) and not error.within(1e-4)


def test_output_error_fails_on_a_shape_mismatch():
    error = output_error(np.zeros((1, 4)), np.zeros((1, 5)))
    assert not error.shape_matches and not error.within(1.0)
    assert tolerance_for("float16") > tolerance_for("float32")


# --- ONNX Runtime ---------------------------------------------------------------------------


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_slicing_pconv_exports_to_a_larger_graph_than_split_cat(tmp_path, exporter):
    counts = {}
    for operator in ("pconv", "pconv_split_cat"):
        module, example = _stack(operator, layers=4)
        counts[operator] = export_model(module, example, exporter, 18, tmp_path).nodes
    assert 4 * 3 <= counts["pconv_split_cat"] <= 4 * 4  # split, conv, concat per layer
    assert counts["pconv"] > counts["pconv_split_cat"]
    if exporter == "torchscript":  # the bloat FasterNet #16 reports: ~43 nodes per layer
        assert counts["pconv"] >= 5 * counts["pconv_split_cat"]


def test_export_is_cached_by_content(tmp_path):
    module, example = _stack("conv")
    first = export_model(module, example, "torchscript", 17, tmp_path)
    again = export_model(module, example, "torchscript", 17, tmp_path)
    assert first.export_s is not None and again.export_s is None
    assert again.path == first.path and again.file_bytes == first.path.stat().st_size
    torch.manual_seed(1)
    other_weights, _ = _stack("conv")
    with torch.no_grad():
        next(other_weights.parameters()).add_(1.0)
    assert export_model(other_weights, example, "torchscript", 17, tmp_path).path != first.path


def test_onnxruntime_prepare_checks_parity_and_records_the_graph(tmp_path):
    module, example = _stack("pconv")
    options = {"exporter": "torchscript", "opset": 17, "cache_dir": tmp_path}
    prepared = prepare_onnxruntime(module, example, _CpuSession(), options)
    details = prepared.details
    assert details["execution_provider"] == "CPUExecutionProvider"
    assert details["intra_op_threads"] == details["inter_op_threads"] == 1
    assert details["onnx_nodes"] > 3 and details["onnx_file_bytes"] > 0
    assert details["parity_max_abs_error"] < 1e-4
    (output,) = prepared.call()
    with torch.inference_mode():
        np.testing.assert_allclose(output, module(example).numpy(), rtol=1e-4, atol=1e-5)


class _Noisy(torch.nn.Module):
    """Computes something else each call: the exported graph cannot match torch's output."""

    def forward(self, x):
        return x + torch.rand_like(x)


def test_onnxruntime_prepare_rejects_a_graph_that_computes_something_else(tmp_path):
    options = {"exporter": "torchscript", "opset": 17, "cache_dir": tmp_path}
    with pytest.raises(ValueError, match=r"differs from torch: max abs error"):
        prepare_onnxruntime(_Noisy().eval(), torch.zeros(1, 4, 4, 4), _CpuSession(), options)


@pytest.mark.slow
def test_run_records_exporter_and_node_counts_per_row(tmp_path):
    result = fbench(
        "run", "--backend", "onnxruntime", "--exporter", "torchscript", "--quick",
        "--operators", "pconv,pconv_split_cat", "--stages", "1",
        "--results-dir", str(tmp_path), "--no-table",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (path,) = tmp_path.glob("*.json")
    rows = {row["operator"]: row for row in json.loads(path.read_text())["rows"]}
    for row in rows.values():
        assert row["status"] != "failed" and row["backend"] == "onnxruntime"
        assert row["backend_options"] == {"exporter": "torchscript", "opset": 18}
        assert row["backend_details"]["onnx_file_bytes"] > 0
    assert (
        rows["pconv"]["backend_details"]["onnx_nodes"]
        > (rows["pconv_split_cat"]["backend_details"]["onnx_nodes"])
    )
    assert list((tmp_path / "cache").glob("*.onnx")), "exported models are cached"


@pytest.mark.slow
def test_check_compares_every_operator_on_every_backend():
    result = fbench("check", "--quick", "--stages", "1", "--layers", "2", "--operators",
                    "conv,gconv,dwconv,pconv,pconv_split_cat,pwconv,pconv_pwconv")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all 21 outputs match torch eager" in result.stdout
    for backend in ("torch channels-last", "onnxruntime (dynamo)", "onnxruntime (torchscript)"):
        assert result.stdout.count(backend) == 7, backend


# --- torch options, config ------------------------------------------------------------------


def test_backend_options_are_resolved_per_backend():
    config = resolve({}, "test", Overrides(backend_options={"channels_last": True}))
    assert config.backend_options == {"channels_last": True}
    onnx = resolve({}, "test", Overrides(backend="onnxruntime"))
    assert onnx.backend_options == {"exporter": "dynamo", "opset": 18}
    with pytest.raises(FbenchError, match="--channels-last: not an option of backend onnx"):
        resolve(
            {}, "test", Overrides(backend="onnxruntime", backend_options={"channels_last": True})
        )
    with pytest.raises(FbenchError, match="dynamo exporter writes opset 18"):
        resolve({}, "test", Overrides(backend="onnxruntime", backend_options={"opset": 13}))


@pytest.mark.slow
def test_channels_last_run_is_recorded(tmp_path):
    result = fbench("run", "--channels-last", "--quick", "--operators", "pconv", "--stages", "1,4",
                    "--results-dir", str(tmp_path), "--no-table")  # fmt: skip
    assert result.returncode == 0, result.stderr
    (path,) = tmp_path.glob("*.json")
    rows = json.loads(path.read_text())["rows"]
    # Measured, whatever the host's noise made of their intervals (no timing assertion).
    statuses = [row["status"] for row in rows]
    assert len(rows) == 2 and "failed" not in statuses, statuses
    assert all(row["backend_options"] == {"channels_last": True} for row in rows)
    assert all(row["backend_details"]["memory_format"] == "channels_last" for row in rows)


def test_exporter_flag_with_the_torch_backend_is_a_usage_error(tmp_path):
    result = fbench("run", "--exporter", "dynamo", "--quick", "--results-dir", str(tmp_path))
    assert_one_line_error(result, "--exporter", "not an option of backend torch")


# --- fbench devices -------------------------------------------------------------------------


def test_devices_lists_every_device_backend_pair_with_a_reason():
    result = fbench("devices", "--wide")  # one line a pair, reasons in their cells
    assert result.returncode == 0, result.stderr
    lines = {tuple(line.split()[:3]) for line in result.stdout.splitlines()[2:]}
    for backend in ("torch", "onnxruntime", "torch-compile"):
        assert any(line[:2] == ("cpu", backend) for line in lines), backend
    assert ("cpu", "torch", "yes") in lines and ("cpu", "onnxruntime", "yes") in lines
    if not torch.cuda.is_available():
        cuda_lines = [line for line in result.stdout.splitlines() if line.startswith("cuda")]
        assert len(cuda_lines) == 3
        assert all(" no " in line and "CUDA" in line for line in cuda_lines)


HAS_C_COMPILER = bool(shutil.which("gcc") or shutil.which("cc"))


@pytest.mark.skipif(
    not HAS_C_COMPILER or sys.platform == "win32",
    reason="no C compiler (gcc/cc) on PATH: inductor cannot build CPU kernels here",
)
def test_torch_compile_is_available_with_a_c_compiler():
    from fbench.devices import get_backend

    assert get_backend("torch-compile").unavailable_reason("cpu") is None


def test_torch_compile_says_why_it_cannot_run_without_a_compiler(monkeypatch):
    from fbench.devices import get_backend

    monkeypatch.setenv("PATH", "")
    reason = get_backend("torch-compile").unavailable_reason("cpu")
    assert reason is not None and ("no C compiler" in reason or sys.platform == "win32")


def test_an_onnxruntime_run_says_its_version_exporter_and_opset_in_the_header(tmp_path):
    # The exporter changes the slicing PConv's graph ~7×: a reader must see which one ran.
    data = json.loads((FIXTURES / "cpu_table1.json").read_text())
    data["config"].update(
        backend="onnxruntime", backend_options={"exporter": "dynamo", "opset": 18}
    )
    for row in data["rows"]:
        row.update(backend="onnxruntime", backend_options={"exporter": "dynamo", "opset": 18})
    path = tmp_path / "ort.json"
    path.write_text(json.dumps(data))
    header = fbench("show", "--wide", str(path)).stdout.splitlines()[1]
    assert "cpu/onnxruntime on " in header
    assert "onnxruntime 1.32.0 (exporter dynamo, opset 18)" in header
    torch_header = fbench("show", "--wide", str(FIXTURES / "cpu_table1.json")).stdout.splitlines()[
        1
    ]
    assert "onnxruntime" not in torch_header
