"""A module factory (`custom_ops.blocks:make_pointwise`), also shipped as an entry point."""

from torch import nn


def make_pointwise(channels: int, expansion: int = 1) -> nn.Module:
    """1×1 conv c → c·e → c: 2·e·c² multiply-adds a pixel."""
    hidden = channels * expansion
    return nn.Sequential(
        nn.Conv2d(channels, hidden, 1, bias=False), nn.Conv2d(hidden, channels, 1, bias=False)
    )
