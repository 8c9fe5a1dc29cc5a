"""`fbench run`: measure operator stacks on a device and store the result file row by row."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from bench.config import DTYPES
from fbench.commands import (
    add_backend_options,
    add_results_dir,
    backend_options,
    comma_list,
    int_list,
    int_list_of,
    nonempty,
    positive_int,
)

if TYPE_CHECKING:
    from bench.config import RunConfig
    from bench.measure.processes import Checkpoint
    from bench.measure.runner import RowPlan
    from bench.results import RunResult, RunStore
    from devices import DeviceSession

HELP = "measure the operators (or the networks) on a device and store the result"
DESCRIPTION = """\
Measure the operators of the paper's Table 1 (by default Conv, GConv, DWConv and PConv,
10 layers deep, at the four FasterNet stage shapes) on one device, store every finished row
in results/<run-id>.json as it finishes, and print Table 1 beside the paper's numbers.

The experiment comes from --config (default: ./bench.toml if present, else the built-in
defaults, which are the same as the repository's bench.toml); flags override it.
Ctrl-C or SIGTERM keeps every finished row (with --processes, every finished process);
finish the rest with --resume RUN_ID. A worker process that dies is recorded and the run
goes on; its rows are left short of a process and the run exits 4 (incomplete): --resume
adds what is missing. See docs/crash-safety.md.

--suite networks measures the paper's Figure 2 / Table 3 networks instead: whole models
with random weights at batch 1, BatchNorm folded into convolutions, 224×224 input (256×256
for MobileViT and EdgeNeXt), FLOPs and parameters counted; --models picks a subset."""

# Beyond these a run is a mistake, not an experiment (and a sweep would never end).
MAX_LAYERS = 1000
MAX_PROCESSES = 64

# Flags that change what is measured (or what is recorded beside it): meaningless with
# --resume, which keeps the stored config and environment.
EXPERIMENT_FLAGS = (
    "config",
    "device",
    "backend",
    "operators",
    "stages",
    "layers",
    "batch",
    "method",
    "pin_core",
    "malloc",
    "dtype",
    "quick",
    "suite",
    "models",
    "calibration",
    "layers_sweep",
    "perf_counters",
    "processes",
    "channels_last",
    "exporter",
    "opset",
    "operator",
    "shape",
    "input_size",
)


def pin_core(text: str) -> int | str:
    if text in ("auto", "none"):
        return text
    try:
        core = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a core number, auto or none, got {text!r}"
        ) from None
    if core < 0:
        raise argparse.ArgumentTypeError(f"expected a core number ≥ 0, got {text!r}")
    return core


_depths = int_list_of("depths", "1,5,10")


def depth_list(text: str) -> list[int]:
    depths = _depths(text)
    if not all(1 <= depth <= MAX_LAYERS for depth in depths):
        raise argparse.ArgumentTypeError(f"expected depths from 1 to {MAX_LAYERS}, got {text!r}")
    return depths


def _at_most(limit: int) -> Callable[[str], int]:
    def bounded(text: str) -> int:
        value = positive_int(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f"expected at most {limit}, got {text!r}")
        return value

    return bounded


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from devices import BACKENDS, DEVICES
    from networks import NETWORKS
    from operators import OPERATORS
    from operators.custom import entry_point_operators

    installed = entry_point_operators()
    parser.add_argument(
        "--device",
        metavar="NAME",
        type=nonempty,
        help=f"where to measure: {', '.join(DEVICES)} (default: cpu)",
    )
    parser.add_argument(
        "--backend",
        metavar="NAME",
        type=nonempty,
        help=f"engine that runs the operators: {', '.join(BACKENDS)} (default: torch)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="experiment file (default: ./bench.toml if present)",
    )
    parser.add_argument(
        "--suite",
        choices=("operators", "networks"),
        help="operators: Table 1's operator stacks (default); networks: the Figure 2 / "
        "Table 3 networks",
    )
    parser.add_argument(
        "--models",
        metavar="LIST",
        type=comma_list,
        help=f"with --suite networks, a comma-separated subset of: {', '.join(NETWORKS)}; "
        "or any zoo model as timm:NAME or torchvision:NAME (random weights)",
    )
    parser.add_argument(
        "--input-size",
        metavar="N",
        type=positive_int,
        help="with --suite networks, the input height and width (default: each network's, 224)",
    )
    parser.add_argument(
        "--operators",
        metavar="LIST",
        type=comma_list,
        help=f"comma-separated subset of: {', '.join(OPERATORS)}; or [[operator]] names; or "
        "operators installed packages ship"
        + (f" (here: {', '.join(installed)})" if installed else " (fbench devices lists them)"),
    )
    parser.add_argument(
        "--operator",
        metavar="[NAME=]FILE.py|MODULE:FACTORY[:KEY=VALUE,...]",
        action="append",
        help="also measure your own operator: FACTORY(channels, **params) returns one "
        "nn.Module layer that keeps the feature map's shape; repeatable "
        "(docs/custom-operators.md)",
    )
    parser.add_argument(
        "--shape",
        metavar="CxHxW",
        action="append",
        help="measure at this feature map, e.g. 64x56x56 (stage 0 in results); repeatable; "
        "with --shape only --stages' stages are measured besides",
    )
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="an operator or model that fails its check before timing is stored as failed "
        "rows instead of stopping the run (exit 2)",
    )
    parser.add_argument(
        "--stages",
        metavar="LIST",
        type=int_list,
        help="comma-separated stage numbers, e.g. 1,2 (default: all four)",
    )
    parser.add_argument(
        "--layers",
        metavar="N",
        type=_at_most(MAX_LAYERS),
        help=f"stack depth of every operator, 1 to {MAX_LAYERS} (default: 10, as the paper)",
    )
    parser.add_argument(
        "--layers-sweep",
        metavar="LIST",
        type=depth_list,
        help="measure every operator at each of these depths in one interleaved run, "
        "e.g. 1,5,10, for `fbench depth` (replaces --layers)",
    )
    parser.add_argument(
        "--batch",
        metavar="N",
        type=positive_int,
        help="batch size (default: the device's: 1 on CPU/ARM, 32 on CUDA)",
    )
    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        help="data type of weights and inputs (default: float32)",
    )
    parser.add_argument(
        "--method",
        choices=("adaptive", "official"),
        help="adaptive: median with a 95%% CI target, interleaved rounds "
        "(default); official: the FasterNet script's mean of 200 calls",
    )
    parser.add_argument(
        "--processes",
        metavar="N",
        type=_at_most(MAX_PROCESSES),
        help="time every row in N fresh worker processes, one after another, and pool the "
        "samples (default: [timing] processes in bench.toml, 6; the official method and "
        "--quick use 1)",
    )
    parser.add_argument(
        "--pin-core",
        metavar="N|auto|none",
        type=pin_core,
        help="core to pin the process to (default: auto, the last allowed core)",
    )
    parser.add_argument(
        "--malloc",
        choices=("steady", "system"),
        help="steady: fix glibc's malloc thresholds so no row's speed depends on the rows "
        "before it (default); system: leave malloc as it is (a fresh process's behaviour)",
    )
    add_backend_options(parser)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke-sized run in a few seconds: 2 layers, 1/4 spatial size, "
        "loose timing (not comparable with the paper)",
    )
    parser.add_argument(
        "--resume",
        metavar="RUN_ID",
        help="finish a run that is not complete (interrupted, partial, incomplete): time its "
        "missing rows and processes (an id in --results-dir, or a file)",
    )
    parser.add_argument(
        "--calibration",
        metavar="FILE|none",
        help="record this device calibration (fbench calibrate) in the result; default: the "
        "one in calibrations/ for this device identity, if any",
    )
    parser.add_argument(
        "--perf-counters",
        action="store_true",
        help="also record cycles, instructions and LLC misses per call from `perf stat` "
        "(Linux; null where unsupported)",
    )
    parser.add_argument("--no-table", action="store_true", help="do not print Table 1 at the end")
    add_results_dir(parser)


def run(args: argparse.Namespace) -> int:
    with _signals_interrupt():
        return _run(args)


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
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


def _run(args: argparse.Namespace) -> int:
    from bench import config as config_module
    from bench.errors import FbenchError

    results_dir = Path(args.results_dir)
    if args.resume:
        given = [
            f"--{name.replace('_', '-')}"
            for name in EXPERIMENT_FLAGS
            if getattr(args, name) not in (None, False)
        ]
        if given:
            raise FbenchError(
                f"--resume continues a stored run with its own configuration; drop "
                f"{', '.join(given)}"
            )
        return _resume(args.resume, results_dir, show_table=not args.no_table)

    overrides = config_module.Overrides(
        device=args.device,
        backend=args.backend,
        operators=args.operators,
        stages=args.stages,
        layers=args.layers,
        batch=args.batch,
        method=args.method,
        pin_core=args.pin_core,
        malloc=args.malloc,
        dtype=args.dtype,
        quick=args.quick,
        suite=args.suite,
        models=args.models,
        layers_sweep=args.layers_sweep,
        perf_counters=args.perf_counters,
        processes=args.processes,
        backend_options=backend_options(args),
        operator_flags=args.operator,
        shapes=args.shape,
        input_size=args.input_size,
    )
    if args.config is not None:
        _check_regular_file(args.config, "--config")
    if args.calibration not in (None, "none") and Path(args.calibration).exists():
        _check_regular_file(Path(args.calibration), "--calibration")
    path = args.config if args.config is not None else config_module.default_config_path()
    config = config_module.load(path, overrides)
    _check_bounds(config, f"{path}:" if path is not None else "")
    _preflight(config, keep_going=args.keep_going)  # before anything is created or timed
    _check_results_dir(results_dir)
    return _measure(config, results_dir, show_table=not args.no_table, calibration=args.calibration)


def _check_regular_file(path: Path, flag: str) -> None:
    """A FIFO or a device would block the read forever or never end: refuse it up front."""
    from bench.errors import FbenchError

    if path.exists() and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file (a FIFO or a device?)"
        raise FbenchError(f"{flag} {path}: {kind}")


def _check_bounds(config: RunConfig, where: str) -> None:
    """Limits a config file could exceed (the flags' own types enforce them too)."""
    from bench.errors import FbenchError

    prefix = f"{where} " if where else ""
    if max(config.depths) > MAX_LAYERS:
        raise FbenchError(f"{prefix}layers must be at most {MAX_LAYERS}, got {max(config.depths)}")
    if config.timing.processes > MAX_PROCESSES:
        raise FbenchError(
            f"{prefix}[timing] processes must be at most {MAX_PROCESSES}, "
            f"got {config.timing.processes}"
        )


def _check_results_dir(results_dir: Path) -> None:
    """One line naming --results-dir when no result file could be written there, before
    anything is measured."""
    from bench.errors import FbenchError

    where = f"--results-dir {results_dir}"
    if results_dir.exists() and not results_dir.is_dir():
        raise FbenchError(f"{where}: not a directory")
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FbenchError(f"{where}: cannot create it ({error.strerror or error})") from None
    if not os.access(results_dir, os.W_OK | os.X_OK):
        raise FbenchError(f"{where}: not writable")


def _preflight(config: RunConfig, keep_going: bool) -> None:
    """Build every custom operator and zoo model once before anything is timed: one that
    cannot run stops the run (exit 2), or with --keep-going is stored as failed rows."""
    from bench.errors import FbenchError
    from networks.registry import zoo_problems
    from operators.custom import preflight_config

    problems = [*preflight_config(config), *zoo_problems(config)]
    if problems and not keep_going:
        raise FbenchError(problems[0])
    for problem in problems:
        print(f"fbench run: warning: {problem} (stored as failed rows)", file=sys.stderr)


def _open_session(config: RunConfig) -> DeviceSession:
    from bench.errors import FbenchError
    from devices import get_backend, get_device

    device = get_device(config.device)
    reason = device.unavailable_reason()
    if reason:
        raise FbenchError(f"--device {device.name}: not available on this machine: {reason}")
    reason = get_backend(config.backend).unavailable_reason(device.name)
    if reason:
        raise FbenchError(f"--backend {config.backend}: not available on this machine: {reason}")
    return device.open_session(config.device_settings)


def _measure(
    config: RunConfig, results_dir: Path, show_table: bool, calibration: str | None = None
) -> int:
    from bench import environment
    from bench.calibration import calibration_record
    from bench.measure.runner import plan_rows
    from bench.results import RunResult, RunStore, new_run_id, now_iso

    plans = plan_rows(config)
    session = _open_session(config)
    env = {**environment.collect(), **session.environment()}
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
    )
    try:
        store = RunStore.create(path, result)
    except BaseException:
        session.close()
        raise
    try:
        return _record(store, plans, config, session, done_before=0, show_table=show_table)
    finally:
        store.close()


def _resume(reference: str, results_dir: Path, show_table: bool) -> int:
    from bench.results import RunStore, now_iso, resolve_path

    path = resolve_path(reference, results_dir)
    store = RunStore.open(path)  # locked: a second --resume of this run stops here
    try:
        stored = store.result
        config = _stored_config(stored, path)
        plans, retimed = _left_to_do(stored, config, path)
        if not plans:
            if stored.state != "complete":
                store.update(state="complete", finished=stored.finished or now_iso())
            print(
                f"{path}: all {len(stored.rows)} rows are already stored; nothing to resume",
                file=sys.stderr,
            )
            if show_table:
                _print_table(path)
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
        )
    finally:
        store.close()


