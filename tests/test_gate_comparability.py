"""The regression gate's rules: which runs are the same experiment, each exit code, accepted
differences, --allow-unstable, and host-probe failures in words. Hand-made result files
(copies of tests/fixtures/cpu_table1.json), nothing timed except the runner tests at the end,
which assert what is stored, never how long anything took."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from fbench.bench.measure import host_probe
from fbench.bench.results import parse_result
from fbench.bench.stats import host_probe as probe_stats
from fbench.reports import compare
from tests.conftest import assert_one_line_error
from tests.test_compare import (  # noqa: F401 (_capture: autouse)
    _capture,
    fbench,
    follow_samples,
    mark,
    synthetic_run,
    write,
)


def _set(path: str, value) -> Callable[[dict], None]:
    """A change to a run's dict at a dotted path, e.g. "config.device_settings.malloc"."""

    def change(data: dict) -> None:
        *parents, name = path.split(".")
        node = data
        for parent in parents:
            node = node.setdefault(parent, {})
        node[name] = value

    return change


def _mean_estimator(data: dict) -> None:
    """Every row's headline latency the mean, its FLOPS and throughput derived from it."""
    for row in data["rows"]:
        row["latency_estimator"] = "mean"
        mean = row["latency_ms"]["mean"]
        row["gflops_per_s"] = row["flops"] * row["batch"] / (mean / 1000.0) / 1e9
        row["throughput_per_s"] = row["batch"] * 1000.0 / mean


# One change per key of the experiment: (key, change to the current run, words in the output).
KEY_CHANGES = [
    ("malloc", _set("config.device_settings.malloc", "system"), "'steady', current 'system'"),
    ("pin_core", _set("config.device_settings.pin_core", "none"), "'auto', current 'none'"),
    ("threads", _set("config.device_settings.threads", 2), "baseline 1, current 2"),
    ("batch", _set("config.device_settings.batch", 4), "baseline 1, current 4"),
    ("processes", _set("config.timing.processes", 6), "baseline 1, current 6"),
    ("method", _set("config.timing.method", "official"), "'adaptive', current 'official'"),
    ("schedule", _set("config.timing.schedule", "sequential"), "current 'sequential'"),
    ("latency_estimator", _mean_estimator, "current 'mean'"),
    ("dtype", _set("config.dtype", "float16"), "'float32', current 'float16'"),
    ("layers", _set("config.layers", 5), "baseline 10, current 5"),
    ("backend", _set("config.backend", "onnxruntime"), "'torch', current 'onnxruntime'"),
    ("backend_options", _set("config.backend_options", {"opt": 1}), "current {'opt': 1}"),
    ("torch", _set("environment.torch", "2.16.0"), "'2.15.0', current '2.16.0'"),
    ("cpu_model", _set("environment.cpu_model", "Another CPU"), "current 'Another CPU'"),
]


def _pair(tmp_path: Path, *changes: Callable[[dict], None], **options) -> tuple[Path, Path]:
    baseline, current = synthetic_run("base", 1, **options), synthetic_run("cur", 2, **options)
    for run in (baseline, current):  # what a run of today's fbench stores
        run["config"]["device_settings"]["malloc"] = "steady"
        run["config"]["timing"]["processes"] = 1
    for change in changes:
        change(current)
    return write(tmp_path, baseline), write(tmp_path, current)


@pytest.mark.parametrize(("key", "change", "words"), KEY_CHANGES, ids=[k[0] for k in KEY_CHANGES])
def test_each_key_of_the_experiment_that_differs_is_named_and_exits_3(tmp_path, key, change, words):
    base, cur = _pair(tmp_path, change)
    result = fbench("compare", "--wide", str(base), str(cur))
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"NOT COMPARABLE: {key} differs: baseline " in result.stdout
    assert words in result.stdout
    # Accepted on purpose, the same files are judged (nothing else differs: exit 0)...
    accepted = fbench("compare", "--wide", str(base), str(cur), "--accept-difference", key)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert f"accepted on purpose: {key} differs" in accepted.stdout
    assert "no significant regression" in accepted.stdout


