"""`fbench run`: measure operator stacks on a device and store the result file row by row."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

from fbench.bench.config import DTYPES
from fbench.commands import (
    add_backend_options,
    add_results_dir,
    backend_options,
    comma_list,
    int_list,
    int_list_of,
    nonempty,
    pin_core,
    positive_int,
)
from fbench.commands.run_checks import (
    MAX_LAYERS,
    MAX_PROCESSES,
    build_stack,
    check_bounds,
    check_memory,
    check_regular_file,
    check_results_dir,
    preflight,
)
from fbench.commands.run_recording import measure_new_run, resume_run, signals_interrupt

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
adds what is missing. Custom operators and zoo models always run in worker processes, so
their code cannot end or hang fbench (--row-timeout); a run in which any row failed exits 4
with the count. See docs/crash-safety.md.

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
    "with_",
    "time_budget",
)


_depths = int_list_of("depths", "1,5,10")


def duration(text: str) -> float:
    """--time-budget's value in seconds: 90, 90s, 20m, 1.5h."""
    from fbench.bench.config.model import parse_duration
    from fbench.bench.errors import FbenchError

    try:
        return parse_duration(text, "")
    except FbenchError as error:
        raise argparse.ArgumentTypeError(str(error).strip()) from None


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


# Long enough for any honest row (a large network's build and ONNX export, 200 official
# calls on a Raspberry Pi), short enough that a hung forward does not hold a CI job for hours.
DEFAULT_ROW_TIMEOUT_S = 600.0


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fbench.devices import BACKENDS, DEVICES
    from fbench.networks import NETWORKS
    from fbench.operators import OPERATORS
    from fbench.operators.custom import entry_point_operators

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
        "rows instead of stopping the run (exit 2); one whose code ends its worker process "
        "fails its rows and the others are timed in a fresh one (else the run stops, exit 4)",
    )
    parser.add_argument(
        "--row-timeout",
        metavar="SECONDS",
        type=seconds,
        default=DEFAULT_ROW_TIMEOUT_S,
        help="a worker process (every process of a --processes run, and the one that runs "
        "custom operators and zoo models) that shows no progress for this long, e.g. a "
        "forward that hangs, is stopped and its rows fail (default: %(default)g)",
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
        help="data type of weights and inputs (default: float32); int8 with --backend "
        "executorch only (XNNPACK's quantizer)",
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
        "--with",
        dest="with_",
        metavar="PACKAGE==VERSION",
        action="append",
        help="time in worker processes that import this version of one of the project's "
        "dependencies (e.g. torch==2.9.1; repeatable): uv builds that environment from the "
        "project's lock once and caches it (docs/backends.md)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke-sized run (~10 s with torch on a CPU; onnxruntime's exports add ~30 s): "
        "2 layers, 1/4 spatial size, loose timing (not comparable with the paper)",
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
    parser.add_argument(
        "--time-budget",
        metavar="DURATION",
        type=duration,
        help="finish the whole run within this time, e.g. 90, 90s or 20m: processes, sampling "
        "per row and cool-down waits are chosen to fit it, and it says what precision that "
        "allows (default: [run] time_budget in bench.toml, else none)",
    )
    parser.add_argument(
        "--no-table",
        action="store_true",
        help="print one summary line (state, rows by status, file) instead of Table 1",
    )
    parser.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress on stderr (errors still are)",
    )
    add_results_dir(parser)


def run(args: argparse.Namespace) -> int:
    with signals_interrupt():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    started = time.time()  # a --time-budget counts from here at the latest
    from fbench.bench import config as config_module
    from fbench.bench.errors import FbenchError

    results_dir = Path(args.results_dir)
    if args.resume:
        given = [
            f"--{name.rstrip('_').replace('_', '-')}"
            for name in EXPERIMENT_FLAGS
            if getattr(args, name) not in (None, False)
        ]
        if given:
            raise FbenchError(
                f"--resume continues a stored run with its own configuration; drop "
                f"{', '.join(given)}"
            )
        return resume_run(
            args.resume,
            results_dir,
            show_table=not args.no_table,
            quiet=args.quiet,
            keep_going=args.keep_going,
            row_timeout_s=args.row_timeout,
        )

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
        stack=tuple(args.with_ or ()),
    )
    if args.config is not None:
        check_regular_file(args.config, "--config")
    if args.calibration not in (None, "none") and Path(args.calibration).exists():
        check_regular_file(Path(args.calibration), "--calibration")
    path = args.config if args.config is not None else config_module.default_config_path()
    config = config_module.load(path, overrides)
    check_bounds(config, f"{path}:" if path is not None else "")
    check_memory(config)
    # before anything is created or timed
    checker = preflight(config, keep_going=args.keep_going, row_timeout_s=args.row_timeout)
    try:
        check_results_dir(results_dir)
        stack = build_stack(config, args.with_ or (), quiet=args.quiet)  # before the file
        budget_s = args.time_budget
        if budget_s is None:
            budget_s = config_module.load_run_settings(path)["time_budget"]
        budget = None
        if budget_s is not None:
            from fbench.bench.plan.rows import plan_rows
            from fbench.commands.run_budget import plan_budget

            config, plan, stop_at = plan_budget(config, budget_s, len(plan_rows(config)), started)
            if not args.quiet:
                print(plan.sentence(), file=sys.stderr)
            budget = (plan, stop_at)
        return measure_new_run(
            config,
            results_dir,
            show_table=not args.no_table,
            calibration=args.calibration,
            stack=stack,
            quiet=args.quiet,
            keep_going=args.keep_going,
            row_timeout_s=args.row_timeout,
            checker=checker,
            budget=budget,
        )
    finally:
        if checker is not None:
            checker.stop()  # used up by the run, or not needed: stopping it again is a no-op
