"""FLOPs of a real module, counted by fvcore: the independent check on the analytic counts.

fvcore counts one multiply-add as one "flop" (fvcore issue #69), which is the paper's
convention. Ops it has no handle for are returned by name and count, never silently
dropped from the picture: for the operator stacks they are pure data movement (PConv's
`clone`, `cat`) and rightly cost zero multiply-adds.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FvcoreCount:
    flops: int
    uncounted_ops: dict[str, int]


def count_flops(module: Any, example_input: Any) -> FvcoreCount:
    """Multiply-adds of one forward pass of `module` on `example_input` (whole batch)."""
    import torch

    with warnings.catch_warnings(), torch.no_grad():
        # fvcore's import uses the deprecated torch.jit.script; its tracing warns about
        # data-dependent Python values. Neither says anything about the count.
        warnings.simplefilter("ignore")
        from fvcore.nn import FlopCountAnalysis

        analysis = FlopCountAnalysis(module, (example_input,))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        total = analysis.total()
        uncounted = dict(analysis.unsupported_ops())
    return FvcoreCount(flops=int(total), uncounted_ops=uncounted)