def test_steady_against_system_malloc_is_not_a_regression_but_not_comparable(tmp_path):
    # The case: --malloc system moved DWConv 96×56×56 from 3.4 to 7.5 ms.
    base, cur = _pair(tmp_path, _set("config.device_settings.malloc", "system"))
    data = json.loads(cur.read_text())
    for row in data["rows"]:
        if row["operator"] == "dwconv" and row["channels"] == 96:
            row["samples_ms"] = [value * 7.5 / 3.4 for value in row["samples_ms"]]
            follow_samples(row)
    cur.write_text(json.dumps(data))
    result = fbench("compare", "--wide", str(base), str(cur))
    assert result.returncode == 3 and "malloc differs" in result.stdout
    assert "REGRESSION" not in result.stdout
    # Accepting it on purpose judges the rows: then it is a regression.
    judged = fbench("compare", "--wide", str(base), str(cur), "--accept-difference", "malloc")
    assert judged.returncode == 1 and "dwconv 96×56×56" in judged.stdout


def test_every_difference_is_listed_and_only_accepted_ones_are_let_through(tmp_path):
    base, cur = _pair(
        tmp_path,
        _set("environment.torch", "2.16.0"),
        _set("config.device_settings.malloc", "system"),
        _set("config.timing.processes", 3),
    )
    result = fbench("compare", str(base), str(cur), "--format", "md")
    assert result.returncode == 3
    for key in ("torch", "malloc", "processes"):
        assert f"{key} differs" in result.stdout
    partly = fbench("compare", "--wide", str(base), str(cur), "--accept-difference", "torch,malloc")
    assert partly.returncode == 3
    assert "NOT COMPARABLE: processes differs: baseline 1, current 3" in partly.stdout
    assert "accepted on purpose: torch differs" in partly.stdout
    assert "accepted on purpose: malloc differs" in partly.stdout
    every = fbench(
        "compare", str(base), str(cur),
        "--accept-difference", "torch,malloc", "--accept-difference", "processes",
        "--format", "json", "--summary",
    )  # fmt: skip
    assert every.returncode == 0, every.stdout
    (report,) = json.loads(every.stdout)
    assert report["not_comparable"] is None and len(report["accepted"].split("; ")) == 3


def test_differences_as_data():
    base = parse_result(synthetic_run("a", 1), "a")
    other = synthetic_run("b", 2)
    other["config"]["device_settings"]["tf32"] = True  # a device setting fbench never named
    other["environment"]["torch"] = "2.16.0"
    found = compare.differences(base, parse_result(other, "b"))
    assert [(d.key, d.baseline, d.current) for d in found] == [
        ("torch", "2.15.0", "2.16.0"),
        ("tf32", None, True),
    ]
    assert found[1].line() == "tf32 differs: baseline not recorded, current True"
    problems, accepted = compare.comparability_problems(base, parse_result(other, "b"), {"tf32"})
    assert problems == ["torch differs: baseline '2.15.0', current '2.16.0'"]
    assert accepted == ["tf32 differs: baseline not recorded, current True"]


def test_the_onnxruntime_version_counts_only_for_its_backend(tmp_path):
    newer = _set("environment.onnxruntime", "1.99.0")
    base, cur = _pair(tmp_path, newer)
    assert (
        fbench("compare", "--wide", str(base), str(cur)).returncode == 0
    )  # torch backend: no part of it
    onnx = _set("config.backend", "onnxruntime")
    data = [json.loads(path.read_text()) for path in (base, cur)]
    for run in data:
        onnx(run)
    newer(data[1])
    base, cur = write(tmp_path, data[0]), write(tmp_path, data[1])
    result = fbench("compare", "--wide", str(base), str(cur))
    assert result.returncode == 3
    assert "onnxruntime differs: baseline '1.32.0', current '1.99.0'" in result.stdout


def test_an_unknown_accepted_key_is_bad_input(tmp_path):
    base, cur = _pair(tmp_path)
    result = fbench("compare", "--wide", str(base), str(cur), "--accept-difference", "torhc")
    assert_one_line_error(result, "--accept-difference", "unknown key 'torhc'", "torch")
    empty = fbench("compare", "--wide", str(base), str(cur), "--accept-difference", ",")
    assert empty.returncode == 2 and "Traceback" not in empty.stderr


