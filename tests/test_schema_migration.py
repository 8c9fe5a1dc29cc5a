"""fbench.result/1 → /2, tested on /1 files frozen from the repository (tests/fixtures/v1/)."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pytest

from fbench.bench import results
from fbench.bench.results.migration import SCHEMA_V1, SCHEMA_V2, migrate_v1, migrate_v2
from fbench.bench.results.schema import SCHEMA, validate_result
from fbench.bench.results.status import REASONS, STATUSES
from tests.conftest import FIXTURES, fbench

V1 = FIXTURES / "v1"
FROZEN = sorted(V1.glob("*.json"))


def _load(name: str) -> dict:
    return json.loads((V1 / name).read_text(encoding="utf-8"))


def _counts(run: results.RunResult) -> Counter:
    return Counter((row.status, tuple(row.reasons)) for row in run.rows)


@pytest.mark.parametrize("path", FROZEN, ids=[p.name for p in FROZEN])
def test_every_frozen_v1_file_loads_as_v2_and_is_not_rewritten(path):
    before = path.read_bytes()
    assert json.loads(before)["schema"] == SCHEMA_V1
    run = results.read_result(path)
    assert path.read_bytes() == before
    assert run.schema == SCHEMA
    for row in run.rows:
        assert row.status in STATUSES and all(code in REASONS for code in row.reasons)
        assert (row.status == "ok") == (row.reasons == []) and (row.why is None) == (
            row.status == "ok"
        )
        assert "problems" not in row.telemetry
    # Stored again, it is a valid /2 file that reads back the same.
    again = results.parse_result(json.loads(json.dumps(run.to_dict())), "memory")
    assert again == run


def test_migration_does_not_change_its_input():
    data = _load("reference-six-processes-cpu.json")
    kept = copy.deepcopy(data)
    migrated = migrate_v1(data)
    assert data == kept and migrated["schema"] == SCHEMA_V2
    validate_result(migrate_v2(migrated), "memory")


def test_unstable_rows_whose_device_reported_nothing_become_imprecise():
    # telemetry.problems == [] (multi-process files): only the interval missed the target;
    # here the processes' medians made it wide, and the reasons say so.
    run = results.read_result(V1 / "reference-six-processes-cpu.json")
    assert _counts(run) == {
        ("ok", ()): 5,
        ("imprecise", ("interval_wide", "processes_differ")): 11,
    }
    row = next(row for row in run.rows if row.status == "imprecise")
    assert row.why.startswith("95% CI of the median is ±")
    assert "the interval is the processes'" in row.why
    assert row.device_problems == [] and row.in_averages


def test_unstable_rows_of_files_older_than_the_problems_list_become_imprecise():
    # No telemetry.problems at all: imprecise with interval_wide when there is a latency.
    run = results.read_result(V1 / "reference-single-process-cpu.json")
    assert _counts(run) == {("ok", ()): 14, ("imprecise", ("interval_wide",)): 2}
    arm = results.read_result(V1 / "arm_table1.json")
    assert _counts(arm) == {
        ("ok", ()): 10,
        ("imprecise", ("interval_wide",)): 1,
        ("failed", ("error",)): 1,
    }
    failed = next(row for row in arm.rows if row.status == "failed")
    assert failed.why == failed.error == "RuntimeError: killed by the fixture"


def test_unstable_rows_with_device_problems_become_disturbed_with_mapped_reasons():
    data = _load("reference-six-processes-cpu.json")
    row = data["rows"][2]  # unstable, problems []
    row["telemetry"]["problems"] = [
        "interrupted: timed in 1 of 6 planned processes",
        "process 1: under voltage occurred during the row (get_throttled 0x0 → 0x50000)",
        "process 1: CPU max frequency capped during the row: 1500 → 1000 MHz",
        "process 1: governor changed during the row: performance → ondemand",
        "process 1: SoC at 82.5 °C (≥ 80 °C: throttling range)",
        "process 1: the board smelled of smoke",
    ]
    run = results.parse_result(data, "memory")
    migrated = run.rows[2]
    assert migrated.status == "disturbed" and not migrated.in_averages
    assert migrated.reasons == [
        "interrupted",
        "throttled",
        "clock_capped",
        "governor_changed",
        "too_hot",
        "device_problem",
        "interval_wide",
        "processes_differ",
    ]
    assert migrated.why == "interrupted: timed in 1 of 6 planned processes"
    # The interruption is a reason, not something the device reported.
    assert len(migrated.device_problems) == 5
    assert not any(p.startswith("interrupted") for p in migrated.device_problems)


def test_an_unstable_row_with_no_latency_and_no_cause_is_disturbed_unrecorded():
    data = _load("cpu_table1.json")
    row = next(row for row in data["rows"] if row["status"] == "unstable")
    row.update(latency_ms=None, notes=[], samples_ms=[], gflops_per_s=None)
    migrated = results.parse_result(data, "memory").rows[data["rows"].index(row)]
    assert migrated.status == "disturbed" and migrated.reasons == ["unrecorded"]
    assert migrated.why


def test_commands_read_v1_files_in_the_new_words(tmp_path):
    path = tmp_path / "old.json"
    path.write_bytes((V1 / "cpu_table1.json").read_bytes())
    shown = fbench("show", str(path))
    assert shown.returncode == 0, shown.stderr
    assert "imprecise" in shown.stdout and "unstable" not in shown.stdout
    assert path.read_bytes() == (V1 / "cpu_table1.json").read_bytes()


def test_frozen_files_are_the_repository_s_v1_files():
    # Frozen copies, not regenerated: a change to them would hide a migration bug.
    names = {p.name for p in FROZEN}
    assert {"cpu_table1.json", "arm_table1.json", "reference-six-processes-cpu.json"} <= names
    assert all(json.loads(Path(p).read_text())["schema"] == SCHEMA_V1 for p in FROZEN)


def test_a_v2_file_loads_as_v3_and_says_it_cannot_be_paired():
    # The committed /2 fixture, as written before per-round medians were stored.
    data = json.loads((Path(__file__).parent / "fixtures" / "cpu_table1.json").read_text())
    assert data["schema"] == SCHEMA_V2
    kept = copy.deepcopy(data)
    migrated = migrate_v2(data)
    assert data == kept and migrated["schema"] == SCHEMA
    run = results.parse_result(data, "cpu_table1.json")
    assert run.schema == SCHEMA
    # Nothing measured is recomputed: the stored medians and statuses stand.
    assert [r.latency_ms.median for r in run.rows] == [
        r["latency_ms"]["median"] for r in data["rows"]
    ]
    assert [r.status for r in run.rows] == [r["status"] for r in data["rows"]]
    assert all(r.round_medians is None for r in run.rows)
    from fbench.bench.stats import paired

    assert "cannot be paired" in paired.pairing_words(run.rows[0])
