"""File factories (`tests/custom_ops/file_ops.py:NAME`), good and bad, for the tests."""

import torch
from torch import nn


def make_depthwise(channels: int, kernel: int = 3) -> nn.Module:
    """Depthwise k×k: h·w·c·k² multiply-adds a layer."""
    return nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels, bias=False)


def _depthwise_flops(channels: int, height: int, width: int, kernel: int = 3) -> int:
    return height * width * channels * kernel * kernel


make_depthwise.flops = _depthwise_flops


def make_miscounted(channels: int) -> nn.Module:
    return make_depthwise(channels)


make_miscounted.flops = lambda channels, height, width: 1  # wrong on purpose


class HalfClone(nn.Module):
    """Clones the input and doubles the first half in place: no multiply-adds, all copies."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        half = x.shape[1] // 2
        x[:, :half] = x[:, :half] * 2
        return x


def make_half_clone(channels: int) -> nn.Module:
    return HalfClone()


def make_shrinking(channels: int) -> nn.Module:
    return nn.Conv2d(channels, channels, 3, stride=2, padding=1)


def make_raising(channels: int) -> nn.Module:
    raise ValueError("this block needs an even channel count")


def make_not_a_module(channels: int) -> int:
    return channels


def make_normed(channels: int) -> nn.Module:
    """GroupNorm: fvcore counts its multiply-adds, torch's FlopCounterMode does not."""
    return nn.GroupNorm(1, channels)


class DataDependent(nn.Module):
    """Branches on a value of the input: runs in eager torch, cannot export to ONNX (dynamo)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return x * 2
        return x


def make_data_dependent(channels: int) -> nn.Module:
    return DataDependent()
