"""The paper's own numbers (Chen et al., CVPR 2023), shipped with fbench as CSV, and which
stored rows they can be set beside.

Table 1 (operators on GPU, CPU and ARM), its per-operator averages and Table 3 (networks),
transcribed from the paper. fbench never reads them from anywhere but its own package.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from statistics import fmean
from typing import TYPE_CHECKING

from fbench.operators import OPERATORS

if TYPE_CHECKING:
    from fbench.bench.results import ResultRow

DATA = Path(__file__).parent / "data"

# Our device names → the paper's Table 1 columns, and the batch each column was measured at.
PAPER_DEVICE_COLUMN = {"cuda": "gpu", "cpu": "cpu", "arm": "arm"}
PAPER_BATCH = {"gpu": 32, "cpu": 1, "arm": 1}
PAPER_LAYERS = 10
PAPER_HARDWARE = {
    "gpu": "GeForce RTX 2080Ti, batch 32",
    "cpu": "Intel i9-9900X, one thread, batch 1",
    "arm": "Cortex-A72 (Raspberry Pi 4), one thread, batch 1",
}


@dataclass(frozen=True)
class PaperTable1Row:
    operator: str
    stage: int
    channels: int
    height: int
    width: int
    flops_m: float  # as printed: multiply-adds in millions for 10 layers, truncated
    gpu_fps: float
    gpu_gflops: float
    cpu_latency_ms: float
    cpu_gflops: float
    arm_latency_ms: float
    arm_gflops: float

    def latency_ms(self, column: str) -> float | None:
        return getattr(self, f"{column}_latency_ms", None)

    def gflops(self, column: str) -> float:
        return getattr(self, f"{column}_gflops")


def _rows(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


@cache
def table1() -> dict[tuple[str, int, int, int], PaperTable1Row]:
    """Keyed by (operator, channels, height, width)."""
    rows = {}
    for raw in _rows("paper_table1.csv"):
        row = PaperTable1Row(
            operator=raw["operator"],
            stage=int(raw["stage"]),
            channels=int(raw["channels"]),
            height=int(raw["height"]),
            width=int(raw["width"]),
            flops_m=float(raw["flops_m_x10"]),
            gpu_fps=float(raw["gpu_fps_b32"]),
            gpu_gflops=float(raw["gpu_gflops"]),
            cpu_latency_ms=float(raw["cpu_latency_ms"]),
            cpu_gflops=float(raw["cpu_gflops"]),
            arm_latency_ms=float(raw["arm_latency_ms"]),
            arm_gflops=float(raw["arm_gflops"]),
        )
        rows[(row.operator, row.channels, row.height, row.width)] = row
    return rows


@cache
def table1_average_gflops() -> dict[str, dict[str, float]]:
    """operator → {"gpu": G/s, "cpu": G/s, "arm": G/s}, the paper's "Average" lines."""
    return {
        raw["operator"]: {
            column: float(raw[f"{column}_gflops_avg"]) for column in ("gpu", "cpu", "arm")
        }
        for raw in _rows("paper_table1_averages.csv")
    }


def pconv_dwconv_ratio(column: str) -> float:
    """The paper's headline: PConv's FLOPS over DWConv's (10.5× GPU, 6.2× CPU, 22.8× ARM)."""
    averages = table1_average_gflops()
    return averages["pconv"][column] / averages["dwconv"][column]


def paper_row(row: ResultRow) -> PaperTable1Row | None:
    """The paper's Table 1 entry this row reproduces, if it measures exactly that.

    Same operator and parameters (GConv 16 groups, PConv r = 1/4), same feature map, 10
    layers, fp32, and the batch of the paper's column for the device.
    """
    spec = OPERATORS.get(row.operator)
    column = PAPER_DEVICE_COLUMN.get(row.device)
    if spec is None or column is None or not spec.matches_paper(row.operator_params):
        return None
    if row.layers != PAPER_LAYERS or row.dtype != "float32":
        return None
    if row.batch != PAPER_BATCH[column]:
        return None
    return table1().get((spec.paper_operator, row.channels, row.height, row.width))


def covers_paper(paper_operator: str, rows: Sequence[ResultRow]) -> bool:
    """Whether `rows` are exactly the paper's four feature maps of an operator (for averages)."""
    wanted = {key for key in table1() if key[0] == paper_operator}
    found = {(paper_operator, r.channels, r.height, r.width) for r in rows if paper_row(r)}
    return found == wanted and len(rows) == len(wanted)


def matched_pconv_dwconv_ratio(
    rows: Sequence[ResultRow], column: str | None
) -> tuple[float, bool] | None:
    """The paper's PConv/DWConv ratio to set beside one measured over `rows` (the PConv and
    DWConv rows it averaged), and whether it is taken at those rows' stages only.

    Where the rows are the paper's four feature maps of both operators: its headline, the
    ratio of its printed averages. Where they are fewer: the ratio of its per-stage FLOPS at
    the same stages, since a headline over 4 stages beside a ratio over 1 compares different
    feature maps. None where a row is not the paper's configuration (nothing to set beside).
    """
    compared = [row for row in rows if row.operator in ("pconv", "dwconv")]
    references = [(row.operator, paper_row(row)) for row in compared]
    if column is None or not compared or not all(reference for _, reference in references):
        return None
    pconv_rows = [row for row in compared if row.operator == "pconv"]
    dwconv_rows = [row for row in compared if row.operator == "dwconv"]
    if covers_paper("pconv", pconv_rows) and covers_paper("dwconv", dwconv_rows):
        return pconv_dwconv_ratio(column), False
    pconv = [reference.gflops(column) for name, reference in references if name == "pconv"]
    dwconv = [reference.gflops(column) for name, reference in references if name == "dwconv"]
    if not pconv or not dwconv:
        return None
    return fmean(pconv) / fmean(dwconv), True


@dataclass(frozen=True)
class PaperNetwork:
    network: str
    params_m: float
    flops_g: float
    gpu_fps: float
    cpu_latency_ms: float
    arm_latency_ms: float | None  # None where the paper reports OOM
    top1: float
    resolution: int


@cache
def table3() -> dict[str, PaperNetwork]:
    networks = {}
    for raw in _rows("paper_table3.csv"):
        networks[raw["network"]] = PaperNetwork(
            network=raw["network"],
            params_m=float(raw["params_m"]),
            flops_g=float(raw["flops_g"]),
            gpu_fps=float(raw["gpu_fps_b32"]),
            cpu_latency_ms=float(raw["cpu_latency_ms"]),
            arm_latency_ms=float(raw["arm_latency_ms"]) if raw["arm_latency_ms"] else None,
            top1=float(raw["top1"]),
            resolution=int(raw["resolution"]),
        )
    return networks
