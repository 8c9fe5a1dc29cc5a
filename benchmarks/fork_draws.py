"""Can a fork server draw memory layouts as well as fresh processes do, and faster?

Most of a row's spread between worker processes is the memory layout each process draws
(benchmarks/layout.py); fbench pays a fresh interpreter and torch import for every draw. A
fork server imports torch once, sets itself up as a worker (one thread, pinned, steady malloc:
layout.worker_session; nothing runs in torch) and forks a child per draw. This script times one
row under three conditions, interleaved round by round (in a fresh random order each round) so
that the host's drift falls on all of them alike:

- fresh: a fresh process per draw, as layout.py's "randomised" condition (fbench's workers);
- fork: a child of a fork server, built and timed as it is forked;
- fork+spacers: a child of another fork server that first shifts its own layout at random:
  malloc'd blocks of random sizes, some freed again (holes) and the rest kept (with the steady
  malloc setting blocks up to 32 MiB come from the brk heap, as the tensors and conv weights
  do), a kept anonymous mmap of random size (moves later mmaps: Python's arenas, big blocks),
  random small Python objects (pymalloc pools) and a random depth of C stack frames around the
  build and timing. What a fork cannot redraw: the libraries' and interpreter's addresses and
  Python's hash seed, which every child shares with its server.

Every draw is timed by layout.time_one_process, fresh or forked alike. Per condition it prints
the draws' medians' centre (mean, median), spread (max / min - 1), CV and wall seconds per
draw; for each fork condition against fresh, the ratio of SDs and the difference of centres
(means, in %), each with a percentile-bootstrap 95% interval, and the difference paired by
round (the host's drift cancels). On a busy host it repeats the table without the draws that
were plainly shared with other processes (>= 1.5x the median of all draws). Each draw is one
layout sampled once: the intervals come from more draws, never from timing one layout longer.
The verdict rule it prints is necessary, not sufficient: wide intervals pass it and prove
nothing. `--from F.json` re-analyses a saved run.
This is a benchmark, not a test: its numbers belong to the machine and the hour.

    uv run python benchmarks/fork_draws.py
    uv run python benchmarks/fork_draws.py --operator conv --stage 3 --draws 20 --out F.json
"""

from __future__ import annotations

import argparse
import ctypes
import json
import mmap
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import layout  # benchmarks/layout.py: the same timing for every draw

CONDITIONS = ("fresh", "fork", "fork+spacers")
RESAMPLES = 10_000
SD_RATIO_FLOOR = 0.6  # a fork condition whose SD may be this much smaller misses layouts
CENTRE_TOLERANCE_PCT = 1.0
# A draw this many times the median of all draws was shared with other processes: layout
# moves a row by a few % (CV 3-6%), not by half. The second table leaves such draws out.
CONTENDED_FACTOR = 1.5


# --- statistics (pure) ---------------------------------------------------------------------


def summarise(values: Sequence[float]) -> dict[str, float]:
    """The draws' medians: how many, centre, spread (max / min - 1), SD and CV."""
    mean = statistics.mean(values)
    sd = statistics.stdev(values)
    return {
        "draws": len(values),
        "mean_ms": mean,
        "median_ms": statistics.median(values),
        "spread": max(values) / min(values) - 1.0,
        "sd_ms": sd,
        "cv": sd / mean,
    }


def sd_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SD(a) / SD(b) along the last axis."""
    return np.std(a, ddof=1, axis=-1) / np.std(b, ddof=1, axis=-1)


def centre_difference_pct(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(mean(a) / mean(b) - 1) in %, along the last axis."""
    return (np.mean(a, axis=-1) / np.mean(b, axis=-1) - 1.0) * 100.0


