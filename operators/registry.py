"""The operator registry: each operator is one small definition, found by name.

A definition says how one layer is built (torch, imported only when building) and what one
layer costs (pure counting, see `counting.py`). The stack, the FLOPs of the stack and its
memory access all derive from those two, so a new operator cannot get them out of step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fbench.bench.registry import Registry
from fbench.operators.counting import ConvPiece, LayerCost

if TYPE_CHECKING:  # torch is imported lazily: listing operators must stay instant
    from torch import nn

Params = Mapping[str, Any]


@dataclass(frozen=True)
class StageShape:
    """A feature map the operators run on: the paper's c × h × w at one FasterNet stage."""

    stage: int
    channels: int
    height: int
    width: int

    @property
    def label(self) -> str:
        return f"{self.channels}×{self.height}×{self.width}"


@dataclass(frozen=True)
class OperatorSpec:
    name: str
    title: str  # as the paper's Table 1 writes it
    summary: str
    layer_cost: Callable[[int, Params], LayerCost]
    build_layer: Callable[[int, Params], nn.Module]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    check: Callable[[int, Params], str | None] = lambda channels, params: None
    # The Table 1 block this operator reproduces, and the parameters the paper used for it.
    paper_operator: str | None = None
    paper_params: Mapping[str, Any] = field(default_factory=dict)

    def resolve_params(self, overrides: Params | None = None) -> dict[str, Any]:
        params = dict(self.defaults)
        params.update(overrides or {})
        return params

    def matches_paper(self, params: Params) -> bool:
        return self.paper_operator is not None and all(
            params.get(key) == value for key, value in self.paper_params.items()
        )

    def flops(self, shape: StageShape, params: Params, layers: int) -> int:
        """Multiply-adds of the whole stack for one sample (Table 1's "FLOPs, ×10 layers")."""
        return layers * self.layer_cost(shape.channels, params).flops(shape.height, shape.width)

    def memory_access_elements(
        self, shape: StageShape, params: Params, layers: int, batch: int
    ) -> int:
        """Paper eqs. 2, 3, 5 for the whole stack and batch: feature maps in/out plus weights."""
        cost = self.layer_cost(shape.channels, params)
        return layers * cost.memory_access_elements(shape.height, shape.width, batch)

    def implementation_memory_access_elements(
        self, shape: StageShape, params: Params, layers: int, batch: int
    ) -> int:
        """What the implementation reads and writes, copies included (≥ the paper's count)."""
        cost = self.layer_cost(shape.channels, params)
        return layers * cost.implementation_memory_access_elements(shape.height, shape.width, batch)

    def build(self, shape: StageShape, params: Params, layers: int) -> nn.Module:
        """A fresh `layers`-deep stack in eval mode; the caller seeds torch for the weights."""
        from torch import nn

        stack = nn.Sequential(*(self.build_layer(shape.channels, params) for _ in range(layers)))
        return stack.eval()


OPERATORS: Registry[OperatorSpec] = Registry("operator")


def register(spec: OperatorSpec) -> OperatorSpec:
    return OPERATORS.add(spec.name, spec)


def get_operator(name: str) -> OperatorSpec:
    return OPERATORS.find(name)


# --- definitions ---------------------------------------------------------------------------


def _conv2d(channels: int, kernel_size: int, groups: int = 1) -> nn.Module:
    from torch import nn

    return nn.Conv2d(
        channels, channels, kernel_size, padding=kernel_size // 2, groups=groups, bias=False
    )


def partial_channels(channels: int, params: Params) -> int:
    """c_p = ⌊c · r⌋ (the official code's `dim // n_div`), e.g. 96 · 1/4 = 24."""
    # The epsilon keeps 0.29 * 100 = 28.999999999999996 from flooring to 28.
    return math.floor(channels * params["partial_ratio"] + 1e-9)


def _check_partial(channels: int, params: Params) -> str | None:
    ratio = params["partial_ratio"]
    if not 0 < ratio <= 1:
        return f"partial_ratio must be in (0, 1], got {ratio}"
    if partial_channels(channels, params) < 1:
        return f"partial_ratio {ratio} of {channels} channels leaves no channel to convolve"
    return None