def _stored_config(stored: RunResult, path: Path) -> RunConfig:
    """The stored run's config, checked as a config file would be, on this machine."""
    from bench import environment
    from bench.config import RunConfig, check_timing
    from bench.errors import FbenchError
    from devices import BACKENDS, DEVICES

    where = f"{path}: cannot resume:"
    try:
        config = RunConfig.from_dict(stored.config)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise FbenchError(f"{where} its config block is invalid ({error})") from None
    if config.device not in DEVICES:
        raise FbenchError(f"{where} its config names an unknown device {config.device!r}")
    if config.backend not in BACKENDS:
        raise FbenchError(f"{where} its config names an unknown backend {config.backend!r}")
    if min(config.depths) < 1:
        raise FbenchError(f"{where} its config has layers {min(config.depths)}")
    _check_bounds(config, f"{where} its config:")
    check_timing(f"{where} its config: [timing]", config.timing)
    here = environment.collect()
    for key in ("machine", "cpu_model", "torch"):
        if stored.environment.get(key) != here.get(key):
            raise FbenchError(
                f"{path}: cannot resume here: the run was measured with {key} "
                f"{stored.environment.get(key)!r}, this machine has {here.get(key)!r}"
            )
    return config


def _left_to_do(stored: RunResult, config: RunConfig, path: Path) -> tuple[list[RowPlan], list]:
    """The plans to time (rows not stored, and rows timed in fewer processes than
    planned) and the stored rows among them, whose processes count towards the plan."""
    from bench.errors import FbenchError
    from bench.measure.processes import processes_of
    from bench.measure.runner import plan_rows

    try:
        every = plan_rows(config)
    except (KeyError, TypeError, ValueError) as error:
        raise FbenchError(f"{path}: cannot resume: its config plans no rows ({error})") from None
    planned = {plan.key() for plan in every}
    strays = [row for row in stored.rows if row.key() not in planned]
    if strays:
        raise FbenchError(
            f"{path}: cannot resume: row {strays[0].operator} {strays[0].shape_label} is not "
            "one its config plans"
        )
    wanted = _processes_planned(config)
    by_key = {row.key(): row for row in stored.rows}
    plans = [
        plan
        for plan in every
        if plan.key() not in by_key
        or (by_key[plan.key()].status != "failed" and processes_of(by_key[plan.key()]) < wanted)
    ]
    retimed = [by_key[plan.key()] for plan in plans if plan.key() in by_key]
    return plans, retimed


