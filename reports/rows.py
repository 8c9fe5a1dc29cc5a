"""How a stored row reads in any table: its operator's title and place in the registry order,
its status cell and its interval cell. Shared by Table 1, the networks, backend, depth and
roofline tables, the claims and the plots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fbench.bench.results import ResultRow
from fbench.operators import OPERATORS


def operator_title(name: str) -> str:
    spec = OPERATORS.get(name)
    return spec.title if spec else name


@dataclass(frozen=True)
class RowPlace:
    """Where a stored row stands in a per-row report (a depth fit, a roofline point): the
    fields such reports begin with, in this order (their CSV columns follow it)."""

    device: str
    backend: str
    operator: str
    title: str
    stage: int
    channels: int
    height: int
    width: int

    @property
    def shape_label(self) -> str:
        return f"{self.channels}×{self.height}×{self.width}"


def row_place(row: ResultRow) -> dict[str, Any]:
    """Where a stored row stands in a per-row report (depth fits, roofline points): its device,
    backend, operator and title, stage, feature map, batch and dtype, as keyword arguments."""
    return {
        "device": row.device,
        "backend": row.backend,
        "operator": row.operator,
        "title": operator_title(row.operator),
        "stage": row.stage,
        "channels": row.channels,
        "height": row.height,
        "width": row.width,
        "batch": row.batch,
        "dtype": row.dtype,
    }


def operator_rank(name: str) -> tuple[int, str]:
    """Sort key of an operator: registry order (Table 1's: Conv, GConv, DWConv, PConv, then
    the extras), operators the registry does not know last, by name."""
    names = list(OPERATORS)
    return (names.index(name) if name in names else len(names), name)


def operator_order(rows: Sequence[ResultRow]) -> list[str]:
    """The operators of the rows, in registry order, unknown last."""
    return sorted({row.operator for row in rows}, key=operator_rank)


def status_text(row: ResultRow) -> str:
    if row.status == "failed":
        return f"failed: {row.error}"
    return row.status


def ci_text(row: ResultRow) -> str:
    if row.latency_ms is None or row.latency_ms.ci95_halfwidth_rel is None:
        return "—"
    return f"±{row.latency_ms.ci95_halfwidth_rel:.1%}"


def flops_header(rows: Sequence[ResultRow]) -> str:
    """The FLOPs column's header: per layer count when the rows share one, else per stack."""
    layers = sorted({row.layers for row in rows})
    layer_label = f"×{layers[0]} layers" if len(layers) == 1 else "per stack"
    return f"FLOPs (M), {layer_label}"


def short_flops_header(rows: Sequence[ResultRow]) -> str:
    """The FLOPs column's short head (a fitted terminal): "FLOPs (M) ×10" or "FLOPs (M)"."""
    layers = {row.layers for row in rows}
    return f"FLOPs (M) ×{layers.pop()}" if len(layers) == 1 else "FLOPs (M)"
