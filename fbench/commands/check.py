"""`fbench check`: do the backends compute the same function? Build once, compare outputs."""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fbench.bench.errors import one_line
from fbench.commands import add_wide, comma_list, int_list, output_width, positive_int

HELP = "compare torch eager, channels-last and ONNX Runtime outputs operator by operator"
DESCRIPTION = """\
Build each operator stack once (on the CPU, float32, random weights and input from the
seed) and compare the outputs of torch eager (the reference), torch channels-last and ONNX
Runtime (each exporter) by their largest absolute and relative errors. Nothing is timed.
Custom operators and zoo models are not checked: named, they are refused (exit 2); from the
config, left out with a warning.

Exit status: 0 when every output is within tolerance, 1 when any differs."""

EXIT_MISMATCH = 1


@dataclass(frozen=True)
class CheckRow:
    operator: str
    shape: str
    backend: str  # "torch channels-last", "onnxruntime (dynamo)", ...
    max_abs: float | None
    max_rel: float | None
    ok: bool
    detail: str = ""  # node count, or the error that stopped this backend


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fbench.operators import OPERATORS

    parser.add_argument(
        "--operators",
        metavar="LIST",
        type=comma_list,
        help=f"comma-separated subset of: {', '.join(OPERATORS)} (default: bench.toml's)",
    )
    parser.add_argument("--stages", metavar="LIST", type=int_list, help="e.g. 1,2")
    parser.add_argument("--layers", metavar="N", type=positive_int, help="stack depth")
    parser.add_argument(
        "--exporters",
        metavar="LIST",
        type=comma_list,
        default=["dynamo", "torchscript"],
        help="torch.onnx exporters to check (default: dynamo,torchscript)",
    )
    parser.add_argument(
        "--opset",
        metavar="N",
        type=positive_int,
        default=18,
        help="ONNX opset of the exported graphs (default: 18)",
    )
    parser.add_argument("--config", metavar="FILE", type=Path, help="experiment file")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 layers, 1/4 spatial size: under a minute (every operator is exported)",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no progress on stderr (errors still are)"
    )
    add_wide(parser)


def run(args: argparse.Namespace) -> int:
    from fbench.progress import ProgressPrinter

    progress = ProgressPrinter(quiet=args.quiet)
    progress.status("loading torch and ONNX Runtime")
    try:
        return _check(args, progress)
    finally:
        progress.close()


def _check(args: argparse.Namespace, progress: Any) -> int:
    from fbench.bench import config as config_module
    from fbench.bench.errors import FbenchError
    from fbench.bench.plan.rows import plan_rows
    from fbench.devices.onnxruntime_backend import EXPORTERS
    from fbench.reports.render import render
    from fbench.reports.table import Table

    for exporter in args.exporters:
        if exporter not in EXPORTERS:
            raise FbenchError(
                f"--exporters: unknown exporter {exporter!r}; known: dynamo, torchscript"
            )
    overrides = config_module.Overrides(
        device="cpu",
        backend="torch",
        operators=args.operators,
        stages=args.stages,
        layers=args.layers,
        quick=args.quick,
    )
    path = args.config if args.config is not None else config_module.default_config_path()
    config = config_module.load(path, overrides)
    plans = _own_plans(plan_rows(config), named=args.operators is not None, progress=progress)
    rows: list[CheckRow] = []
    for index, plan in enumerate(plans, 1):
        found = check_plan(
            plan,
            args.exporters,
            args.opset,
            lambda step, index=index, plan=plan: progress.status(
                f"[{index:>2}/{len(plans)}] {plan.label}: {step}"
            ),
        )
        rows.extend(found)
        verdict = "ok" if all(row.ok for row in found) else "MISMATCH"
        progress.message(f"[{index:>2}/{len(plans)}] {plan.label}: {verdict}")
    progress.close()
    table = [
        [
            row.operator,
            row.shape,
            row.backend,
            "—" if row.max_abs is None else f"{row.max_abs:.2e}",
            "—" if row.max_rel is None else f"{row.max_rel:.2e}",
            "ok" if row.ok else "MISMATCH",
            row.detail,
        ]
        for row in rows
    ]
    headers = ["Operator", "Feature map", "Against torch eager", "Max abs", "Max rel", "", ""]
    print(render(Table(headers, table), "text", output_width(args)))
    failed = [row for row in rows if not row.ok]
    if failed:
        print(f"{len(failed)} of {len(rows)} outputs differ from torch eager")
        return EXIT_MISMATCH
    print(f"all {len(rows)} outputs match torch eager")
    return 0


def _own_plans(plans: list[Any], named: bool, progress: Any) -> list[Any]:
    """The plans of fbench's own code. `check` builds and runs every module in fbench's own
    process, where a custom operator's or zoo model's code could end it with an exit code
    of its choosing and no message (docs/crash-safety.md, "Code that is not fbench's"), so
    it runs none: named on the command line, or all there is, they are refused in one line
    (exit 2); from the config beside fbench's own, they are left out with a warning."""
    from fbench.bench.errors import FbenchError
    from fbench.bench.measure.isolated import is_user_code

    theirs = list(dict.fromkeys(plan.operator for plan in plans if is_user_code(plan)))
    if not theirs:
        return plans
    why = (
        "check runs fbench's own operators only, since it builds them in its own process "
        "(fbench run checks and times custom code in a worker process)"
    )
    own = [plan for plan in plans if not is_user_code(plan)]
    if named or not own:
        raise FbenchError(f"operator {theirs[0]} is not fbench's: {why}")
    warning = f"fbench check: warning: left out {', '.join(theirs)}: {why}"
    if progress.quiet:  # shown with --quiet too: the table lacks these rows
        print(warning, file=sys.stderr)
    else:
        progress.message(warning)
    return own


def check_plan(
    plan: Any, exporters: list[str], opset: int, say: Callable[[str], None] = lambda step: None
) -> list[CheckRow]:
    """One operator stack: eager as the reference, every other backend against it; `say`
    hears each step as it starts (an export can take half a minute)."""
    import torch

    from fbench.bench.parity import output_error, tolerance_for
    from fbench.devices.onnxruntime_backend import create_session, export_model
    from fbench.devices.torch_backend import apply_memory_format

    say("building")
    module, example = plan.build()
    tolerance = tolerance_for("float32")
    with torch.inference_mode():
        reference = module(example).numpy()

    def compared(backend: str, output: Any, detail: str = "") -> CheckRow:
        error = output_error(reference, output)
        return CheckRow(
            plan.operator,
            plan.shape.label,
            backend,
            error.max_abs,
            error.max_rel,
            error.within(tolerance),
            detail or ("" if error.shape_matches else "output shapes differ"),
        )

    rows = []
    say("torch channels-last")
    nhwc_module, nhwc_input = apply_memory_format(copy.deepcopy(module), example, True)
    with torch.inference_mode():
        rows.append(compared("torch channels-last", nhwc_module(nhwc_input).contiguous().numpy()))
    for exporter in exporters:
        backend = f"onnxruntime ({exporter})"
        say(f"exporting to ONNX ({exporter}), then ONNX Runtime")
        try:
            exported = export_model(module, example, exporter, opset, cache_dir=None)
            session = create_session(exported.path, "cpu")
            output = session.run(None, {session.get_inputs()[0].name: example.numpy()})[0]
        except Exception as error:  # an export that fails is a finding, not a crash
            rows.append(
                CheckRow(
                    plan.operator, plan.shape.label, backend, None, None, False,
                    one_line(error)[:120],
                )
            )  # fmt: skip
            continue
        rows.append(compared(backend, output, f"{exported.nodes} ONNX nodes"))
    return rows
