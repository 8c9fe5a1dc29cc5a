#!/usr/bin/env bash
# Smoke test of `fbench --device arm` on an emulated Raspberry Pi 4 CPU (Cortex-A72).
#
# Builds (once, cached outside the repository) an arm64 Debian bookworm root with debootstrap
# and qemu-user-static, installs the project's locked aarch64 dependencies (exactly the versions
# and files of uv.lock, by scripts/aarch64_requirements.py) offline into a venv there, and
# runs `fbench run --device arm --quick --processes 2` twice plus `fbench baseline save` and
# `fbench compare` inside it with QEMU_CPU=cortex-a72 (without it the emulator offers ARMv8.1+
# instructions and an A72-incompatible torch wheel would pass unnoticed), then one ExecuTorch
# row (`--backend executorch --operators dwconv --stages 1`): executorch 1.0.1 fits the locked
# aarch64 torch 2.9.1, so the Pi path (no environment build) runs; it and the two packages it
# imports beyond the lock are pinned by hash in scripts/aarch64-executorch.txt. Timings under
# emulation mean nothing: the point is that the ARM code path, its detection and telemetry
# fallbacks and the aarch64 install work. See docs/ci.md ("The emulated Cortex-A72 smoke run").
#
# Exit codes: 0 passed; 1 a real failure: fbench failed inside the emulated root, or uv.lock's
# aarch64 list cannot be exported or does not install; 77 skipped: this host cannot emulate
# (not root, no binfmt_misc, no uv, apt/debootstrap/PyPI unreachable...), with the reason on
# stderr. .ci/run treats 77 as "skip", not "fail" (unless FBENCH_REQUIRE_ARM_EMULATION=1).
# The ExecuTorch row alone is skipped, with the reason logged and the run still passing, when
# its wheels cannot be downloaded or FBENCH_SKIP_ARM_EXECUTORCH=1; once installed it must pass.
#
# Environment: FBENCH_ARM_ROOT (default /var/cache/fbench-arm-root), FBENCH_ARM_WHEELS
# (default /var/cache/fbench-arm-wheels); delete them to rebuild from scratch. Both are
# refreshed when uv.lock changes. Needs uv on PATH (or UV=/path/to/uv) and python3 >= 3.11.
set -euo pipefail

SKIP=77
REPO="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="${FBENCH_ARM_ROOT:-/var/cache/fbench-arm-root}"
WHEELS="${FBENCH_ARM_WHEELS:-/var/cache/fbench-arm-wheels}"
SUITE=bookworm            # Debian 12: Python 3.11, which torch 2.9.1's aarch64 wheel supports
PYTAG=3.11
# pip takes a manylinux_2_28 --platform literally (only the legacy manylinux2014 name is
# widened to older glibcs), so every tag down to 2.17 is named: a wheel for an older glibc
# runs too (torch 2.9.1's aarch64 wheel needs 2.28; bookworm has 2.36).
PLATFORMS=()
for minor in $(seq 28 -1 17); do PLATFORMS+=(--platform "manylinux_2_${minor}_aarch64"); done
PLATFORMS+=(--platform manylinux2014_aarch64)

log() { echo "arm-emulated: $*" >&2; }
skip() { log "SKIPPED: $*"; exit "$SKIP"; }

[[ "$(uname -s)" == Linux ]] || skip "needs a Linux host"
[[ "$(uname -m)" != aarch64 ]] || skip "host is already aarch64: run 'fbench run --device arm' natively"
[[ "$(id -u)" == 0 ]] || skip "needs root (debootstrap, chroot, binfmt_misc, mounts)"

# 1. qemu-user-static and debootstrap from the distribution.
if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null; then
    command -v apt-get >/dev/null || skip "no apt-get to install qemu-user-static and debootstrap"
    log "installing qemu-user-static and debootstrap"
    # debian-archive-keyring: on an Ubuntu host debootstrap needs it to check the Debian suite.
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        qemu-user-static debootstrap debian-archive-keyring >/dev/null; } </dev/null \
        || skip "apt-get could not install qemu-user-static and debootstrap"
fi

# 2. binfmt_misc: the kernel hands aarch64 binaries to qemu-aarch64-static.
BINFMT=/proc/sys/fs/binfmt_misc
if [[ ! -e "$BINFMT/register" ]]; then
    mount -t binfmt_misc binfmt_misc "$BINFMT" 2>/dev/null \
        || skip "cannot mount binfmt_misc (a container without that privilege?)"
fi
if [[ ! -e "$BINFMT/qemu-aarch64" ]]; then
    conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    [[ -f "$conf" ]] || skip "no $conf from qemu-user-static"
    grep -v '^#' "$conf" | head -n1 > "$BINFMT/register" 2>/dev/null \
        || skip "cannot register qemu-aarch64 with binfmt_misc"
