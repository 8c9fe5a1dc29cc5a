"""Calibration: ceilings measured on tiny sizes, stored, loaded, recorded by run; bad files."""

from __future__ import annotations

import json

import pytest

from fbench.bench.calibration import (
    SCHEMA,
    SCHEMA_V1,
    calibration_record,
    calibrations_for_runs,
    ceiling_from_latencies,
    read_calibration,
    theoretical_peak,
    write_calibration,
)
from fbench.bench.calibration.ceilings import CLOCK_SOURCES, best_per_ceiling, cpuinfo_mhz
from fbench.bench.errors import FbenchError
from fbench.bench.results import read_result
from fbench.bench.results.identity import device_identity
from fbench.bench.stats.timing import LatencySummary
from fbench.devices.cuda import cuda_unavailable
from tests.conftest import FIXTURES, REPO, assert_one_line_error, fbench

CALIBRATION = FIXTURES / "cpu_calibration.json"


@pytest.fixture(scope="module")
def quick_calibration(tmp_path_factory):
    path = tmp_path_factory.mktemp("calibrations") / "cal.json"
    result = fbench("calibrate", "--device", "cpu", "--quick", "--quiet", "--output", str(path))
    assert result.returncode == 0, result.stderr
    return result, path


@pytest.mark.slow
def test_quiet_calibrate_prints_no_progress_and_fits_100_columns(quick_calibration):
    result, path = quick_calibration
    assert result.stderr == f"stored: {path}\n"  # no "calibrating ...", no rounds
    assert max(len(line) for line in result.stdout.splitlines()) <= 100


def test_calibrate_text_fits_100_columns_and_wide_keeps_one_line_a_probe():
    from fbench.bench.calibration.ceilings import describe
    from fbench.commands.calibrate import calibration_text

    calibration = read_calibration(REPO / "examples/results/cpu-amd-epyc-float32.json")
    fitted = calibration_text(calibration, 100)
    assert max(len(line) for line in fitted.splitlines()) <= 100
    assert "gemm_1024" in fitted and "Best probe" in fitted and "GMAC" not in fitted
    wide = calibration_text(calibration, None).splitlines()
    peak = calibration.peak.gflops_per_s
    assert ["  " + line for line in describe(calibration.ceilings, peak)] == wide[13:18]
    assert any(len(line) > 100 for line in wide)  # the peak's line, unwrapped


@pytest.mark.slow
def test_quick_calibrate_measures_plausible_positive_ceilings(quick_calibration):
    result, path = quick_calibration
    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA and data["device"] == "cpu" and data["quick"] is True
    assert data["environment"]["threads"] == {"intra_op": 1, "inter_op": 1}
    identity = device_identity(data["environment"], "cpu", dtype="float32")
    assert data["identity"] == identity.calibration_name()
    ceilings = data["ceilings"]
    assert {"gemm", "conv", "memory_copy", "memory_triad"} <= set(ceilings)
    # Positive and plausible for one CPU core: no timing assertion beyond that.
    assert 0.05 < ceilings["gemm"]["median"] < 5000
    assert ceilings["gemm"]["unit"] == "GMAC/s" and ceilings["gemm"]["details"]["n"] in (64, 96)
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


@pytest.mark.slow
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


def _gemm(**values):
    return lambda data: data["ceilings"]["gemm"].update(values)


