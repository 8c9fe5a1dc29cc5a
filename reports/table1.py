"""Table 1 laid out from stored rows, beside the paper's numbers. Reads results, never measures.

Layout is a pure function of rows (→ `Table`); rendering (tabulate) is separate, so tests
check values in cells, not strings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from bench.results import ResultRow, RunResult
from bench.results import status as row_status
from bench.stats import host_probe
from bench.stats.timing import median
from operators import OPERATORS, StageShape
from reports import paper
from reports.formatting import fixed, format_g, format_ms
from reports.table import Table


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


def status_text(row: ResultRow) -> str:
    if row.status == "failed":
        return f"failed: {row.error}"
    return row.status


def ci_text(row: ResultRow) -> str:
    if row.latency_ms is None or row.latency_ms.ci95_halfwidth_rel is None:
        return "—"
    return f"±{row.latency_ms.ci95_halfwidth_rel:.1%}"


def operator_rank(name: str) -> tuple[int, str]:
    """Sort key of an operator: registry order (Table 1's: Conv, GConv, DWConv, PConv, then
    the extras), operators the registry does not know last, by name."""
    names = list(OPERATORS)
    return (names.index(name) if name in names else len(names), name)


def operator_order(rows: Sequence[ResultRow]) -> list[str]:
    """The operators of the rows, in registry order, unknown last."""
    return sorted({row.operator for row in rows}, key=operator_rank)


def counts_in_averages(row: ResultRow) -> bool:
    """`ok` and `imprecise` rows (bench/results/status.py): an imprecise row's median is still the
    best estimate there is (on a shared host the DWConv rows' processes disagree by more
    than ±1% allows, run after run), and leaving it out would average a different set of
    stages for each operator. A `disturbed` row (throttled, interrupted...) is left out: its
    value is doubtful."""
    return row.gflops_per_s is not None and row.in_averages


def averaged_gflops(rows: Sequence[ResultRow]) -> list[float]:
    return [r.gflops_per_s for r in rows if counts_in_averages(r)]


def average_status(rows: Sequence[ResultRow]) -> str:
    """The average line's status cell: "" when every row is ok, else how many are ok and
    how many the average used, e.g. "1 of 4 rows ok, 4 averaged"."""
    ok = sum(row.status == "ok" for row in rows)
    if ok == len(rows):
        return ""
    return f"{ok} of {len(rows)} rows ok, {sum(map(counts_in_averages, rows))} averaged"


def averages_notes(rows: Sequence[ResultRow]) -> list[str]:
    """What the averages and the PConv/DWConv ratio did with the rows that are not ok."""
    not_ok = [row for row in rows if row.status != "ok"]
    counted = [row for row in not_ok if counts_in_averages(row)]
    notes = []
    if counted:
        notes.append(
            f"{len(counted)} imprecise row(s) are in the averages and the ratio: their "
            "intervals are wider than the target, their medians still the best estimate."
        )
    if len(counted) < len(not_ok):
        notes.append(
            f"{len(not_ok) - len(counted)} row(s) failed or disturbed are shown "
            "with their status but left out of the averages and the PConv/DWConv ratio."
        )
    return notes


def pconv_dwconv_ratio(rows: Sequence[ResultRow]) -> float | None:
    """Average PConv FLOPS over average DWConv FLOPS (the paper's 6.2× on CPU)."""
    pconv = averaged_gflops([r for r in rows if r.operator == "pconv"])
    dwconv = averaged_gflops([r for r in rows if r.operator == "dwconv"])
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
                format_g(row.flops / 1e6),
                format_g(row.throughput_per_s) if throughput else format_ms(row.latency),
                ci_text(row),
                format_g(row.gflops_per_s),
            ]
            if with_paper and column:
                if reference is None:
                    line += ["—", "—"]
                elif throughput:
                    line += [format_g(reference.gpu_fps), format_g(reference.gflops(column))]
                else:
                    line += [
                        format_ms(reference.latency_ms(column)),
                        format_g(reference.gflops(column)),
                    ]
            line.append(status_text(row))
            body.append(line)

        measured = averaged_gflops(group)
        average: list[object] = [
            "",
            "Average",
            "",
            "",
            "",
            format_g(fmean(measured)) if measured else "—",
        ]
        if with_paper and column:
            matched = all(paper_row(row) is not None for row in group)
            paper_average = (
                paper.table1_average_gflops()
                .get(OPERATORS[name].paper_operator if name in OPERATORS else None, {})
                .get(column)
            )
            average += ["", format_g(paper_average) if matched and paper_average else "—"]
        average.append(average_status(group))
        body.append(average)

    notes += averages_notes(rows)
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
    """The terminal layout (tabulate) with the notes underneath; see reports.render for more."""
    from reports.render import render_terminal

    return render_terminal(table)