fi
[[ -e "$BINFMT/qemu-aarch64" ]] || skip "qemu-aarch64 is not registered with binfmt_misc"

# 3. The arm64 root (cached: ~3 min the first time).
# Never delete through a bind mount left by a killed run (it would reach the host's /dev).
if grep -qF " $ROOT" /proc/mounts; then
    skip "mounts remain under $ROOT from an earlier run; unmount them (umount -R) first"
fi
if [[ ! -f "$ROOT/.fbench-root-ready" ]]; then
    log "building the arm64 $SUITE root in $ROOT (first time only, a few minutes)"
    rm -rf "$ROOT.partial"
    mkdir -p "$(dirname "$ROOT")"
    debootstrap --arch=arm64 --foreign --variant=minbase \
        --include=python3,python3-venv,ca-certificates "$SUITE" "$ROOT.partial" >/dev/null \
        || skip "debootstrap (first stage) failed: Debian mirror unreachable?"
    cp "$(command -v qemu-aarch64-static)" "$ROOT.partial/usr/bin/" 2>/dev/null || true
    chroot "$ROOT.partial" /debootstrap/debootstrap --second-stage >/dev/null \
        || skip "debootstrap second stage failed under emulation"
    rm -rf "$ROOT"
    mv "$ROOT.partial" "$ROOT"
    touch "$ROOT/.fbench-root-ready"
fi

# 4. The locked aarch64 wheels, fetched on the host. uv.lock is universal and pip evaluates
#    markers for the host, not for --platform (an x86 host would take the x86 torch and its
#    nvidia-* packages), so scripts/aarch64_requirements.py evaluates them for aarch64 /
#    Python 3.11 and pins every file by its uv.lock hash; --no-deps because that list is
#    already complete. torch is 2.9.1 there: 2.10's aarch64 wheel dies on an A72 (ARMv8.1
#    atomics). Packages published as sdists only (fvcore, iopath) are built on the host.
UV="${UV:-$(command -v uv || true)}"
[[ -n "$UV" ]] || skip "no uv on PATH to export uv.lock (under sudo: sudo env PATH=\"\$PATH\" ...)"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    || skip "needs python3 >= 3.11 on the host (tomllib) to read uv.lock"
LOCKED="$(mktemp -d)"
trap 'rm -rf "$LOCKED"' EXIT
pip=(python3 -m pip)
"${pip[@]}" --version >/dev/null 2>&1 || pip=("$UV" tool run pip)
UV="$UV" python3 "$REPO/scripts/aarch64_requirements.py" --python-version "$PYTAG" \
    --wheels "$LOCKED/wheels.txt" --sdists "$LOCKED/sdists.txt" \
    || { log "FAILED: could not export the locked aarch64 requirements from uv.lock"; exit 1; }
cat "$LOCKED/wheels.txt" "$LOCKED/sdists.txt" > "$LOCKED/locked.txt"
if ! cmp -s "$LOCKED/locked.txt" "$WHEELS/locked.txt" 2>/dev/null; then
    log "downloading the locked aarch64 wheels into $WHEELS"
    rm -rf "$WHEELS" && mkdir -p "$WHEELS"
    "${pip[@]}" download --quiet --only-binary=:all: "${PLATFORMS[@]}" \
        --python-version "$PYTAG" --no-deps --require-hashes -d "$WHEELS" \
        -r "$LOCKED/wheels.txt" \
        || skip "pip download of the locked aarch64 wheels failed: PyPI unreachable?"
    if [[ -s "$LOCKED/sdists.txt" ]]; then
        "${pip[@]}" wheel --quiet --no-deps --require-hashes -w "$WHEELS" -r "$LOCKED/sdists.txt" \
            || skip "could not build wheels of the sdist-only packages in $LOCKED/sdists.txt"
    fi
    # What the root installs, by name and version (a wheel built here has no locked hash).
    sed 's/ --hash=.*//' "$LOCKED/locked.txt" > "$WHEELS/install.txt"
    cp "$LOCKED/locked.txt" "$WHEELS/locked.txt"  # last: marks the download complete
fi

# 4b. ExecuTorch for the executorch row: not in uv.lock (on x86_64 fbench builds an environment
#     for it), so scripts/aarch64-executorch.txt pins executorch 1.0.1 and the two packages its
#     XNNPACK export imports beyond the lock (torchao, ruamel.yaml) by hash; --no-deps, as most
#     of executorch's Requires-Dist (pytest, coremltools, scikit-learn...) are never imported
#     there. Fetched once into $WHEELS/executorch. Not to be had: that row alone is skipped.
ET_REQ="$REPO/scripts/aarch64-executorch.txt"
ET_DIR=/opt/fbench-executorch   # in the root: a --target directory beside the locked venv
ET_SKIP=""
if [[ "${FBENCH_SKIP_ARM_EXECUTORCH:-}" == 1 ]]; then
    ET_SKIP="FBENCH_SKIP_ARM_EXECUTORCH=1"