# (case, how to spoil the fixture, the field the one line must name): each of these reached
# a roofline's arithmetic before calibration files were validated (TypeError,
# ZeroDivisionError, "need 0 < low < high" from matplotlib, a string read as true).
SPOILED_CALIBRATIONS = [
    ("median-text", _gemm(median="x"), "ceilings.gemm.median"),
    ("median-null", _gemm(median=None), "ceilings.gemm.median"),
    ("median-zero", _gemm(median=0), "ceilings.gemm.median"),
    ("median-negative", _gemm(median=-5.0, ci95_low=-6.0, ci95_high=-4.0), "ceilings.gemm.median"),
    ("bandwidth-text", lambda d: d["ceilings"]["memory_copy"].update(median="x"),
     "ceilings.memory_copy.median"),
    ("interval-misses-median", _gemm(ci95_low=200.0, ci95_high=300.0),
     "ceilings.gemm.ci95_low/ci95_high"),
    ("unknown-kind", _gemm(kind="magic"), "ceilings.gemm.kind"),
    ("details-a-list", _gemm(details=[1]), "ceilings.gemm.details"),
    ("latency-missing", lambda d: d["ceilings"]["gemm"].pop("latency_ms"),
     "ceilings.gemm.latency_ms"),
    ("settings-a-list", lambda d: d.update(settings=[1, 2]), "settings"),
    ("environment-a-list", lambda d: d.update(environment=[1]), "environment"),
    ("quick-text", lambda d: d.update(quick="false"), "quick"),
    ("peak-text", lambda d: d.update(schema=SCHEMA, probes={}, peak="fast"), "peak"),  # /2
    ("probe-median-zero", lambda d: d.update(schema=SCHEMA, probes={"gemm": {
        **d["ceilings"]["gemm"], "median": 0}}), "probes.gemm.median"),
    ("identity-missing", lambda d: d.pop("identity"), "identity"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "spoil", "field"), SPOILED_CALIBRATIONS, ids=[c[0] for c in SPOILED_CALIBRATIONS]
)
def test_spoiled_calibration_fields_are_named(tmp_path, case, spoil, field):
    data = json.loads(CALIBRATION.read_text())
    spoil(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FbenchError, match=r"bad\.json: not a valid fbench calibration") as error:
        read_calibration(path)
    assert field in str(error.value)


def test_version_1_files_are_validated_after_migration(tmp_path):
    data = json.loads(CALIBRATION.read_text())
    data["schema"] = SCHEMA_V1
    data["ceilings"]["gemm"]["median"] = 0
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FbenchError, match=r"old\.json: .*ceilings\.gemm\.median"):
        read_calibration(path)


def test_a_spoiled_calibration_is_one_line_for_roofline_and_refused_by_run(tmp_path):
    data = json.loads(CALIBRATION.read_text())
    data["ceilings"]["gemm"]["median"] = "x"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    roofline = fbench("roofline", str(FIXTURES / "cpu_table1.json"), "--calibration", str(bad))
    assert_one_line_error(roofline, str(bad), "ceilings.gemm.median")
    # fbench run refuses it before measuring, so no result records it.
    run = fbench(
        "run", "--quick", "--stages", "1", "--operators", "pconv", "--calibration", str(bad),
        "--results-dir", str(tmp_path / "results"),
    )  # fmt: skip
    assert_one_line_error(run, str(bad), "ceilings.gemm.median")
    assert not list((tmp_path / "results").glob("*.json"))


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


@pytest.mark.slow
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


# On a GPU host this command would calibrate the GPU instead of refusing.
@pytest.mark.skipif(
    cuda_unavailable() is None, reason="this machine has a CUDA GPU: nothing to refuse"
)
def test_calibrate_cuda_without_cuda_is_one_line(tmp_path):
    result = fbench("calibrate", "--device", "cuda", "--output", str(tmp_path / "c.json"))
    assert_one_line_error(result, "cuda")
    assert not (tmp_path / "c.json").exists()


@pytest.mark.cuda
@pytest.mark.skipif(
    cuda_unavailable() is not None, reason=f"no CUDA GPU on this machine: {cuda_unavailable()}"
)
def test_quick_calibrate_on_cuda_stores_positive_ceilings(tmp_path):
    path = tmp_path / "cuda.json"
    result = fbench("calibrate", "--device", "cuda", "--quick", "--output", str(path))
    assert result.returncode == 0, result.stderr
    data = json.loads(path.read_text())
    assert data["device"] == "cuda"
    assert data["ceilings"]["gemm"]["median"] > 0


@pytest.mark.slow
def test_quick_sweep_stores_every_probe_and_the_best_of_each(quick_calibration):
    _, path = quick_calibration
    data = json.loads(path.read_text())
    probes = data["probes"]
    assert {"gemm_64", "gemm_96", "conv3x3_16x8x8"} <= set(probes)
    assert {"memory_copy_1MiB", "memory_copy_4MiB", "memory_triad_4MiB"} <= set(probes)
    conv = probes["conv3x3_16x8x8"]
    assert conv["details"]["shape"] == [1, 16, 8, 8] and conv["details"]["layers"] == 2
    assert conv["work_per_call"] == 1 * 2 * 8 * 8 * 9 * 16 * 16
    for name, ceiling in data["ceilings"].items():
        mine = [p for p in probes.values() if p["details"]["ceiling"] == name]
        assert ceiling["median"] == max(p["median"] for p in mine)
        assert probes[ceiling["details"]["probe"]]["median"] == ceiling["median"]
    calibration = read_calibration(path)
    compute = calibration.compute_ceiling
    assert compute.median == max(data["ceilings"][n]["median"] for n in ("gemm", "conv"))
    assert calibration.compute_gflops_per_s == compute.median
    peak = data["peak"]
    assert peak is not None and "FMA units" in peak["assumption"]
    if peak["gflops_per_s"] is not None:  # the clock is readable here
        assert peak["clock_source"] in CLOCK_SOURCES
        assert peak["gflops_per_s"] == pytest.approx(
            peak["lanes"] * peak["fma_units"] * peak["clock_mhz"] / 1000
        )
        assert data["ceilings"][compute.name]["fraction_of_peak"] == pytest.approx(
            compute.median / peak["gflops_per_s"]
        )


