"""scripts/pi_rehearsal.py without emulating: the expressions it evaluates as GitHub does,
the workflow's steps it knows, and its experiment as fbench reads it (issue 24). The
rehearsal itself runs in .ci/run (scripts/pi-rehearsal.sh --short) and by hand."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import yaml

from fbench.bench import config
from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("pi_rehearsal", REPO / "scripts/pi_rehearsal.py")
rehearsal = importlib.util.module_from_spec(spec)
sys.modules["pi_rehearsal"] = rehearsal  # its dataclasses look their module up
spec.loader.exec_module(rehearsal)

OK = {"failed": False}


@pytest.mark.parametrize(
    ("expression", "contexts", "value"),
    [
        ("vars.FBENCH_TIME_BUDGET || '38m'", {"vars": {}}, "38m"),
        ("vars.FBENCH_TIME_BUDGET || '38m'", {"vars": {"FBENCH_TIME_BUDGET": "6m"}}, "6m"),
        ("vars.FBENCH_BASELINES", {"vars": {}}, ""),
        (
            "github.event_name == 'workflow_dispatch' && inputs.refresh_baseline",
            {"github": {"event_name": "workflow_dispatch"}, "inputs": {"refresh_baseline": True}},
            True,
        ),
        (
            "github.event_name == 'workflow_dispatch' && inputs.refresh_baseline",
            {"github": {"event_name": "push"}, "inputs": {}},
            False,
        ),
        ("!(steps.compare.outputs.current != '')", {"steps": {}}, True),
        ("'It''s' == 'it''S'", {}, True),  # quotes doubled; comparison ignores case
    ],
)
def test_expressions_evaluate_as_on_github(expression, contexts, value):
    assert rehearsal.evaluate(expression, contexts, OK) == value


def test_step_conditions_default_to_success_and_know_the_status_functions():
    contexts = {"steps": {"measure": {"outcome": "failure"}}}
    failed = {"failed": True}
    assert rehearsal.condition({}, contexts, OK) and not rehearsal.condition({}, contexts, failed)
    assert rehearsal.condition({"if": "always()"}, contexts, failed)
    refresh = {"if": "steps.measure.outcome == 'success'"}
    assert not rehearsal.condition(refresh, contexts, OK)
    assert rehearsal.substitute(
        "fbench-pi4-${{ github.run_id }}", {"github": {"run_id": 7}}, OK
    ) == ("fbench-pi4-7")


def test_the_rehearsal_knows_every_action_the_pi_workflow_uses():
    data = yaml.safe_load(rehearsal.WORKFLOW.read_text())
    (job,) = data["jobs"].values()
    used = {step["uses"].split("@")[0] for step in job["steps"] if "uses" in step}
    known = {"actions/checkout", "astral-sh/setup-uv", "actions/upload-artifact"}
    assert used <= known, used - known
    ids = {step.get("id") for step in job["steps"]}
    assert {"measure", "compare"} <= ids  # the scenarios read these steps' results


def test_the_rehearsal_experiment_is_a_valid_bench_toml(tmp_path):
    path = tmp_path / "bench.toml"
    path.write_text(rehearsal.BENCH_TOML)
    run = config.load(path)
    assert run.device == "arm" and run.timing.processes == 2 and not run.timing.host_probe
    assert config.load_compare_settings(path)["threshold"] == 0.5
    assert set(rehearsal.SHORT) <= set(rehearsal.SCENARIOS)
