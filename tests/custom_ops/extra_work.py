"""A row that does a known amount of extra work, for benchmarks/noise.py: a real slowdown of
known size that the gate treats as the same row.

`make_block(channels)` is one fbench layer made of BASE_CONVS identical 3×3 convolutions in a
chain. The environment variable FBENCH_EXTRA_WORK (a fraction: 0, 0.05, 0.10) adds
round(BASE_CONVS × fraction) more of the same convolution, so the layer does exactly 5% or
10% more multiply-adds and, since every convolution in the chain is the same call, takes
about that much longer. The row's identity (operator name, parameters, shape, layers...:
bench/results/model.py KEY_FIELDS) does not include the variable, so `fbench compare`
matches the rows, as it would match a row whose code got slower. Its counted FLOPs do
change (fvcore counts the real module), which compare does not judge.
"""

import os

from torch import nn

BASE_CONVS = 20
VARIABLE = "FBENCH_EXTRA_WORK"


def convs(extra: float) -> int:
    """How many convolutions the layer chains at this extra-work fraction."""
    return BASE_CONVS + round(BASE_CONVS * extra)


def make_block(channels: int) -> nn.Module:
    extra = float(os.environ.get(VARIABLE) or 0.0)
    return nn.Sequential(
        *(nn.Conv2d(channels, channels, 3, padding=1, bias=False) for _ in range(convs(extra)))
    )
