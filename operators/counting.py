"""FLOPs and memory access of convolutions: pure integer arithmetic, no torch.

FLOPs are multiply-adds, as the paper counts them (its footnote 1, and fvcore's convention:
one "flop" per multiply-add). Memory access follows the paper's eqs. 2, 3 and 5: the input
and output feature maps plus the weights, each touched once. That is the minimum traffic of
an ideal kernel; what an implementation really moves (PConv's clone or concatenation, for
one) is counted separately by `copied_channels` in a layer's cost.
"""

from __future__ import annotations

from dataclasses import dataclass

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}


@dataclass(frozen=True)
class ConvPiece:
    """One convolution inside a layer, stride 1 and 'same' padding, no bias."""

    in_channels: int
    out_channels: int
    kernel_size: int
    groups: int = 1

    def flops(self, height: int, width: int) -> int:
        """h × w × k² × (c_in / g) × c_out multiply-adds for one sample (paper eq. 4 for PConv)."""
        k2 = self.kernel_size * self.kernel_size
        return height * width * k2 * (self.in_channels // self.groups) * self.out_channels

    def weight_elements(self) -> int:
        return self.kernel_size**2 * (self.in_channels // self.groups) * self.out_channels

    def feature_map_elements(self, height: int, width: int) -> int:
        """Input read once plus output written once: the h × w × 2c term of eqs. 2, 3, 5."""
        return height * width * (self.in_channels + self.out_channels)


@dataclass(frozen=True)
class LayerCost:
    """What one layer of an operator costs: its convolutions plus pure data movement.

    `copied_channels` counts channels (per pixel, per sample) that the implementation reads
    and writes again without computing on them: the slicing PConv's `clone()` of all c
    channels plus the copy of its c_p result back into place, or the split-cat PConv's
    `cat` of all c channels. The paper's eq. 5 leaves these out; an implementation cannot.
    """

    convs: tuple[ConvPiece, ...]
    copied_channels: int = 0

    def flops(self, height: int, width: int) -> int:
        return sum(piece.flops(height, width) for piece in self.convs)

    def memory_access_elements(self, height: int, width: int, batch: int) -> int:
        """Paper eqs. 2, 3, 5 summed over the layer's convolutions, for a batch.

        Feature maps scale with the batch; weights are read once per call whatever the batch.
        """
        return sum(
            batch * piece.feature_map_elements(height, width) + piece.weight_elements()
            for piece in self.convs
        )

    def implementation_memory_access_elements(self, height: int, width: int, batch: int) -> int:
        """The paper's count plus the copies the implementation makes (read + write each)."""
        copies = batch * height * width * 2 * self.copied_channels
        return self.memory_access_elements(height, width, batch) + copies
