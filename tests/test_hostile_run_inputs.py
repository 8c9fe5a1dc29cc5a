"""Hostile inputs to `fbench run` (and output streams of any command): each is one line on
stderr naming the flag or path, its documented exit code, no traceback, and every result
file that was there before is byte-identical afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fbench.bench import calibration, environment, results
from fbench.bench.errors import EXIT_INCOMPLETE, FbenchError
from fbench.operators import OPERATORS
from tests.conftest import FIXTURES, REPO, assert_one_line_error


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def _fbench(*args: str, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess:
    options = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs}
    return subprocess.run(
        [sys.executable, "-m", "fbench.cli", *args], cwd=REPO, text=True, timeout=timeout, **options
    )


@pytest.fixture
def results_dir(tmp_path) -> Path:
    """A results directory holding a stored run, resumable on this machine."""
    directory = tmp_path / "results"
    directory.mkdir()
    data = json.loads((FIXTURES / "cpu_table1.json").read_text())
    here = environment.collect()
    data["environment"].update({key: here.get(key) for key in ("machine", "cpu_model", "torch")})
    data["state"] = "interrupted"
    (directory / "stored.json").write_text(json.dumps(data))
    return directory


def _stored(results_dir: Path) -> dict:
    return json.loads((results_dir / "stored.json").read_text())


def _write_variant(results_dir: Path, name: str, change: Callable[[dict], None]) -> Path:
    data = _stored(results_dir)
    change(data)
    path = results_dir / name
    path.write_text(json.dumps(data))
    return path


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hostile.toml"
    path.write_text(text)
    return path


FLAG_CASES = [
    (["--device", ""], "argument --device: expected a value, got an empty string"),
    (["--backend", ""], "argument --backend: expected a value, got an empty string"),
    (["--results-dir", ""], "argument --results-dir: expected a value, got an empty string"),
    (["--layers", "1001"], "argument --layers: expected at most 1000, got '1001'"),
    (["--processes", "65"], "argument --processes: expected at most 64, got '65'"),
    (["--layers-sweep", "1,5000"], "argument --layers-sweep: expected depths from 1 to 1000"),
    (["--layers-sweep", "0,5"], "argument --layers-sweep: expected depths from 1 to 1000"),
]


@pytest.mark.parametrize(("flags", "fragment"), FLAG_CASES)
def test_empty_and_absurd_flags(results_dir, flags, fragment):
    before = _snapshot(results_dir)
    where = [] if flags[0] == "--results-dir" else ["--results-dir", str(results_dir)]
    result = _fbench("run", "--quick", *where, *flags)
    assert_one_line_error(result, fragment)
    assert _snapshot(results_dir) == before


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[timing]\nprocesses = 1000\n", "[timing] processes must be at most 64, got 1000"),
        ("[experiment]\nlayers = 5000\n", "layers must be at most 1000, got 5000"),
    ],
)
def test_absurd_values_in_a_config_file(tmp_path, results_dir, text, fragment):
    before = _snapshot(results_dir)
    config = _config(tmp_path, text)
    result = _fbench("run", "--config", str(config), "--results-dir", str(results_dir))
    assert_one_line_error(result, str(config), fragment)
    assert _snapshot(results_dir) == before


def test_a_fifo_a_device_or_a_directory_as_config_is_refused_without_reading(tmp_path, results_dir):
    fifo = tmp_path / "bench.toml"
    os.mkfifo(fifo)  # reading it would block forever: nobody writes
    for path, fragment in (
        (fifo, "not a regular file (a FIFO or a device?)"),
        (Path("/dev/zero"), "not a regular file (a FIFO or a device?)"),
        (tmp_path, "a directory"),
    ):
        result = _fbench("run", "--config", str(path), "--results-dir", str(results_dir))
        assert_one_line_error(result, f"--config {path}: {fragment}")


def test_a_results_dir_that_is_a_file_or_cannot_be_created(tmp_path, results_dir):
    before = _snapshot(results_dir)
    stored = results_dir / "stored.json"
    result = _fbench("run", "--quick", "--results-dir", str(stored))
    assert_one_line_error(result, f"--results-dir {stored}: not a directory")
    result = _fbench("run", "--quick", "--results-dir", "/proc/fbench-results")
    assert_one_line_error(result, "--results-dir /proc/fbench-results: cannot create it")
    assert _snapshot(results_dir) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
def test_a_read_only_results_dir(results_dir):
    before = _snapshot(results_dir)
    results_dir.chmod(0o555)
    try:
        result = _fbench("run", "--quick", "--results-dir", str(results_dir))
        resumed = _fbench("run", "--resume", "stored", "--results-dir", str(results_dir))
    finally:
        results_dir.chmod(0o755)
    assert_one_line_error(result, f"--results-dir {results_dir}: not writable")
    assert_one_line_error(resumed, "cannot write", code=EXIT_INCOMPLETE)
    assert _snapshot(results_dir) == before


def _no_config(data: dict) -> None:
    data["config"] = {}


def _unknown_device(data: dict) -> None:
    data["config"]["device"] = "quantum"


def _absurd_processes(data: dict) -> None:
    data["config"]["timing"]["processes"] = 100000


def _bad_timing(data: dict) -> None:
    data["config"]["timing"]["ci_target"] = -1


def _fewer_operators(data: dict) -> None:
    data["config"]["operators"] = ["conv"]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (_no_config, "invalid result file: config.device: missing"),
        (_unknown_device, "cannot resume: its config names an unknown device 'quantum'"),
        (_absurd_processes, "config.timing.processes: 100000 is above 64"),  # the validator
        (_bad_timing, "config.timing.ci_target"),
        (_fewer_operators, "is not one its config plans"),
    ],
)
def test_resume_checks_the_stored_config_again(results_dir, change, fragment):
    path = _write_variant(results_dir, "edited.json", change)
    before = _snapshot(results_dir)
    result = _fbench("run", "--resume", "edited", "--results-dir", str(results_dir))
    assert_one_line_error(result, str(path), fragment)
    assert _snapshot(results_dir) == before  # no lock file left behind either


def test_resume_of_a_deeply_nested_file_is_one_line(results_dir):
    nested = results_dir / "nested.json"
    nested.write_text("[" * 100_000)
    before = _snapshot(results_dir)
    for command in (["run", "--resume", str(nested)], ["show", str(nested)]):
        assert_one_line_error(_fbench(*command), f"{nested}: corrupt result file")
    assert _snapshot(results_dir) == before


def test_resume_of_a_run_another_process_writes_is_refused(results_dir):
    path = results_dir / "stored.json"
    holder = results.RunLock(path)  # as a running `fbench run` of it holds it
    try:
        before = path.read_bytes()
        result = _fbench("run", "--resume", "stored", "--results-dir", str(results_dir))
    finally:
        holder.release()
    assert_one_line_error(result, f"another fbench run (pid {os.getpid()})")
    assert path.read_bytes() == before


def test_output_that_cannot_be_written_is_one_line_and_exit_4(fixture_path):
    with open("/dev/full", "w") as full:
        result = _fbench("show", str(fixture_path), stdout=full)
    assert_one_line_error(result, "cannot write the output (No space left", code=EXIT_INCOMPLETE)
    closed = subprocess.run(
        [sys.executable, "-m", "fbench.cli", "show", str(fixture_path)],
        cwd=REPO, stderr=subprocess.PIPE, text=True, timeout=120,
        preexec_fn=lambda: os.close(1),
    )  # fmt: skip
    assert_one_line_error(
        closed, "cannot write the output (standard output is closed", code=EXIT_INCOMPLETE
    )


def test_an_ascii_only_stdout_gets_escapes_not_a_traceback(fixture_path):
    result = _fbench("show", str(fixture_path), env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "\\xb1" in result.stdout  # the ± of an interval


@pytest.mark.slow
def test_calibrate_prints_a_calibration_it_cannot_store(tmp_path):
    target = "/proc/fbench-calibrations/cpu.json"
    result = _fbench("calibrate", "--quick", "--pin-core", "none", "--output", target, timeout=300)
    assert result.returncode == EXIT_INCOMPLETE, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"fbench calibrate: error: {target}: cannot write")
    assert "the calibration is printed on stdout" in last
    printed = json.loads(result.stdout)
    assert printed["schema"] == calibration.SCHEMA and printed["ceilings"]


@pytest.mark.parametrize("operator", sorted(OPERATORS))
def test_build_bytes_is_the_built_stack_and_input_in_fp32(operator):
    # The memory check's lower bound, against what torch really allocates for the row.
    from fbench.bench.config import Overrides, load
    from fbench.bench.plan.rows import plan_rows

    config = load(None, Overrides(operators=[operator], stages=[4], layers=3, quick=True))
    (plan,) = plan_rows(config)
    module, inputs = plan.build()
    built = sum(p.numel() * p.element_size() for p in module.parameters())
    assert plan.build_bytes() == built + inputs.numel() * 4


def test_a_row_that_cannot_be_built_in_memory_is_refused_before_anything_is_written(results_dir):
    # Left to run, the kernel's OOM killer ends such a run without a word, its file "running".
    before = _snapshot(results_dir)
    result = _fbench(
        "run", "--quick", "--operators", "pconv", "--shape", "100000x1000x1000",
        "--results-dir", str(results_dir),
    )  # fmt: skip
    assert_one_line_error(result, "pconv 100000×1000×1000", "needs at least", "GB is available")
    assert _snapshot(results_dir) == before


def test_the_memory_check_passes_what_fits_and_names_what_does_not():
    from fbench.bench.config import Overrides, load
    from fbench.commands.run_checks import check_memory

    config = load(None, Overrides(stages=[1]))  # Table 1's stage 1: ~10 MB to build
    check_memory(config)  # this machine
    check_memory(config, available_bytes=100_000_000)
    with pytest.raises(
        FbenchError, match=r"^conv 96×56×56 .* needs at least 4\.5 MB .*; 1\.0 MB is available$"
    ):
        check_memory(config, available_bytes=1_000_000)
