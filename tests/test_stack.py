"""Environments as an axis (`fbench run --with PACKAGE==VERSION`): the requirements checked,
the environment's pyproject, the comparability keys and Table 1's columns of two versions
(pure, no network); bad input refused before anything is written; and one real environment
(another onnxruntime, the smallest that shows the mechanism) built and measured in, which
needs PyPI and skips with the reason when it cannot be built."""

from __future__ import annotations

import json
import tomllib

import pytest

from fbench.bench.config.stack import parse_requirement, run_stack
from fbench.bench.errors import FbenchError
from fbench.bench.measure import stack
from fbench.bench.results import parse_result
from fbench.reports import compare
from fbench.reports.table1.columns import device_groups
from tests.conftest import FIXTURES, assert_one_line_error, fbench

ONNXRUNTIME_OTHER = "1.22.0"  # the lock has 1.32.0; any other version with a cp311 wheel


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("torch", "give an exact version, torch==VERSION"),
        ("torch>=2.9", "expected PACKAGE==VERSION"),
        ("../x", "expected PACKAGE==VERSION"),
        ("torch==2.9.1; rm -rf /", "expected PACKAGE==VERSION"),
        ("--index-url=http://x==1", "expected PACKAGE==VERSION"),
    ],
)
def test_a_requirement_is_an_exact_version_of_a_package_name(text, words):
    with pytest.raises(FbenchError, match=words.replace("(", r"\(")):
        parse_requirement(text)
    assert parse_requirement("Torch_Vision == 0.24.1") == ("torch-vision", "0.24.1")


def test_the_stack_is_the_backends_requirements_with_the_users_over_them():
    declared = ("torch==2.9.1", "executorch==1.0.1")
    assert run_stack(declared, ["torch==2.9.0"]) == ("executorch==1.0.1", "torch==2.9.0")
    with pytest.raises(FbenchError, match="torch given twice"):
        run_stack((), ["torch==2.9.0", "torch==2.9.1"])
    # What this environment already has needs no other one.
    import torch

    assert run_stack((), [f"torch=={torch.__version__.split('+')[0]}"]) == ()


def test_the_environments_pyproject_pins_the_stack_and_loosens_torchvision():
    text = (stack.project_root() / "pyproject.toml").read_text()
    pinned = tomllib.loads(stack.pinned_pyproject(text, ["executorch==1.0.1", "torch==2.9.1"]))
    dependencies = pinned["project"]["dependencies"]
    assert "torch==2.9.1" in dependencies and "executorch==1.0.1" in dependencies
    assert not [d for d in dependencies if d.startswith("torch") and d != "torch==2.9.1"][1:]
    assert "torchvision" in dependencies  # re-resolved to the one built for torch 2.9
    assert not any(d.startswith("torchvision") and d != "torchvision" for d in dependencies)
    assert any(d.startswith("onnxruntime>=") for d in dependencies)  # the rest as declared
    assert pinned["tool"]["uv"]["package"] is False
    assert "platform_machine ==" in pinned["tool"]["uv"]["environments"][0]


def test_uvs_reason_is_the_line_that_says_why():
    lines = [
        "Using CPython 3.11.7 interpreter at: /usr/bin/python3",
        "  × No solution found when resolving dependencies:",
        "  ╰─▶ Because there is no version of torch==9.9 and your project depends on "
        "torch==9.9, we can conclude that your project's requirements are unsatisfiable.",
    ]
    assert stack.uv_reason(lines).startswith("Because there is no version of torch==9.9")
    assert stack.uv_reason(["error: Failed to fetch: `https://pypi.org/simple/x/`"]) == (
        "Failed to fetch: `https://pypi.org/simple/x/`"
    )


def _run_with(version: str, stack_lines: list[str], run_id: str) -> dict:
    data = json.loads((FIXTURES / "cpu_table1.json").read_text())
    data["run_id"] = run_id
    data["environment"]["torch"] = version
    data["config"]["stack"] = stack_lines
    return data


def test_a_torch_upgrade_is_one_accepted_difference_and_versions_accepts_them_all():
    base = parse_result(_run_with("2.15.0", [], "base"), "test")
    current = parse_result(_run_with("2.9.1", ["torch==2.9.1"], "current"), "test")
    problems, accepted = compare.comparability_problems(base, current, {"torch"})
    assert problems == [] and accepted == ["torch differs: baseline '2.15.0', current '2.9.1'"]
    assert compare.comparability_problems(base, current, {"versions"})[0] == []
    assert "versions" in compare.experiment_keys(base, current)
    # A package that is no key of its own is named by the stack key.
    numpy = parse_result(_run_with("2.15.0", ["numpy==2.3.0"], "numpy"), "test")
    problems, _ = compare.comparability_problems(base, numpy)
    assert problems == ["stack differs: baseline [], current ['numpy==2.3.0']"]
    assert compare.comparability_problems(base, numpy, {"versions"})[0] == []


def test_table1_names_two_versions_of_one_device_by_torch_version():
    runs = [
        parse_result(_run_with("2.15.0", [], "a"), "test"),
        parse_result(_run_with("2.9.1", ["torch==2.9.1"], "b"), "test"),
    ]
    assert [group.label for group in device_groups(runs)] == [
        "cpu torch 2.15.0",
        "cpu torch 2.9.1",
    ]
    same = [parse_result(_run_with("2.15.0", [], name), "test") for name in ("a", "b")]
    assert [group.label for group in device_groups(same)] == ["cpu (a)", "cpu (b)"]


