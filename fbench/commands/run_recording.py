"""`fbench run`'s recording of a run: open the result file (a new one, or the stored run
--resume continues), time the planned rows into it with progress on stderr, and leave it in
its final state (complete, incomplete, interrupted, failed) with a line that says how to
finish it (docs/crash-safety.md)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from fbench.commands import DEFAULT_RESULTS_DIR
from fbench.commands.run_resume import (
    left_to_do,
    process_counts,
    processes_planned,
    rows_short,
    stored_config,
)

if TYPE_CHECKING:
    from fbench.bench.config import RunConfig
    from fbench.bench.measure.budget import BudgetPlan
    from fbench.bench.measure.processes import Checkpoint
    from fbench.bench.measure.protocol import WorkerProcess
    from fbench.bench.measure.stack import StackEnvironment
    from fbench.bench.plan.rows import RowPlan
    from fbench.bench.results import ResultRow, RunResult, RunStore
    from fbench.devices import DeviceSession


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """Ctrl-C and SIGTERM (what `timeout` and CI cancellation send) stop a run alike: a
    KeyboardInterrupt that keeps what is finished. Any signal after the first is ignored,
    so a second Ctrl-C cannot cut the saving of the rows short. (The handler stays and
    ignores them itself: switching to SIG_IGN inside it makes Python print a "Signal 15
    ignored due to race condition" traceback when both arrive at once.) A signal ignored
    when fbench started (a background job's SIGINT) stays ignored."""
    interrupted = False

    def interrupt(signum: int, frame: object) -> None:
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            raise KeyboardInterrupt

    previous = {}
    for number in (signal.SIGINT, signal.SIGTERM):
        try:
            if signal.getsignal(number) is not signal.SIG_IGN:
                previous[number] = signal.signal(number, interrupt)
        except ValueError:  # not the main thread (main() called from a test's thread)
            pass
    try:
        yield
    finally:
        if not interrupted:  # else keep ignoring them until the process exits
            for number, handler in previous.items():
                signal.signal(number, handler)


def _open_session(config: RunConfig) -> DeviceSession:
    from fbench.bench.errors import FbenchError
    from fbench.devices import get_backend, get_device

    device = get_device(config.device)
    reason = device.unavailable_reason()
    if reason:
        raise FbenchError(f"--device {device.name}: not available on this machine: {reason}")
    reason = get_backend(config.backend).unavailable_reason(device.name)
    if reason:
        raise FbenchError(f"--backend {config.backend}: not available on this machine: {reason}")
    return device.open_session(config.device_settings)


def measure_new_run(
    config: RunConfig,
    results_dir: Path,
    show_table: bool,
    calibration: str | None = None,
    stack: StackEnvironment | None = None,
    budget: tuple[BudgetPlan, float] | None = None,
    quiet: bool = False,
    keep_going: bool = False,
    row_timeout_s: float | None = None,
    checker: WorkerProcess | None = None,
) -> int:
    """A new run's file, measured; `budget`: a time budget's plan (its timing already in
    `config`) and the measuring deadline (time.time()), both stored in the run."""
    from fbench.bench import environment
    from fbench.bench.calibration import calibration_record
    from fbench.bench.plan.rows import plan_rows
    from fbench.bench.results import RunResult, RunStore, new_run_id, now_iso

    plans = plan_rows(config)
    session = _open_session(config)
    env = {**environment.collect(), **session.environment()}
    if stack is not None:  # --with: the versions the workers import are the run's
        env.update(stack.environment_fields(env))
    env["calibration"] = calibration_record(calibration, config.device, env, config.dtype)
    run_id = new_run_id(results_dir, config.device, config.backend)
    path = results_dir / f"{run_id}.json"
    result = RunResult(
        run_id=run_id,
        created=now_iso(),
        environment=env,
        config=config.to_dict(),
        rows=[],
        rows_planned=len(plans),
        extra={"time_budget": budget[0].to_dict()} if budget else {},
    )
    try:
        store = RunStore.create(path, result)
    except BaseException:
        session.close()
        raise
    try:
        return _record(
            store,
            plans,
            config,
            session,
            done_before=0,
            show_table=show_table,
            stop_at=budget[1] if budget else None,
            quiet=quiet,
            keep_going=keep_going,
            row_timeout_s=row_timeout_s,
            checker=checker,
        )
    finally:
        store.close()


def resume_run(
    reference: str,
    results_dir: Path,
    show_table: bool,
    quiet: bool = False,
    keep_going: bool = False,
    row_timeout_s: float | None = None,
) -> int:
    from fbench.bench.results import RunStore, now_iso, resolve_path

    path = resolve_path(reference, results_dir)
    store = RunStore.open(path)  # locked: a second --resume of this run stops here
    try:
        stored = store.result
        config = stored_config(stored, path)
        plans, retimed = left_to_do(stored, config, path)
        if not plans:
            if stored.state != "complete":
                store.update(state="complete", finished=stored.finished or now_iso())
            print(
                f"{path}: all {len(stored.rows)} rows are already stored; nothing to resume",
                file=sys.stderr,
            )
            if show_table:
                _print_table(path)
            else:
                print(summary_line(store.result, path))
            # As a fresh run ends: 0 only when every row was measured (failed rows are not
            # retried, so resuming again would not change that).
            _raise_if_failed(store.result, path)
            return 0
        session = _open_session(config)
        store.update(state="running", resumed=[*stored.resumed, now_iso()])
        return _record(
            store,
            plans,
            config,
            session,
            done_before=len(stored.rows) - len(retimed),
            show_table=show_table,
            retimed=retimed,
            quiet=quiet,
            keep_going=keep_going,
            row_timeout_s=row_timeout_s,
        )
    finally:
        store.close()


def _record(
    store: RunStore,
    plans: list[RowPlan],
    config: RunConfig,
    session: DeviceSession,
    done_before: int,
    show_table: bool,
    retimed: list[ResultRow] | None = None,
    stop_at: float | None = None,
    quiet: bool = False,
    keep_going: bool = False,
    row_timeout_s: float | None = None,
    checker: WorkerProcess | None = None,
) -> int:
    from fbench.bench.errors import EXIT_INTERRUPTED, IncompleteError
    from fbench.bench.measure.entry import measure
    from fbench.bench.measure.events import Event, RowFinished
    from fbench.bench.results import StorageError, json_text
    from fbench.progress import ProgressPrinter

    progress = ProgressPrinter(quiet=quiet)
    total = done_before + len(plans)
    progress.message(
        f"measuring {len(plans)} row(s) on {config.device}/{config.backend} "
        f"({config.timing.method} method) → {store.path}"
    )
    planned = processes_planned(config)
    # Until the first event: worker processes import torch, or this one builds the rows.
    progress.status(
        f"starting process 1/{planned}" if planned > 1 else f"building {len(plans)} row(s)"
    )

    def checkpoint(point: Checkpoint) -> None:
        failures = store.result.worker_failures
        store.put_rows(
            point.rows,
            state="partial",
            processes_finished=point.processes_finished,
            worker_failures=[*failures, point.failure] if point.failure else failures,
        )

    def worker_failed(failure: dict) -> None:  # one process: a worker the user's code ended
        _mark(store, worker_failures=[*store.result.worker_failures, failure])

    # A finished row is announced once it is stored, so a line on the screen is a row in
    # the file even when the run is stopped right after it.
    announced: list[RowFinished] = []

    def emit(event: Event) -> None:
        if isinstance(event, RowFinished):
            announced.append(event)
        else:
            progress(event)

    try:
        if planned > 1:
            store.update(processes_planned=planned)
        rows = measure(
            plans,
            config,
            session,
            emit,
            done_before=done_before,
            cache_dir=store.path.parent / "cache",
            checkpoint=checkpoint,
            stored=retimed or (),
            stop_at=stop_at,
            keep_going=keep_going,
            row_timeout_s=row_timeout_s,
            worker_failed=worker_failed,
            checker=checker,
        )
        for row in rows:
            store.append(row)
            while announced:
                progress(announced.pop(0))
    except KeyboardInterrupt:
        _mark(store, state="interrupted", **process_counts(store.result, planned))
        kept_keys = {row.key() for row in store.result.rows}
        for event in announced:  # stopped between storing a row and saying so
            if event.row.key() in kept_keys:
                progress(event)
        progress.close()
        kept = len(store.result.rows)
        print(
            f"interrupted: {kept} of {total} rows kept in {store.path}; finish with: "
            + _resume_command(store),
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except StorageError as error:
        for event in announced:  # measured, though not stored: shown, and printed below
            progress(event)
        progress.close()
        _mark(store, state="failed")  # likely fails too: the file keeps its last good state
        print(json_text(store.result.to_dict()))
        raise IncompleteError(
            f"{error}; {store.path} keeps the rows stored before, and the run with every "
            "measured row is printed on stdout (save it over the file to keep them); make "
            f"room, then: {_resume_command(store)}"
        ) from None
    except BaseException:
        progress.close()
        _mark(store, state="failed")
        raise
    finally:
        session.close()
    progress.close()
    return _finish(store, planned, show_table, quiet, stop_at)


def _finish(
    store: RunStore,
    planned: int,
    show_table: bool,
    quiet: bool = False,
    stop_at: float | None = None,
) -> int:
    """Store the final state of a run whose rows all came back: complete, or incomplete
    (exit 4) when rows or processes are missing (a worker process died). A complete run
    with failed rows exits 4 too, saying how many: 0 means every row was measured."""
    from fbench.bench.errors import IncompleteError
    from fbench.bench.results import StorageError, now_iso

    result = store.result
    missing = result.rows_planned - len(result.rows)
    short = rows_short(result, planned)
    failed = [row for row in result.rows if row.status == "failed"]
    if stop_at is not None:
        _mark_budget(store, stop_at, ran_out=bool(missing > 0 or short))
    if missing > 0 or short:
        _mark(store, state="incomplete", **process_counts(result, planned))
        died = store.result.worker_failures
        cause = f"; {died[-1]['message']}" if died else ""
        counts = [f"{len(failed)} row(s) failed"] * bool(failed)
        if short:
            counts.append(f"{len(short)} row(s) timed in fewer than {planned} processes")
        counts.append(f"{missing} not timed")
        if stop_at is not None and not died and (missing or short):
            budget_s = store.result.extra["time_budget"]["budget_s"]
            counts.append(
                f"the time budget of {budget_s:g} s ran out before every row had all its "
                "processes (a device still cooling measures nothing more)"
            )
        raise IncompleteError(
            f"incomplete: {' and '.join(counts)}{cause}; the finished rows are kept in "
            f"{store.path}; finish with: {_resume_command(store)}"
        )
    try:
        store.update(state="complete", finished=now_iso(), **process_counts(result, planned))
    except StorageError as error:  # every row is stored; only the state could not be
        raise IncompleteError(f"{error}; finish with: {_resume_command(store)}") from None
    if show_table:
        _print_table(store.path)
    else:
        print(summary_line(store.result, store.path))
    if not quiet:
        print(f"stored: {store.path}", file=sys.stderr)
    _raise_if_failed(result, store.path)
    return 0


def _raise_if_failed(result: RunResult, path: Path) -> None:
    """Exit 4 with the count of failed rows: a run's exit is 0 only when every row was
    measured (docs/crash-safety.md, "Exit codes")."""
    from fbench.bench.errors import IncompleteError

    failed = [row for row in result.rows if row.status == "failed"]
    if failed:
        first = failed[0]
        label = f"{first.operator} {first.shape_label}" if not first.network else first.network
        raise IncompleteError(
            f"{len(failed)} of {len(result.rows)} row(s) failed and were not measured "
            f"(first: {label}: {first.error or first.why}); the run is stored in {path}"
        )


def _mark_budget(store: RunStore, stop_at: float, ran_out: bool) -> None:
    """Record how the time budget went: seconds left at the end (negative: over), and
    whether it stopped the run short."""
    import time

    record = dict(store.result.extra.get("time_budget", {}))
    record.update(left_s=round(stop_at - time.time(), 1), ran_out=ran_out)
    store.result.extra["time_budget"] = record
    _mark(store)


def summary_line(result: RunResult, path: Path) -> str:
    """`run ID: complete, 16 of 16 rows (6 ok, 10 imprecise), stored in PATH`: what
    `--no-table` prints on stdout, so a script still learns the outcome and the file."""
    from collections import Counter

    counts = Counter(row.status for row in result.rows)
    order = ["ok", "imprecise", "disturbed", "failed"]
    statuses = ", ".join(
        f"{counts[s]} {s}" for s in [*order, *sorted(set(counts) - set(order))] if counts[s]
    )
    return (
        f"run {result.run_id}: {result.state}, {len(result.rows)} of {result.rows_planned} "
        f"rows" + (f" ({statuses})" if statuses else "") + f", stored in {path}"
    )


def _resume_command(store: RunStore) -> str:
    command = f"fbench run --resume {store.result.run_id}"
    if store.path.parent != Path(DEFAULT_RESULTS_DIR):
        command += f" --results-dir {store.path.parent}"
    return command


def _mark(store: RunStore, **changes: object) -> None:
    """Store the run's final state if the disk lets us: a failure to write it must not
    hide the error that ended the run, and the file keeps its last good state."""
    from fbench.bench.errors import FbenchError

    with contextlib.suppress(FbenchError, OSError):
        store.update(**changes)


def _print_table(path: Path) -> None:
    """Table 1 from the stored file, exactly as `fbench show` prints it.

    A --layers-sweep run prints the depth table instead (`fbench depth` on the file)."""
    from fbench.bench.results import read_result
    from fbench.commands import output_width
    from fbench.commands.show import render_run

    result = read_result(path)
    width = output_width(argparse.Namespace())  # fitted; `fbench show --wide` for the rest
    if len({row.layers for row in result.rows}) > 1:
        from fbench.commands.depth import render_depth

        print(render_depth(result.rows, width=width))
        return
    print(render_run(result, width=width))
