"""What to measure, kept apart from what was measured (as torch.utils.benchmark keeps its
TaskSpec apart from its Measurement): `identity` is the row key every kind of plan shares
(low in the layers: operators and networks build plans on it); `rows` is the typed spec of
the rows a config asks for (`RowPlan`, `plan_rows`), above the config and the registries."""

# The package's public API for the registries' plans (fbench.operators.plan, fbench.networks.plan).
from fbench.bench.plan.identity import RunSettings, plan_key, row_identity, run_settings

__all__ = ["RunSettings", "plan_key", "row_identity", "run_settings"]
