"""`fbench run`: measure operator stacks on a device and store the result file row by row."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bench.commands import (
    add_backend_options,
    add_results_dir,
    backend_options,
    comma_list,
    int_list,
    positive_int,
)
from bench.config import DTYPES

if TYPE_CHECKING:
    from bench.config import RunConfig
    from bench.results import RunStore
    from bench.runner import RowPlan
    from devices import DeviceSession

HELP = "measure the operators (or the networks) on a device and store the result"
DESCRIPTION = """\
Measure the operators of the paper's Table 1 (by default Conv, GConv, DWConv and PConv,
10 layers deep, at the four FasterNet stage shapes) on one device, store every finished row
in results/<run-id>.json as it finishes, and print Table 1 beside the paper's numbers.

The experiment comes from --config (default: ./bench.toml if present, else the built-in
defaults, which are the same as the repository's bench.toml); flags override it.
Ctrl-C keeps every finished row: finish the rest with --resume RUN_ID.

--suite networks measures the paper's Figure 2 / Table 3 networks instead: whole models
with random weights at batch 1, BatchNorm folded into convolutions, 224×224 input (256×256
for MobileViT and EdgeNeXt), FLOPs and parameters counted; --models picks a subset."""

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


def depth_list(text: str) -> list[int]:
    try:
        return [int(item) for item in comma_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated depths like 1,5,10, got {text!r}"
        ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from devices import BACKENDS, DEVICES
    from networks import NETWORKS
    from operators import OPERATORS
    from operators.custom import entry_point_operators

    installed = entry_point_operators()
    parser.add_argument(
        "--device", metavar="NAME", help=f"where to measure: {', '.join(DEVICES)} (default: cpu)"
    )
    parser.add_argument(
        "--backend",
        metavar="NAME",
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
        type=positive_int,
        help="stack depth of every operator (default: 10, as the paper)",
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
        type=positive_int,
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
        help="finish an interrupted run (an id in --results-dir, or a file)",
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
    path = args.config if args.config is not None else config_module.default_config_path()
    config = config_module.load(path, overrides)
    _preflight(config, keep_going=args.keep_going)
    return _measure(config, results_dir, show_table=not args.no_table, calibration=args.calibration)


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
    from bench.results import RunResult, RunStore, new_run_id, now_iso
    from bench.runner import plan_rows

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
    store = RunStore.create(path, result)
    return _record(store, plans, config, session, done_before=0, show_table=show_table)


def _resume(reference: str, results_dir: Path, show_table: bool) -> int:
    from bench import environment
    from bench.config import RunConfig
    from bench.errors import FbenchError
    from bench.results import RunStore, now_iso, read_result, resolve_path
    from bench.runner import plan_rows

    path = resolve_path(reference, results_dir)
    stored = read_result(path)
    try:
        config = RunConfig.from_dict(stored.config)
    except (KeyError, TypeError, ValueError) as error:
        raise FbenchError(f"{path}: cannot resume: its config block is invalid ({error})") from None
    here = environment.collect()
    for key in ("machine", "cpu_model", "torch"):
        if stored.environment.get(key) != here.get(key):
            raise FbenchError(
                f"{path}: cannot resume here: the run was measured with {key} "
                f"{stored.environment.get(key)!r}, this machine has {here.get(key)!r}"
            )
    done = {row.key() for row in stored.rows}
    plans = [plan for plan in plan_rows(config) if plan.key() not in done]
    if not plans:
        print(
            f"{path}: all {len(stored.rows)} rows are already stored; nothing to resume",
            file=sys.stderr,
        )
        if show_table:
            _print_table(path)
        return 0
    session = _open_session(config)
    store = RunStore(
        path, dataclasses.replace(stored, state="running", resumed=[*stored.resumed, now_iso()])
    )
    store.save()
    return _record(
        store, plans, config, session, done_before=len(stored.rows), show_table=show_table
    )


def _record(
    store: RunStore,
    plans: list[RowPlan],
    config: RunConfig,
    session: DeviceSession,
    done_before: int,
    show_table: bool,
) -> int:
    from bench.errors import EXIT_INTERRUPTED
    from bench.progress import ProgressPrinter
    from bench.results import now_iso
    from bench.runner import measure

    progress = ProgressPrinter()
    total = done_before + len(plans)
    progress.message(
        f"measuring {len(plans)} row(s) on {config.device}/{config.backend} "
        f"({config.timing.method} method) → {store.path}"
    )
    try:
        rows = measure(
            plans,
            config,
            session,
            progress,
            done_before=done_before,
            cache_dir=store.path.parent / "cache",
        )
        for row in rows:
            store.append(row)
    except KeyboardInterrupt:
        progress.close()
        store.update(state="interrupted")
        kept = len(store.result.rows)
        print(
            f"interrupted: {kept} of {total} rows kept in {store.path}; finish with: "
            f"fbench run --resume {store.result.run_id}"
            + (
                ""
                if store.path.parent == Path("results")
                else f" --results-dir {store.path.parent}"
            ),
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except BaseException:
        progress.close()
        store.update(state="failed")
        raise
    finally:
        session.close()
    progress.close()
    store.update(state="complete", finished=now_iso())
    if show_table:
        _print_table(store.path)
    print(f"stored: {store.path}", file=sys.stderr)
    return 0


def _print_table(path: Path) -> None:
    """Table 1 from the stored file, exactly as `fbench show` prints it.

    A --layers-sweep run prints the depth table instead (`fbench depth` on the file)."""
    from bench.commands.show import render_run
    from bench.results import read_result

    result = read_result(path)
    if len({row.layers for row in result.rows}) > 1:
        from bench.commands.depth import render_depth

        print(render_depth(result.rows))
        return
    print(render_run(result))
