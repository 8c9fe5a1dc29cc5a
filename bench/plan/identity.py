"""What makes a planned row the same measurement as a stored one: the identity every plan
shares (fbench.bench.plan.rows.RowPlan, fbench.operators.plan.CustomOperatorPlan,
fbench.networks.plan.NetworkPlan), the settings every plan takes from the config, the fields it
fixes in the row it produces, and that row's key. One place for the key, so that --resume and the
process pool match a plan with its stored rows by the same fields. Below the operator and network
registries, which implement plans of their own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from fbench.bench.results import row_key


class Shape(Protocol):
    @property
    def stage(self) -> int: ...
    @property
    def channels(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def width(self) -> int: ...


class PlannedRow(Protocol):
    """The fields of a plan that make its row the same measurement as a stored one."""

    @property
    def operator(self) -> str: ...
    @property
    def params(self) -> Mapping[str, Any]: ...
    @property
    def shape(self) -> Shape: ...
    @property
    def layers(self) -> int: ...
    @property
    def batch(self) -> int: ...
    @property
    def device(self) -> str: ...
    @property
    def backend(self) -> str: ...
    @property
    def dtype(self) -> str: ...
    @property
    def backend_options(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """Where and how a planned row runs, and the seed of its weights: the fields every plan
    (RowPlan, CustomOperatorPlan, NetworkPlan) takes from the config as they are. Keyword-only,
    so that each plan's own fields (what it measures) stay first and positional."""

    batch: int
    dtype: str
    device: str
    backend: str
    backend_options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0


def run_settings(config: Any) -> dict[str, Any]:
    """The fields every plan takes from the run's config as they are: where and how each row
    runs (batch, dtype, device, backend and its options) and the seed of its weights."""
    return {
        "batch": config.batch,
        "dtype": config.dtype,
        "device": config.device,
        "backend": config.backend,
        "backend_options": dict(config.backend_options),
        "seed": config.seed,
    }


def row_identity(plan: PlannedRow) -> dict[str, Any]:
    """The fields of a ResultRow that the plan fixes (what was measured, where and how)."""
    return {
        "operator": plan.operator,
        "operator_params": dict(plan.params),
        "stage": plan.shape.stage,
        "channels": plan.shape.channels,
        "height": plan.shape.height,
        "width": plan.shape.width,
        "layers": plan.layers,
        "batch": plan.batch,
        "device": plan.device,
        "backend": plan.backend,
        "backend_options": dict(plan.backend_options),
        "dtype": plan.dtype,
    }


def plan_key(plan: PlannedRow) -> tuple:
    """The row key (fbench.bench.results.row_key) of the row this plan will produce."""
    return row_key(
        plan.operator,
        plan.params,
        plan.shape.channels,
        plan.shape.height,
        plan.shape.width,
        plan.layers,
        plan.batch,
        plan.device,
        plan.backend,
        plan.dtype,
        plan.backend_options,
    )