def _check_groups(channels: int, params: Params) -> str | None:
    groups = params["groups"]
    if groups < 1:
        return f"groups must be at least 1, got {groups}"
    if channels % groups:
        return f"{channels} channels are not divisible by {groups} groups"
    return None


def _pconv_cost(form: str) -> Callable[[int, Params], LayerCost]:
    # slicing: clone all c channels, then copy the c_p result back into place;
    # split-cat: the split is a view, the cat reads and writes all c channels.
    def cost(channels: int, params: Params) -> LayerCost:
        cp = partial_channels(channels, params)
        copied = channels + cp if form == "slicing" else channels
        return LayerCost(convs=(ConvPiece(cp, cp, 3),), copied_channels=copied)

    return cost


def _pconv_layer(form: str) -> Callable[[int, Params], nn.Module]:
    def build(channels: int, params: Params) -> nn.Module:
        from fbench.operators.modules import PartialConv3

        return PartialConv3(channels, partial_channels(channels, params), form)

    return build


def _plain_conv(
    kernel_size: int, groups: Callable[[int, Params], int] = lambda c, p: 1, **spec: Any
) -> OperatorSpec:
    """One c → c convolution per layer, with `groups(channels, params)` groups."""
    return OperatorSpec(
        layer_cost=lambda c, p: LayerCost(convs=(ConvPiece(c, c, kernel_size, groups(c, p)),)),
        build_layer=lambda c, p: _conv2d(c, kernel_size, groups(c, p)),
        **spec,
    )


def _pconv(form: str, **spec: Any) -> OperatorSpec:
    """Partial convolution in one of its two forms, at the paper's ratio r = 1/4 by default."""
    return OperatorSpec(
        defaults={"partial_ratio": 0.25},
        layer_cost=_pconv_cost(form),
        build_layer=_pconv_layer(form),
        check=_check_partial,
        paper_operator="pconv",
        paper_params={"partial_ratio": 0.25},
        **spec,
    )


register(
    _plain_conv(
        3,
        name="conv",
        title="Conv 3×3",
        summary="regular 3×3 convolution, c → c channels",
        paper_operator="conv",
    )
)
register(
    _plain_conv(
        3,
        lambda c, p: p["groups"],
        name="gconv",
        title="GConv 3×3",
        summary="group 3×3 convolution (16 groups by default, as in the paper)",
        defaults={"groups": 16},
        check=_check_groups,
        paper_operator="gconv",
        paper_params={"groups": 16},
    )
)
register(
    _plain_conv(
        3,
        lambda c, p: c,
        name="dwconv",
        title="DWConv 3×3",
        summary="depthwise 3×3 convolution: one filter per channel",
        paper_operator="dwconv",
    )
)
register(
    _pconv(
        "slicing",
        name="pconv",
        title="PConv 3×3",
        summary="partial convolution on the first c·r channels, slicing form (the paper's)",
    )
)
register(
    _pconv(
        "split_cat",
        name="pconv_split_cat",
        title="PConv 3×3 (split-cat)",
        summary="partial convolution, split-cat form (FasterNet's training/inference default)",
    )
)
register(
    _plain_conv(
        1, name="pwconv", title="PWConv 1×1", summary="pointwise 1×1 convolution, c → c channels"
    )
)


def _pconv_pwconv_layer(channels: int, params: Params) -> nn.Module:
    from torch import nn

    return nn.Sequential(_pconv_layer("slicing")(channels, params), _conv2d(channels, 1))


register(
    OperatorSpec(
        name="pconv_pwconv",
        title="PConv+PWConv",
        summary="PConv (slicing) followed by PWConv: the T-shaped Conv of the paper's eq. 7",
        defaults={"partial_ratio": 0.25},
        layer_cost=lambda c, p: LayerCost(
            convs=(*_pconv_cost("slicing")(c, p).convs, ConvPiece(c, c, 1)),
            copied_channels=_pconv_cost("slicing")(c, p).copied_channels,
        ),
        build_layer=_pconv_pwconv_layer,
        check=_check_partial,
    )
)