def describe_method(timing: dict) -> str:
    if timing.get("method") == "official":
        return (
            f"official (FasterNet script): mean of {timing.get('official_calls')} calls "
            "after untimed warm-up calls"
        )
    processes = timing.get("processes", 1)
    return (
        f"adaptive: median of per-call latencies, 95% CI target ±{timing['ci_target']:.1%}, "
        f"{timing.get('schedule', 'interleaved')} rounds, ≤ {timing['max_row_s']:g} s a row"
        + (f", pooled over {processes} processes" if processes > 1 else "")
    )


def process_spread_line(rows: Sequence[ResultRow]) -> str | None:
    """How far apart the worker processes' medians of a row were (bench/measure/processes.py)."""
    from bench.stats.timing import medians_spread

    spreads = [
        (spread, row)
        for row in rows
        if (spread := medians_spread(row.process_medians_ms)) is not None
    ]
    if not spreads:
        return None
    worst, worst_row = max(spreads, key=lambda item: item[0])
    return (
        f"processes: a row's per-process medians differ by {median([s for s, _ in spreads]):.1%} "
        f"(max/min, median row), at most {worst:.1%} ({worst_row.operator} "
        f"{worst_row.shape_label}): what one process alone could have been off by, since "
        "each process draws its own memory layout (docs/methodology.md: processes and "
        "memory layout)"
    )


def host_probe_line(rows: Sequence[ResultRow]) -> str | None:
    """How much the host's own speed moved during the run (bench/measure/host_probe.py), or None."""
    from bench.stats import host_probe

    # Every row stores the probe's median in the rounds it was sampled in; rows share rounds,
    # so the run's rounds are the distinct values.
    probed = [row.host_probe for row in rows if row.host_probe]
    rounds = sorted({value for probe in probed for value in probe["round_medians_ms"]})
    if not rounds:
        return None
    return (
        f"host probe ({probed[0]['workload']}): median {median(rounds):.3f} ms over "
        f"{len(rounds)} rounds, 5–95% range {host_probe.spread(rounds):.1%}: how much the "
        "host's own speed moved during the run"
    )


