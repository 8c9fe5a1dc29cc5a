"""Every kind of plan (the runner's RowPlan, a custom operator's, a network's) keys its row by
fbench.bench.plan.plan_key, and that key is the one the stored row gets: --resume and the process
pool find a plan's rows by it."""

from __future__ import annotations

from fbench.bench.plan import plan_key
from fbench.bench.plan.rows import RowPlan
from fbench.bench.results import row_key
from fbench.networks.plan import NetworkPlan
from fbench.operators.custom import CustomOperator
from fbench.operators.plan import CustomOperatorPlan
from fbench.operators.registry import StageShape
from tests.conftest import REPO

SHAPE = StageShape(1, 8, 8, 8)
# Where and how every plan here runs: keyword-only in every plan (fbench.bench.plan.RunSettings).
SETTINGS = {"batch": 1, "dtype": "float32", "device": "cpu", "backend": "torch"}


def test_a_network_plan_keys_its_row_by_model_input_and_settings():
    plan = NetworkPlan("fasternet_t0", batch=1, dtype="float32", device="cpu", backend="torch")
    size = plan.spec.resolution
    assert plan.key() == plan_key(plan)
    assert plan.key() == row_key(
        "fasternet_t0", {}, 3, size, size, 1, 1, "cpu", "torch", "float32", {}
    )
    assert (plan.operator, plan.layers, plan.shape.stage) == ("fasternet_t0", 1, 0)


def test_a_custom_operator_plan_keys_like_a_builtin_one_of_the_same_name():
    operator = CustomOperator("blocky", f"{REPO}/tests/custom_ops/file_ops.py:make_depthwise", {})
    custom = CustomOperatorPlan(operator, SHAPE, 2, **SETTINGS)
    builtin = RowPlan("blocky", {}, SHAPE, 2, **SETTINGS)
    assert (
        custom.key()
        == plan_key(custom)
        == row_key("blocky", {}, 8, 8, 8, 2, 1, "cpu", "torch", "float32", {})
    )
    assert builtin.key() == custom.key()


def test_the_row_a_plan_produces_has_the_plans_key():
    plan = NetworkPlan("fasternet_t0", batch=2, dtype="float32", device="cpu", backend="torch")
    row = plan.skeleton(method="adaptive", status="failed", error="not measured")
    assert row.key() == plan.key()
    assert (row.operator, row.channels, row.layers, row.batch) == ("fasternet_t0", 3, 1, 2)
    operator = CustomOperator("blocky", f"{REPO}/tests/custom_ops/file_ops.py:make_depthwise", {})
    custom = CustomOperatorPlan(operator, SHAPE, 2, **SETTINGS)
    row = custom.skeleton(method="adaptive", status="failed", error="not measured")
    assert row.key() == custom.key() and row.stage == 1
