"""`fbench calibrate`: measure a device's roofline ceilings and store them for its identity."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.commands import positive_int
from bench.commands.run import pin_core
from bench.config import DTYPES

HELP = "measure the device's ceilings (GEMM rate, memory bandwidth) for the roofline"
DESCRIPTION = """\
Measure the ceilings a roofline needs, under the same thread and pinning rules as
`fbench run` (one thread pinned to one core on the CPU, by default):
  gemm          dense n×n×n matrix product in the run's dtype, G multiply-adds/s
  memory_copy   a large streaming copy, GB/s counting reads + writes (the bandwidth slope)
  memory_triad  a = b + s·c on the same buffers, GB/s (2 reads + 1 write)
  cache_copy    a copy whose buffers fit in half the L2 cache, GB/s (where L2 is known)
Kernels are sampled in interleaved rounds; each ceiling is a median with its 95% interval.
About 15 s on a CPU (--quick: under a second, tiny sizes, for smoke tests only).

The file lands in calibrations/<device>-<model>-<dtype>.json, where `fbench run` finds it
and records it in the result file, and `fbench roofline` reads it."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from bench.calibration import DEFAULT_CALIBRATIONS_DIR
    from devices import DEVICES

    parser.add_argument(
        "--device", metavar="NAME", help=f"where to measure: {', '.join(DEVICES)} (default: cpu)"
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="experiment file whose device settings apply (default: ./bench.toml if present)",
    )
    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        help="data type of the GEMM and buffers (default: the experiment's, float32)",
    )
    parser.add_argument(
        "--pin-core",
        metavar="N|auto|none",
        type=pin_core,
        help="core to pin the process to (default: the experiment's, auto)",
    )
    parser.add_argument("--gemm-n", metavar="N", type=positive_int, help="GEMM size n (n×n×n)")
    parser.add_argument(
        "--memory-mb",
        metavar="MB",
        type=positive_int,
        help="size of each streaming buffer in MiB (default: 256 on CPU)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and a fraction of a second of sampling: checks the plumbing, "
        "not a ceiling (the file is marked quick)",
    )
    parser.add_argument(
        "--output",
        metavar="FILE",
        type=Path,
        help="where to store the calibration (default: DIR/<identity>.json)",
    )
    parser.add_argument(
        "--calibrations-dir",
        metavar="DIR",
        default=DEFAULT_CALIBRATIONS_DIR,
        help="where calibrations are stored by device identity (default: %(default)s/)",
    )


def run(args: argparse.Namespace) -> int:
    from bench import config as config_module
    from bench import environment
    from bench.calibration import Calibration, default_path, device_identity, write_calibration
    from bench.ceilings import describe, measure_ceilings, plan_for
    from bench.errors import FbenchError
    from bench.results import now_iso
    from devices import get_device

    overrides = config_module.Overrides(
        device=args.device, pin_core=args.pin_core, dtype=args.dtype
    )
    path = args.config if args.config is not None else config_module.default_config_path()
    config = config_module.load(path, overrides)
    device = get_device(config.device)
    reason = device.unavailable_reason()
    if reason:
        raise FbenchError(f"--device {device.name}: not available on this machine: {reason}")
    plan = plan_for(
        device.name,
        quick=args.quick,
        gemm_n=args.gemm_n,
        memory_bytes=args.memory_mb * 2**20 if args.memory_mb else None,
    )
    session = device.open_session(config.device_settings)
    try:
        env = {**environment.collect(), **session.environment()}
        threads = env.get("threads")
        if isinstance(threads, dict):
            threads = threads.get("intra_op")
        print(
            f"calibrating {device.name} ({config.dtype}, threads {threads}, "
            f"pinned core {getattr(session, 'core', None)})",
            file=sys.stderr,
        )
        ceilings, recorded_plan = measure_ceilings(
            session, config.dtype, plan, emit=lambda message: print(f"  {message}", file=sys.stderr)
        )
    finally:
        session.close()
    identity = device_identity(device.name, env, config.dtype)
    calibration = Calibration(
        identity=identity,
        device=device.name,
        dtype=config.dtype,
        created=now_iso(),
        environment=env,
        settings={**dict(config.device_settings), "plan": recorded_plan},
        ceilings=ceilings,
        quick=args.quick,
    )
    output = args.output or default_path(Path(args.calibrations_dir), identity)
    try:
        write_calibration(output, calibration)
    except FbenchError as error:  # the measurement is made: print it rather than lose it
        import json

        from bench.errors import IncompleteError

        print(json.dumps(calibration.to_dict(), indent=1, ensure_ascii=False))
        raise IncompleteError(
            f"{error}; the calibration is printed on stdout: save it as a file and pass it "
            "with --calibration"
        ) from None
    print("\n".join(describe(ceilings)))
    gemm, copy = calibration.compute_gflops_per_s, calibration.bandwidth_gb_per_s
    print(f"ridge point: {gemm / copy:.2f} multiply-adds per byte (gemm / memory_copy)")
    if args.quick:
        print("quick calibration: tiny sizes, not a ceiling to draw conclusions from")
    print(f"stored: {output}", file=sys.stderr)
    return 0
