"""CycleMLP (Chen et al., "CycleMLP: A MLP-like Architecture for Dense Prediction",
ICLR 2022), written from the paper.

Neither timm nor torchvision has it. A Cycle FC is a fully-connected layer over channels
whose input for channel i is taken from a spatial neighbour that cycles with i along one
axis: offsets (i + 1) mod 3 − 1 ∈ {0, +1, −1} for the paper's 1×3 and 3×1 pseudo-kernels,
zero outside the map. Like the authors, it is computed as a deformable convolution
(torchvision's `deform_conv2d`) with fixed integer offsets, so latency reflects the network
the paper timed; its multiply-adds are C_in·C_out per position (a 1×1 convolution's), which
fbench's fvcore handle for `torchvision::deform_conv2d` counts.

A CycleMLP block mixes three branches — Cycle FC along H, Cycle FC along W, and a plain
channel FC — weighted per channel by a small MLP on their pooled sum (split attention),
then a channel MLP. Stages: an overlapping 7×7 stride-4 patch embedding, then 3×3 stride-2
convolutions between stages (the paper's CycleMLP-B1/B2 settings).
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import deform_conv2d

EMBED_DIMS = (64, 128, 320, 512)
MLP_RATIOS = (4, 4, 4, 4)
DEPTHS = {"b1": (2, 2, 4, 2), "b2": (2, 3, 10, 3)}


class CycleFC(nn.Module):
    """A channel FC whose channel i reads its input one step away along one axis, cyclically."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int]):
        super().__init__()
        assert 1 in kernel_size, "Cycle FC's pseudo-kernel is 1×K or K×1"
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        self.register_buffer("offset", self._offsets(in_channels, kernel_size), persistent=False)

    @staticmethod
    def _offsets(channels: int, kernel_size: tuple[int, int]) -> torch.Tensor:
        """(1, 2·C, 1, 1): a (dy, dx) sampling offset per input channel."""
        extent = kernel_size[0] * kernel_size[1]
        steps = torch.tensor([(i + extent // 2) % extent - extent // 2 for i in range(channels)])
        offset = torch.zeros(channels, 2)
        offset[:, 0 if kernel_size[1] == 1 else 1] = steps.float()
        return offset.reshape(1, 2 * channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        offset = self.offset.expand(batch, -1, height, width)
        return deform_conv2d(x, offset, self.weight, self.bias)


class Mlp(nn.Sequential):
    def __init__(self, dim: int, hidden: int, out: int | None = None) -> None:
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, out or dim))


class CycleMixer(nn.Module):
    """The paper's CycleMLP token mixer on a channels-last (B, H, W, C) map."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.mlp_c = nn.Linear(dim, dim, bias=False)
        self.sfc_h = CycleFC(dim, dim, (1, 3))
        self.sfc_w = CycleFC(dim, dim, (3, 1))
        self.reweight = Mlp(dim, dim // 4, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels = x.shape[0], x.shape[-1]
        grid = x.permute(0, 3, 1, 2)
        h = self.sfc_h(grid).permute(0, 2, 3, 1)
        w = self.sfc_w(grid).permute(0, 2, 3, 1)
        c = self.mlp_c(x)
        pooled = (h + w + c).mean(dim=(1, 2))
        weights = self.reweight(pooled).reshape(batch, channels, 3).permute(2, 0, 1).softmax(0)
        weights = weights[:, :, None, None, :]  # (3, B, 1, 1, C)
        return self.proj(h * weights[0] + w * weights[1] + c * weights[2])


class Block(nn.Module):
    def __init__(self, dim: int, mlp_ratio: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = CycleMixer(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Downsample(nn.Module):
    """3×3 stride-2 convolution between stages, on a channels-last map."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class CycleMLPNet(nn.Module):
    def __init__(self, depths: tuple[int, ...], classes: int = 1000) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, EMBED_DIMS[0], kernel_size=7, stride=4, padding=2)
        layers: list[nn.Module] = []
        for index, depth in enumerate(depths):
            if index > 0:
                layers.append(Downsample(EMBED_DIMS[index - 1], EMBED_DIMS[index]))
            layers += [Block(EMBED_DIMS[index], MLP_RATIOS[index]) for _ in range(depth)]
        self.network = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(EMBED_DIMS[-1])
        self.head = nn.Linear(EMBED_DIMS[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.network(self.patch_embed(x).permute(0, 2, 3, 1))
        return self.head(self.norm(x).mean(dim=(1, 2)))


def cyclemlp(size: str, **kwargs) -> CycleMLPNet:
    return CycleMLPNet(DEPTHS[size], **kwargs)