def precision_line(rows: Sequence[ResultRow], timing: dict) -> str | None:
    """The run in one line: how many rows reached the interval target, the widest one and
    why, what would narrow it, and the rows that were disturbed or failed, e.g.
    `target ±1.0%: 2 of 16 rows reached it; widest ±3.4% (dwconv 384×14×14, processes
    differ by memory layout); --processes 12 would narrow it to about ±2.3%`."""
    if not rows:
        return None
    parts = []
    measured = [row for row in rows if row.status != "failed" and row.latency_ms is not None]
    target = timing.get("ci_target")
    if timing.get("method") != "official" and measured and target:
        wide = [row for row in measured if row_status.INTERVAL_WIDE in row.reasons]
        if not wide:
            parts.append(f"target ±{target:.1%}: all {len(measured)} rows reached it")
        else:
            parts.append(
                f"target ±{target:.1%}: {len(measured) - len(wide)} of {len(measured)} rows "
                "reached it"
            )
            worst = max(wide, key=lambda row: row.latency_ms.ci95_halfwidth_rel or 0.0)
            halfwidth = worst.latency_ms.ci95_halfwidth_rel or 0.0
            apart = row_status.PROCESSES_DIFFER in worst.reasons
            cause = "processes differ by memory layout" if apart else "its calls vary"
            moved = row_status.HOST_MOVED in worst.reasons
            if moved:  # then no number of processes or seconds narrows it: a quiet host does
                cause = "the host's speed moved"
            parts.append(f"widest ±{halfwidth:.1%} ({_row_name(worst)}, {cause})")
            hint = None if moved else _narrowing_hint(worst, halfwidth, target, timing, apart)
            if hint:
                parts.append(hint)
    disturbed = [row for row in rows if row.status == row_status.DISTURBED]
    if disturbed:
        codes = row_status.unique(
            code
            for row in disturbed
            for code in row.reasons
            if row_status.REASONS[code].status == row_status.DISTURBED
        )
        parts.append(f"{len(disturbed)} disturbed ({', '.join(codes)}), left out of averages")
        if row_status.HOST_MOVED in codes:
            # What a user can do about it: the host, not fbench, moved
            # (bench/measure/host_probe.py).
            parts.append(
                "the host's own speed moved while they were timed: repeat on a quiet machine "
                "(or raise [timing] host_moved_above)"
            )
    failed = sum(row.status == row_status.FAILED for row in rows)
    if failed:
        parts.append(f"{failed} failed")
    return "; ".join(parts) or None


def _row_name(row: ResultRow) -> str:
    return row.network or f"{row.operator} {row.shape_label}"


def _narrowing_hint(
    row: ResultRow, halfwidth: float, target: float, timing: dict, apart: bool
) -> str | None:
    """What would narrow the widest interval: more processes when they disagree (the
    interval is Student's t on their medians: t(n−1)/√n scaling, assuming the processes
    spread as they did), else more sampling time per row."""
    if not apart:
        cap = timing.get("max_row_s", 0.0)
        return f"more sampling time per row (max_row_s, now {cap:g} s) narrows it"
    from scipy.stats import t

    had = len(row.processes or ()) or int(timing.get("processes", 1))
    if had < 2:
        return None

    def predicted(count: int) -> float:
        scale = float(t.ppf(0.975, count - 1) / t.ppf(0.975, had - 1))
        return halfwidth * scale * (had / count) ** 0.5

    enough = [n for n in range(had + 1, 4 * had + 1) if predicted(n) <= target]
    count = enough[0] if enough else 2 * had
    return f"--processes {count} would narrow it to about ±{predicted(count):.1%}"


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
    lines.extend(progress_lines(run))
    probe_failure = host_probe.run_failure(run.rows)
    if probe_failure is not None:  # why rows have fewer probe rounds, or none
        lines.append(host_probe.failure_words(probe_failure, run.run_id))
    for line in (host_probe_line(run.rows), process_spread_line(run.rows)):
        if line:
            lines.append(line)
    if config.get("quick"):
        smaller = "" if config.get("suite") == "networks" else "shapes and "
        lines.append(f"quick run: smoke-sized {smaller}timing, not comparable with the paper")
    return lines


def progress_lines(run: RunResult) -> list[str]:
    """How far a multi-process run got, and each worker process that died
    (bench/measure/processes.py): a reader of a `partial`, `interrupted` or `incomplete` file
    sees what is missing and why."""
    lines = []
    planned, finished = run.processes_planned, run.processes_finished
    if planned and finished is not None and finished < planned:
        lines.append(
            f"processes: every row timed in at least {finished} of {planned} planned; "
            f"finish with: fbench run --resume {run.run_id}"
        )
    for failure in run.worker_failures:
        how = failure.get("signal") or f"exit code {failure.get('exit_code')}"
        doing = failure.get("last_activity")
        lines.append(
            f"worker {failure.get('label') or failure.get('process')} died ({how})"
            + (f" while {doing}" if doing else "")
            + (f": {failure['message']}" if failure.get("message") else "")
        )
    return lines


# --- Table 1 across devices ------------------------------------------------------------------
#
# The paper's layout: one line per operator × feature map, FLOPs once, then for every device its
# throughput (GPU, batch 32) or latency (CPU, ARM) and FLOPS. Cells hold numbers (None where a
# device has no value); `Table.formats` says how each column prints, so CSV and JSON exports
# keep full precision while the terminal, Markdown, LaTeX and HTML show the paper's digits.


