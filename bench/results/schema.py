"""The result file's version, its history, the /1 → /2 migration and the strict validator.

Every command that reads a result file goes through `bench.results.parse_result`, which
calls `check_version`, `migrate_v1` (for /1 files, in memory: a file is never rewritten in
place) and `validate_result`, so a bad file gets one line naming the file and the field, and
exit 2, before any command touches a value. See docs/result-format.md for the fields.

Format history (`SCHEMA`):
- fbench.result/1 (fbench 0.1): row status ok | unstable | failed; why a row was `unstable`
  only in free-text `notes`; the device's problems under `telemetry.problems` (missing in
  the oldest files), which also held "interrupted: ..." for runs stopped early.
- fbench.result/2: status ok | imprecise | disturbed | failed (bench/results/status.py); every
  row has `reasons` (stable codes) and `why` (one sentence), and `device_problems` (the device's own
  sentences, formerly `telemetry.problems`; interruptions are a reason, not a device problem).
  /1 files are read through `migrate_v1`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.errors import FbenchError
from bench.results import status as st

SCHEMA = "fbench.result/2"
SCHEMA_V1 = "fbench.result/1"
SUPPORTED = (SCHEMA_V1, SCHEMA)

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


class Invalid(Exception):
    """A field that is wrong: where (`rows[3].samples_ms[0]`) and what is wrong with it."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where, self.problem = where, problem


# --- version --------------------------------------------------------------------------------


def check_version(data: Any, source: str) -> str:
    """The file's schema, if this fbench reads it; otherwise one line naming the version."""
    if not isinstance(data, dict):
        raise FbenchError(f"{source}: not an fbench result (top level is not an object)")
    if "schema" not in data:
        raise FbenchError(f"{source}: not an fbench result (no 'schema' field)")
    version = data["schema"]
    if version in SUPPORTED:
        return version
    if isinstance(version, str) and version.startswith("fbench.result/"):
        raise FbenchError(
            f"{source}: written in result format {version!r}, which this fbench "
            f"{_fbench_version()} does not know (it reads {', '.join(SUPPORTED)}); "
            "upgrade fbench to read it"
        )
    raise FbenchError(
        f"{source}: schema {version!r} is not an fbench result format "
        f"(this fbench reads {', '.join(SUPPORTED)})"
    )


def _fbench_version() -> str:
    import bench

    return bench.__version__


# --- migration ------------------------------------------------------------------------------


def migrate_v1(data: Mapping[str, Any]) -> dict[str, Any]:
    """An `fbench.result/1` run as `fbench.result/2` (a new dict; `data` is not changed).

    Rows: `ok` stays `ok`; `failed` gets the reason `error`. An `unstable` row becomes:
    - `imprecise` (`interval_wide`, plus `processes_differ` when its notes said the interval
      was the processes') when its `telemetry.problems` is an empty list: the device reported
      nothing, so the interval was the only flaw;
    - `disturbed`, with the reasons of its problems, when that list is not empty;
    - when the list is missing (files older than the list): `imprecise` with `interval_wide`
      if it has a latency, since in those files a device problem was a rare Pi-only case and
      the interval the common one; `disturbed` with `unrecorded` if it has none.
    `telemetry.problems` moves to `device_problems`, less the "interrupted: ..." entry, which
    becomes the reason `interrupted`. Fields of the wrong type are left for the validator.
    """
    migrated = copy.deepcopy(dict(data))
    migrated["schema"] = SCHEMA
    rows = migrated.get("rows")
    if isinstance(rows, list):
        for index, row in enumerate(rows):
            if isinstance(row, dict):
                _migrate_v1_row(row, f"rows[{index}]")
    return migrated


def _migrate_v1_row(row: dict[str, Any], where: str) -> None:
    telemetry = row.get("telemetry")
    problems = telemetry.pop("problems", None) if isinstance(telemetry, dict) else None
    if problems is not None and (
        not isinstance(problems, list) or not all(isinstance(p, str) for p in problems)
    ):
        raise Invalid(f"{where}.telemetry.problems", "not a list of strings")
    interrupted = [p for p in problems or () if _strip_process(p).startswith("interrupted")]
    row["device_problems"] = [p for p in problems or () if p not in interrupted]
    notes = row.get("notes") if isinstance(row.get("notes"), list) else []
    text_notes = [note for note in notes if isinstance(note, str)]
    status = row.get("status")
    if status == "ok":
        reasons: list[str] = []
    elif status == "failed":
        reasons = [st.ERROR]
    elif status == "unstable":
        causes = [st.INTERRUPTED] * bool(interrupted) + [
            _v1_problem_code(p) for p in row["device_problems"]
        ]
        interval = []
        said_interval = any(note.startswith("95% CI") for note in text_notes)
        if said_interval or (not causes and row.get("latency_ms") is not None):
            interval.append(st.INTERVAL_WIDE)
        if any(note.startswith("the interval is the processes'") for note in text_notes):
            interval.append(st.PROCESSES_DIFFER)
        reasons = st.unique([*causes, *interval]) or [st.UNRECORDED]
        row["status"] = st.status_of(reasons)
    else:
        return  # an unknown status: the validator names it
    row["reasons"] = reasons
    row["why"] = _v1_why(row, reasons, [*interrupted, *row["device_problems"]], text_notes)