def test_compare_auto_after_a_torch_upgrade_accepted_on_purpose(tmp_path):
    baselines = tmp_path / "baselines"
    base, _ = _pair(tmp_path)
    _, upgraded = _pair(tmp_path, _set("environment.torch", "2.16.0"))
    assert fbench("baseline", "save", str(base), "--baselines-dir", str(baselines)).returncode == 0
    plain = fbench("compare", "auto", str(upgraded), "--baselines-dir", str(baselines))
    assert plain.returncode == 3 and "no baseline for this device" in plain.stderr
    accepted = fbench(
        "compare", "auto", str(upgraded), "--baselines-dir", str(baselines),
        "--accept-difference", "torch",
    )  # fmt: skip
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "accepted on purpose: torch differs: baseline '2.15.0', current '2.16.0'" in (
        accepted.stdout
    )


# --- each exit rule, pinned -------------------------------------------------------------------


def test_exit_0_when_the_rows_are_the_same_or_faster(tmp_path):
    base, same = _pair(tmp_path)
    assert fbench("compare", str(base), str(same)).returncode == 0
    faster = write(tmp_path, synthetic_run("faster", 3, {"conv 96×56×56": 0.85}))
    result = fbench("compare", str(base), str(faster), "--accept-difference", "malloc,processes")
    assert result.returncode == 0 and "FASTER" in result.stdout


def test_exit_1_only_for_a_measured_regression(tmp_path):
    base, slow = _pair(tmp_path)
    data = json.loads(slow.read_text())
    data["rows"][0]["samples_ms"] = [value * 1.2 for value in data["rows"][0]["samples_ms"]]
    follow_samples(data["rows"][0])
    slow.write_text(json.dumps(data))
    result = fbench("compare", str(base), str(slow))
    assert result.returncode == 1 and "REGRESSION" in result.stdout


def test_exit_2_for_bad_input(tmp_path):
    base, cur = _pair(tmp_path)
    assert_one_line_error(fbench("compare", str(base), str(tmp_path / "nope.json")), "no such")
    assert_one_line_error(fbench("compare", str(base), str(cur), "--alpha", "1.5"), "(0, 1)")


def test_exit_3_when_not_comparable_or_not_trustworthy(tmp_path):
    base, other = _pair(tmp_path, _set("config.layers", 5))
    assert fbench("compare", str(base), str(other)).returncode == 3
    _, flagged = _pair(tmp_path)
    data = json.loads(flagged.read_text())
    mark(data["rows"][2], "disturbed", "throttled", why="process 1: throttled")
    flagged.write_text(json.dumps(data))
    result = fbench("compare", str(base), str(flagged))
    assert result.returncode == 3 and "NOT TRUSTWORTHY" in result.stdout


# --- --allow-unstable judges the rows it lets through ------------------------------------------


def _unstable_slower(factor: float) -> tuple[dict, dict]:
    """Baseline, and a current run whose conv 768×7×7 is `factor` slower and stored disturbed
    (held back): significant, but (at 6%) its interval is not wholly past the 5% threshold."""
    current = synthetic_run("cur", 2, {"conv 768×7×7": factor}, n=40)
    row = next(r for r in current["rows"] if r["operator"] == "conv" and r["channels"] == 768)
    mark(row, "disturbed", "throttled", why="process 1: throttled")
    return synthetic_run("base", 1, n=40), current


def test_allow_unstable_judges_a_slowdown_among_the_rows_it_lets_through(tmp_path):
    baseline, current = _unstable_slower(1.06)
    held_back = compare.compare_runs(parse_result(baseline, "b"), parse_result(current, "c"))
    (row,) = [r for r in held_back.rows if r.label == "conv 768×7×7"]
    assert row.verdict == "not judged" and row.judged == "slower" and row.p_value < 0.05
    assert held_back.exit_code() == 3
    assert held_back.exit_code(allow_unstable=True) == 1

    base, cur = write(tmp_path, baseline), write(tmp_path, current)
    assert fbench("compare", "--wide", str(base), str(cur)).returncode == 3
    allowed = fbench("compare", str(base), str(cur), "--allow-unstable", "--format", "json")
    assert allowed.returncode == 1, allowed.stdout
    (slower,) = [r for r in json.loads(allowed.stdout) if r["verdict"] == "slower"]
    assert (slower["operator"], slower["channels"]) == ("conv", 768)
    assert "current row disturbed" in slower["reasons"] and "--allow-unstable" in slower["reasons"]


def test_allow_unstable_passes_unstable_rows_that_did_not_change(tmp_path):
    baseline, current = _unstable_slower(1.0)
    base, cur = write(tmp_path, baseline), write(tmp_path, current)
    assert fbench("compare", "--wide", str(base), str(cur)).returncode == 3
    assert fbench("compare", str(base), str(cur), "--allow-unstable").returncode == 0


