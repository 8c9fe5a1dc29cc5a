"""Do two backends compute the same function? Output errors and tolerances: pure numpy.

A backend that is fast because it computes something else is not a result: every
ONNX Runtime row is checked against torch eager on the same input before it is timed, and
`fbench check` compares all backends operator by operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Allowed max abs error, relative to the reference's largest magnitude. Ten stacked 3×3
# convolutions summed in a different order (oneDNN vs MLAS, NCHW vs NHWC) differ by a few
# ulps per layer in fp32; half precision keeps about three decimal digits.
TOLERANCE_REL: dict[str, float] = {"float32": 1e-4, "float16": 1e-2, "bfloat16": 5e-2, "int8": 5e-2}


@dataclass(frozen=True)
class OutputError:
    """How far `candidate` is from `reference`: the largest absolute and relative errors."""

    max_abs: float
    max_rel: float  # max |c - r| / max(|r|, scale * 1e-3): relative, safe near zero
    scale: float  # max |reference|
    shape_matches: bool = True

    def within(self, tolerance_rel: float) -> bool:
        """True when max_abs ≤ tolerance_rel · max |reference| (and the shapes agree)."""
        return self.shape_matches and self.max_abs <= tolerance_rel * max(self.scale, 1e-30)

    def describe(self) -> str:
        if not self.shape_matches:
            return "output shapes differ"
        return (
            f"max abs error {self.max_abs:.3g} (max rel {self.max_rel:.3g}, "
            f"|ref| ≤ {self.scale:.3g})"
        )


def output_error(reference: Any, candidate: Any) -> OutputError:
    """Errors between two arrays (anything numpy can convert), computed in float64."""
    ref = np.asarray(reference, dtype=np.float64)
    got = np.asarray(candidate, dtype=np.float64)
    if ref.shape != got.shape:
        return OutputError(float("inf"), float("inf"), 0.0, shape_matches=False)
    if ref.size == 0:
        return OutputError(0.0, 0.0, 0.0)
    difference = np.abs(got - ref)
    scale = float(np.max(np.abs(ref)))
    floor = max(scale * 1e-3, 1e-30)
    max_rel = float(np.max(difference / np.maximum(np.abs(ref), floor)))
    return OutputError(float(np.max(difference)), max_rel, scale)


def tolerance_for(dtype: str) -> float:
    return TOLERANCE_REL.get(dtype, TOLERANCE_REL["float32"])
