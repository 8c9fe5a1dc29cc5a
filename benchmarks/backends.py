"""Torch eager vs torch channels-last vs ONNX Runtime on the CPU: docs/backends.md's table.

Runs one `fbench run` per backend configuration (each a fresh process, as a user would),
times each sweep by the wall clock, then prints FLOPS per row with the PConv/DWConv ratio
under each backend, and how long the ONNX Runtime sweep took next to the torch one (the
goal: ≤ 1.5×). The export is cached under the results dir, so a second run shows the
sweep without export time.

    uv run python benchmarks/backends.py                      # PConv and DWConv, Table 1 shapes
    uv run python benchmarks/backends.py --operators conv,gconv,dwconv,pconv   # full sweep
    uv run python benchmarks/backends.py --quick               # smoke test, seconds
    uv run python benchmarks/backends.py --render results/backends/*.json   # no measuring
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CONFIGURATIONS = {
    "torch": ["--backend", "torch"],
    "torch channels-last": ["--backend", "torch", "--channels-last"],
    "onnxruntime": ["--backend", "onnxruntime"],
}


def run_sweep(extra: list[str], results_dir: Path) -> tuple[Path, float]:
    """One `fbench run` in a fresh process: its result file and its wall-clock seconds."""
    command = [sys.executable, "-m", "fbench.cli", "run", "--device", "cpu", *extra,
               "--results-dir", str(results_dir), "--no-table"]  # fmt: skip
    start = time.perf_counter()
    completed = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, env={**os.environ}
    )
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{completed.stderr}")
    match = re.search(r"^stored: (.+)$", completed.stderr, re.MULTILINE)
    if not match:
        sys.exit(f"no result file reported by {' '.join(command)}")
    return Path(match.group(1)), seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--operators", default="dwconv,pconv", help="default: dwconv,pconv")
    parser.add_argument("--stages", help="e.g. 1,2 (default: all four)")
    parser.add_argument("--quick", action="store_true", help="smoke-sized (not comparable)")
    parser.add_argument("--method", choices=("adaptive", "official"))
    parser.add_argument(
        "--exporter",
        choices=("dynamo", "torchscript"),
        help="onnxruntime's torch.onnx exporter (default: fbench's, dynamo)",
    )
    parser.add_argument("--results-dir", type=Path, default=REPO / "results" / "backends")
    parser.add_argument("--render", nargs="+", type=Path, metavar="FILE",
                        help="lay out stored result files instead of measuring")  # fmt: skip
    args = parser.parse_args()

    from benchmarks.analysis.backends_table import backend_label, backends_table
    from fbench.bench.results import read_result
    from fbench.reports.render import render

    if args.render:
        runs: dict[str, list] = {}
        for path in args.render:
            result = read_result(path)
            if result.rows:
                runs.setdefault(backend_label(result.rows[0]), []).extend(result.rows)
        print(render(backends_table(runs)))
        return 0

    extra = ["--operators", args.operators]
    extra += ["--stages", args.stages] if args.stages else []
    extra += ["--quick"] if args.quick else []
    extra += ["--method", args.method] if args.method else []
    configurations = dict(CONFIGURATIONS)
    if args.exporter:
        configurations["onnxruntime"] = [
            *CONFIGURATIONS["onnxruntime"],
            "--exporter",
            args.exporter,
        ]
    runs, seconds, files = {}, {}, {}
    for name, flags in configurations.items():
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        path, seconds[name] = run_sweep([*flags, *extra], args.results_dir)
        files[name] = path
        result = read_result(path)
        runs[backend_label(result.rows[0]) if result.rows else name] = result.rows
    print(render(backends_table(runs)))
    print()
    ort_rows = read_result(files["onnxruntime"]).rows
    export_s = sum(row.backend_details.get("onnx_export_s") or 0.0 for row in ort_rows)
    ratio = seconds["onnxruntime"] / seconds["torch"]
    print(
        "sweep wall time: " + ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items())
    )
    print(
        f"onnxruntime / torch sweep time: {ratio:.2f}× (goal ≤ 1.5×); of the onnxruntime "
        f"sweep, {export_s:.1f} s was exporting (cached for the next run: "
        f"{(seconds['onnxruntime'] - export_s) / seconds['torch']:.2f}× without it)"
    )
    print("result files: " + " ".join(str(path) for path in files.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