def test_allow_unstable_does_not_let_failed_or_missing_rows_through(tmp_path):
    baseline = synthetic_run("base", 1)
    current = synthetic_run("cur", 2)
    mark(current["rows"][0], "failed", "error", why="RuntimeError: x")
    current["rows"][0]["error"], current["rows"][0]["latency_ms"] = "RuntimeError: x", None
    current["rows"][0]["samples_ms"] = []
    del current["rows"][1]
    base, cur = write(tmp_path, baseline), write(tmp_path, current)
    result = fbench("compare", str(base), str(cur), "--allow-unstable")
    assert result.returncode == 3 and "1 not measured, 1 missing" in result.stdout


# --- host-probe failures, in words -------------------------------------------------------------


def _probe_failed(run: dict, round_number: int, error: str, rounds: int = 0) -> dict:
    for row in run["rows"]:
        row["host_probe"] = {
            "workload": host_probe.WORKLOAD,
            "round_medians_ms": [0.2] * rounds,
            "failure": probe_stats.failure_record(round_number, error),
        }
    return run


def test_compare_says_the_host_probe_failed_instead_of_blaming_the_settings(tmp_path):
    baseline = synthetic_run("base", 1, probe=1.0)
    current = _probe_failed(synthetic_run("cur", 2), 0, "RuntimeError: no BLAS")
    base, cur = write(tmp_path, baseline), write(tmp_path, current)
    result = fbench("compare", str(base), str(cur), "--host-correction")
    assert result.returncode == 0, result.stdout
    assert "host probe failed before round 1 of run cur (RuntimeError: no BLAS)" in result.stdout
    assert "host_probe = false" not in result.stdout and "--method official" not in result.stdout

    midway = _probe_failed(synthetic_run("mid", 2, probe=1.0), 3, "RuntimeError: boom", 2)
    text = fbench("compare", str(base), str(write(tmp_path, midway)), "--format", "md").stdout
    assert "host probe failed in round 3 of run mid (RuntimeError: boom)" in text


def test_show_prints_the_host_probe_failure_in_the_header(tmp_path):
    run = _probe_failed(synthetic_run("cur", 2), 4, "RuntimeError: boom", 3)
    for row in run["rows"]:
        row["host_probe"]["failure"]["process"] = 2
    result = fbench("show", str(write(tmp_path, run)), "--no-paper")
    assert result.returncode == 0, result.stderr
    header = result.stdout.split("\n\n")[0]
    assert "host probe failed in round 4 of run cur (process 2) (RuntimeError: boom)" in header


def test_pooled_probe_records_keep_a_process_failure():
    ok = {"workload": "w", "round_medians_ms": [0.1, 0.2]}
    failed = {"workload": "w", "round_medians_ms": [0.3], "failure": {"round": 2, "error": "e"}}
    none_at_all = {"workload": "w", "round_medians_ms": [], "failure": {"round": 0, "error": "x"}}
    assert probe_stats.pool([ok, None]) == ok
    assert probe_stats.pool([None, None]) is None
    assert probe_stats.pool([ok, failed]) == {
        "workload": "w",
        "round_medians_ms": [0.1, 0.2, 0.3],
        "failure": {"round": 2, "error": "e", "process": 2},
    }
    assert probe_stats.pool([none_at_all, none_at_all]) == {
        "workload": "w",
        "round_medians_ms": [],
        "failure": {"round": 0, "error": "x", "process": 1},
    }


# --- the runner stores the failure (real torch, tiny shapes; nothing about time asserted) ----


@pytest.fixture
def session():
    pytest.importorskip("torch")
    from fbench.devices.cpu import CPU_SETTINGS, CpuSession

    return CpuSession({**CPU_SETTINGS, "pin_core": "none"})


def _quick_config():
    from fbench.bench import config as config_module

    overrides = config_module.Overrides(
        operators=["dwconv"], stages=[4], layers=1, quick=True, pin_core="none"
    )
    return config_module.load(None, overrides)


