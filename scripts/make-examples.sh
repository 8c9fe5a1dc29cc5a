#!/usr/bin/env bash
# Regenerates examples/results/: the few result files that the docs' figures are drawn from
# and that tests/test_examples.py loads and renders. Run it on a quiet machine with the
# current code and defaults, then rebuild the figures (scripts/make-doc-figures.py).
#
#   scripts/make-examples.sh          # CPU examples; CUDA ones too where a GPU is present
#   scripts/make-examples.sh --cpu    # CPU examples only
#
# Takes minutes on the CPU: the default Table 1 run ~70 s on a quiet 2-core VM, 144 s on a
# loaded one; the networks suite builds 35 models (12 minutes on that loaded VM). Note the
# host's load in examples/README.md with the runs' statuses. Every example keeps its run id as file name; the
# previous examples of each device that is measured again are removed first so that no
# stale file survives (the CUDA examples stay where no GPU is present: they are rare).
# The total must stay under ~1.5 MB (tests/test_examples.py checks it).
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=examples/results
fbench() { uv run fbench "$@"; }

mkdir -p "$OUT"
rm -f "$OUT"/*-cpu-torch.json "$OUT"/cpu-*.json

# Ceilings for the roofline, stored beside the runs (not in calibrations/).
fbench calibrate --device cpu --calibrations-dir "$OUT"
# Table 1 on the CPU with today's defaults (adaptive method, 6 processes).
fbench run --device cpu --results-dir "$OUT"
# Figure 2 / Table 3: the networks suite.
fbench run --device cpu --suite networks --results-dir "$OUT"
# The depth check: every operator at 1, 5 and 10 layers in one interleaved run. One
# process: the fit needs each depth's median, not layout draws, and six processes' samples
# of 48 rows would take most of the examples' size budget.
fbench run --device cpu --layers-sweep 1,5,10 --processes 1 --results-dir "$OUT"

if [[ "${1:-}" != --cpu ]] && uv run python -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
    rm -f "$OUT"/*-cuda-torch.json "$OUT"/cuda-*.json
    fbench calibrate --device cuda --calibrations-dir "$OUT"
    fbench run --device cuda --results-dir "$OUT"
fi

du -ch "$OUT"/*.json | tail -1