def _strip_process(problem: str) -> str:
    """ "process 2: throttled ..." → "throttled ..." (how /1 multi-process rows named them)."""
    head, _, rest = problem.partition(": ")
    return rest if head.startswith("process ") and head[8:].isdigit() else problem


def _v1_problem_code(problem: str) -> str:
    """The reason code of a /1 device problem, from the sentences /1's devices wrote
    (devices/arm.py). Only for migration: /2 devices give the code with the sentence."""
    text = _strip_process(problem)
    if "get_throttled" in text:
        return st.THROTTLED
    if "max frequency capped" in text:
        return st.CLOCK_CAPPED
    if text.startswith("governor changed"):
        return st.GOVERNOR_CHANGED
    if "°C" in text:
        return st.TOO_HOT
    return st.DEVICE_PROBLEM


def _v1_why(
    row: Mapping[str, Any], reasons: list[str], causes: list[str], notes: list[str]
) -> str | None:
    """One sentence: the error, the first disturbance, or the interval note(s)."""
    if not reasons:
        return None
    if reasons == [st.ERROR]:
        return str(row.get("error") or st.REASONS[st.ERROR].meaning)
    if causes:
        return causes[0]
    interval = [n for n in notes if n.startswith(("95% CI", "the interval is the processes'"))]
    if interval:
        return "; ".join(interval)
    return notes[0] if notes else st.REASONS[reasons[0]].meaning


# --- the validator: one table of fields, one check per field ----------------------------------
#
# A check is `check(value, where)`; it raises `Invalid` or returns. `Field(check, required)`.
# Fields not in a table are accepted as they are (a newer fbench's, kept in `extra`).

Check = Callable[[Any, str], None]


