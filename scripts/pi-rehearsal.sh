#!/usr/bin/env bash
# The Raspberry Pi workflow rehearsed end to end: .github/workflows/pi4-regression.yml's own
# steps, read from the file, run in order in the emulated Cortex-A72 root of
# scripts/arm-emulated.sh, as a non-root runner user with a fresh HOME, on simulated board
# telemetry (thermal zone, cpufreq, vcgencmd). Scenarios: first run on a board, failed measure
# step, manual refresh, unchanged code, a planted 2x slowdown, a throttled board, a hot board
# that never cools; each with its expected exit codes and files (scripts/pi_rehearsal.py).
#
#   sudo env PATH="$PATH" scripts/pi-rehearsal.sh            # every scenario (~15-25 min)
#   sudo env PATH="$PATH" scripts/pi-rehearsal.sh --short    # what .ci/run rehearses
#   sudo env PATH="$PATH" scripts/pi-rehearsal.sh hot-board  # some (they chain as on one board)
#
# Needs the root scripts/arm-emulated.sh builds (FBENCH_ARM_ROOT, default
# /var/cache/fbench-arm-root): run that first (.ci/run does). Exit codes: 0 every scenario
# passed; 1 one failed (its steps' logs are named); 77 skipped: this host cannot emulate or
# has no root yet, with the reason on stderr. docs/ci.md has the scenarios and their times.
set -euo pipefail

SKIP=77
REPO="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="${FBENCH_ARM_ROOT:-/var/cache/fbench-arm-root}"
log() { echo "pi-rehearsal: $*" >&2; }
skip() { log "SKIPPED: $*"; exit "$SKIP"; }

[[ "$(id -u)" == 0 ]] || skip "needs root (chroot, mounts, a runner user in the root)"
[[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] || skip "qemu-aarch64 is not registered (run scripts/arm-emulated.sh)"
[[ -f "$ROOT/opt/fbench-venv/installed.txt" ]] \
    || skip "no emulated root with the locked venv in $ROOT (run scripts/arm-emulated.sh first)"
if grep -qF " $ROOT/" /proc/mounts; then
    skip "mounts remain under $ROOT (another arm-emulated.sh or rehearsal running?); unmount them first"
fi
UV="${UV:-$(command -v uv || true)}"
[[ -n "$UV" ]] || skip "no uv on PATH (under sudo: sudo env PATH=\"\$PATH\" ...)"
# The runner is the project's own Python (PyYAML reads the workflow).
exec "$UV" run --frozen --project "$REPO" python "$REPO/scripts/pi_rehearsal.py" --root "$ROOT" "$@"
