"""FLOPs of a real module, counted by fvcore: the independent check on the analytic counts.

fvcore counts one multiply-add as one "flop" (fvcore issue #69), which is the paper's
convention. Ops it has no handle for are returned by name and count, never silently
dropped from the picture: for the operator stacks they are pure data movement (PConv's
`clone`, `cat`) and rightly cost zero multiply-adds.

fbench adds handles for ops fvcore leaves out that carry real multiply-adds in the
networks of Table 3: `aten::scaled_dot_product_attention` (timm's attention: MobileViT,
EdgeNeXt, Swin) and `torchvision::deform_conv2d` (CycleMLP's Cycle FC).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from math import prod
from typing import Any


@dataclass(frozen=True)
class FvcoreCount:
    flops: int
    uncounted_ops: dict[str, int]


def _shape(value: Any) -> list[int]:
    return list(value.type().sizes())


def scaled_dot_product_attention_flops(inputs: list[Any], outputs: list[Any]) -> int:
    """softmax(Q·Kᵀ)·V: L·S·E multiply-adds for Q·Kᵀ and L·S·Eᵥ for the product with V.

    Q is (..., L, E), K (..., S, E), V (..., S, Eᵥ), as the two matmuls of manual attention
    would be counted; the scaling and softmax are elementwise, like fvcore leaves them.
    """
    query, key, value = (_shape(v) for v in inputs[:3])
    *leading, length, embed = query
    source = key[-2]
    return prod(leading) * length * source * (embed + value[-1])


def deform_conv2d_flops(inputs: list[Any], outputs: list[Any]) -> int:
    """A convolution's multiply-adds at the sampled positions: out elements × C_in/g × k×k.

    The bilinear sampling itself is not counted (as CycleMLP's paper counts Cycle FC: the
    FLOPs of a channel FC).
    """
    weight = _shape(inputs[1])
    return prod(_shape(outputs[0])) * prod(weight[1:])


EXTRA_HANDLES = {
    "aten::scaled_dot_product_attention": scaled_dot_product_attention_flops,
    "torchvision::deform_conv2d": deform_conv2d_flops,
}


def count_flops(module: Any, example_input: Any) -> FvcoreCount:
    """Multiply-adds of one forward pass of `module` on `example_input` (whole batch)."""
    import torch

    with warnings.catch_warnings(), torch.no_grad():
        # fvcore's import uses the deprecated torch.jit.script; its tracing warns about
        # data-dependent Python values. Neither says anything about the count.
        warnings.simplefilter("ignore")
        from fvcore.nn import FlopCountAnalysis

        analysis = FlopCountAnalysis(module, (example_input,)).set_op_handle(**EXTRA_HANDLES)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        total = analysis.total()
        uncounted = dict(analysis.unsupported_ops())
    return FvcoreCount(flops=int(total), uncounted_ops=uncounted)
