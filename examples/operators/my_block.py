"""A user-defined block for `fbench run --operator` (docs/custom-operators.md): a depthwise
3×3 on the first c·ratio channels, the rest passed through, then a 1×1 mixing all channels."""

import torch
from torch import nn


class MyBlock(nn.Module):
    def __init__(self, channels: int, ratio: float = 0.5) -> None:
        super().__init__()
        self.part = max(1, int(channels * ratio))
        self.spatial = nn.Conv2d(self.part, self.part, 3, padding=1, groups=self.part, bias=False)
        self.mix = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head, tail = x.split([self.part, x.shape[1] - self.part], dim=1)
        return self.mix(torch.cat((self.spatial(head), tail), dim=1))


def make_block(channels: int, ratio: float = 0.5) -> nn.Module:
    """The factory fbench calls: one layer that keeps the feature map's shape."""
    return MyBlock(channels, ratio)
