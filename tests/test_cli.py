"""The CLI as a user runs it: a quick run end to end, show, bad input, Ctrl-C and --resume."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from fbench.operators import get_operator
from tests.conftest import REPO, assert_one_line_error, fbench, start_fbench

ENVIRONMENT_FIELDS = (
    "python",
    "torch",
    "onnxruntime",
    "fvcore",
    "os",
    "machine",
    "cpu_model",
    "logical_cpus",
    "threads",
    "affinity",
    "governor",
    "git_commit",
)
ROW_FIELDS = (
    "operator",
    "stage",
    "channels",
    "height",
    "width",
    "layers",
    "batch",
    "device",
    "backend",
    "dtype",
    "flops",
    "memory_access_bytes",
    "latency_ms",
    "samples_ms",
    "throughput_per_s",
    "gflops_per_s",
    "status",
    "reasons",
    "why",
    "device_problems",
    "error",
)
LATENCY_FIELDS = ("median", "ci95_low", "ci95_high", "iqr", "mean", "stdev", "n")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    results_dir = tmp_path_factory.mktemp("results")
    result = fbench("run", "--device", "cpu", "--quick", "--results-dir", str(results_dir))
    assert result.returncode == 0, result.stderr
    (path,) = results_dir.glob("*.json")
    return result, path


@pytest.mark.slow
def test_quick_run_writes_a_valid_result_file(quick_run):
    _, path = quick_run
    data = json.loads(path.read_text())
    assert data["schema"] == "fbench.result/3"
    assert data["run_id"] == path.stem and data["state"] == "complete"
    assert datetime.fromisoformat(data["created"]).tzinfo is not None
    assert re.fullmatch(r"\d+\.\d+\.\d+", data["fbench_version"])
    for name in ENVIRONMENT_FIELDS:
        assert name in data["environment"], name
    assert data["environment"]["threads"] == {"intra_op": 1, "inter_op": 1}
    assert data["config"]["quick"] is True
    assert len(data["rows"]) == data["rows_planned"] == 16
    for row in data["rows"]:
        for name in ROW_FIELDS:
            assert name in row, name
        assert set(LATENCY_FIELDS) <= set(row["latency_ms"])
        assert row["status"] in ("ok", "imprecise", "disturbed")
        assert len(row["samples_ms"]) == row["latency_ms"]["n"]
        assert row["batch"] == 1 and row["device"] == "cpu" and row["backend"] == "torch"
        spec = get_operator(row["operator"])
        from fbench.operators import StageShape

        shape = StageShape(row["stage"], row["channels"], row["height"], row["width"])
        assert row["flops"] == spec.flops(shape, row["operator_params"], row["layers"])
        latency_s = row["latency_ms"]["median"] / 1000
        assert row["gflops_per_s"] == pytest.approx(row["flops"] / latency_s / 1e9)


@pytest.mark.slow
def test_run_prints_table1_and_show_prints_the_same(quick_run):
    result, path = quick_run
    assert "the FLOPS of DWConv" in result.stdout
    assert "[16/16]" in result.stderr  # progress went to stderr
    shown = fbench("show", str(path))
    assert shown.returncode == 0
    assert shown.stdout.strip() == result.stdout.strip()
    by_id = fbench("show", path.stem, "--results-dir", str(path.parent))
    assert by_id.stdout == shown.stdout


def test_help_does_not_import_torch():
    code = (
        "import sys; from fbench.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'onnxruntime', 'matplotlib', 'pandas') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "[]", out.stderr
    assert fbench("--help").returncode == 0
    assert fbench("--version").stdout.startswith("fbench ")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["run", "--operators", "conv,hyperconv"], ["unknown operator 'hyperconv'"]),
        (["run", "--stages", "1,9"], ["--stages: no stage 9"]),
        (["run", "--stages", "one"], ["--stages", "stage numbers"]),
        (["run", "--layers", "0"], ["--layers", "positive integer"]),
        (["run", "--device", "tpu"], ["unknown device 'tpu'"]),
        (["run", "--backend", "tensorrt"], ["unknown backend 'tensorrt'"]),
        (["run", "--pin-core", "9999"], ["pin_core 9999"]),
        (["run", "--frobnicate"], ["unrecognized arguments: --frobnicate"]),
        (["run", "--resume", "no-such-run"], ["no run 'no-such-run'"]),
        (["show", "no-such-run"], ["no run 'no-such-run'"]),
        (["frob"], ["invalid choice: 'frob'"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, fragments):
    result = fbench(*args, "--results-dir", str(tmp_path)) if args[0] != "frob" else fbench(*args)
    assert_one_line_error(result, *fragments)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_malformed_config_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[timing]\nci_target = 0.01\nci_target = 0.02\n")
    assert_one_line_error(
        fbench("run", "--config", str(bad), "--results-dir", str(tmp_path)),
        str(bad),
        "invalid TOML",
    )


def test_corrupt_result_file_is_reported_and_left_untouched(tmp_path):
    corrupt = tmp_path / "broken.json"
    content = '{"schema": "fbench.result/1", "rows": [{"operator": "conv"'
    corrupt.write_text(content)
    assert_one_line_error(fbench("show", str(corrupt)), "corrupt result file", "line 1")
    assert_one_line_error(fbench("run", "--resume", str(corrupt)), "corrupt result file")
    assert corrupt.read_text() == content


def test_resume_refuses_flags_that_change_the_experiment(tmp_path, fixture_path):
    assert_one_line_error(
        fbench("run", "--resume", str(fixture_path), "--operators", "conv"),
        "drop --operators",
    )


SLOW_CONFIG = """\
[experiment]
operators = ["conv", "dwconv", "pconv"]
layers = 2
[[stages]]
channels = 32
height = 16
width = 16
[[stages]]
channels = 64
height = 8
width = 8
[timing]
processes = 1  # rows are stored one by one (tests/test_processes.py covers several)
schedule = "sequential"
ci_target = 0.0001
min_samples = 6
min_rounds = 1
round_s = 0.05
max_row_s = 0.6
warmup_min_s = 0.0
warmup_max_s = 0.05
[devices.cpu]
pin_core = "none"
"""


def _rows_in(results_dir: Path) -> list:
    files = list(results_dir.glob("*.json"))
    return json.loads(files[0].read_text())["rows"] if files else []


@pytest.mark.slow
def test_ctrl_c_keeps_finished_rows_and_resume_completes_them(tmp_path):
    config = tmp_path / "slow.toml"
    config.write_text(SLOW_CONFIG)
    results_dir = tmp_path / "results"
    process = start_fbench("run", "--config", str(config), "--results-dir", str(results_dir))
    deadline = time.monotonic() + 120
    while len(_rows_in(results_dir)) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    (path,) = results_dir.glob("*.json")
    interrupted = json.loads(path.read_text())
    assert interrupted["state"] == "interrupted"
    kept = interrupted["rows"]
    assert 2 <= len(kept) < 6
    assert f"{len(kept)} of 6 rows kept" in stderr and f"--resume {path.stem}" in stderr

    resumed = fbench("run", "--resume", path.stem, "--results-dir", str(results_dir))
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(path.read_text())
    assert final["state"] == "complete" and len(final["resumed"]) == 1
    assert len(final["rows"]) == 6
    assert final["rows"][: len(kept)] == kept  # finished rows are never re-measured
    keys = {(r["operator"], r["channels"]) for r in final["rows"]}
    assert len(keys) == 6

    again = fbench("run", "--resume", str(path), "--no-table")
    assert again.returncode == 0 and "nothing to resume" in again.stderr


def test_show_latest_is_the_default_and_wrong_references_say_what_to_do(tmp_path):
    # A new user's first guesses: no argument, a directory, a mistyped id, a TOML file.
    examples = str(REPO / "examples" / "results")
    newest = fbench("show", "--results-dir", examples)
    assert newest.returncode == 0, newest.stderr
    newest_ids = sorted(p.stem for p in (REPO / "examples" / "results").glob("2*.json"))[::-1]
    assert newest.stdout.startswith(f"run {newest_ids[0]}:")  # the newest example
    assert fbench("show", "latest", "--results-dir", examples).stdout == newest.stdout
    assert_one_line_error(
        fbench("show", "--results-dir", str(tmp_path)), f"no runs in {tmp_path}/ yet"
    )
    assert_one_line_error(fbench("show", examples), "a directory; give a run id")
    assert_one_line_error(
        fbench("show", "20261123-xx", "--results-dir", examples),
        "no run '20261123-xx'",
        "newest: " + ", ".join(newest_ids[:2]),
    )
    assert_one_line_error(fbench("show", str(REPO / "bench.toml")), "not a result file (not JSON")
