"""How much of a row's process-to-process spread comes from the process's memory layout.

Times one row (default DWConv 384×14×14, 10 layers) in many fresh processes, the way a
worker of `fbench run` does (one thread, pinned, steady malloc), under four conditions,
interleaved so that the host's drift falls on all of them alike:

- randomised: address-space randomisation as the system has it, a fresh PYTHONHASHSEED for
  each process (what fbench's workers get);
- hash fixed: PYTHONHASHSEED=0 in every process, ASLR as the system has it;
- ASLR off: `personality(ADDR_NO_RANDOMIZE)` (as `setarch -R`), fresh hash seeds;
- both fixed: ASLR off and PYTHONHASHSEED=0: every process gets the same layout.

It prints, per condition, the processes' medians, their spread (max / min - 1) and their
coefficient of variation. If "both fixed" is much tighter than the rest, the spread is the
layout's, drawn anew in each process: averaging it needs processes, not longer sampling.
This is a benchmark, not a test: its numbers belong to the machine and the hour.

    uv run python benchmarks/layout.py
    uv run python benchmarks/layout.py --operator dwconv --stage 2 --processes 8 --out F.json
    uv run python benchmarks/layout.py --channels-last   # NHWC: no activation reorders
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fbench.bench.stats.timing import medians_spread  # noqa: E402

ADDR_NO_RANDOMIZE = 0x0040000  # linux/personality.h
CONDITIONS = {
    # name: (ASLR off, fixed hash seed)
    "randomised": (False, False),
    "hash fixed": (False, True),
    "ASLR off": (True, False),
    "both fixed": (True, True),
}


def _no_aslr() -> None:
    """preexec_fn: turn address-space randomisation off for the child (inherited by exec)."""
    libc = ctypes.CDLL(None, use_errno=True)
    current = libc.personality(0xFFFFFFFF)
    if current == -1 or libc.personality(current | ADDR_NO_RANDOMIZE) == -1:
        raise OSError(ctypes.get_errno(), "personality(ADDR_NO_RANDOMIZE) refused")


def worker_session(operator: str):
    """Set this process up as a worker is, before anything is built: torch imported, one
    thread, steady malloc, pinned, the operator looked up. Nothing runs in torch, so a fork
    server (benchmarks/fork_draws.py) can call it once and fork its draws from there."""
    import torch  # noqa: F401

    from fbench.devices import get_device
    from fbench.operators.registry import get_operator

    get_operator(operator)  # an unknown name fails here, in the server, not in each draw
    cpu = get_device("cpu")
    return cpu.open_session(cpu.settings)


def time_one_process(
    operator: str, stage: int, layers: int, seconds: float, channels_last: bool = False
) -> float:
    """In this (child) process: the row's median latency in ms, set up as a worker is."""
    import torch

    from fbench.bench import config as configuration
    from fbench.bench.stats.timing import median
    from fbench.devices.torch_backend import apply_memory_format
    from fbench.operators.registry import get_operator

    config = configuration.load(configuration.default_config_path())
    shape = next(shape for shape in config.stages if shape.stage == stage)
    spec = get_operator(operator)
    session = worker_session(operator)
    torch.manual_seed(config.seed)
    stack = spec.build(shape, spec.resolve_params(), layers)
    example = torch.randn(1, shape.channels, shape.height, shape.width)
    stack, example = apply_memory_format(stack, example, channels_last)  # --channels-last
    session.measure(lambda: stack(example), budget_s=0.3)  # warm-up
    return median(session.measure(lambda: stack(example), budget_s=seconds)) * 1e3


def run_child(condition: str, args: argparse.Namespace) -> float:
    aslr_off, hash_fixed = CONDITIONS[condition]
    seed = 0 if hash_fixed else random.SystemRandom().randrange(1, 2**32)
    command = [sys.executable, __file__, "--child", "--operator", args.operator]
    command += ["--stage", str(args.stage), "--layers", str(args.layers)]
    command += ["--seconds", str(args.seconds)] + (
        ["--channels-last"] if args.channels_last else []
    )
    done = subprocess.run(
        command,
        env={**os.environ, "PYTHONHASHSEED": str(seed)},
        preexec_fn=_no_aslr if aslr_off else None,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        lines = (done.stderr or "no message").strip().splitlines()
        raise SystemExit(f"layout: a {condition!r} process failed: {lines[-1]}")
    return float(done.stdout.strip())


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that say which stack a process times (this script's and fork_draws.py's)."""
    parser.add_argument("--operator", default="dwconv")
    parser.add_argument("--stage", type=int, default=3, help="1-4 (default 3: 384×14×14)")
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--channels-last", action="store_true", help="NHWC, as --channels-last")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_stack_arguments(parser)
    parser.add_argument("--processes", type=int, default=8, help="per condition (default 8)")
    parser.add_argument("--seconds", type=float, default=1.0, help="sampling per process")
    parser.add_argument("--out", type=Path, help="also write the medians here (JSON)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.processes < 2:
        parser.error("--processes must be at least 2 (a spread needs two medians)")
    if args.child:
        latency = time_one_process(
            args.operator, args.stage, args.layers, args.seconds, args.channels_last
        )
        print(f"{latency:.6f}")
        return 0
    medians: dict[str, list[float]] = {name: [] for name in CONDITIONS}
    for number in range(1, args.processes + 1):
        for name in CONDITIONS:
            medians[name].append(run_child(name, args))
        print(f"round {number}/{args.processes} done", file=sys.stderr)
    label = f"{args.operator} stage {args.stage}, {args.layers} layers" + (
        ", channels-last" if args.channels_last else ""
    )
    print(f"{label}: {args.processes} processes per condition, {args.seconds:g} s each")
    for name, values in medians.items():
        cv = statistics.stdev(values) / statistics.mean(values)
        print(
            f"  {name:11s} spread {medians_spread(values):6.1%}  cv {cv:5.1%}  "
            f"medians {' '.join(f'{value:.3f}' for value in values)} ms"
        )
    if args.out:
        record = {"row": label, "seconds": args.seconds, "medians_ms": medians}
        args.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
