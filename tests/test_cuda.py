"""The CUDA device: pure parts always; the real GPU paths only where a GPU is present."""

from __future__ import annotations

import json

import pytest
import torch

from fbench.devices.cuda import block_calls, cuda_unavailable, parse_query
from tests.conftest import assert_one_line_error, fbench

HAS_CUDA = torch.cuda.is_available()
needs_gpu = pytest.mark.skipif(
    not HAS_CUDA, reason=f"no CUDA GPU on this machine: {cuda_unavailable()}"
)


def test_parse_query_reads_numbers_and_not_available_fields():
    fields = ("name", "driver_version", "memory.total", "clocks.sm", "power.limit")
    parsed = parse_query(fields, "NVIDIA H100 80GB HBM3, 570.86.15, 81559, 1980, [N/A]\n")
    assert parsed == {
        "name": "NVIDIA H100 80GB HBM3",
        "driver_version": "570.86.15",
        "memory.total": 81559.0,
        "clocks.sm": 1980.0,
        "power.limit": None,
    }
    assert parse_query(("name", "pstate"), "") == {"name": None, "pstate": None}


def test_block_calls_fills_the_target_and_respects_the_remaining_calls():
    assert block_calls(0.001, 0.01) == 10
    assert block_calls(0.05, 0.01) == 1  # a call longer than the block: one per block
    assert block_calls(0.0001, 0.01, remaining=7) == 7
    assert block_calls(0.0, 0.01) >= 1


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_is_a_usage_error_not_a_cpu_run(tmp_path):
    result = fbench("run", "--device", "cuda", "--quick", "--results-dir", str(tmp_path))
    assert_one_line_error(result, "--device cuda", "not available")
    assert not list(tmp_path.glob("*.json")), "no result file for a run that cannot happen"


@pytest.mark.cuda
@needs_gpu
def test_cuda_quick_run_measures_throughput_on_the_gpu(tmp_path):
    result = fbench("run", "--device", "cuda", "--quick", "--operators", "conv,pconv",
                    "--results-dir", str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    (path,) = tmp_path.glob("*.json")
    data = json.loads(path.read_text())
    assert data["environment"]["gpu"]["name"] == torch.cuda.get_device_name(0)
    assert data["environment"]["tf32"]["cudnn_conv"] == "ieee"
    assert data["environment"]["cudnn_benchmark"] is True
    for row in data["rows"]:
        assert row["status"] in ("ok", "imprecise", "disturbed"), row.get("error")
        assert row["batch"] == 32 and row["throughput_per_s"] > 0
    assert "Throughput (fps)" in result.stdout


@pytest.mark.cuda
@needs_gpu
def test_cuda_events_time_blocks_of_calls():
    from fbench.devices.cuda import time_blocks

    x = torch.randn(8, 64, 32, 32, device="cuda")
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).cuda().eval()
    samples = time_blocks(lambda: conv(x), budget_s=None, calls=40, block_target_s=0.001)
    assert samples and all(s > 0 for s in samples)


@pytest.mark.cuda
@needs_gpu
def test_cuda_float16_and_onnxruntime_are_explicit(tmp_path):
    half = fbench("run", "--device", "cuda", "--dtype", "float16", "--quick", "--operators",
                  "dwconv", "--results-dir", str(tmp_path / "half"), "--no-table")  # fmt: skip
    assert half.returncode == 0, half.stderr
    ort = fbench("run", "--device", "cuda", "--backend", "onnxruntime", "--quick", "--operators",
                 "dwconv", "--results-dir", str(tmp_path / "ort"), "--no-table")  # fmt: skip
    if ort.returncode == 2:  # onnxruntime without the CUDA provider: said, never timed on CPU
        assert "CUDAExecutionProvider" in ort.stderr
    else:
        assert ort.returncode == 0, ort.stderr
        (path,) = (tmp_path / "ort").glob("*.json")
        rows = json.loads(path.read_text())["rows"]
        assert all(r["backend_details"]["execution_provider"] == "CUDAExecutionProvider"
                   for r in rows if r["status"] != "failed")  # fmt: skip
