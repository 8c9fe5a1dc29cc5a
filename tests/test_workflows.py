"""The GitHub Actions workflows: actionlint where it is installed, and the safety rules of
docs/ci.md read from the YAML everywhere."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
FORK_GUARD = (
    "github.event_name != 'pull_request' || "
    "github.event.pull_request.head.repo.full_name == github.repository"
)


def _load(name: str) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1): take it back under its name.
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def _self_hosted(job: dict) -> bool:
    runs_on = job.get("runs-on")
    labels = runs_on if isinstance(runs_on, list) else [runs_on]
    return "self-hosted" in labels or "matrix." in str(runs_on)


@pytest.mark.skipif(shutil.which("actionlint") is None, reason="actionlint is not on PATH")
def test_actionlint_passes():
    result = subprocess.run(
        ["actionlint", "-no-color"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_expected_workflows_exist():
    assert {path.name for path in FILES} >= {"ci.yml", "fleet.yml", "pi4-regression.yml"}


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_every_workflow_reads_the_code_and_nothing_more_at_the_top(path):
    data = _load(path.name)
    assert data.get("permissions") == {"contents": "read"}, path.name
    for name, job in data["jobs"].items():
        # A job may narrow its permissions, never widen them to write.
        assert "write" not in str(job.get("permissions", "")), (path.name, name)


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_no_fork_code_reaches_a_self_hosted_runner(path):
    data = _load(path.name)
    triggers = data["on"] if isinstance(data["on"], dict) else dict.fromkeys(data["on"])
    # pull_request_target runs with the base repository's token and secrets: never used here.
    assert "pull_request_target" not in triggers and "workflow_run" not in triggers
    for name, job in data["jobs"].items():
        if _self_hosted(job) and "pull_request" in triggers:
            assert " ".join(str(job.get("if", "")).split()) == FORK_GUARD, (path.name, name)


def test_the_pi_job_runs_on_main_dispatch_and_own_branches_only():
    data = _load("pi4-regression.yml")
    assert data["on"]["push"] == {"branches": ["main"]}
    assert "workflow_dispatch" in data["on"] and "pull_request" in data["on"]
    (job,) = data["jobs"].values()
    assert job["runs-on"] == ["self-hosted", "linux", "ARM64", "pi4"]
    assert job["if"] == FORK_GUARD


def test_the_hosted_workflow_runs_ci_run_on_every_pull_request():
    data = _load("ci.yml")
    assert "pull_request" in data["on"] and data["on"]["push"] == {"branches": ["main"]}
    # No filter: every pull request, whatever it touches.
    assert not (data["on"]["pull_request"] or {}).get("paths")
    test = data["jobs"]["test"]
    assert test["runs-on"] == "ubuntu-latest"
    assert any(step.get("run", "").strip() == "bash .ci/run" for step in test["steps"])
    assert test["env"]["FBENCH_REQUIRE_ARM_EMULATION"] == "1"


def test_the_fleet_uploads_one_file_per_device_and_merges_them_into_table1():
    data = _load("fleet.yml")
    assert "pull_request" not in data["on"]
    picker = data["jobs"]["devices"]["steps"][0]
    assert picker["env"]["GPU_RUNNER"] == "${{ vars.FBENCH_GPU_RUNNER }}"
    for labels in ('"self-hosted", "linux", "ARM64", "pi4"', '"self-hosted", "linux", "X64"'):
        assert labels in picker["run"]
    measure = data["jobs"]["measure"]
    assert measure["strategy"]["fail-fast"] is False
    runs = [step.get("run", "") for step in measure["steps"]]
    assert 'uv run fbench run --device "$DEVICE" --results-dir fleet' in runs
    uploads = [step for step in measure["steps"] if "upload-artifact" in step.get("uses", "")]
    assert uploads and uploads[0]["with"]["path"] == "fleet/*.json"
    merge = data["jobs"]["table1"]
    assert merge["needs"] == "measure"
    script = merge["steps"][-1]["run"]
    assert 'fbench report table1 "${files[@]}" --format md' in script
    assert "$GITHUB_STEP_SUMMARY" in script


def test_the_fleet_merge_command_builds_one_table_from_three_devices():
    from tests.conftest import FIXTURES, fbench

    files = [str(FIXTURES / f"{device}_table1.json") for device in ("cpu", "cuda", "arm")]
    result = fbench("report", "table1", *files, "--format", "md")
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0]
    for column in ("cpu latency (ms)", "cuda throughput (fps)", "arm latency (ms)"):
        assert column in header


def _pi_steps() -> dict[str, dict]:
    (job,) = _load("pi4-regression.yml")["jobs"].values()
    return {step.get("id") or step.get("name") or step["uses"]: step for step in job["steps"]}


def test_the_pi_job_is_mended_for_a_real_board():
    # issue 24: what a first run on a board would have tripped over.
    data = _load("pi4-regression.yml")
    (job,) = data["jobs"].values()
    steps = _pi_steps()
    # Pull requests only when they touch what is measured or judged.
    paths = data["on"]["pull_request"]["paths"]
    assert "devices/**" in paths and "uv.lock" in paths and "docs/**" not in paths
    # uv's own cache stays on the board (the Actions cache prunes torch's wheel).
    assert steps["astral-sh/setup-uv@v7"]["with"]["enable-cache"] is False
    # Baselines: a directory the runner's user owns, made if missing, never /home/runner.
    assert "/home/runner" not in str(job)
    made = steps["Baselines directory (created if missing)"]["run"]
    assert "$HOME/fbench-baselines" in made and "mkdir -p" in made and "GITHUB_ENV" in made
    # The run fits the job: a time budget below the job's timeout.
    assert '--time-budget "$FBENCH_TIME_BUDGET"' in steps["measure"]["run"]
    budget = job["env"]["FBENCH_TIME_BUDGET"]
    assert "'38m'" in budget and job["timeout-minutes"] == 45
    # No refresh after a failed measure, nor with no result file.
    refresh = " ".join(steps["Refresh the baseline (manual runs only)"]["if"].split())
    assert "steps.measure.outcome == 'success'" in refresh
    assert "steps.compare.outputs.current != ''" in refresh and "always()" not in refresh
