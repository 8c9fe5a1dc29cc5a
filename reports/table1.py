"""Table 1 laid out from stored rows, beside the paper's numbers. Reads results, never measures.

Layout is a pure function of rows (→ `Table`); rendering (tabulate) is separate, so tests
check values in cells, not strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import fmean

from bench.results import ResultRow, RunResult
from operators import OPERATORS, StageShape
from reports import paper


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[object]]
    notes: list[str] = field(default_factory=list)


def operator_title(name: str) -> str:
    spec = OPERATORS.get(name)
    return spec.title if spec else name


def paper_row(row: ResultRow) -> paper.PaperTable1Row | None:
    """The paper's Table 1 entry this row reproduces, if it measures exactly that.

    Same operator and parameters (GConv 16 groups, PConv r = 1/4), same feature map, 10
    layers, fp32, and the batch of the paper's column for the device.
    """
    spec = OPERATORS.get(row.operator)
    column = paper.PAPER_DEVICE_COLUMN.get(row.device)
    if spec is None or column is None or not spec.matches_paper(row.operator_params):
        return None
    if row.layers != paper.PAPER_LAYERS or row.dtype != "float32":
        return None
    if row.batch != paper.PAPER_BATCH[column]:
        return None
    return paper.table1().get((spec.paper_operator, row.channels, row.height, row.width))


def _fmt_flops_m(flops: int) -> str:
    millions = flops / 1e6
    return f"{millions:.0f}" if millions >= 1000 else f"{millions:.2f}"


def _fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:.2f}" if ms >= 1 else f"{ms:.3f}"


def _fmt_g(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}" if value < 1000 else f"{value:.0f}"


def _status(row: ResultRow) -> str:
    if row.status == "failed":
        return f"failed: {row.error}"
    return row.status


def _ci(row: ResultRow) -> str:
    if row.latency_ms is None or row.latency_ms.ci95_halfwidth_rel is None:
        return "—"
    return f"±{row.latency_ms.ci95_halfwidth_rel:.1%}"


def operator_order(rows: Sequence[ResultRow]) -> list[str]:
    """Registry order (Table 1's: Conv, GConv, DWConv, PConv, then the extras), unknown last."""
    present = set(row.operator for row in rows)
    known = [name for name in OPERATORS if name in present]
    return known + sorted(present - set(known))


def ok_gflops(rows: Sequence[ResultRow]) -> list[float]:
    return [r.gflops_per_s for r in rows if r.status == "ok" and r.gflops_per_s is not None]


def pconv_dwconv_ratio(rows: Sequence[ResultRow]) -> float | None:
    """Average PConv FLOPS over average DWConv FLOPS (the paper's 6.2× on CPU)."""
    pconv = ok_gflops([r for r in rows if r.operator == "pconv"])
    dwconv = ok_gflops([r for r in rows if r.operator == "dwconv"])
    if not pconv or not dwconv:
        return None
    return fmean(pconv) / fmean(dwconv)


def table1(rows: Sequence[ResultRow], with_paper: bool = True) -> Table:
    """One device's Table 1: a line per operator × feature map, an average per operator."""
    devices = {row.device for row in rows}
    if len(devices) > 1:
        raise ValueError(f"table1() lays out one device at a time, got {sorted(devices)}")
    device = devices.pop() if devices else "cpu"
    column = paper.PAPER_DEVICE_COLUMN.get(device)
    throughput = column == "gpu"
    layers = sorted({row.layers for row in rows})
    layer_label = f"×{layers[0]} layers" if len(layers) == 1 else "per stack"

    headers = ["Operator", "Feature map", f"FLOPs (M), {layer_label}"]
    headers += ["Throughput (fps)"] if throughput else ["Latency (ms)"]
    headers += ["95% CI", "FLOPS (G/s)"]
    if with_paper and column:
        headers += [f"Paper {'fps' if throughput else 'latency (ms)'}", "Paper FLOPS (G/s)"]
    headers += ["Status"]

    body: list[list[object]] = []
    notes: list[str] = []
    for name in operator_order(rows):
        group = sorted((row for row in rows if row.operator == name), key=lambda r: r.stage)
        for index, row in enumerate(group):
            reference = paper_row(row) if with_paper and column else None
            line: list[object] = [
                operator_title(name) if index == 0 else "",
                StageShape(row.stage, row.channels, row.height, row.width).label,
                _fmt_flops_m(row.flops),
                _fmt_g(row.throughput_per_s) if throughput else _fmt_ms(row.latency),
                _ci(row),
                _fmt_g(row.gflops_per_s),
            ]
            if with_paper and column:
                if reference is None:
                    line += ["—", "—"]
                elif throughput:
                    line += [_fmt_g(reference.gpu_fps), _fmt_g(reference.gflops(column))]
                else:
                    line += [
                        _fmt_ms(reference.latency_ms(column)),
                        _fmt_g(reference.gflops(column)),
                    ]
            line.append(_status(row))
            body.append(line)

        measured = ok_gflops(group)
        average: list[object] = [
            "",
            "Average",
            "",
            "",
            "",
            _fmt_g(fmean(measured)) if measured else "—",
        ]
        if with_paper and column:
            matched = all(paper_row(row) is not None for row in group)
            paper_average = (
                paper.table1_average_gflops()
                .get(OPERATORS[name].paper_operator if name in OPERATORS else None, {})
                .get(column)
            )
            average += ["", _fmt_g(paper_average) if matched and paper_average else "—"]
        left_out = len(group) - len(measured)
        average.append(f"{len(measured)} of {len(group)} rows ok" if left_out else "")
        body.append(average)

    not_ok = [row for row in rows if row.status != "ok"]
    if not_ok:
        notes.append(
            f"{len(not_ok)} row(s) not ok are shown but left out of the averages and the ratio."
        )
    ratio = pconv_dwconv_ratio(rows)
    if ratio is not None:
        line = f"PConv/DWConv FLOPS: {ratio:.1f}×"
        compared = [row for row in rows if row.operator in ("pconv", "dwconv")]
        if with_paper and column and all(paper_row(row) for row in compared):
            line += f" (paper: {paper.pconv_dwconv_ratio(column):.1f}× on {column.upper()})"
        notes.append(line)
    notes.append("FLOPs are multiply-adds, as the paper counts them; FLOPS = FLOPs / latency.")
    return Table(headers=headers, rows=body, notes=notes)


def render_text(table: Table) -> str:
    from tabulate import tabulate

    text = tabulate(table.rows, headers=table.headers, tablefmt="simple", disable_numparse=True)
    return "\n".join([text, *table.notes])


def describe_method(timing: dict) -> str:
    if timing.get("method") == "official":
        return (
            f"official (FasterNet script): mean of {timing.get('official_calls')} calls "
            "after untimed warm-up calls"
        )
    return (
        f"adaptive: median of per-call latencies, 95% CI target ±{timing['ci_target']:.1%}, "
        f"{timing.get('schedule', 'interleaved')} rounds, ≤ {timing['max_row_s']:g} s a row"
    )


def run_header(run: RunResult) -> list[str]:
    """Two or three lines that say what a reader needs to judge the numbers below them."""
    env, config = run.environment, run.config
    threads = env.get("threads") or {}
    core = env.get("pinned_core")
    where = (
        f"{config['device']}/{config['backend']} on {env.get('cpu_model', '?')}"
        f" ({env.get('machine', '?')}), torch {env.get('torch', '?')}"
    )
    if threads:
        where += f", {threads.get('intra_op')} thread(s)"
    where += f", pinned to core {core}" if core is not None else ", not pinned"
    where += f", governor {env.get('governor') or 'n/a'}"
    if env.get("gpu_name"):
        where += f", GPU {env['gpu_name']}"
    lines = [
        f"run {run.run_id}: {run.state}, {len(run.rows)} of {run.rows_planned} rows, "
        f"created {run.created}",
        where,
        f"batch {config.get('device_settings', {}).get('batch')}, {config.get('dtype')}, "
        f"method {describe_method(config['timing'])}",
    ]
    if config.get("quick"):
        lines.append("quick run: smoke-sized shapes and timing, not comparable with the paper")
    return lines
