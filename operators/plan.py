"""A row of a custom operator: the user's layer stacked `layers` deep, counted on the real module.

It has the shape of the runner's `RowPlan` (`build`, `flops`, `check_count`, `key`,
`skeleton`, `label`), so the same procedure times it. With no analytic count to trust, the
counts are taken on the stack the runner times, when it is built:
- FLOPs by fvcore (the row's `flops`, multiply-adds), cross-checked by torch's
  FlopCounterMode (`flops_torch`); where they differ the row says so in a note. A definition
  with an analytic count (`factory.flops`) makes that the row's `flops`, and fvcore must
  equal it, as for the built-in operators (else the row fails);
- memory access from the bytes the layers actually read and write (bench/flop_count.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fbench.bench.flop_count import CountMismatch
from fbench.bench.plan import RunSettings, plan_key, row_identity
from fbench.bench.results import ResultRow
from fbench.operators.counting import DTYPE_BYTES
from fbench.operators.custom import CustomOperator, OperatorProblem
from fbench.operators.custom_build import analytic_flops, build_stack, check_output, source_record
from fbench.operators.registry import StageShape


@dataclass(frozen=True)
class CustomOperatorPlan(RunSettings):
    definition: CustomOperator
    shape: StageShape
    layers: int
    # Counts taken while building: filled once, read by the rows.
    counts: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def operator(self) -> str:
        """The row's operator name (as RowPlan.operator)."""
        return self.definition.name

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.definition.params)

    @property
    def label(self) -> str:
        return f"{self.definition.name} {self.shape.label}"

    def build(self) -> tuple[Any, Any]:
        """The stack (eval mode, weights from `seed`) and an input batch, on CPU in fp32."""
        import torch

        from fbench.bench.flop_count import count_flops, count_flops_torch, count_memory_access

        torch.manual_seed(self.seed)
        try:
            module = build_stack(self.definition, self.shape.channels, self.layers)
        except OperatorProblem as problem:
            raise OperatorProblem(f"operator {self.definition.name}: {problem}") from None
        generator = torch.Generator().manual_seed(self.seed)
        size = (self.batch, self.shape.channels, self.shape.height, self.shape.width)
        example = torch.randn(size, generator=generator)
        try:
            check_output(self.definition, module, example[:1])
        except OperatorProblem as problem:
            raise OperatorProblem(f"operator {self.definition.name}: {problem}") from None
        fvcore = count_flops(module, example[:1])
        traffic = count_memory_access(module, example)
        analytic = analytic_flops(self.definition)
        self.counts.update(
            flops_fvcore=fvcore.flops,
            flops_torch=count_flops_torch(module, example[:1]),
            flops_analytic=(
                self.layers
                * int(
                    analytic(
                        self.shape.channels,
                        self.shape.height,
                        self.shape.width,
                        **self.definition.params,
                    )
                )
                if analytic is not None
                else None
            ),
            layer_elements=traffic.layer_elements,
            op_elements=traffic.op_elements,
        )
        return module, example

    def flops(self) -> int:
        """Multiply-adds of the stack for one sample: the analytic count if the definition
        has one, else fvcore's (0 before the stack was built)."""
        analytic = self.counts.get("flops_analytic")
        return int(analytic if analytic is not None else self.counts.get("flops_fvcore", 0))

    def check_count(self, counted: Any) -> None:
        analytic = self.counts.get("flops_analytic")
        if analytic is not None and counted.flops != analytic:
            raise CountMismatch(
                f"FLOPs disagree: {self.definition.name}'s analytic count {analytic:,} vs "
                f"fvcore {counted.flops:,} multiply-adds"
            )

    def notes(self) -> list[str]:
        fvcore, torch_count = self.counts.get("flops_fvcore"), self.counts.get("flops_torch")
        if fvcore is None or torch_count is None or fvcore == torch_count:
            return []
        return [
            f"FLOPs counters disagree: fvcore {fvcore:,}, torch FlopCounterMode "
            f"{torch_count:,} multiply-adds; the row uses "
            + ("the analytic count" if self.counts.get("flops_analytic") is not None else "fvcore")
        ]

    def memory_access_bytes(self) -> tuple[int | None, int | None]:
        """(layer inputs/outputs/weights, every op's reads and writes) in bytes."""
        width = DTYPE_BYTES[self.dtype]
        layer, ops = self.counts.get("layer_elements"), self.counts.get("op_elements")
        return (
            layer * width if layer is not None else None,
            ops * width if ops is not None else None,
        )

    def key(self) -> tuple:
        return plan_key(self)

    def skeleton(self, **values: Any) -> ResultRow:
        layer_bytes, op_bytes = self.memory_access_bytes()
        values["notes"] = [*self.notes(), *values.get("notes", [])]
        try:
            source = source_record(self.definition)
        except (OperatorProblem, OSError) as problem:
            source = {**self.definition.to_dict(), "problem": str(problem)}
        source["flops_from"] = (
            "analytic" if self.counts.get("flops_analytic") is not None else "fvcore"
        )
        return ResultRow(
            **row_identity(self),
            flops=self.flops(),
            flops_torch=self.counts.get("flops_torch"),
            memory_access_bytes=layer_bytes,
            implementation_memory_access_bytes=op_bytes,
            operator_source=source,
            **values,
        )