@pytest.mark.parametrize(
    ("flags", "lanes", "isa"),
    [
        ("fpu sse2 avx avx2 fma avx512f avx512bw", 16, "AVX-512"),
        ("fpu sse2 avx avx2 fma", 8, "AVX2/FMA"),
        ("fp asimd evtstrm crc32 cpuid", 4, "NEON"),
    ],
)
def test_peak_from_cpu_flags(flags, lanes, isa):
    peak = theoretical_peak(flags, "float32", 3000.0, "cpufreq scaling_cur_freq")
    assert (peak.lanes, peak.vector_isa, peak.fma_units) == (lanes, isa, 2)
    assert peak.gflops_per_s == pytest.approx(lanes * 2 * 3.0)
    assert peak.reason is None and "assumed" in peak.assumption


def test_peak_not_derivable_says_why():
    assert theoretical_peak("fpu sse2 avx", "float32", 3000.0).reason.startswith("no known FMA")
    unknown_clock = theoretical_peak(["avx2", "fma"], "float32", None)
    assert unknown_clock.gflops_per_s is None and unknown_clock.lanes == 8
    assert unknown_clock.reason == "clock unknown"
    assert theoretical_peak("avx2 fma", "bfloat16", 3000.0).gflops_per_s is None


def test_clock_from_cpuinfo_of_the_pinned_core():
    text = "processor\t: 0\ncpu MHz\t\t: 2445.4\n\nprocessor\t: 1\ncpu MHz\t\t: 3100.0\n"
    assert cpuinfo_mhz(text, 1) == 3100.0
    assert cpuinfo_mhz(text, 0) == 2445.4
    assert cpuinfo_mhz((FIXTURES / "arm" / "cpuinfo_pi4.txt").read_text(), 0) is None


def test_best_per_ceiling_is_the_fastest_probe():
    latency = LatencySummary(1.0, 0.9, 1.1, 0.1, 1.0, 0.1, 10)
    probes = {
        f"gemm_{n}": ceiling_from_latencies(
            f"gemm_{n}", "compute", float(n**3), latency, {"ceiling": "gemm"}
        )
        for n in (256, 512, 384)
    }
    (best,) = best_per_ceiling(probes).values()
    assert best.name == "gemm" and best.details["probe"] == "gemm_512"
    assert best.median == max(p.median for p in probes.values())


def test_version_1_files_migrate_on_load(tmp_path):
    original = json.loads(CALIBRATION.read_text())
    assert original["schema"] == SCHEMA_V1
    calibration = read_calibration(CALIBRATION)
    assert calibration.migrated_from == SCHEMA_V1 and calibration.peak is None
    assert set(calibration.probes) == set(original["ceilings"])
    assert calibration.compute_ceiling.name == "gemm"
    assert calibration.bandwidth_ceiling.name == "memory_copy"
    # The file itself is never rewritten; a stored copy is in the current format.
    assert json.loads(CALIBRATION.read_text()) == original
    copy = tmp_path / "v2.json"
    write_calibration(copy, calibration)
    stored = json.loads(copy.read_text())
    assert stored["schema"] == SCHEMA and stored["migrated_from"] == SCHEMA_V1
    assert read_calibration(copy).ceilings == calibration.ceilings


def test_roofline_refuses_a_calibration_of_another_dtype(tmp_path):
    data = json.loads(CALIBRATION.read_text())
    data["dtype"] = "bfloat16"
    path = tmp_path / "bf16.json"
    path.write_text(json.dumps(data))
    run = read_result(FIXTURES / "cpu_table1.json")
    with pytest.raises(FbenchError, match="is for bfloat16, the run's cpu rows are float32"):
        calibrations_for_runs([run], [path], tmp_path)
