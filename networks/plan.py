"""A row of the network suite: one whole network at batch 1, BN folded, ready for the runner.

It has the shape of the runner's `RowPlan` (`build`, `flops`, `check_count`, `key`,
`skeleton`, `label`), so the same procedure measures it. Networks have no analytic count:
`flops` is fvcore's count of the network as defined (BatchNorm included, the convention of
the paper's Table 3, which the counts match), taken in `build`. The runner's check is then
that the fused network it times counts exactly that minus the folded BatchNorms' work, i.e.
fusion removed nothing but BN and the timed module is the counted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fbench.bench.flop_count import CountMismatch
from fbench.bench.plan import RunSettings, plan_key, row_identity, run_settings
from fbench.bench.results import ResultRow
from fbench.networks.registry import NetworkSpec, get_network, zoo_source
from fbench.operators.registry import StageShape

SUITE = "networks"


@dataclass(frozen=True)
class NetworkPlan(RunSettings):
    model: str  # registry key, e.g. "fasternet_t0"
    input_size: int | None = None  # --input-size, else the network's own resolution
    # Counts taken while building (flops, params, folded BNs): filled once, read by the rows.
    counts: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def spec(self) -> NetworkSpec:
        return get_network(self.model, self.input_size)

    @property
    def operator(self) -> str:
        """The row's operator name: the model key (as RowPlan.operator)."""
        return self.model

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.spec.kwargs)

    @property
    def shape(self) -> StageShape:
        """The input image: 3 channels at the network's resolution (stage 0: no stage)."""
        size = self.spec.resolution
        return StageShape(0, 3, size, size)

    @property
    def layers(self) -> int:
        return 1  # a whole network, not a stack

    @property
    def label(self) -> str:
        size = self.spec.resolution
        return f"{self.spec.network} {size}×{size}"

    def build(self) -> tuple[Any, Any]:
        """The network (eval mode, seeded random weights, BN folded) and an input batch."""
        import torch

        from fbench.bench.flop_count import count_flops
        from fbench.networks.fuse import fuse_batchnorm

        spec = self.spec
        torch.manual_seed(self.seed)
        model = spec.build()
        generator = torch.Generator().manual_seed(self.seed)
        size = (self.batch, 3, spec.resolution, spec.resolution)
        example = torch.randn(size, generator=generator)
        as_defined = count_flops(model, example[:1])
        params = sum(p.numel() for p in model.parameters())  # as defined, BN included
        fused = fuse_batchnorm(model, example[:1])
        self.counts.update(
            flops=as_defined.flops,
            params=params,
            bn_fused=fused.folded,
            bn_flops_removed=fused.flops_removed,
        )
        return model, example

    def flops(self) -> int:
        """fvcore multiply-adds for one image (0 when the network could not be built)."""
        return int(self.counts.get("flops", 0))

    def check_count(self, counted: Any) -> None:
        expected = self.flops() - self.counts["bn_flops_removed"]
        if counted.flops != expected:
            raise CountMismatch(
                f"fvcore counts {counted.flops:,} multiply-adds on the BN-fused network, "
                f"expected {expected:,} ({self.flops():,} as defined minus "
                f"{self.counts['bn_flops_removed']:,} of {self.counts['bn_fused']} folded BNs)"
            )

    def key(self) -> tuple:
        return plan_key(self)

    def skeleton(self, **values: Any) -> ResultRow:
        spec = self.spec
        details = {
            "source": spec.source,
            "bn_fusion": "folded into the preceding convolution",
            "bn_fused": self.counts.get("bn_fused"),
        }
        values["backend_details"] = {**details, **values.get("backend_details", {})}
        return ResultRow(
            **row_identity(self),
            flops=self.flops(),
            memory_access_bytes=None,
            implementation_memory_access_bytes=None,
            suite=SUITE,
            network=spec.network,
            family=spec.family,
            params=self.counts.get("params"),
            operator_source=zoo_source(self.model),
            **values,
        )


def plan_networks(config: Any) -> list[NetworkPlan]:
    return [
        NetworkPlan(
            model=name,
            **run_settings(config),
            input_size=config.input_size,
        )
        for name in config.models
    ]
