"""The lines around a stored run's tables in `fbench show`: the run header (what was run, where
and how), how far a multi-process run got, the host probe and process-spread lines, and the
precision summary under the tables. Pure functions of a `RunResult`; docs/methodology.md says
what the numbers in them mean on measured runs."""

from __future__ import annotations

from collections.abc import Sequence

from fbench.bench.results import ResultRow, RunResult
from fbench.bench.results import status as row_status
from fbench.bench.stats import host_probe
from fbench.bench.stats.timing import median, medians_spread


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
    """How much the host's own speed moved during the run (bench/stats/host_probe.py), or None."""
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
            # (bench/stats/host_probe.py).
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
    if config["backend"] == "onnxruntime":  # its version and export change the graph timed
        options = config.get("backend_options") or {}
        where += f", onnxruntime {env.get('onnxruntime', '?')}"
        if options:
            where += " (" + ", ".join(f"{k} {v}" for k, v in sorted(options.items())) + ")"
    if config["backend"] == "executorch":  # the runtime and delegate the graph ran in
        where += f", executorch {env.get('executorch', '?')} (XNNPACK)"
    stack = (env.get("stack") or {}).get("requirements")
    if stack and config["backend"] != "executorch":  # fbench run --with
        where += f" (--with {', '.join(stack)})"
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