@dataclass(frozen=True)
class Field:
    check: Check
    required: bool = False


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def text(value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise Invalid(where, f"{value!r} is not a string")


def boolean(value: Any, where: str) -> None:
    if not isinstance(value, bool):
        raise Invalid(where, f"{value!r} is not true or false")


def obj(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise Invalid(where, f"is a {_type_name(value)}, not an object")


def integer(minimum: int | None = 0) -> Check:
    def check(value: Any, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(where, f"{value!r} is not a whole number")
        if minimum is not None and value < minimum:
            raise Invalid(where, f"{value} is below {minimum}")

    return check


def number(minimum: float | None = 0.0, above: bool = False) -> Check:
    """A finite number ≥ `minimum` (> when `above`); NaN and infinities are refused."""

    def check(value: Any, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(where, f"{value!r} is not a number")
        if not math.isfinite(value):
            raise Invalid(where, f"{value!r} is not a finite number")
        if minimum is not None and (value <= minimum if above else value < minimum):
            raise Invalid(where, f"{value:g} is {'not above' if above else 'below'} {minimum:g}")

    return check


def optional(inner: Check) -> Check:
    def check(value: Any, where: str) -> None:
        if value is not None:
            inner(value, where)

    return check


def one_of(choices: tuple[str, ...], what: str) -> Check:
    def check(value: Any, where: str) -> None:
        if value not in choices:
            raise Invalid(where, f"unknown {what} {value!r} (known: {', '.join(choices)})")

    return check


def list_of(inner: Check) -> Check:
    def check(value: Any, where: str) -> None:
        if not isinstance(value, list):
            raise Invalid(where, f"is a {_type_name(value)}, not a list")
        for index, item in enumerate(value):
            inner(item, f"{where}[{index}]")

    return check


def record(table: Mapping[str, Field], *rules: Callable[[Mapping[str, Any], str], None]) -> Check:
    """An object whose known fields pass `table`'s checks, then the cross-field `rules`."""

    def check(value: Any, where: str) -> None:
        obj(value, where)
        validate_fields(value, table, where)
        for rule in rules:
            rule(value, where)

    return check


def validate_fields(data: Mapping[str, Any], table: Mapping[str, Field], where: str) -> None:
    prefix = f"{where}." if where else ""
    for name, spec in table.items():
        if name not in data:
            if spec.required:
                raise Invalid(f"{prefix}{name}", "missing")
            continue
        spec.check(data[name], f"{prefix}{name}")


def _interval_holds_median(summary: Mapping[str, Any], where: str) -> None:
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
}

# bench/measure/host_probe.py: a probe that failed keeps the rounds before it (maybe none) and says
# where it failed; round 0 is its build and warm-up, `process` is set on pooled rows.
PROBE_FAILURE_FIELDS = {
    "round": Field(integer(), required=True),
    "error": Field(text, required=True),
    "process": Field(integer(1)),
}

HOST_PROBE_FIELDS = {
    "workload": Field(text),
    "round_medians_ms": Field(list_of(POSITIVE), required=True),
    "failure": Field(optional(record(PROBE_FAILURE_FIELDS))),
}

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
    "layers": Field(integer(), required=True),
    "batch": Field(integer(1), required=True),
    "device": Field(text, required=True),
    "backend": Field(text, required=True),
    "dtype": Field(text, required=True),
    "method": Field(one_of(METHODS, "method"), required=True),
    "flops": Field(integer(), required=True),
    "memory_access_bytes": Field(optional(integer()), required=True),
    "implementation_memory_access_bytes": Field(optional(integer()), required=True),
    "status": Field(one_of(st.STATUSES, "status"), required=True),
    "reasons": Field(list_of(one_of(tuple(st.REASONS), "reason code")), required=True),
    "why": Field(optional(text)),
    "latency_ms": Field(optional(record(LATENCY_FIELDS, _interval_holds_median))),
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
    "suite": Field(one_of(SUITES, "suite")),
    "network": Field(optional(text)),
    "family": Field(optional(text)),
    "params": Field(optional(integer())),
    "started": Field(optional(text)),
    "finished": Field(optional(text)),
}


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
    "processes": Field(integer(1)),
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


CONFIG_FIELDS = {
    "device": Field(text, required=True),
    "backend": Field(text, required=True),
    "operators": Field(list_of(text), required=True),
    "stages": Field(list_of(obj), required=True),
    "layers": Field(integer(1), required=True),
    "dtype": Field(text, required=True),
    "seed": Field(integer(None), required=True),
    "operator_params": Field(obj, required=True),
    "timing": Field(record(TIMING_FIELDS, _adaptive_targets), required=True),
    "device_settings": Field(obj, required=True),
    "backend_options": Field(obj),
    "quick": Field(boolean),
    "suite": Field(one_of(SUITES, "suite")),
    "models": Field(list_of(text)),
    "layers_sweep": Field(list_of(integer(1))),
    "source": Field(optional(text)),
    "custom_operators": Field(list_of(obj)),  # operators/custom.py definitions, for workers
    "input_size": Field(optional(integer(1))),
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
    "calibration": Field(optional(obj)),
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
    "run_id": Field(text, required=True),
    "created": Field(text, required=True),
    "finished": Field(optional(text)),
    "state": Field(one_of(RUN_STATES, "state")),
    "fbench_version": Field(text),
    "rows_planned": Field(integer()),
    "resumed": Field(list_of(text)),
    "processes_planned": Field(optional(integer(1))),
    "processes_finished": Field(optional(integer())),
    "worker_failures": Field(list_of(record(WORKER_FAILURE_FIELDS))),
    "environment": Field(record(ENVIRONMENT_FIELDS), required=True),
    "config": Field(record(CONFIG_FIELDS), required=True),
    "rows": Field(list_of(record(ROW_FIELDS, _status_agrees)), required=True),
}


def validate_result(data: Mapping[str, Any], source: str) -> None:
    """Every known field of an `fbench.result/2` run (decoded JSON) has the type, unit, range
    and value a command expects; else one line naming `source` and the field, exit 2."""
    try:
        obj(data, "")
        validate_fields(data, RUN_FIELDS, "")
    except Invalid as error:
        raise FbenchError(f"{source}: invalid result file: {error}") from None


def upgrade(data: Any, source: str) -> dict[str, Any]:
    """Decoded JSON of any supported version → a validated `fbench.result/2` dict."""
    if check_version(data, source) == SCHEMA_V1:
        try:
            data = migrate_v1(data)
        except Invalid as error:
            raise FbenchError(f"{source}: invalid result file: {error}") from None
    validate_result(data, source)
    return data