def test_a_probe_that_cannot_be_built_is_stored_as_failed_in_round_0(session, monkeypatch):
    from fbench.bench.measure.entry import measure
    from fbench.bench.plan.rows import plan_rows

    def broken(torch_device, seed=0):
        raise RuntimeError("simulated: probe kernel missing")

    monkeypatch.setattr(host_probe, "build", broken)
    config = _quick_config()
    (row,) = measure(plan_rows(config), config, session, lambda event: None)
    assert row.samples_ms and row.host_probe == {
        "workload": host_probe.WORKLOAD,
        "round_medians_ms": [],
        "failure": {"round": 0, "error": "RuntimeError: simulated: probe kernel missing"},
    }


def test_a_probe_that_fails_in_round_2_is_stored_with_its_round(session, monkeypatch):
    from fbench.bench.measure.entry import measure
    from fbench.bench.plan.rows import plan_rows

    real = host_probe.sample
    calls = []

    def fails_in_round_2(probe, session, settings, kind="gemm"):
        if kind == "gemm":
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("simulated: probe failed")
        return real(probe, session, settings, kind)

    monkeypatch.setattr(host_probe, "sample", fails_in_round_2)
    config = _quick_config()
    (row,) = measure(plan_rows(config), config, session, lambda event: None)
    assert row.rounds >= 2  # quick runs sample every row in at least 2 rounds
    assert row.host_probe["failure"] == {
        "round": 2,
        "error": "RuntimeError: simulated: probe failed",
    }
    assert len(row.host_probe["round_medians_ms"]) == 1  # round 1's only
    run = parse_result({**synthetic_run("r", 1), "rows": [row.to_dict()]}, "r")
    assert probe_stats.failure_words(probe_stats.run_failure(run.rows), "r") == (
        "host probe failed in round 2 of run r (RuntimeError: simulated: probe failed)"
    )


# --- hostile inputs to compare and baseline: one line, exit 2, files untouched ----------------


def test_bad_baselines_dirs_are_one_line_errors_and_leave_files_as_they_were(tmp_path):
    base, cur = _pair(tmp_path)
    stored = tmp_path / "baselines"
    assert fbench("baseline", "save", str(base), "--baselines-dir", str(stored)).returncode == 0
    before = {path: path.read_bytes() for path in tmp_path.rglob("*.json")}
    cases = [
        (("compare", "auto", str(cur), "--baselines-dir", ""), "empty path"),
        (("baseline", "save", str(cur), "--baselines-dir", ""), "empty path"),
        (("compare", "auto", str(cur), "--baselines-dir", str(base)), "not a directory"),
        (("baseline", "save", str(cur), "--baselines-dir", str(base)), "not a directory"),
        (("compare", str(base), str(cur), "--accept-difference", "nope"), "unknown key"),
    ]
    for args, words in cases:
        assert_one_line_error(fbench(*args), words)
    # A baselines folder that cannot be made (its parent is a file) is a bad --baselines-dir,
    # named before anything is written (exit 2, as docs/regression-gate.md says); a full
    # disk while writing into a good one is exit 4 (tests/test_hostile_files.py).
    unwritable = ("baseline", "save", str(cur), "--baselines-dir", f"{base}/sub")
    assert_one_line_error(fbench(*unwritable), "cannot create it")
    assert {path: path.read_bytes() for path in tmp_path.rglob("*.json")} == before


@pytest.mark.parametrize("anchor", ["copy", "smallconv"])
def test_an_anchor_that_fails_mid_run_is_stored_on_the_rows_it_affected(
    session, monkeypatch, anchor
):
    from fbench.bench.measure.entry import measure
    from fbench.bench.plan.rows import plan_rows

    real = host_probe.sample
    calls = []

    def fails_in_round_2(call, session, settings, kind="gemm"):
        if kind == anchor:
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError(f"simulated: {anchor} failed")
        return real(call, session, settings, kind)

    monkeypatch.setattr(host_probe, "sample", fails_in_round_2)
    config = _quick_config()
    (row,) = measure(plan_rows(config), config, session, lambda event: None)
    (entry,) = row.round_medians
    assert entry["anchor_failures"] == {
        anchor: {"round": 2, "error": f"RuntimeError: simulated: {anchor} failed"}
    }
    assert len(entry[f"{anchor}_ms"]) == 1 and len(entry["row_ms"]) == row.rounds >= 2
    others = {"gemm", "copy", "smallconv"} - {anchor}
    assert all(len(entry[f"{other}_ms"]) == row.rounds for other in others)  # they went on
    parse_result({**synthetic_run("r", 1), "rows": [row.to_dict()]}, "r")  # valid /3
