"""torch modules that nn does not have: the partial convolution in both of its official forms."""

from __future__ import annotations

import torch
from torch import nn


class PartialConv3(nn.Module):
    """PConv: a 3×3 Conv on the first `partial_channels` channels, the rest passed through.

    Both forward forms of the official FasterNet code compute the same function:
    - "slicing" clones the input and writes the convolved channels back in place (the
      official code marks it inference-only; the clone keeps the input intact for a
      residual connection);
    - "split_cat" splits the channels, convolves the first part and concatenates.
    They differ in the copies they make, which is what Table 1 latencies are sensitive to.
    """

    def __init__(self, channels: int, partial_channels: int, form: str = "slicing") -> None:
        super().__init__()
        if form not in ("slicing", "split_cat"):
            raise ValueError(f"unknown PConv form {form!r}; known: slicing, split_cat")
        self.partial_channels = partial_channels
        self.untouched_channels = channels - partial_channels
        self.form = form
        self.partial_conv3 = nn.Conv2d(partial_channels, partial_channels, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.form == "slicing":
            x = x.clone()
            x[:, : self.partial_channels] = self.partial_conv3(x[:, : self.partial_channels])
            return x
        x1, x2 = torch.split(x, [self.partial_channels, self.untouched_channels], dim=1)
        return torch.cat((self.partial_conv3(x1), x2), dim=1)

    def extra_repr(self) -> str:
        return f"partial_channels={self.partial_channels}, form={self.form!r}"