def _processes_planned(config: RunConfig) -> int:
    timing = config.timing
    return timing.processes if timing.method == "adaptive" else 1


def _record(
    store: RunStore,
    plans: list[RowPlan],
    config: RunConfig,
    session: DeviceSession,
    done_before: int,
    show_table: bool,
    retimed: list | None = None,
) -> int:
    from bench.errors import EXIT_INTERRUPTED, IncompleteError
    from bench.measure.runner import Event, RowFinished, measure
    from bench.results import StorageError, json_text, now_iso
    from fbench.progress import ProgressPrinter

    progress = ProgressPrinter()
    total = done_before + len(plans)
    progress.message(
        f"measuring {len(plans)} row(s) on {config.device}/{config.backend} "
        f"({config.timing.method} method) → {store.path}"
    )
    planned = _processes_planned(config)

    def checkpoint(point: Checkpoint) -> None:
        failures = store.result.worker_failures
        store.put_rows(
            point.rows,
            state="partial",
            processes_finished=point.processes_finished,
            worker_failures=[*failures, point.failure] if point.failure else failures,
        )

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
        )
        for row in rows:
            store.append(row)
            while announced:
                progress(announced.pop(0))
    except KeyboardInterrupt:
        _mark(store, state="interrupted", **_process_counts(store.result, planned))
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
    missing = store.result.rows_planned - len(store.result.rows)
    short = _rows_short(store.result, planned)
    if missing > 0 or short:
        _mark(store, state="incomplete", **_process_counts(store.result, planned))
        died = store.result.worker_failures
        cause = f"; {died[-1]['message']}" if died else ""
        raise IncompleteError(
            f"incomplete: {len(short)} row(s) timed in fewer than {planned} processes and "
            f"{missing} not timed{cause}; the finished processes are kept in {store.path}; "
            f"finish with: {_resume_command(store)}"
        )
    try:
        store.update(state="complete", finished=now_iso(), **_process_counts(store.result, planned))
    except StorageError as error:  # every row is stored; only the state could not be
        raise IncompleteError(f"{error}; finish with: {_resume_command(store)}") from None
    if show_table:
        _print_table(store.path)
    print(f"stored: {store.path}", file=sys.stderr)
    return 0


