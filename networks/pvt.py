"""PVT v1 (Wang et al., "Pyramid Vision Transformer", ICCV 2021), written from the paper.

Neither timm nor torchvision has PVT v1 (timm's `pvt_v2_*` is a different network). The
architecture follows the paper's Table 1 (settings of PVT-Tiny/Small/Medium/Large):
four stages, each a patch embedding (a P×P convolution with stride P, then LayerNorm), a
learned position embedding, and L transformer encoder blocks whose attention is
spatial-reduction attention (SRA): keys and values come from the feature map shrunk by an
R×R convolution with stride R (then LayerNorm), so attention costs HW·HW/R² not (HW)².
The last stage prepends a class token, which the classifier reads. Attention is written
out as two matmuls with a softmax, as in the paper's era, so fvcore counts it natively.
"""

from __future__ import annotations

import torch
from torch import nn

PATCH_SIZES = (4, 2, 2, 2)  # P_i
EMBED_DIMS = (64, 128, 320, 512)  # C_i
REDUCTION_RATIOS = (8, 4, 2, 1)  # R_i of SRA
HEADS = (1, 2, 5, 8)  # N_i
MLP_RATIOS = (8, 8, 4, 4)  # E_i
DEPTHS = {  # L_i
    "tiny": (2, 2, 2, 2),
    "small": (3, 4, 6, 3),
    "medium": (3, 4, 18, 3),
    "large": (3, 8, 27, 3),
}


class SpatialReductionAttention(nn.Module):
    def __init__(self, dim: int, heads: int, reduction: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, dim * 2)
        self.proj = nn.Linear(dim, dim)
        self.reduction = reduction
        if reduction > 1:
            self.sr = nn.Conv2d(dim, dim, kernel_size=reduction, stride=reduction)
            self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        batch, tokens, dim = x.shape
        head_dim = dim // self.heads
        q = self.q(x).reshape(batch, tokens, self.heads, head_dim).transpose(1, 2)
        if self.reduction > 1:
            grid = x.transpose(1, 2).reshape(batch, dim, height, width)
            x = self.norm(self.sr(grid).flatten(2).transpose(1, 2))
        kv = self.kv(x).reshape(batch, -1, 2, self.heads, head_dim).permute(2, 0, 3, 1, 4)
        k, v = kv[0], kv[1]
        attention = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        out = (attention @ v).transpose(1, 2).reshape(batch, tokens, dim)
        return self.proj(out)


class Mlp(nn.Sequential):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: int, reduction: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = SpatialReductionAttention(dim, heads, reduction)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), height, width)
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, in_channels: int, dim: int, patch: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch, stride=patch)
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        x = self.proj(x)
        height, width = x.shape[2:]
        return self.norm(x.flatten(2).transpose(1, 2)), height, width


class Stage(nn.Module):
    def __init__(
        self, in_channels: int, index: int, depth: int, tokens: int, class_token: bool
    ) -> None:
        super().__init__()
        dim = EMBED_DIMS[index]
        self.patch_embed = PatchEmbed(in_channels, dim, PATCH_SIZES[index])
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if class_token else None
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens + int(class_token), dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList(
            Block(dim, HEADS[index], MLP_RATIOS[index], REDUCTION_RATIOS[index])
            for _ in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, height, width = self.patch_embed(x)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.pos_embed
        for block in self.blocks:
            x = block(x, height, width)
        if self.cls_token is not None:
            return x
        return x.transpose(1, 2).reshape(x.shape[0], -1, height, width)


class PyramidVisionTransformer(nn.Module):
    def __init__(self, depths: tuple[int, ...], image_size: int = 224, classes: int = 1000):
        super().__init__()
        stages, in_channels, side = [], 3, image_size
        for index, depth in enumerate(depths):
            side //= PATCH_SIZES[index]
            last = index == len(depths) - 1
            stages.append(Stage(in_channels, index, depth, side * side, class_token=last))
            in_channels = EMBED_DIMS[index]
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(EMBED_DIMS[-1], eps=1e-6)
        self.head = nn.Linear(EMBED_DIMS[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.stages(x))
        return self.head(x[:, 0])  # the class token


def pvt(size: str, **kwargs) -> PyramidVisionTransformer:
    return PyramidVisionTransformer(DEPTHS[size], **kwargs)