def bootstrap_ci(
    a: Sequence[float],
    b: Sequence[float],
    statistic: Callable[[np.ndarray, np.ndarray], np.ndarray],
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[float, float, float]:
    """statistic(a, b) and its percentile-bootstrap 95% interval, a and b resampled apart."""
    rng = np.random.default_rng(seed)
    first, second = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    draws_a = first[rng.integers(0, len(first), (resamples, len(first)))]
    draws_b = second[rng.integers(0, len(second), (resamples, len(second)))]
    with np.errstate(divide="ignore", invalid="ignore"):  # a resample of identical values
        low, high = np.nanpercentile(statistic(draws_a, draws_b), [2.5, 97.5])
    return float(statistic(first, second)), float(low), float(high)


def paired_difference_pct(
    a: Sequence[float], b: Sequence[float], resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float, float]:
    """Geometric-mean ratio a/b - 1 in % over rounds (a[i], b[i] timed in the same round), with
    a bootstrap 95% interval over rounds: the host's drift between rounds cancels out."""
    logs = np.log(np.asarray(a, dtype=float) / np.asarray(b, dtype=float))
    rng = np.random.default_rng(seed)
    means = logs[rng.integers(0, len(logs), (resamples, len(logs)))].mean(axis=-1)
    low, high = np.percentile(means, [2.5, 97.5])
    return tuple(float(np.expm1(x) * 100.0) for x in (logs.mean(), low, high))


def uncontended(
    draws: dict[str, list[dict[str, Any]]], factor: float = CONTENDED_FACTOR
) -> dict[str, list[dict[str, Any]]]:
    """The draws whose median is below `factor` × the median of every condition's draws."""
    limit = factor * statistics.median(d["median_ms"] for ds in draws.values() for d in ds)
    return {name: [d for d in ds if d["median_ms"] < limit] for name, ds in draws.items()}


def reproduces_fresh(ratio_ci: tuple[float, float], difference_ci: tuple[float, float]) -> bool:
    """The verdict rule: same spread (SD-ratio interval holds 1, nothing below the floor) and
    same centre (difference interval holds 0 or lies within ±CENTRE_TOLERANCE_PCT)."""
    same_spread = ratio_ci[0] <= 1.0 <= ratio_ci[1] and ratio_ci[0] >= SD_RATIO_FLOOR
    low, high = difference_ci
    same_centre = low <= 0.0 <= high or (
        low >= -CENTRE_TOLERANCE_PCT and high <= CENTRE_TOLERANCE_PCT
    )
    return same_spread and same_centre


# --- the fork server and its children ------------------------------------------------------


def shift_layout(rng: random.Random) -> tuple[dict[str, int], Any]:
    """Spacers in this (forked) process: what they are, and the objects to keep alive."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    sizes = [int(2 ** rng.uniform(4, 22)) for _ in range(rng.randrange(1, 65))]  # 16 B-4 MiB
    blocks = [(libc.malloc(size), size) for size in sizes]
    kept = []
    for address, size in blocks:
        if rng.random() < 0.5:
            libc.free(address)  # a hole that later allocations may fill
        else:
            kept.append((address, size))
    mapping = mmap.mmap(-1, rng.randrange(1, 16_385) * mmap.PAGESIZE)  # up to 64 MiB
    small = [bytes(rng.randrange(1, 513)) for _ in range(rng.randrange(0, 4096))]
    record = {
        "heap_blocks_kept": len(kept),
        "heap_bytes_kept": sum(size for _, size in kept),
        "heap_blocks_freed": len(blocks) - len(kept),
        "mmap_bytes": len(mapping),
        "small_objects": len(small),
        "stack_depth": rng.randrange(0, 33),
    }
    return record, (kept, mapping, small)


def nested(depth: int, call: Callable[[], float]) -> float:
    """call() under `depth` extra C frames (builtin next/map calling back into Python)."""
    if depth == 0:
        return call()
    return next(map(lambda _: nested(depth - 1, call), (None,)))


def draw_in_child(args: argparse.Namespace) -> dict[str, Any]:
    """In a forked child: (spacers,) build, warm up and time the row, as a fresh process does."""
    record: dict[str, Any] = {}
    depth, keep = 0, None
    if args.spacers:
        record["spacers"], keep = shift_layout(random.SystemRandom())
        depth = record["spacers"]["stack_depth"]
    record["median_ms"] = nested(
        depth,
        lambda: layout.time_one_process(
            args.operator, args.stage, args.layers, args.seconds, args.channels_last
        ),
    )
    del keep  # kept alive until the timing is done; the process exits next
    return record


def serve(args: argparse.Namespace) -> int:
    """The fork server: set up once, then one forked child per 'draw' line on stdin."""
    layout.worker_session(args.operator)
    print("ready", flush=True)
    for _ in sys.stdin:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            status = 0
            try:
                reply = json.dumps(draw_in_child(args))
            except BaseException as error:  # reported to the driver, never raised past _exit
                reply, status = json.dumps({"error": f"{type(error).__name__}: {error}"}), 1
            os.write(write_end, reply.encode())
            os._exit(status)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            reply = pipe.read().decode() or json.dumps({"error": "child died silently"})
        os.waitpid(pid, 0)
        print(reply, flush=True)
    return 0


class ForkServer:
    """A server process (its own random hash seed and ASLR draw), driven line by line."""

    def __init__(self, args: argparse.Namespace, spacers: bool) -> None:
        command = [sys.executable, __file__, "--server", "--operator", args.operator]
        command += ["--stage", str(args.stage), "--layers", str(args.layers)]
        command += ["--seconds", str(args.seconds)]
        command += ["--channels-last"] * args.channels_last + ["--spacers"] * spacers
        seed = random.SystemRandom().randrange(1, 2**32)
        started = time.perf_counter()
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            text=True,
        )
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit("fork_draws: a fork server failed to start")
        self.startup_s = time.perf_counter() - started

    def draw(self) -> dict[str, Any]:
        self.process.stdin.write("draw\n")
        self.process.stdin.flush()
        reply = json.loads(self.process.stdout.readline() or '{"error": "server gone"}')
        if "error" in reply:
            raise SystemExit(f"fork_draws: a forked draw failed: {reply['error']}")
        return reply

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


# --- the driver ----------------------------------------------------------------------------


def measure(args: argparse.Namespace) -> dict[str, Any]:
    servers = {"fork": ForkServer(args, False), "fork+spacers": ForkServer(args, True)}
    draws: dict[str, list[dict[str, Any]]] = {name: [] for name in CONDITIONS}
    order = list(CONDITIONS)
    try:
        for number in range(1, args.draws + 1):
            random.shuffle(order)
            for name in order:
                started = time.perf_counter()
                if name == "fresh":
                    record = {"median_ms": layout.run_child("randomised", args)}
                else:
                    record = servers[name].draw()
                draws[name].append({**record, "wall_s": time.perf_counter() - started})
            print(f"round {number}/{args.draws} done", file=sys.stderr)
    finally:
        for server in servers.values():
            server.close()
    return {
        "draws": draws,
        "server_startup_s": {name: server.startup_s for name, server in servers.items()},
    }


def analyse(draws: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    medians = {name: [draw["median_ms"] for draw in records] for name, records in draws.items()}
    result: dict[str, Any] = {}
    for name, records in draws.items():
        result[name] = summarise(medians[name])
        result[name]["wall_s_per_draw"] = statistics.mean(draw["wall_s"] for draw in records)
    for name in CONDITIONS[1:]:
        ratio = bootstrap_ci(medians[name], medians["fresh"], sd_ratio, seed=1)
        difference = bootstrap_ci(medians[name], medians["fresh"], centre_difference_pct, seed=2)
        result[name]["sd_ratio_vs_fresh"] = ratio
        result[name]["centre_difference_pct_vs_fresh"] = difference
        result[name]["reproduces_fresh"] = reproduces_fresh(ratio[1:], difference[1:])
        if len(medians[name]) == len(medians["fresh"]):  # every round kept: pair them
            paired = paired_difference_pct(medians[name], medians["fresh"], seed=3)
            result[name]["paired_difference_pct_vs_fresh"] = paired
    return result


VERDICT_RULE = (
    "Verdict rule: a fork condition reproduces fresh processes only if the 95% interval of "
    f"its SD ratio to fresh contains 1 and excludes values below {SD_RATIO_FLOOR} (it does not "
    "miss a large part of the layout spread), and the 95% interval of its centre difference "
    f"contains 0 or lies within ±{CENTRE_TOLERANCE_PCT:g}% (it is not biased). Otherwise its "
    "cheaper draws are draws from another distribution and cannot stand in for workers."
)


def report(label: str, result: dict[str, Any], startup: dict[str, float]) -> None:
    print(f"{label}")
    print(
        f"  {'condition':13s} {'n':>3s} {'mean ms':>9s} {'median ms':>9s} {'spread':>7s} "
        f"{'cv':>6s} {'s/draw':>7s}  {'SD ratio [95% CI]':>22s}  {'centre diff % [95% CI]':>24s}"
    )
    for name in CONDITIONS:
        row = result[name]
        line = (
            f"  {name:13s} {row['draws']:3d} {row['mean_ms']:9.4f} {row['median_ms']:9.4f} "
            f"{row['spread']:7.1%} {row['cv']:6.1%} {row['wall_s_per_draw']:7.2f}"
        )
        if name != "fresh":
            ratio, difference = row["sd_ratio_vs_fresh"], row["centre_difference_pct_vs_fresh"]
            line += (
                f"  {ratio[0]:5.2f} [{ratio[1]:5.2f}, {ratio[2]:5.2f}]"
                f"  {difference[0]:+6.2f} [{difference[1]:+6.2f}, {difference[2]:+6.2f}]"
                f"  {'passes' if row['reproduces_fresh'] else 'FAILS'} the rule"
            )
        print(line)
    for name in CONDITIONS[1:]:
        if "paired_difference_pct_vs_fresh" in result[name]:
            point, low, high = result[name]["paired_difference_pct_vs_fresh"]
            print(f"  {name} vs fresh paired by round: {point:+.2f}% [{low:+.2f}, {high:+.2f}]")
    if startup:
        print(
            "  fork servers' one-time start-up: "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in startup.items())
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    layout.add_stack_arguments(parser)
    parser.add_argument("--draws", type=int, default=16, help="per condition (default 16)")
    parser.add_argument("--seconds", type=float, default=1.0, help="sampling per draw")
    parser.add_argument("--out", type=Path, help="also write the draws and summary here (JSON)")
    parser.add_argument("--from", dest="from_file", type=Path, help="re-analyse an --out file")
    parser.add_argument("--server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--spacers", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.server:
        return serve(args)
    if args.draws < 3:
        parser.error("--draws must be at least 3 (an SD and its bootstrap need a few)")
    if args.from_file:
        saved = json.loads(args.from_file.read_text(encoding="utf-8"))
        label, measured = saved["row"], saved
    else:
        measured = measure(args)
        label = (
            f"{args.operator} stage {args.stage}, {args.layers} layers"
            + (", channels-last" if args.channels_last else "")
            + f": {args.draws} draws per condition, {args.seconds:g} s sampling each"
        )
    result = analyse(measured["draws"])
    report(label, result, measured["server_startup_s"])
    kept = uncontended(measured["draws"])
    if min(map(len, kept.values())) >= 3 and kept != measured["draws"]:
        quiet = analyse(kept)
        report(f"  the same without draws >= {CONTENDED_FACTOR}x the median (contended)", quiet, {})
    else:
        quiet = None
    print(VERDICT_RULE)
    if args.out:
        record = {"row": label, "summary": result, "summary_uncontended": quiet}
        record |= {"contended_factor": CONTENDED_FACTOR, "seconds": args.seconds}
        record |= {key: measured[key] for key in ("draws", "server_startup_s")}
        args.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
