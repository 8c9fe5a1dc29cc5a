"""The result file format: lossless round trip, atomic writes, clear errors on bad files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from fbench.bench import results
from fbench.bench.errors import FbenchError


def test_fixture_round_trips_losslessly(fixture_path):
    run = results.read_result(fixture_path)
    assert len(run.rows) == 16
    again = results.parse_result(json.loads(json.dumps(run.to_dict())), "memory")
    assert again == run


def test_unknown_row_fields_survive_a_rewrite(fixture_path, tmp_path):
    data = json.loads(fixture_path.read_text())
    data["rows"][0]["from_the_future"] = {"x": 1}
    run = results.parse_result(data, "memory")
    assert run.rows[0].to_dict()["from_the_future"] == {"x": 1}


def test_store_appends_atomically_and_leaves_no_temp_files(fixture_path, tmp_path):
    run = results.read_result(fixture_path)
    path = tmp_path / "run.json"
    store = results.RunStore.create(path, replace(run, rows=[]))
    for row in run.rows[:3]:
        store.append(row)
    store.close()  # its lock file goes with it
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
    assert len(results.read_result(path).rows) == 3


def test_create_refuses_to_overwrite(fixture_path, tmp_path):
    run = results.read_result(fixture_path)
    path = tmp_path / "run.json"
    path.write_text("precious")
    with pytest.raises(FbenchError, match="refusing to overwrite"):
        results.RunStore.create(path, run)
    assert path.read_text() == "precious"


def test_nan_is_stored_as_null(tmp_path):
    path = tmp_path / "x.json"
    results.write_atomic(path, {"a": float("nan"), "b": [1.0, float("inf")]})
    assert json.loads(path.read_text()) == {"a": None, "b": [1.0, None]}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"schema": "fbench.result/1", "rows": [', "corrupt result file (invalid JSON at line 1"),
        ("[]", "top level is not an object"),
        ('{"rows": []}', "no 'schema' field"),
        ('{"schema": "fbench.result/9"}', "result format 'fbench.result/9', which this fbench"),
        ('{"schema": "fbench.result/1", "run_id": "x"}', "created: missing"),
        (
            '{"schema": "fbench.result/1", "run_id": "x", "created": "t", "environment": {},'
            ' "config": {}, "rows": [{"operator": "conv"}]}',
            "config.device: missing",
        ),
    ],
)
def test_bad_result_files_are_one_clear_error(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(FbenchError) as error:
        results.read_result(path)
    assert fragment in str(error.value)
    assert str(path) in str(error.value)


def test_resolve_by_id_or_path(fixture_path, tmp_path):
    (tmp_path / "abc.json").write_text(fixture_path.read_text())
    assert results.resolve_path("abc", tmp_path) == tmp_path / "abc.json"
    assert results.resolve_path(str(fixture_path), tmp_path) == fixture_path
    with pytest.raises(FbenchError, match="no run 'nope' in"):
        results.resolve_path("nope", tmp_path)


def test_run_ids_do_not_collide(tmp_path):
    first = results.new_run_id(tmp_path, "cpu", "torch")
    (tmp_path / f"{first}.json").write_text("{}")
    second = results.new_run_id(tmp_path, "cpu", "torch")
    assert second != first and second.startswith(first)


def test_load_gives_one_dataframe_row_per_measured_row(fixture_path):
    frame = results.load([fixture_path, fixture_path])
    assert len(frame) == 32
    conv = frame[(frame.operator == "conv") & (frame.stage == 1)].iloc[0]
    assert conv["latency_ms.median"] == 40.0
    assert conv["env.cpu_model"] == "Hand-made Test CPU"
    assert conv["env.threads.intra_op"] == 1
    assert "samples_ms" not in frame.columns


def test_row_key_ignores_measurements(fixture_path):
    row = results.read_result(fixture_path).rows[0]
    assert replace(row, status="failed", samples_ms=[]).key() == row.key()
    assert replace(row, batch=32).key() != row.key()


def test_latency_uses_the_rows_estimator(fixture_path):
    row = results.read_result(fixture_path).rows[0]
    assert row.latency == row.latency_ms.median
    assert replace(row, latency_estimator="mean").latency == row.latency_ms.mean


def test_written_file_is_plain_json(fixture_path, tmp_path):
    run = results.read_result(fixture_path)
    path: Path = tmp_path / "r.json"
    results.RunStore.create(path, run)
    data = json.loads(path.read_text())
    assert data["schema"] == "fbench.result/3"
    assert list(data)[:3] == ["schema", "run_id", "created"]
