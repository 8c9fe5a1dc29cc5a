"""What to measure: the operators of the paper's Table 1 and the extras, one registry.

Importing this package does not import torch; building a stack does.
"""

from fbench.operators.registry import (
    OPERATORS,
    OperatorSpec,
    StageShape,
    get_operator,
    partial_channels,
    register,
)

PAPER_OPERATORS = ("conv", "gconv", "dwconv", "pconv")  # the four blocks of Table 1

__all__ = [
    "OPERATORS",
    "PAPER_OPERATORS",
    "OperatorSpec",
    "StageShape",
    "get_operator",
    "partial_channels",
    "register",
]
