"""Fold BatchNorm into the convolution before it, for inference (as the paper times networks).

A module walker rather than torch.fx: many timm networks do not trace symbolically. One
forward pass with hooks records which convolution's output each BatchNorm receives; a BN
whose input is exactly one convolution's output is folded into that convolution's weight
and bias and replaced (by Identity, or by its own activation for timm's BatchNormAct2d).
Outputs are compared before and after folding; a difference is an error, not a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, child, new)


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """W' = W·γ/σ per output channel, b' = (b − μ)·γ/σ + β, with σ = √(var + ε)."""
    gamma = bn.weight if bn.affine else torch.ones_like(bn.running_var)
    beta = bn.bias if bn.affine else torch.zeros_like(bn.running_mean)
    scale = gamma / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    conv.weight = nn.Parameter(conv.weight * scale.reshape(-1, 1, 1, 1))
    conv.bias = nn.Parameter((bias - bn.running_mean) * scale + beta)


def _after_fold(bn: nn.BatchNorm2d) -> nn.Module:
    """What is left of a BN once folded: nothing, or timm's fused drop + activation."""
    if hasattr(bn, "act") and hasattr(bn, "drop"):  # timm's BatchNormAct2d
        return nn.Sequential(bn.drop, bn.act)
    return nn.Identity()


@dataclass(frozen=True)
class Fused:
    folded: int  # BatchNorms folded away
    flops_removed: int  # what fvcore counted for them: 2 per element (affine, eval mode)


def fuse_batchnorm(model: nn.Module, example_input: torch.Tensor) -> Fused:
    """Fold every Conv2d → BatchNorm2d pair of `model` (in eval mode) in place."""
    names = {module: name for name, module in model.named_modules()}
    # Outputs are kept alive during the pass so that no later tensor can reuse their id().
    conv_of_output: dict[int, tuple[nn.Conv2d, torch.Tensor]] = {}
    calls: dict[nn.Module, int] = {}
    pairs: dict[nn.BatchNorm2d, Any] = {}
    elements: dict[nn.BatchNorm2d, int] = {}

    def after_conv(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        calls[module] = calls.get(module, 0) + 1
        conv_of_output[id(output)] = (module, output)

    def before_bn(module: nn.Module, inputs: Any) -> None:
        calls[module] = calls.get(module, 0) + 1
        pairs[module] = conv_of_output.get(id(inputs[0]), (None,))[0]
        elements[module] = inputs[0].numel()

    handles = []
    for module in model.modules():
        if type(module) is nn.Conv2d or (
            isinstance(module, nn.Conv2d) and module.forward.__func__ is nn.Conv2d.forward
        ):
            handles.append(module.register_forward_hook(after_conv))
        elif isinstance(module, nn.BatchNorm2d) and module.track_running_stats:
            handles.append(module.register_forward_pre_hook(before_bn))
    try:
        with torch.no_grad():
            before = model(example_input)
    finally:
        for handle in handles:
            handle.remove()
        conv_of_output.clear()

    folded, flops_removed = 0, 0
    convs_used: set[nn.Module] = set()
    with torch.no_grad():
        for bn, conv in pairs.items():
            # Only a BN and a conv each called once, the BN reading the conv's output. (Were
            # that output read elsewhere too, folding would change it: the check below.)
            if conv is None or calls[bn] != 1 or calls[conv] != 1 or conv in convs_used:
                continue
            if conv.out_channels != bn.num_features:
                continue
            convs_used.add(conv)
            _fold(conv, bn)
            _replace(model, names[bn], _after_fold(bn))
            folded += 1
            flops_removed += elements[bn] * (2 if bn.affine else 1)
    with torch.no_grad():
        after = model(example_input)
    scale = before.abs().max().clamp_min(1e-12)
    difference = float((after - before).abs().max() / scale)
    if difference > 1e-4:
        raise RuntimeError(
            f"folding {folded} BatchNorms changed the network's output (max relative "
            f"difference {difference:.1e})"
        )
    return Fused(folded, flops_removed)