def _resume_command(store: RunStore) -> str:
    command = f"fbench run --resume {store.result.run_id}"
    if store.path.parent != Path("results"):
        command += f" --results-dir {store.path.parent}"
    return command


def _rows_short(result: RunResult, planned: int) -> list:
    from bench.measure.processes import processes_of

    return [row for row in result.rows if row.status != "failed" and processes_of(row) < planned]


def _process_counts(result: RunResult, planned: int) -> dict[str, int]:
    """processes_finished: how many of the planned processes every planned row has had."""
    if planned < 2:
        return {}
    from bench.measure.processes import processes_of

    timed = [processes_of(row) for row in result.rows if row.status != "failed"]
    unstored = result.rows_planned > len(result.rows)
    return {"processes_finished": 0 if unstored else min([planned, *timed])}


def _mark(store: RunStore, **changes: object) -> None:
    """Store the run's final state if the disk lets us: a failure to write it must not
    hide the error that ended the run, and the file keeps its last good state."""
    from bench.errors import FbenchError

    with contextlib.suppress(FbenchError, OSError):
        store.update(**changes)


def _print_table(path: Path) -> None:
    """Table 1 from the stored file, exactly as `fbench show` prints it.

    A --layers-sweep run prints the depth table instead (`fbench depth` on the file)."""
    from bench.results import read_result
    from fbench.commands.show import render_run

    result = read_result(path)
    if len({row.layers for row in result.rows}) > 1:
        from fbench.commands.depth import render_depth

        print(render_depth(result.rows))
        return
    print(render_run(result))
