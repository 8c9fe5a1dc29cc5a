"""Calibration: ceilings measured on tiny sizes, stored, loaded, recorded by run; bad files."""

from __future__ import annotations

import json

import pytest

from bench.calibration import (
    SCHEMA,
    calibration_record,
    ceiling_from_latencies,
    read_calibration,
    write_calibration,
)
from bench.errors import FbenchError
from bench.identity import device_identity
from bench.timing import LatencySummary
from tests.conftest import FIXTURES, assert_one_line_error, fbench

CALIBRATION = FIXTURES / "cpu_calibration.json"


@pytest.fixture(scope="module")
def quick_calibration(tmp_path_factory):
    path = tmp_path_factory.mktemp("calibrations") / "cal.json"
    result = fbench("calibrate", "--device", "cpu", "--quick", "--output", str(path))
    assert result.returncode == 0, result.stderr
    return result, path


def test_quick_calibrate_measures_plausible_positive_ceilings(quick_calibration):
    result, path = quick_calibration
    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA and data["device"] == "cpu" and data["quick"] is True
    assert data["environment"]["threads"] == {"intra_op": 1, "inter_op": 1}
    identity = device_identity(data["environment"], "cpu", dtype="float32")
    assert data["identity"] == identity.calibration_name()
    ceilings = data["ceilings"]
    assert {"gemm", "memory_copy", "memory_triad"} <= set(ceilings)
    # Positive and plausible for one CPU core: no timing assertion beyond that.
    assert 0.05 < ceilings["gemm"]["median"] < 5000
    assert ceilings["gemm"]["unit"] == "GMAC/s" and ceilings["gemm"]["details"]["n"] == 96
    for name in ("memory_copy", "memory_triad"):
        assert 0.05 < ceilings[name]["median"] < 5000
        assert ceilings[name]["unit"] == "GB/s"
    for ceiling in ceilings.values():
        assert ceiling["latency_ms"]["n"] >= 1
        if ceiling["ci95_low"] is not None:
            assert ceiling["ci95_low"] <= ceiling["median"] <= ceiling["ci95_high"]
    # The copy counts a read and a write of the buffer.
    copy = ceilings["memory_copy"]
    assert copy["work_per_call"] == 2 * copy["details"]["bytes_per_buffer"]
    assert "gemm" in result.stdout and "stored:" in result.stderr


def test_stored_calibration_loads_back_equal(quick_calibration, tmp_path):
    _, path = quick_calibration
    loaded = read_calibration(path)
    assert loaded.compute_gflops_per_s == json.loads(path.read_text())["ceilings"]["gemm"]["median"]
    copy = tmp_path / "again.json"
    write_calibration(copy, loaded)
    assert json.loads(copy.read_text()) == json.loads(path.read_text())


def test_rates_from_latencies_swap_the_interval():
    latency = LatencySummary(
        median=2.0, ci95_low=1.0, ci95_high=4.0, iqr=0.5, mean=2.2, stdev=0.3, n=10
    )
    ceiling = ceiling_from_latencies("memory_copy", "bandwidth", 4e9, latency)
    # 4e9 bytes in 2 ms is 2000 GB/s; the slowest plausible call (4 ms) is the low bound.
    assert ceiling.median == pytest.approx(2000.0)
    assert ceiling.ci95_low == pytest.approx(1000.0)
    assert ceiling.ci95_high == pytest.approx(4000.0)
    assert ceiling.unit == "GB/s"


def test_fixture_calibration_values():
    calibration = read_calibration(CALIBRATION)
    assert calibration.compute_gflops_per_s == 100.0
    assert calibration.bandwidth_gb_per_s == 20.0
    assert calibration.cache_bandwidth_gb_per_s == 80.0


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "invalid JSON at line 1"),
        ('{"schema": "fbench.result/1", "rows": []}', "that is a result file"),
        ('{"rows": []}', "no 'schema' field"),
        (
            '{"schema": "fbench.calibration/1", "identity": "x", "device": "cpu", '
            '"dtype": "float32", "created": "now", "environment": {}, "ceilings": {}}',
            "no 'gemm' ceiling",
        ),
    ],
)
def test_bad_calibration_files_are_named(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(FbenchError, match=r"bad\.json") as error:
        read_calibration(path)
    assert fragment in str(error.value)


def test_missing_calibration_file_says_how_to_make_one(tmp_path):
    with pytest.raises(FbenchError, match="fbench calibrate"):
        read_calibration(tmp_path / "absent.json")


def test_calibration_record_checks_device_and_dtype():
    assert calibration_record("none", "cpu", {}, "float32") is None
    record = calibration_record(str(CALIBRATION), "cpu", {}, "float32")
    assert record["identity"] == "cpu-hand-made-test-cpu-float32"
    assert record["ceilings"]["gemm"]["median"] == 100.0
    with pytest.raises(FbenchError, match="cpu/bfloat16"):
        calibration_record(str(CALIBRATION), "cpu", {}, "bfloat16")


def test_run_records_the_calibration_and_roofline_reads_it(tmp_path):
    results = tmp_path / "results"
    run = fbench(
        "run", "--quick", "--operators", "dwconv", "--stages", "4", "--no-table",
        "--results-dir", str(results), "--calibration", str(CALIBRATION),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    (path,) = results.glob("*.json")
    recorded = json.loads(path.read_text())["environment"]["calibration"]
    assert recorded["file"] == str(CALIBRATION)
    assert recorded["ceilings"]["memory_copy"]["median"] == 20.0
    # No --calibration: the roofline takes the one the run recorded.
    report = fbench("roofline", str(path), "--format", "csv", "--calibrations-dir", str(tmp_path))
    assert report.returncode == 0, report.stderr
    header, line = report.stdout.strip().splitlines()
    row = dict(zip(header.split(","), line.split(","), strict=True))
    assert row["operator"] == "dwconv" and float(row["bandwidth_gb_per_s"]) == 20.0
    assert row["bound"] == "memory"


def test_calibrate_cuda_without_cuda_is_one_line(tmp_path):
    result = fbench("calibrate", "--device", "cuda", "--output", str(tmp_path / "c.json"))
    assert_one_line_error(result, "cuda")
    assert not (tmp_path / "c.json").exists()
