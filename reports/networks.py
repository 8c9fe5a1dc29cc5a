"""The network suite's rows laid out beside the paper's Table 3 (CPU column). Reads only.

A plain listing for `fbench run` / `fbench show`; the Figure 2 plots and richer tables
read the same row fields (`network`, `family`, `params`, `flops`, latency).
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.results import ResultRow
from reports import paper
from reports.table1 import Table, _ci, _fmt_g, _fmt_ms, _status


def networks_table(rows: Sequence[ResultRow], with_paper: bool = True) -> Table:
    headers = ["network", "params (M)", "FLOPs (G)", "latency (ms)", "95% CI", "G/s", "status"]
    if with_paper:
        headers += ["paper params (M)", "paper FLOPs (G)", "paper CPU (ms)", "measured/paper"]
    body = []
    for row in rows:
        cells: list[object] = [
            row.network or row.operator,
            "—" if row.params is None else f"{row.params / 1e6:.2f}",
            f"{row.flops / 1e9:.3f}" if row.flops else "—",
            _fmt_ms(row.latency),
            _ci(row),
            _fmt_g(row.gflops_per_s),
            _status(row),
        ]
        if with_paper:
            reference = paper.table3().get(row.network or "")
            if reference is None:
                cells += ["—"] * 4
            else:
                ratio = row.latency / reference.cpu_latency_ms if row.latency else None
                cells += [
                    f"{reference.params_m:.1f}",
                    f"{reference.flops_g:.2f}",
                    f"{reference.cpu_latency_ms:.1f}",
                    "—" if ratio is None else f"{ratio:.2f}×",
                ]
        body.append(cells)
    notes = ["FLOPs are multiply-adds (fvcore's count, as the paper's), for one image."]
    if with_paper:
        notes.append(f"paper: {paper.PAPER_HARDWARE['cpu']} (Table 3).")
    return Table(headers, body, notes)
