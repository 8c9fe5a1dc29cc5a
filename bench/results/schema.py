"""The result file's fields as tables of checks, and the strict validator that applies them.

Every command that reads a result file goes through `fbench.bench.results.parse_result`, which
migrates an older file (bench/results/migration.py) and then calls `validate_result`, so a
bad file gets one line naming the file and the field, and exit 2, before any command
touches a value. See docs/result-format.md for the fields.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from fbench.bench.errors import FbenchError
from fbench.bench.results import status as st
from fbench.bench.results.checks import (
    Field,
    Invalid,
    boolean,
    integer,
    list_of,
    mapping_of,
    number,
    obj,
    one_of,
    optional,
    plain_name,
    record,
    text,
    validate_fields,
)

SCHEMA = "fbench.result/3"  # the version this fbench writes; its history: migration.py

# running: rows are being measured (a one-process run stores each as it finishes);
# partial: a multi-process run between two worker processes: the file holds the pooled rows
#   of the processes finished so far (`processes_finished` of `processes_planned`);
# interrupted: Ctrl-C or SIGTERM; incomplete: it ended with rows short of their planned
#   processes (a worker died: `worker_failures`) or missing; failed: an error stopped it.
# All but complete can be finished with `fbench run --resume`.
RUN_STATES = ("running", "partial", "complete", "interrupted", "incomplete", "failed")
METHODS = ("adaptive", "official")
ESTIMATORS = ("median", "mean")
SUITES = ("operators", "networks")
# The most `fbench run` accepts (its flags and config checks use these): beyond them a run is
# a mistake, not an experiment, and a stored file that claims one was made or crafted.
MAX_LAYERS = 1000
MAX_PROCESSES = 64


def interval_holds_median(summary: Mapping[str, Any], where: str) -> None:
    low, high, middle = summary.get("ci95_low"), summary.get("ci95_high"), summary["median"]
    if low is not None and high is not None and not low <= middle <= high:
        raise Invalid(
            f"{where}.ci95_low/ci95_high",
            f"the interval {low:g}–{high:g} does not contain the median {middle:g}",
        )


# Latencies are > 0: a zero median or probe divides by zero in `compare`, and the process
# medians' test takes their logs. Spreads (iqr, stdev) and interval bounds may be 0.
POSITIVE = number(0.0, above=True)

LATENCY_FIELDS = {
    "median": Field(POSITIVE, required=True),
    "ci95_low": Field(optional(number()), required=True),
    "ci95_high": Field(optional(number()), required=True),
    "iqr": Field(number(), required=True),
    "mean": Field(POSITIVE, required=True),
    "stdev": Field(optional(number()), required=True),  # null: NaN for a single call
    "n": Field(integer(), required=True),
}

PROCESS_FIELDS = {
    "median_ms": Field(optional(POSITIVE)),
    "n": Field(integer()),
    "rounds": Field(integer()),
    "sampled_s": Field(optional(number())),
    "hash_seed": Field(optional(integer())),
    # kept per process so that a resumed run re-pools exactly (bench/measure/processes.py)
    "warmup": Field(optional(obj)),
    "telemetry": Field(optional(obj)),
    "host_probe_ms": Field(optional(list_of(POSITIVE))),
    # what a worker in another environment imported (fbench run --with; bench/measure/stack.py)
    "versions": Field(optional(obj)),
}

# bench/measure/host_probe.py: a probe that failed keeps the rounds before it (maybe none) and says
# where it failed; round 0 is its build and warm-up, `process` is set on pooled rows.
PROBE_FAILURE_FIELDS = {
    "round": Field(integer(), required=True),
    "error": Field(text, required=True),
    "process": Field(integer(1)),
}

# bench/stats/host_probe.py `drift`: how far a sustained shift of the host could have moved
# the row's median, each process judged on its own rounds (fbench.result/3).
DRIFT_FIELDS = {
    "method": Field(text, required=True),
    "median_shift_bound": Field(number(), required=True),
    "per_process": Field(list_of(optional(number()))),
}

HOST_PROBE_FIELDS = {
    "workload": Field(text),
    "round_medians_ms": Field(list_of(POSITIVE), required=True),
    "failure": Field(optional(record(PROBE_FAILURE_FIELDS))),
    "drift": Field(optional(record(DRIFT_FIELDS))),
}

# bench/measure/runner.py: one process's per-round medians of a row and of the anchors timed
# in the same rounds; an anchor's list is a prefix of the row's (it stops where it failed).
ROUND_MEDIANS_FIELDS = {
    "first_round": Field(integer(1), required=True),
    "row_ms": Field(list_of(POSITIVE), required=True),
    "gemm_ms": Field(list_of(POSITIVE)),
    "copy_ms": Field(list_of(POSITIVE)),
    "smallconv_ms": Field(list_of(POSITIVE)),  # the latency anchor; older files lack it
    "anchor_failures": Field(mapping_of(record(PROBE_FAILURE_FIELDS))),
}


def _anchors_within_rounds(entry: Mapping[str, Any], where: str) -> None:
    for name in ("gemm_ms", "copy_ms", "smallconv_ms"):
        if len(entry.get(name) or ()) > len(entry["row_ms"]):
            raise Invalid(f"{where}.{name}", "more rounds than the row's own row_ms")


WARMUP_FIELDS = {
    "calls": Field(integer()),
    "seconds": Field(number()),
    "settled": Field(optional(boolean)),
}

ROW_FIELDS: dict[str, Field] = {
    "operator": Field(text, required=True),
    "operator_params": Field(obj, required=True),
    "stage": Field(integer(), required=True),
    "channels": Field(integer(), required=True),
    "height": Field(integer(), required=True),
    "width": Field(integer(), required=True),
    "layers": Field(integer(0, MAX_LAYERS), required=True),
    "batch": Field(integer(1), required=True),
    "device": Field(text, required=True),
    "backend": Field(text, required=True),
    "dtype": Field(text, required=True),
    "method": Field(one_of(METHODS, "method"), required=True),
    "flops": Field(integer(), required=True),
    # A layer reads its input and writes its output: a count of 0 bytes is no count (and
    # divides by zero in the roofline and the claims); networks have none (null).
    "memory_access_bytes": Field(optional(integer(1)), required=True),
    "implementation_memory_access_bytes": Field(optional(integer(1)), required=True),
    "status": Field(one_of(st.STATUSES, "status"), required=True),
    "reasons": Field(list_of(one_of(tuple(st.REASONS), "reason code")), required=True),
    "why": Field(optional(text)),
    "latency_ms": Field(optional(record(LATENCY_FIELDS, interval_holds_median))),
    "latency_estimator": Field(one_of(ESTIMATORS, "latency_estimator")),
    "samples_ms": Field(list_of(POSITIVE)),
    "throughput_per_s": Field(optional(number())),
    "gflops_per_s": Field(optional(number())),
    "error": Field(optional(text)),
    "notes": Field(list_of(text)),
    "device_problems": Field(list_of(text)),
    "flops_fvcore": Field(optional(integer())),
    "flops_torch": Field(optional(integer())),  # custom operators: FlopCounterMode's count
    "operator_source": Field(optional(obj)),  # custom operators: where the definition came from
    "fvcore_uncounted_ops": Field(obj),
    "backend_options": Field(obj),
    "backend_details": Field(obj),
    "warmup": Field(record(WARMUP_FIELDS)),
    "rounds": Field(integer()),
    "sampled_s": Field(optional(number())),
    "processes": Field(optional(list_of(record(PROCESS_FIELDS)))),
    "telemetry": Field(obj),
    "hardware_counters": Field(optional(obj)),
    "host_probe": Field(optional(record(HOST_PROBE_FIELDS))),
    "round_medians": Field(
        optional(list_of(optional(record(ROUND_MEDIANS_FIELDS, _anchors_within_rounds))))
    ),
    "suite": Field(one_of(SUITES, "suite")),
    "network": Field(optional(text)),
    "family": Field(optional(text)),
    "params": Field(optional(integer())),
    "started": Field(optional(text)),
    "finished": Field(optional(text)),
}


# Numbers a measurement derives from each other must agree (issue 27: a median of 1e300
# beside ordinary samples read as `ok`). Samples are stored rounded to the nanosecond.
SAMPLE_ROUNDING_MS = 1e-6
DERIVED_TOLERANCE = 1e-4  # relative: FLOPS and throughput are exact quotients


def _numbers_agree(row: Mapping[str, Any], where: str) -> None:
    """The median lies within the stored samples' range; FLOPS and throughput are the
    FLOPs and batch over the row's latency (its median, or the mean for the official method).

    The interval is not held to the samples' range: with few worker processes the
    between-process interval (Student's t on their medians) is rightly wider than any call."""
    latency, samples = row.get("latency_ms"), row.get("samples_ms") or []
    if latency is None:
        return
    if samples:
        low, high, median = min(samples), max(samples), latency["median"]
        if not low - SAMPLE_ROUNDING_MS <= median <= high + SAMPLE_ROUNDING_MS:
            raise Invalid(
                f"{where}.latency_ms.median",
                f"{median:g} lies outside its samples' range {low:g}–{high:g}",
            )
    estimate = latency.get(row.get("latency_estimator", "median"))
    if not estimate:
        return
    derived = {
        "gflops_per_s": row["flops"] * row["batch"] / (estimate / 1000.0) / 1e9,
        "throughput_per_s": row["batch"] * 1000.0 / estimate,
    }
    for name, expected in derived.items():
        value = row.get(name)
        if value is not None and not math.isclose(value, expected, rel_tol=DERIVED_TOLERANCE):
            raise Invalid(
                f"{where}.{name}",
                f"{value:g}, but its FLOPs, batch and latency make it {expected:g}",
            )


def _status_agrees(row: Mapping[str, Any], where: str) -> None:
    """The status is the one its reasons give; measured rows have a latency, failed an error."""
    status, reasons = row["status"], row["reasons"]
    if status != st.OK and not reasons:
        raise Invalid(f"{where}.reasons", f"empty, but the row is {status!r}")
    implied = st.status_of(reasons)
    if implied != status:
        raise Invalid(
            f"{where}.status", f"{status!r}, but its reasons {reasons} make it {implied!r}"
        )
    latency = row.get("latency_ms")
    if status in st.MEASURED and latency is None:
        raise Invalid(f"{where}.latency_ms", f"missing for a {status!r} row")


TIMING_FIELDS = {
    "method": Field(one_of(METHODS, "timing method"), required=True),
    "ci_target": Field(number(above=True)),
    "max_row_s": Field(number(above=True)),
    "processes": Field(integer(1, MAX_PROCESSES)),
    "min_samples": Field(integer()),
    "min_rounds": Field(integer()),
    "official_calls": Field(integer()),
    "round_s": Field(number()),
    "warmup_min_s": Field(number()),
    "warmup_max_s": Field(number()),
    "warmup_tolerance": Field(number()),
    "host_probe": Field(boolean),
    "host_moved_above": Field(number(above=True)),
    "perf_counters": Field(boolean),
}


def _adaptive_targets(timing: Mapping[str, Any], where: str) -> None:
    if timing["method"] == "adaptive":
        for name in ("ci_target", "max_row_s"):
            if name not in timing:
                raise Invalid(f"{where}.{name}", "missing (the adaptive method needs it)")
    if timing.get("ci_target", 0) >= 1:  # as bench/config's check_timing: a fraction
        raise Invalid(f"{where}.ci_target", f"{timing['ci_target']:g} is not below 1 (100%)")


STAGE_FIELDS = {
    "stage": Field(integer(0), required=True),
    "channels": Field(integer(1), required=True),
    "height": Field(integer(1), required=True),
    "width": Field(integer(1), required=True),
}


CONFIG_FIELDS = {
    "device": Field(text, required=True),
    "backend": Field(text, required=True),
    "operators": Field(list_of(text), required=True),
    "stages": Field(list_of(record(STAGE_FIELDS)), required=True),
    "layers": Field(integer(1, MAX_LAYERS), required=True),
    "dtype": Field(text, required=True),
    "seed": Field(integer(None), required=True),
    "operator_params": Field(obj, required=True),
    "timing": Field(record(TIMING_FIELDS, _adaptive_targets), required=True),
    "device_settings": Field(obj, required=True),
    "backend_options": Field(obj),
    "quick": Field(boolean),
    "suite": Field(one_of(SUITES, "suite")),
    "models": Field(list_of(text)),
    "layers_sweep": Field(list_of(integer(1, MAX_LAYERS))),
    "source": Field(optional(text)),
    "custom_operators": Field(list_of(obj)),  # operators/custom.py definitions, for workers
    "input_size": Field(optional(integer(1))),
    "stack": Field(list_of(text)),  # --with and the backend's requirements, "name==version"
}

# A device calibration's ceilings (bench/calibration/): what a run records of the one it was
# measured beside (`environment.calibration`), so that a report can draw its roofline years
# later. Rates are G multiply-adds/s or GB/s, > 0: the roofline divides by them.
CEILING_KINDS = ("compute", "bandwidth")
CEILING_RATE_FIELDS = {
    "kind": Field(one_of(CEILING_KINDS, "ceiling kind"), required=True),
    "unit": Field(text),
    "median": Field(POSITIVE, required=True),
    "ci95_low": Field(optional(POSITIVE)),
    "ci95_high": Field(optional(POSITIVE)),
}
PEAK_FIELDS = {
    "gflops_per_s": Field(optional(POSITIVE)),
    "lanes": Field(optional(integer(1))),
    "fma_units": Field(optional(integer(1))),
    "clock_mhz": Field(optional(POSITIVE)),
    "vector_isa": Field(optional(text)),
    "assumption": Field(text),
    "reason": Field(optional(text)),
    "clock_source": Field(optional(text)),
}
RECORDED_CALIBRATION_FIELDS = {
    "file": Field(optional(text)),
    "identity": Field(text),
    "model": Field(optional(text)),
    "device": Field(text),
    "dtype": Field(text),
    "created": Field(text),
    "quick": Field(boolean),
    "ceilings": Field(mapping_of(record(CEILING_RATE_FIELDS, interval_holds_median))),
    "compute_ceiling": Field(text),
    "bandwidth_ceiling": Field(text),
    "peak": Field(optional(record(PEAK_FIELDS))),
}

# The environment is what the host reported (free-form); these are the keys commands read.
ENVIRONMENT_FIELDS = {
    "machine": Field(optional(text)),
    "cpu_model": Field(optional(text)),
    "board_model": Field(optional(text)),
    "gpu_name": Field(optional(text)),
    "torch": Field(optional(text)),
    "governor": Field(optional(text)),
    "pinned_core": Field(optional(integer())),
    "threads": Field(optional(obj)),
    "calibration": Field(optional(record(RECORDED_CALIBRATION_FIELDS))),
}

# bench/measure/processes.py: a worker process that died, and what it was doing.
WORKER_FAILURE_FIELDS = {
    "process": Field(integer(1), required=True),
    "label": Field(text),
    "exit_code": Field(optional(integer(None))),
    "signal": Field(optional(text)),
    "last_activity": Field(optional(text)),
    "rows_unfinished": Field(list_of(text)),
    "message": Field(optional(text)),
    "at": Field(optional(text)),
}

RUN_FIELDS: dict[str, Field] = {
    "schema": Field(one_of((SCHEMA,), "schema"), required=True),
    "run_id": Field(plain_name, required=True),  # it names files (`fbench plot`)
    "created": Field(text, required=True),
    "finished": Field(optional(text)),
    "state": Field(one_of(RUN_STATES, "state")),
    "fbench_version": Field(text),
    "rows_planned": Field(integer()),
    "resumed": Field(list_of(text)),
    "processes_planned": Field(optional(integer(1, MAX_PROCESSES))),
    "processes_finished": Field(optional(integer())),
    "worker_failures": Field(list_of(record(WORKER_FAILURE_FIELDS))),
    "environment": Field(record(ENVIRONMENT_FIELDS), required=True),
    "config": Field(record(CONFIG_FIELDS), required=True),
    "rows": Field(list_of(record(ROW_FIELDS, _status_agrees, _numbers_agree)), required=True),
}


def validate_result(data: Mapping[str, Any], source: str) -> None:
    """Every known field of an `fbench.result/3` run (decoded JSON) has the type, unit, range
    and value a command expects; else one line naming `source` and the field, exit 2."""
    try:
        obj(data, "")
        validate_fields(data, RUN_FIELDS, "")
    except Invalid as error:
        raise FbenchError(f"{source}: invalid result file: {error}") from None