@dataclass(frozen=True)
class DeviceGroup:
    """The rows one run measured on one device and backend: a block of columns in Table 1."""

    label: str  # e.g. "cpu", "cuda", "cpu/onnxruntime", "cpu (run-id)" when two runs collide
    device: str
    backend: str
    run: RunResult
    rows: tuple[ResultRow, ...]

    @property
    def paper_column(self) -> str | None:
        return paper.PAPER_DEVICE_COLUMN.get(self.device)

    @property
    def throughput(self) -> bool:
        """GPUs are compared by throughput at batch 32 (as the paper does), others by latency."""
        return self.paper_column == "gpu"


@dataclass(frozen=True)
class DeviceColumn:
    """An extra per-device column of Table 1 (e.g. the roofline's attainable FLOPS).

    `value` sees one measured row and its device group (the run's environment is there);
    `average` says whether the operator's "Average" line averages it over the rows that are ok.
    """

    header: str  # "{device}" is replaced by the group's label
    value: Callable[[ResultRow, DeviceGroup], float | None]
    fmt: Callable[[float], str]
    average: bool = False


@dataclass(frozen=True)
class ColumnSet:
    name: str  # also the `fbench report table1 --NAME` flag
    help: str
    columns: tuple[DeviceColumn, ...]


# Optional column sets, one flag each on `fbench report table1`. Add one with
# `register_columns(ColumnSet("roofline", "help...", (DeviceColumn(...), ...)))`.
COLUMN_SETS: dict[str, ColumnSet] = {}


def register_columns(column_set: ColumnSet) -> ColumnSet:
    if column_set.name in COLUMN_SETS or column_set.name in ("paper", "format", "output"):
        raise ValueError(f"column set {column_set.name!r} is already taken")
    COLUMN_SETS[column_set.name] = column_set
    return column_set


def device_groups(runs: Sequence[RunResult], suite: str = "operators") -> list[DeviceGroup]:
    """One group per (run, device, backend), in the order given; labels made unique."""
    found: list[tuple[RunResult, str, str, tuple[ResultRow, ...]]] = []
    for run in runs:
        rows = [row for row in run.rows if row.suite == suite]
        for device, backend in dict.fromkeys((row.device, row.backend) for row in rows):
            group = tuple(r for r in rows if (r.device, r.backend) == (device, backend))
            found.append((run, device, backend, group))
    labels = [
        device if backend == "torch" else f"{device}/{backend}" for _, device, backend, _ in found
    ]
    groups = []
    for (run, device, backend, rows), label in zip(found, labels, strict=True):
        if labels.count(label) > 1:
            label = f"{label} ({run.run_id})"
        groups.append(DeviceGroup(label, device, backend, run, rows))
    return groups


def _line_key(row: ResultRow) -> tuple:
    """Rows of different devices that belong on the same line of the table."""
    return (
        row.operator,
        tuple(sorted(row.operator_params.items())),
        row.channels,
        row.height,
        row.width,
        row.layers,
    )


def _status_cell(row: ResultRow | None) -> str:
    return "" if row is None or row.status == "ok" else status_text(row)


def _paper_metric(reference: paper.PaperTable1Row, group: DeviceGroup) -> float | None:
    column = group.paper_column
    return reference.gpu_fps if group.throughput else reference.latency_ms(column)


