"""Hostile result files: every command that reads results answers each with one line naming
the file and the field, exit 2, no traceback, and leaves the file byte-identical."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from fbench.bench import results
from fbench.bench.errors import FbenchError
from fbench.bench.results.schema import ROW_FIELDS, validate_result
from fbench.cli import main
from tests.conftest import FIXTURES, assert_one_line_error, fbench

GOOD = FIXTURES / "cpu_table1.json"
V1 = FIXTURES / "v1" / "cpu_table1.json"


def _row0(change: Callable[[dict], None]) -> Callable[[dict], None]:
    return lambda data: change(data["rows"][0])


def _set(**values) -> Callable[[dict], None]:
    return _row0(lambda row: row.update(values))


def _latency(**values) -> Callable[[dict], None]:
    return _row0(lambda row: row["latency_ms"].update(values))


# (case id, which fixture, how to spoil it, what the one line must name)
CORPUS = [
    ("samples-not-numbers", GOOD, _set(samples_ms="abc"), "rows[0].samples_ms"),
    ("a-sample-is-text", GOOD, _set(samples_ms=[1.0, "abc"]), "rows[0].samples_ms[1]"),
    ("negative-sample", GOOD, _set(samples_ms=[1.0, -2.0]), "rows[0].samples_ms[1]"),
    ("nan-sample", GOOD, _set(samples_ms=[1.0, math.nan]), "rows[0].samples_ms[1]"),
    ("zero-sample", GOOD, _set(samples_ms=[0.0] * 12), "rows[0].samples_ms[0]"),
    ("zero-process-median", GOOD, _set(processes=[{"median_ms": 0.0, "n": 3}]),
     "rows[0].processes[0].median_ms"),
    ("zero-probe", GOOD, _set(host_probe={"workload": "w", "round_medians_ms": [0.0]}),
     "rows[0].host_probe.round_medians_ms[0]"),
    ("empty-config", GOOD, lambda data: data.update(config={}), "config.device"),
    ("config-no-timing-method", GOOD, lambda d: d["config"]["timing"].pop("method"),
     "config.timing.method"),
    ("unknown-estimator", GOOD, _set(latency_estimator="mode"), "rows[0].latency_estimator"),
    ("negative-latency", GOOD, _latency(median=-1.0, ci95_low=-1.1, ci95_high=-0.9),
     "rows[0].latency_ms.median"),
    ("nan-latency", GOOD, _latency(median=math.nan), "rows[0].latency_ms.median"),
    ("infinite-gflops", GOOD, _set(gflops_per_s=math.inf), "rows[0].gflops_per_s"),
    ("interval-misses-median", GOOD, _latency(ci95_low=50.0, ci95_high=60.0),
     "rows[0].latency_ms.ci95_low/ci95_high"),
    ("negative-n", GOOD, _latency(n=-3), "rows[0].latency_ms.n"),
    ("unknown-status", GOOD, _set(status="unstable"), "rows[0].status"),
    ("unknown-reason", GOOD, _set(status="imprecise", reasons=["cosmic_rays"]),
     "rows[0].reasons[0]"),
    ("status-reasons-disagree", GOOD, _set(status="ok", reasons=["throttled"]),
     "rows[0].status"),
    ("imprecise-without-reason", GOOD, _set(status="imprecise", reasons=[]),
     "rows[0].reasons"),
    ("unknown-method", GOOD, _set(method="magic"), "rows[0].method"),
    ("unknown-suite", GOOD, _set(suite="games"), "rows[0].suite"),
    ("threads-not-an-object", GOOD, lambda d: d["environment"].update(threads="1"),
     "environment.threads"),
    ("unknown-state", GOOD, lambda data: data.update(state="partying"), "state"),
    ("rows-planned-text", GOOD, lambda data: data.update(rows_planned="16"), "rows_planned"),
    ("processes-median-text", GOOD, _set(processes=[{"median_ms": "x", "n": 3}]),
     "rows[0].processes[0].median_ms"),
    ("probe-not-a-list", GOOD, _set(host_probe={"workload": "w", "round_medians_ms": 3}),
     "rows[0].host_probe.round_medians_ms"),
    ("v1-row-missing-method", V1, _row0(lambda row: row.pop("method")), "rows[0].method"),
    ("v1-problems-not-a-list", V1, _set(telemetry={"problems": "throttled"}),
     "rows[0].telemetry.problems"),
    ("zero-memory-access", GOOD, _set(memory_access_bytes=0), "rows[0].memory_access_bytes"),
    ("recorded-calibration-rate-text", GOOD,
     lambda d: d["environment"].update(calibration={
         "ceilings": {"gemm": {"kind": "compute", "median": "x"}}}),
     "environment.calibration.ceilings.gemm.median"),
    ("future-schema", GOOD, lambda data: data.update(schema="fbench.result/4"),
     "'fbench.result/4'"),
]  # fmt: skip

COMMANDS = {
    "show": lambda bad, good, tmp: ["show", bad],
    "report table1": lambda bad, good, tmp: ["report", "table1", bad],
    "compare (bad current)": lambda bad, good, tmp: ["compare", good, bad],
    "compare (bad baseline)": lambda bad, good, tmp: ["compare", bad, good],
    "plot": lambda bad, good, tmp: ["plot", "operators", bad, "--output", str(tmp / "p")],
    "roofline": lambda bad, good, tmp: ["roofline", bad],
    "depth": lambda bad, good, tmp: ["depth", bad],
    "baseline save": lambda bad, good, tmp: [
        "baseline", "save", bad, "--baselines-dir", str(tmp / "baselines")
    ],
}  # fmt: skip


def _spoiled(tmp_path: Path, source: Path, spoil: Callable[[dict], None]) -> Path:
    data = json.loads(source.read_text(encoding="utf-8"))
    spoil(data)
    path = tmp_path / "bad.json"
    # allow_nan: the file holds the NaN/Infinity tokens Python's json reads back.
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


@pytest.mark.parametrize(("case", "source", "spoil", "field"), CORPUS, ids=[c[0] for c in CORPUS])
def test_every_command_names_the_file_and_field_and_exits_2(
    tmp_path, capsys, case, source, spoil, field
):
    bad = _spoiled(tmp_path, source, spoil)
    before = bad.read_bytes()
    good = tmp_path / "good.json"
    good.write_bytes(GOOD.read_bytes())
    for name, arguments in COMMANDS.items():
        code = main(arguments(str(bad), str(good), tmp_path))
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert code == 2, (name, code, captured.err)
        assert len(lines) == 1 and "Traceback" not in captured.err, (name, captured.err)
        assert str(bad) in lines[0] and field in lines[0], (name, lines[0])
        assert bad.read_bytes() == before, name  # never rewritten
    assert not (tmp_path / "baselines").exists()
    assert not list(tmp_path.glob("p.*"))
    with pytest.raises(FbenchError, match=r"bad\.json"):
        results.load(bad)


def test_compare_exits_2_not_1_for_samples_that_are_not_numbers(tmp_path):
    # The case: a corrupt CI artifact used to read as a slowdown (TypeError, exit 1).
    bad = _spoiled(tmp_path, GOOD, _set(samples_ms="abc"))
    result = fbench("compare", str(GOOD), str(bad))
    assert_one_line_error(result, str(bad), "rows[0].samples_ms", "not a list")


def test_a_future_version_is_named_in_the_sentence(tmp_path):
    bad = _spoiled(tmp_path, GOOD, lambda data: data.update(schema="fbench.result/4"))
    result = fbench("show", str(bad))
    assert_one_line_error(result, "'fbench.result/4'", "upgrade fbench")


def test_unknown_fields_are_kept_and_known_ones_checked():
    data = json.loads(GOOD.read_text(encoding="utf-8"))
    data["process_failures"] = [{"process": 2, "signal": 9}]  # a newer fbench's run field
    data["rows"][0]["from_the_future"] = 1
    run = results.parse_result(data, "memory")
    assert run.extra == {"process_failures": [{"process": 2, "signal": 9}]}
    assert run.to_dict()["process_failures"] == [{"process": 2, "signal": 9}]
    assert run.rows[0].extra == {"from_the_future": 1}


def test_every_dataclass_field_of_a_row_is_in_the_validators_table():
    from dataclasses import fields

    known = {f.name for f in fields(results.ResultRow)} - {"extra"}
    assert known == set(ROW_FIELDS)


def test_a_written_run_passes_the_validator(tmp_path):
    run = results.read_result(GOOD)
    path = tmp_path / "again.json"
    results.write_atomic(path, run.to_dict())
    validate_result(json.loads(path.read_text(encoding="utf-8")), str(path))
