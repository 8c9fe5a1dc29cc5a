"""`fbench calibrate`: measure a device's roofline ceilings and store them for its identity."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from fbench.bench.config import DTYPES
from fbench.commands import add_wide, output_width, pin_core, positive_int

if TYPE_CHECKING:
    from fbench.bench.calibration import Calibration, Ceiling

HELP = "measure the device's ceilings (best of GEMM and conv probes, bandwidth) for the roofline"
DESCRIPTION = """\
Measure the ceilings a roofline needs, under the same thread and pinning rules as
`fbench run` (one thread pinned to one core on the CPU, by default). Each ceiling is the
best of a small sweep of probes, and every probe is stored:
  gemm          dense n×n×n matrix products (CPU: n = 256, 512, 1024, 2048), FLOPS (G/s)
  conv          chained dense 3×3 convolutions at Table 1 shapes through conv2d (oneDNN
                on a CPU, cuDNN on a GPU: the operators' own library), FLOPS (G/s)
  memory_copy   streaming copies of two buffer sizes, GB/s counting reads + writes
  memory_triad  a = b + s·c on the largest buffers, GB/s (2 reads + 1 write)
  cache_copy    a copy whose buffers fit in half the L2 cache, GB/s (where L2 is known)
The roofline's compute roof is the best of gemm and conv; its slope the best of
memory_copy and memory_triad. On a CPU the theoretical peak (fp32 lanes from the CPU
flags × 2 FMA units, assumed, × the clock read during calibration) is stored too, with
each compute ceiling's share of it. Probes are sampled in interleaved rounds; each is a
median with its 95% interval. About 20 s on a CPU (--quick: about a second, tiny sizes,
for smoke tests only).

The file lands in calibrations/<device>-<model>-<dtype>.json, where `fbench run` finds it
and records it in the result file, and `fbench roofline` reads it. Progress goes to stderr
(--quiet: none); the probes, ceilings and roofline to stdout, fitted to 100 columns (or a
wider terminal; --wide: one line a probe, as files want)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fbench.bench.calibration import DEFAULT_CALIBRATIONS_DIR
    from fbench.devices import DEVICES

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
    parser.add_argument(
        "--gemm-n",
        metavar="N",
        type=positive_int,
        action="append",
        help="GEMM size n (n×n×n) to probe instead of the device's sweep (repeat for several)",
    )
    parser.add_argument(
        "--memory-mb",
        metavar="MB",
        type=positive_int,
        help="the largest streaming buffer in MiB; a quarter of it is probed too (default: 256 "
        "on CPU)",
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
    add_wide(parser)
    parser.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress on stderr (errors and the stored file's path still are)",
    )


def run(args: argparse.Namespace) -> int:
    from fbench.bench import config as config_module
    from fbench.bench import environment
    from fbench.bench.calibration import (
        Calibration,
        default_path,
        theoretical_peak,
        write_calibration,
    )
    from fbench.bench.calibration.ceilings import measure_ceilings, plan_for
    from fbench.bench.errors import FbenchError
    from fbench.bench.results import now_iso
    from fbench.bench.results.identity import device_identity
    from fbench.devices import get_device
    from fbench.progress import ProgressPrinter

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
        gemm_sizes=tuple(args.gemm_n) if args.gemm_n else None,
        memory_bytes=args.memory_mb * 2**20 if args.memory_mb else None,
    )
    progress = ProgressPrinter(quiet=args.quiet)
    session = device.open_session(config.device_settings)
    try:
        env = {**environment.collect(), **session.environment()}
        threads = env.get("threads")
        if isinstance(threads, dict):
            threads = threads.get("intra_op")
        progress.message(
            f"calibrating {device.name} ({config.dtype}, threads {threads}, "
            f"pinned core {getattr(session, 'core', None)})"
        )
        sweep = measure_ceilings(session, config.dtype, plan, emit=progress.status)
    finally:
        progress.close()
        session.close()
    identity = device_identity(env, device.name, dtype=config.dtype).calibration_name()
    # The peak is derived for CPUs (flags); a GPU's needs its SM count and FP32 units per SM.
    peak = (
        theoretical_peak(
            env.get("cpu_flags") or [],
            config.dtype,
            max(sweep.clock_mhz, default=None),
            sweep.clock_source,
        )
        if device.name != "cuda"
        else None
    )
    calibration = Calibration(
        identity=identity,
        device=device.name,
        dtype=config.dtype,
        created=now_iso(),
        environment=env,
        settings={**dict(config.device_settings), "plan": sweep.plan},
        ceilings=sweep.ceilings,
        quick=args.quick,
        probes=sweep.probes,
        peak=peak,
    )
    output = args.output or default_path(Path(args.calibrations_dir), identity)
    try:
        write_calibration(output, calibration)
    except FbenchError as error:  # the measurement is made: print it rather than lose it
        import json

        from fbench.bench.errors import IncompleteError

        print(json.dumps(calibration.to_dict(), indent=1, ensure_ascii=False))
        raise IncompleteError(
            f"{error}; the calibration is printed on stdout: save it as a file and pass it "
            "with --calibration"
        ) from None
    print(calibration_text(calibration, output_width(args)))
    print(f"stored: {output}", file=sys.stderr)
    return 0


def calibration_text(calibration: Calibration, width: int | None = None) -> str:
    """What calibrate prints on stdout: its probes, the ceilings (best probe of each kind),
    the theoretical peak and the roofline. Fitted to `width` (reports/fit.py: a table per
    block, prose wrapped); None (--wide) prints one line a probe, as before fitting."""
    from fbench.bench.calibration.ceilings import describe
    from fbench.reports.fit import wrap_lines

    peak = calibration.peak
    peak_value = peak.gflops_per_s if peak else None
    if width is None:
        lines = ["probes:", *("  " + line for line in describe(calibration.probes, peak_value))]
        lines += ["ceilings (best probe of each kind):"]
        lines += ["  " + line for line in describe(calibration.ceilings, peak_value)]
    else:
        lines = ["probes:", _indented(_ceilings_table(calibration.probes, peak_value, width))]
        lines += ["ceilings (best probe of each kind):"]
        lines += [_indented(_ceilings_table(calibration.ceilings, peak_value, width, best=True))]
    prose = []
    if peak is None or peak.gflops_per_s is None:
        reason = peak.reason if peak else "not derived for this device"
        prose.append(f"theoretical peak: unknown ({reason})")
    else:
        prose.append(
            f"theoretical peak: {peak.gflops_per_s:.1f} G/s = {peak.lanes} fp32 lanes "
            f"({peak.vector_isa}) × {peak.fma_units} FMA units × {peak.clock_mhz:.0f} MHz "
            f"({peak.clock_source}); {peak.assumption}"
        )
        share = calibration.fraction_of_peak(calibration.compute_ceiling)
        if share is not None and share > 1:
            prose.append(
                "  a ceiling above the stated peak: the core ran faster than the clock read, "
                "or has more FMA units than assumed"
            )
    compute, bandwidth = calibration.compute_ceiling, calibration.bandwidth_ceiling
    prose.append(
        f"roofline: compute {compute.median:.1f} G/s ({compute.name}), bandwidth "
        f"{bandwidth.median:.1f} GB/s ({bandwidth.name}); ridge point "
        f"{compute.median / bandwidth.median:.2f} FLOPs/B"
    )
    if calibration.quick:
        prose.append("quick calibration: tiny sizes, not a ceiling to draw conclusions from")
    return "\n".join([*lines, *(prose if width is None else wrap_lines(prose, width))])


def _indented(text: str) -> str:
    return "\n".join("  " + line if line else line for line in text.splitlines())


def _ceilings_table(
    ceilings: dict[str, Ceiling], peak: float | None, width: int, best: bool = False
) -> str:
    """Probes or ceilings as a fitted table (two columns narrower: it is indented): rate
    and unit, the 95% interval, samples, share of the peak, and for a ceiling its best probe.
    The unit is FLOPS's one word, G/s (the file keeps GMAC/s)."""
    from fbench.reports.render import render
    from fbench.reports.table import Table

    rows = []
    for ceiling in ceilings.values():
        low, high = ceiling.ci95_low, ceiling.ci95_high
        compute = ceiling.kind == "compute"
        rows.append(
            [
                ceiling.name,
                f"{ceiling.median:.1f}",
                "G/s" if ceiling.unit == "GMAC/s" else ceiling.unit,
                f"[{low:.1f}, {high:.1f}]" if low is not None and high is not None else "< 6 n",
                str(ceiling.latency_ms.n),
                f"{ceiling.median / peak:.0%}" if peak and compute else "",
                *([ceiling.details.get("probe") or ""] if best else []),
            ]
        )
    headers = ["Ceiling" if best else "Probe", "Rate", "Unit", "95% CI", "n", "of peak"]
    headers += ["Best probe"] if best else []
    table = Table(headers, rows)
    return render(table, "text", width - 2)
