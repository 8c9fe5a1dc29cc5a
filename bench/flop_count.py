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


class CountMismatch(Exception):
    """Analytic FLOPs and fvcore's count of the real module disagree: the row is wrong."""


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


def count_flops_torch(module: Any, example_input: Any) -> int:
    """Multiply-adds by torch.utils.flop_counter.FlopCounterMode, the cross-check on fvcore.

    FlopCounterMode counts 2 FLOPs per multiply-add (a multiply and an add); halved here to
    the paper's convention. It has formulas for matmuls, convolutions and attention only.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(example_input)
    return int(counter.get_total_flops()) // 2


@dataclass(frozen=True)
class MemoryAccess:
    """Elements read and written by one forward pass (multiply by the dtype's width for bytes).

    `layer_elements`: per layer of the stack (forward hooks), its input and output feature
    maps plus its weights: the traffic of an ideal kernel for the layer, like the paper's
    eqs. 2, 3, 5. `op_elements`: per aten op the layer runs, every tensor it reads and
    writes (views are free, an in-place copy reads only its source): what an unfused
    implementation moves, copies included.
    """

    layer_elements: int
    op_elements: int


def _elements(value: Any) -> int:
    import torch

    if isinstance(value, torch.Tensor):
        return value.numel()
    if isinstance(value, list | tuple):
        return sum(_elements(item) for item in value)
    if isinstance(value, dict):
        return sum(_elements(item) for item in value.values())
    return 0


# In-place ops that overwrite their target without reading it.
_OVERWRITING_OPS = ("aten::copy_", "aten::fill_", "aten::zero_")


def count_memory_access(stack: Any, example_input: Any) -> MemoryAccess:
    """Elements one call of `stack` (an nn.Sequential of layers) reads and writes."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    layer_total = 0

    def after_layer(module: Any, inputs: Any, output: Any) -> None:
        nonlocal layer_total
        weights = sum(t.numel() for t in (*module.parameters(), *module.buffers()))
        layer_total += _elements(inputs) + _elements(output) + weights

    class Traffic(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            output = func(*args, **kwargs)
            if func.is_view:
                return output
            schema = func._schema
            written = 0
            read = 0
            values = list(args) + [kwargs.get(a.name) for a in schema.arguments[len(args) :]]
            for argument, value in zip(schema.arguments, values, strict=False):
                size = _elements(value)
                if argument.alias_info is not None and argument.alias_info.is_write:
                    written += size
                    if schema.name in _OVERWRITING_OPS:
                        continue
                read += size
            if not written:  # out-of-place: the outputs are what it writes
                written = _elements(output)
            Traffic.total += read + written
            return output

    handles = [layer.register_forward_hook(after_layer) for layer in stack.children()]
    try:
        with torch.no_grad(), Traffic():
            stack(example_input)
    finally:
        for handle in handles:
            handle.remove()
    return MemoryAccess(layer_elements=layer_total, op_elements=Traffic.total)