def table1_devices(
    runs: Sequence[RunResult], with_paper: bool = False, extras: Sequence[str] = ()
) -> Table:
    """Table 1 as the paper lays it out, one block of columns per device found in `runs`.

    Per device: throughput (fps, GPU) or latency (ms), FLOPS (G/s); with `with_paper` the
    paper's values and measured/paper FLOPS. Rows that are not ok keep their values but get a
    status cell and are left out of the averages and of the PConv/DWConv ratio. Devices with no
    rows get no columns. `extras` names registered `COLUMN_SETS`.
    """
    groups = device_groups(runs)
    if not groups:
        raise ValueError("no operator rows to lay out")
    unknown = [name for name in extras if name not in COLUMN_SETS]
    if unknown:
        raise ValueError(f"unknown column set(s) {unknown}; known: {sorted(COLUMN_SETS)}")
    extra_columns = [column for name in extras for column in COLUMN_SETS[name].columns]

    all_rows = [row for group in groups for row in group.rows]
    layers = sorted({row.layers for row in all_rows})
    layer_label = f"×{layers[0]} layers" if len(layers) == 1 else "per stack"
    headers = ["Operator", "Feature map", f"FLOPs (M), {layer_label}"]
    formats: list[Callable[[Any], str]] = [str, str, format_g]

    blocks: list[list[_Column]] = []
    for group in groups:
        metric = "throughput (fps)" if group.throughput else "latency (ms)"
        fmt_metric = format_g if group.throughput else format_ms
        block: list[_Column] = [
            _Column(
                f"{group.label} {metric}", fmt_metric, lambda r, p, g=group: _metric(r, g), "metric"
            ),
            _Column(
                f"{group.label} FLOPS (G/s)", format_g, lambda r, p: r and r.gflops_per_s, "gflops"
            ),
        ]
        if with_paper and group.paper_column:
            block += [
                _Column(
                    f"{group.label} paper {metric}",
                    fmt_metric,
                    lambda r, p, g=group: p and _paper_metric(p, g),
                    "paper_metric",
                ),
                _Column(
                    f"{group.label} paper FLOPS (G/s)",
                    format_g,
                    lambda r, p, g=group: p and p.gflops(g.paper_column),
                    "paper_gflops",
                ),
                _Column(
                    f"{group.label} FLOPS measured/paper",
                    fixed(2),
                    lambda r, p, g=group: _over(
                        r and r.gflops_per_s, p and p.gflops(g.paper_column)
                    ),
                    "ratio",
                ),
            ]
        for column in extra_columns:
            block.append(
                _Column(
                    column.header.format(device=group.label),
                    column.fmt,
                    lambda r, p, c=column, g=group: r and c.value(r, g),
                    "extra_avg" if column.average else "extra",
                )
            )
        if any(row.status != "ok" for row in group.rows):
            block.append(
                _Column(f"{group.label} status", str, lambda r, p: _status_cell(r), "status")
            )
        blocks.append(block)
        headers += [column.header for column in block]
        formats += [column.fmt for column in block]

    by_group = [{_line_key(row): row for row in group.rows} for group in groups]
    lines: dict[tuple, ResultRow] = {}
    for row in all_rows:
        lines.setdefault(_line_key(row), row)

    body: list[list[object]] = []
    for name in operator_order(all_rows):
        keys = sorted(
            (k for k, r in lines.items() if r.operator == name),
            key=lambda k: (lines[k].stage, lines[k].channels, lines[k].layers),
        )
        for index, key in enumerate(keys):
            first = lines[key]
            line: list[object] = [
                operator_title(name) if index == 0 else "",
                StageShape(first.stage, first.channels, first.height, first.width).label,
                first.flops / 1e6,
            ]
            for block, rows in zip(blocks, by_group, strict=True):
                row = rows.get(key)
                reference = paper_row(row) if row is not None and with_paper else None
                line += [column.fill(row, reference) for column in block]
            body.append(line)
        body.append(_average_line(name, keys, groups, blocks, by_group, with_paper))

    ratio_line: list[object] = ["PConv/DWConv", "FLOPS ratio (×)", ""]
    ratios_text = []
    for group, block in zip(groups, blocks, strict=True):
        measured = pconv_dwconv_ratio(group.rows)
        reference = _paper_ratio(group) if with_paper else None
        values = {"gflops": measured, "paper_gflops": reference}
        values["ratio"] = _over(measured, reference)
        ratio_line += [values.get(column.role, "") for column in block]
        if measured is not None:
            text = f"{group.label} {measured:.1f}×"
            paper_ratio = _paper_ratio(group)
            if paper_ratio is not None:
                text += f" (paper {paper_ratio:.1f}× on {group.paper_column.upper()})"
            ratios_text.append(text)
    if any(value not in (None, "") for value in ratio_line[3:]):
        body.append(ratio_line)

    notes = [f"{group.label}: {describe_group(group)}" for group in groups]
    notes += averages_notes(all_rows)
    if ratios_text:
        notes.append("PConv/DWConv FLOPS: " + "; ".join(ratios_text))
    notes.append("FLOPs are multiply-adds, as the paper counts them; FLOPS = FLOPs / latency.")
    return Table(headers=headers, rows=body, notes=notes, formats=formats)