elif ! cmp -s "$ET_REQ" "$WHEELS/executorch/requirements.txt" 2>/dev/null; then
    log "downloading executorch 1.0.1, torchao and ruamel.yaml (aarch64) into $WHEELS/executorch"
    rm -rf "$WHEELS/executorch" && mkdir -p "$WHEELS/executorch"
    if "${pip[@]}" download --quiet --only-binary=:all: "${PLATFORMS[@]}" \
        --python-version "$PYTAG" --no-deps --require-hashes -d "$WHEELS/executorch" \
        -r "$ET_REQ"; then
        cp "$ET_REQ" "$WHEELS/executorch/requirements.txt"  # last: marks the download complete
    else
        ET_SKIP="pip download of scripts/aarch64-executorch.txt failed (PyPI unreachable?)"
    fi
fi

# 5. Mounts for the chroot, undone on exit; the fake Pi cpuinfo is bound in later.
mounted=()
cleanup() {
    for (( i=${#mounted[@]}-1; i>=0; i-- )); do umount -l "${mounted[i]}" 2>/dev/null || true; done
    rm -rf "$LOCKED"
}
trap cleanup EXIT
bind() {  # mount ... TARGET, remembered for the unmount on exit
    local target="${*: -1}"
    [[ -e "$target" ]] || mkdir -p "$target"
    mount "$@" && mounted+=("$target")
}
bind -t proc proc "$ROOT/proc"
bind --rbind /sys "$ROOT/sys"
bind --rbind /dev "$ROOT/dev"
mkdir -p "$ROOT/wheels"
bind --bind "$WHEELS" "$ROOT/wheels"

in_root() {
    chroot "$ROOT" /usr/bin/env -i QEMU_CPU=cortex-a72 HOME=/root LANG=C.UTF-8 \
        PATH=/opt/fbench-venv/bin:/usr/bin:/bin PYTHONPATH=/opt/fbench "$@"
}

# The venv is rebuilt whenever the locked list changed since it was installed.
if ! cmp -s "$WHEELS/install.txt" "$ROOT/opt/fbench-venv/installed.txt" 2>/dev/null; then
    log "installing the locked wheels into /opt/fbench-venv in the root (offline)"
    rm -rf "$ROOT/opt/fbench-venv" "$ROOT$ET_DIR"
    in_root python3 -m venv /opt/fbench-venv || skip "python3 -m venv failed in the root"
    # Every line is name==version and nothing but /wheels is searched, so pip can install no
    # other version; it still checks that the list satisfies every dependency.
    # --no-compile: byte-compiling torch under emulation takes minutes; Python does it lazily.
    in_root pip install --quiet --no-compile --no-index --find-links /wheels \
        -r /wheels/install.txt \
        || { log "FAILED: the locked aarch64 wheels do not install together"; exit 1; }
    cp "$WHEELS/install.txt" "$ROOT/opt/fbench-venv/installed.txt"
fi
# ExecuTorch in a directory of its own, put on PYTHONPATH for its row only: the venv stays
# exactly the locked list for the other runs and scripts/pi-rehearsal.sh.
if [[ -z "$ET_SKIP" ]] \
    && ! cmp -s "$WHEELS/executorch/requirements.txt" "$ROOT$ET_DIR/installed.txt" 2>/dev/null; then
    log "installing executorch into $ET_DIR in the root (offline, hash-checked, --no-deps)"
    rm -rf "$ROOT$ET_DIR"
    in_root pip install --quiet --no-compile --no-index --no-deps --find-links /wheels/executorch \
        --target "$ET_DIR" -r /wheels/executorch/requirements.txt \
        || { log "FAILED: the executorch wheels of scripts/aarch64-executorch.txt do not install"; exit 1; }
    cp "$WHEELS/executorch/requirements.txt" "$ROOT$ET_DIR/installed.txt"
fi

# From here on a failure is fbench's own: exit 1.
fail() { log "FAILED: $*"; exit 1; }

# This checkout's files (tracked and untracked-but-not-ignored) as the source to test.
rm -rf "$ROOT/opt/fbench" && mkdir -p "$ROOT/opt/fbench"
# safe.directory: under sudo, root reads a checkout owned by the CI user.
(cd "$REPO" && git -c safe.directory="$REPO" ls-files -co --exclude-standard -z \
    | tar --null -T - -cf -) \
    | tar -C "$ROOT/opt/fbench" -xf -
rm -rf "$ROOT/tmp/fbench-results" "$ROOT/tmp/fbench-baselines" "$ROOT/tmp/fbench-results-et"

log "the A72 torch wheel runs under QEMU_CPU=cortex-a72"
in_root python -c 'import platform, torch; print(platform.machine(), "torch", torch.__version__, float(torch.ones(2, 2).sum()))' \
    || fail "torch does not run on an emulated Cortex-A72"

log "without a Pi cpuinfo (the host's x86 one shows through), detection reports an unknown ARM CPU"
in_root python -c 'from devices import arm; d = arm.detect(); print(d); assert d["cpu_part"] is None and not d["is_cortex_a72"]' \
    || fail "ARM detection without a Pi cpuinfo"

cat > "$ROOT/tmp/pi4-cpuinfo" <<'CPUINFO'
processor	: 0
BogoMIPS	: 108.00
Features	: fp asimd evtstrm crc32 cpuid
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x0
CPU part	: 0xd08
CPU revision	: 3

Hardware	: BCM2835
Revision	: c03114
Model		: Raspberry Pi 4 Model B Rev 1.4
CPUINFO
bind --bind "$ROOT/tmp/pi4-cpuinfo" "$ROOT/proc/cpuinfo"

fbench() { in_root sh -c 'cd /opt/fbench && exec python -m fbench.cli "$@"' fbench "$@"; }
R=(--results-dir /tmp/fbench-results)
# Two worker processes each, so the aarch64 worker path and compare's process-level test run.
log "fbench run --device arm --quick --processes 2 (twice)"
fbench run --device arm --quick --processes 2 --stages 3,4 "${R[@]}" --no-table || fail "first fbench run --device arm"
fbench run --device arm --quick --processes 2 --stages 3,4 "${R[@]}" || fail "second fbench run --device arm"
mapfile -t runs < <(find "$ROOT/tmp/fbench-results" -maxdepth 1 -name '*.json' | sort)
(( ${#runs[@]} == 2 )) || fail "expected 2 result files, found ${#runs[@]}"
first="/tmp/fbench-results/$(basename "${runs[0]}")"
second="/tmp/fbench-results/$(basename "${runs[1]}")"
in_root python -c 'import json, sys; d = json.load(open(sys.argv[1])); e = d["environment"]; print(e.get("arm")); assert e["arm"]["is_cortex_a72"], e["arm"]' "$first" \
    || fail "the result does not record a Cortex-A72"

# --force: emulated rows are often `disturbed` (the host's speed moves under qemu), which
# baseline save refuses on a real board; here the point is the code path, not the numbers.
fbench baseline save "$first" --baselines-dir /tmp/fbench-baselines --force \
    || fail "fbench baseline save"
# Emulated timings are noise, so only the exit code's meaning is checked: 0, 1 or 3 are all
# verdicts; 2 (bad input) or a crash is a failure.
set +e
fbench compare auto "$second" --baselines-dir /tmp/fbench-baselines
code=$?
set -e
case $code in
    0|1|3) log "fbench compare answered with exit code $code (a verdict; emulated timings are noise)" ;;
    *) fail "fbench compare exited with $code" ;;
esac

# One ExecuTorch row, as on a Pi: executorch importable beside torch 2.9.1, so no environment
# is built; the stack is exported and lowered to XNNPACK under emulation, its .pte run by
# ExecuTorch's runtime, parity-checked against eager. flatc (run by the export) is in bin/.
if [[ -n "$ET_SKIP" ]]; then
    log "executorch row SKIPPED: $ET_SKIP"
else
    log "fbench run --device arm --backend executorch --quick --operators dwconv --stages 1"
    et_start=$SECONDS
    in_root PATH="$ET_DIR/bin:/opt/fbench-venv/bin:/usr/bin:/bin" PYTHONPATH="/opt/fbench:$ET_DIR" \
        sh -c 'cd /opt/fbench && exec python -m fbench.cli "$@"' fbench \
        run --device arm --backend executorch --quick --operators dwconv --stages 1 \
        --results-dir /tmp/fbench-results-et \
        || fail "fbench run --device arm --backend executorch"
    mapfile -t et_runs < <(find "$ROOT/tmp/fbench-results-et" -maxdepth 1 -name '*.json')
    (( ${#et_runs[@]} == 1 )) || fail "expected 1 executorch result file, found ${#et_runs[@]}"
    in_root python -c '
import json, sys
rows = json.load(open(sys.argv[1]))["rows"]
assert rows, "no rows"
for row in rows:  # emulated timings are noise: disturbed or imprecise is fine, failed is not
    details = row["backend_details"]
    print(row["status"], {k: details.get(k) for k in ("executorch", "xnnpack_delegates", "export_s")})
    assert row["status"] != "failed", row
    assert details["executorch"] == "1.0.1" and details["xnnpack_delegates"] > 0, details
' "/tmp/fbench-results-et/$(basename "${et_runs[0]}")" \
        || fail "the executorch row failed or was not lowered to XNNPACK"
    log "executorch row passed in $((SECONDS - et_start)) s (export under emulation included)"
fi
log "PASSED"
