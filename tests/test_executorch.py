"""`--backend executorch`: ExecuTorch 1.0.1 with the XNNPACK delegate, float32 and int8,
in the environment the backend declares (torch 2.9.1). Real packages, quick runs.

The environment is large (torch 2.9.1 with its CUDA libraries, ~2.5 GB from PyPI on
x86_64), so these tests run where it is already built (any earlier executorch run on the
machine, or FBENCH_TEST_ENVS=build to build it) and skip with that reason elsewhere; the
mechanism itself is tested with a small environment in tests/test_stack.py."""

from __future__ import annotations

import json
import os

import pytest

from fbench.bench.errors import FbenchError
from fbench.bench.measure import stack
from fbench.devices import get_backend
from tests.conftest import assert_one_line_error, fbench

REQUIREMENTS = tuple(sorted(get_backend("executorch").requires("cpu", "float32")))


@pytest.fixture(scope="module")
def executorch_environment() -> stack.StackEnvironment:
    key = stack.environment_key(REQUIREMENTS)
    cached = stack._read_ready(stack.cache_root() / key)
    if cached is not None:
        return cached
    if os.environ.get("FBENCH_TEST_ENVS") != "build":
        pytest.skip(
            f"the executorch environment ({', '.join(REQUIREMENTS)}) is not built in "
            f"{stack.cache_root()}; FBENCH_TEST_ENVS=build builds it (~2.5 GB from PyPI)"
        )
    try:
        return stack.ensure_environment(REQUIREMENTS, lambda line: None)
    except FbenchError as error:
        pytest.skip(f"cannot build the executorch environment here: {error}")


def _quick(tmp_path, *flags: str) -> dict:
    results = tmp_path / "results"
    result = fbench(
        "run", "--quick", "--backend", "executorch", "--stages", "1", "--no-table",
        "--results-dir", str(results), *flags, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (path,) = results.glob("*.json")
    return json.loads(path.read_text())


@pytest.mark.slow
def test_float32_rows_run_through_xnnpack_and_match_eager(tmp_path, executorch_environment):
    data = _quick(tmp_path, "--operators", "dwconv,pconv")
    env = data["environment"]
    assert (env["torch"], env["executorch"]) == ("2.9.1", "1.0.1")
    rows = {row["operator"]: row for row in data["rows"]}
    for row in rows.values():
        assert row["status"] != "failed", row
        details = row["backend_details"]
        assert details["xnnpack_delegates"] >= 1
        assert details["xnnpack_threads"] == 1
        assert details["parity_max_abs_error"] <= 1e-4 * 100  # checked against |ref| first
        assert row["processes"][0]["versions"]["executorch"] == "1.0.1"
        assert row["flops"] > 0  # from the eager module, as every backend's
    # DWConv is one convolution a layer: XNNPACK takes all of it.
    assert rows["dwconv"]["backend_details"]["ops_outside_xnnpack"] == {}
    # The slicing PConv's copy back into the input runs outside XNNPACK, and the row says so.
    if rows["pconv"]["backend_details"]["ops_outside_xnnpack"]:
        assert any("XNNPACK did not take" in note for note in rows["pconv"]["notes"])


@pytest.mark.slow
def test_int8_is_quantised_by_xnnpacks_quantizer(tmp_path, executorch_environment):
    data = _quick(tmp_path, "--operators", "dwconv", "--dtype", "int8")
    (row,) = data["rows"]
    assert row["status"] != "failed", row
    assert data["config"]["dtype"] == "int8"
    assert row["backend_details"]["quantization"].startswith("static per-channel int8")
    assert row["flops"] > 0


def test_int8_is_refused_where_no_backend_quantises(tmp_path):
    result = fbench(
        "run", "--quick", "--dtype", "int8", "--no-table", "--results-dir", str(tmp_path)
    )
    assert_one_line_error(result, "dtype int8 is not supported on cpu", "float32")