@dataclass(frozen=True)
class _Column:
    """One column of a device's block: how it prints and how a line fills it.

    `role` says what the "Average" and "PConv/DWConv" lines put there: the average FLOPS
    ("gflops"), the paper's ("paper_gflops"), their ratio ("ratio"), an average over the ok rows
    ("extra_avg"), how many rows are ok ("status"), or nothing.
    """

    header: str
    fmt: Callable[[Any], str]
    fill: Callable[[ResultRow | None, paper.PaperTable1Row | None], object]
    role: str


def _covers_paper(paper_operator: str, rows: Sequence[ResultRow]) -> bool:
    """Whether `rows` are exactly the paper's four feature maps of an operator (for averages)."""
    wanted = {key for key in paper.table1() if key[0] == paper_operator}
    found = {(paper_operator, r.channels, r.height, r.width) for r in rows if paper_row(r)}
    return found == wanted and len(rows) == len(wanted)


def _metric(row: ResultRow | None, group: DeviceGroup) -> float | None:
    if row is None:
        return None
    return row.throughput_per_s if group.throughput else row.latency


def _over(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _paper_ratio(group: DeviceGroup) -> float | None:
    """The paper's PConv/DWConv ratio, if this group's PConv and DWConv rows are the paper's."""
    column = group.paper_column
    compared = [row for row in group.rows if row.operator in ("pconv", "dwconv")]
    if column is None or not compared or not all(paper_row(row) for row in compared):
        return None
    return paper.pconv_dwconv_ratio(column)


def _average_line(name, keys, groups, blocks, by_group, with_paper) -> list[object]:
    line: list[object] = ["", "Average", ""]
    for group, block, rows in zip(groups, blocks, by_group, strict=True):
        group_rows = [rows[key] for key in keys if key in rows]
        measured = averaged_gflops(group_rows)
        paper_average = None
        if with_paper and group.paper_column and group_rows:
            spec = OPERATORS.get(name)
            if spec and spec.paper_operator and _covers_paper(spec.paper_operator, group_rows):
                paper_average = paper.table1_average_gflops()[spec.paper_operator][
                    group.paper_column
                ]
        average = fmean(measured) if measured else None
        for column in block:
            role = column.role
            if role == "gflops":
                line.append(average)
            elif role == "paper_gflops":
                line.append(paper_average)
            elif role == "ratio":
                line.append(_over(average, paper_average))
            elif role == "extra_avg":
                values = [column.fill(row, None) for row in group_rows if counts_in_averages(row)]
                values = [v for v in values if v is not None]
                line.append(fmean(values) if values else None)
            elif role == "status":
                line.append(average_status(group_rows))
            else:  # per-row values (latency, throughput) have no average line
                line.append("")
    return line


def describe_group(group: DeviceGroup) -> str:
    """One line: what hardware a block of columns was measured on, and how."""
    env, config = group.run.environment, group.run.config
    batches = sorted({row.batch for row in group.rows})
    threads = (env.get("threads") or {}).get("intra_op")
    parts = [
        env.get("gpu_name") if group.device == "cuda" and env.get("gpu_name") else None,
        env.get("cpu_model"),
        f"{group.backend}",
        f"batch {', '.join(map(str, batches))}",
        f"{threads} thread(s)" if threads and group.device != "cuda" else None,
        f"run {group.run.run_id}",
    ]
    if config.get("quick"):
        parts.append("quick run: not comparable with the paper")
    return ", ".join(part for part in parts if part)
