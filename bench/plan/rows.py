"""The rows a config asks for, as typed specs of what to measure: `RowPlan` (one built-in
operator at one stage and depth) and `plan_rows` (every row of a config, in Table 1's order,
or the network suite's). A plan says what is measured, never how it went: the runner turns
it into a ResultRow (bench/measure/runner.py). Above the config and the operator and network
registries, whose plans (fbench.operators.plan, fbench.networks.plan) it dispatches to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fbench.bench.config import RunConfig
from fbench.bench.flop_count import CountMismatch, FvcoreCount
from fbench.bench.plan.identity import RunSettings, plan_key, row_identity, run_settings
from fbench.bench.results import ResultRow
from fbench.operators import StageShape, get_operator
from fbench.operators.counting import DTYPE_BYTES


@dataclass(frozen=True)
class RowPlan(RunSettings):
    """What one row measures (kept apart from how it was measured, like a TaskSpec)."""

    operator: str
    params: dict[str, Any]
    shape: StageShape
    layers: int

    @property
    def label(self) -> str:
        return f"{self.operator} {self.shape.label}"

    def flops(self) -> int:
        return get_operator(self.operator).flops(self.shape, self.params, self.layers)

    def memory_access_bytes(self) -> tuple[int, int]:
        """(paper eqs. 2/3/5, implementation) in bytes for the row's batch and dtype."""
        spec, width = get_operator(self.operator), DTYPE_BYTES[self.dtype]
        paper = spec.memory_access_elements(self.shape, self.params, self.layers, self.batch)
        actual = spec.implementation_memory_access_elements(
            self.shape, self.params, self.layers, self.batch
        )
        return paper * width, actual * width

    def build_bytes(self) -> int:
        """Host memory `build` needs at the least: the stack's weights and the input batch in
        fp32. Every built-in operator keeps the feature map's shape, so the stack's
        multiply-adds per sample over H·W positions are its weights (biases aside)."""
        positions = self.shape.height * self.shape.width
        weights = self.flops() // positions
        inputs = self.batch * self.shape.channels * positions
        return DTYPE_BYTES["float32"] * (weights + inputs)

    def build(self) -> tuple[Any, Any]:
        """The stack (eval mode, weights from `seed`) and an input batch, on CPU in fp32.

        The runner counts FLOPs on these with fvcore (`check_count`), then moves them to the
        device. Any plan type with `build`, `flops`, `check_count`, `key`, `skeleton` and
        `label` can be measured (the network suite's is `fbench.networks.plan.NetworkPlan`).
        """
        import torch

        torch.manual_seed(self.seed)
        module = get_operator(self.operator).build(self.shape, self.params, self.layers)
        generator = torch.Generator().manual_seed(self.seed)
        size = (self.batch, self.shape.channels, self.shape.height, self.shape.width)
        return module, torch.randn(size, generator=generator)

    def check_count(self, counted: FvcoreCount) -> None:
        """fvcore's count of the built stack must equal the analytic one (paper eqs.)."""
        expected = self.flops()
        if counted.flops != expected:
            raise CountMismatch(
                f"FLOPs disagree: analytic {expected:,} vs fvcore {counted.flops:,} multiply-adds"
            )

    def key(self) -> tuple:
        return plan_key(self)

    def skeleton(self, **values: Any) -> ResultRow:
        """A ResultRow with this plan's identity and counts filled in."""
        paper_bytes, implementation_bytes = self.memory_access_bytes()
        return ResultRow(
            **row_identity(self),
            flops=self.flops(),
            memory_access_bytes=paper_bytes,
            implementation_memory_access_bytes=implementation_bytes,
            **values,
        )


def plan_rows(config: RunConfig) -> list[Any]:
    """Every operator at every stage (and depth), in config order (operator-major, like
    Table 1), or with `suite = "networks"` every selected network (Table 3)."""
    if config.suite == "networks":
        from fbench.networks.plan import plan_networks

        return plan_networks(config)
    return [
        _operator_plan(config, name, stage, layers)
        for name in config.operators
        for stage in config.stages
        for layers in config.depths
    ]


def _operator_plan(config: RunConfig, name: str, shape: StageShape, layers: int) -> Any:
    """A built-in operator's `RowPlan`, or a custom operator's plan (fbench.operators.plan)."""
    custom = config.custom_operator(name)
    if custom is not None:
        from fbench.operators.plan import CustomOperatorPlan

        return CustomOperatorPlan(
            definition=custom, shape=shape, layers=layers, **run_settings(config)
        )
    return RowPlan(
        operator=name,
        params=dict(config.operator_params[name]),
        shape=shape,
        layers=layers,
        **run_settings(config),
    )