QUICK = ("run", "--quick", "--operators", "dwconv", "--stages", "1", "--no-table")


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("torch", "give an exact version"),
        ("../x", "expected PACKAGE==VERSION"),
        ("requests==2.0.0", "requests is not one of the project's dependencies"),
    ],
)
def test_bad_with_is_one_line_before_anything_is_written(tmp_path, given, words):
    result = fbench(*QUICK, "--with", given, "--results-dir", str(tmp_path / "r"))
    assert_one_line_error(result, "--with", words)
    assert not list((tmp_path / "r").glob("*.json"))


def test_resume_keeps_the_stored_stack(tmp_path):
    result = fbench(
        "run", "--resume", "anything", "--with", "torch==2.9.1", "--results-dir", str(tmp_path)
    )
    assert_one_line_error(result, "--resume continues a stored run", "drop --with")


def _network_skip(error: FbenchError) -> None:
    words = str(error)
    if any(w in words for w in ("Failed to fetch", "dns", "connect", "network", "offline")):
        pytest.skip(f"cannot build an environment here (needs PyPI): {words}")


@pytest.mark.slow
def test_a_version_that_does_not_exist_is_one_line_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("FBENCH_ENV_CACHE", str(tmp_path / "envs"))
    result = fbench(*QUICK, "--with", "torch==9.9", "--results-dir", str(tmp_path / "r"))
    if "Failed to fetch" in result.stderr:
        pytest.skip(f"needs PyPI: {result.stderr.strip().splitlines()[-1]}")
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr
    assert last.startswith("fbench run: error: torch==9.9: uv cannot resolve"), last
    assert "no version of torch==9.9" in last
    assert not list((tmp_path / "r").glob("*.json"))
    assert not [p for p in (tmp_path / "envs").iterdir() if p.is_dir()]  # nothing half-built


@pytest.mark.slow
def test_workers_run_in_the_built_environment_and_record_what_they_imported(tmp_path):
    """Another onnxruntime: small to build (torch comes from uv's cache), and the parent's
    environment has a different one, so the versions recorded can only be the workers'."""
    requirement = f"onnxruntime=={ONNXRUNTIME_OTHER}"
    try:
        stack.ensure_environment((requirement,), lambda line: None)
    except FbenchError as error:
        _network_skip(error)
        raise
    results = tmp_path / "results"
    first = fbench(*QUICK, "--with", requirement, "--results-dir", str(results), timeout=600)
    assert first.returncode == 0, first.stderr
    (path,) = results.glob("*.json")
    data = json.loads(path.read_text())
    assert data["config"]["stack"] == [requirement]
    env = data["environment"]
    assert env["onnxruntime"] == ONNXRUNTIME_OTHER
    assert env["stack"]["project_versions"]["onnxruntime"] != ONNXRUNTIME_OTHER
    (row,) = data["rows"]
    assert row["status"] != "failed", row
    assert [p["versions"]["onnxruntime"] for p in row["processes"]] == [ONNXRUNTIME_OTHER]
    # The cached environment: no building the second time.
    again = fbench(*QUICK, "--with", requirement, "--results-dir", str(results), timeout=600)
    assert again.returncode == 0, again.stderr
    assert "installing" not in again.stderr and "resolving" not in again.stderr
    # The two runs differ on onnxruntime only if compared with the project's; with each
    # other they are the same experiment.
    second = sorted(results.glob("*.json"))[-1]
    judged = fbench("compare", str(path), str(second), "--allow-unstable")
    assert "NOT COMPARABLE" not in judged.stdout, judged.stdout


@pytest.mark.slow
def test_an_environment_that_breaks_in_a_worker_fails_the_row_with_the_error(tmp_path, monkeypatch):
    """fvcore missing from the environment (imported when a row is built): the row is
    stored as failed with the import error, the run ends, nothing else is lost. A copy of
    the cached environment (hard links) with fvcore removed, under a cache of its own."""
    import shutil
    import subprocess

    requirement = f"onnxruntime=={ONNXRUNTIME_OTHER}"
    try:
        built = stack.ensure_environment((requirement,), lambda line: None)
    except FbenchError as error:
        _network_skip(error)
        raise
    cache = tmp_path / "envs"
    cache.mkdir()
    monkeypatch.setenv("FBENCH_ENV_CACHE", str(cache))
    copy = cache / built.path.name
    subprocess.run(["cp", "-al", str(built.path), str(copy)], check=True)
    (site,) = copy.glob("venv/lib/python*/site-packages")
    shutil.rmtree(site / "fvcore")
    shutil.rmtree(copy / "src", ignore_errors=True)  # links made for the original checkout
    results = tmp_path / "results"
    result = fbench(*QUICK, "--with", requirement, "--results-dir", str(results), timeout=600)
    (path,) = results.glob("*.json")
    data = json.loads(path.read_text())
    (row,) = data["rows"]
    assert row["status"] == "failed", row
    assert "fvcore" in row["error"], row["error"]
    assert data["state"] == "complete" and "Traceback" not in result.stderr
