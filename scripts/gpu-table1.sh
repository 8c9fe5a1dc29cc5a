#!/usr/bin/env bash
# Table 1's GPU column on this machine's CUDA GPU, plus the backends around it.
#
#   scripts/gpu-table1.sh            # everything below, in order
#   scripts/gpu-table1.sh torch      # one part: devices | torch | official | fp16 | ort | cpu
#
# Works without uv (PYTHONPATH=repo root, `python3 -m fbench.cli`), e.g. on a GPU host with
# torch and onnxruntime installed system-wide. Every part prints its table; result files go
# to $RESULTS_DIR (default results/gpu) and are copied to $OUT when that is set.
# `--backend onnxruntime` on cuda needs onnxruntime-gpu: without the CUDA execution provider
# fbench refuses (exit 2, the reason on one line) rather than time the CPU under a cuda label.
set -u -o pipefail

cd "$(dirname "$0")/.." || exit 2
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PYTHON="${PYTHON:-python3}"
RESULTS_DIR="${RESULTS_DIR:-results/gpu}"
PART="${1:-all}"
status=0

# shellcheck disable=SC2317  # called through part()
fbench() { "$PYTHON" -m fbench.cli "$@"; }

part() {  # part NAME COMMAND...: run when selected; a failing part is reported, not fatal
    local name=$1
    shift
    [[ "$PART" == all || "$PART" == "$name" ]] || return 0
    echo "=== $name: $*"
    "$@"
    local rc=$?
    if [[ $rc -ne 0 ]]; then
        echo "=== $name: exit $rc"
        status=1
    fi
}

part devices fbench devices
# The paper's GPU column: batch 32, fp32, TF32 off, the adaptive method (median, 95% CI).
part torch fbench run --device cuda --results-dir "$RESULTS_DIR"
# The FasterNet script's method on the same GPU: 50 warm-up calls, mean of 200.
part official fbench run --device cuda --method official --results-dir "$RESULTS_DIR"
part fp16 fbench run --device cuda --dtype float16 --results-dir "$RESULTS_DIR"
part ort fbench run --device cuda --backend onnxruntime --results-dir "$RESULTS_DIR"
# The CPU side of the same machine: torch eager vs channels-last vs ONNX Runtime.
part cpu "$PYTHON" benchmarks/backends.py --results-dir "$RESULTS_DIR/cpu"

if [[ -n "${OUT:-}" && -d "$RESULTS_DIR" ]]; then
    mkdir -p "$OUT/results"
    find "$RESULTS_DIR" -name '*.json' -exec cp {} "$OUT/results/" \;
    echo "copied $(find "$OUT/results" -name '*.json' | wc -l) result file(s) to $OUT/results"
fi
exit $status
