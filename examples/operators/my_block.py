"""A user-defined block for fbench: a depthwise 3×3 on a fraction of the channels, then a
pointwise 1×1 mixing all of them (docs/custom-operators.md)."""

import torch
from torch import nn


class MyBlock(nn.Module):
    def __init__(self, channels: int, ratio: float = 0.5) -> None:
        super().__init__()
        self.part = max(1, int(channels * ratio))
        self.spatial = nn.Conv2d(self.part, self.part, 3, padding=1, groups=self.part, bias=False)
        self.mix = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x):
        head, tail = x.split([self.part, x.shape[1] - self.part], dim=1)
        return self.mix(torch.cat((self.spatial(head), tail), dim=1))


def make_block(channels: int, ratio: float = 0.5) -> nn.Module:
    return MyBlock(channels, ratio)
