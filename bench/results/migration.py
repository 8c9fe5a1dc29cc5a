"""The result file's versions: which ones this fbench reads, their history, and the /1 → /2
→ /3 migrations, done in memory when a file is loaded (a file is never rewritten in place).

Format history (`SCHEMA`, docs/result-format.md):
- fbench.result/1 (fbench 0.1): row status ok | unstable | failed; why a row was `unstable`
  only in free-text `notes`; the device's problems under `telemetry.problems` (missing in
  the oldest files), which also held "interrupted: ..." for runs stopped early.
- fbench.result/2: status ok | imprecise | disturbed | failed (bench/results/status.py); every
  row has `reasons` (stable codes) and `why` (one sentence), and `device_problems` (the device's own
  sentences, formerly `telemetry.problems`; interruptions are a reason, not a device problem).
  /1 files are read through `migrate_v1`.
- fbench.result/3: rows store per-process round medians of themselves and of the anchors
  timed in the same rounds (`round_medians`: the GEMM host probe, a memory copy and, added
  later as an optional field, a small convolution), for
  estimates paired in time; `host_probe.drift` says how far a sustained shift of the host
  could have moved the row's median, each process judged on its own rounds (`host_moved`
  now means that, not the probe's pooled 5–95% range); a multi-process row's
  `latency_ms.median` is the geometric mean of its process medians, the centre of its
  interval. /2 files are read through `migrate_v2`: their rows have no `round_medians`, so
  they load and say that they cannot be paired; their stored medians and statuses stay
  as they were measured.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from fbench.bench.errors import FbenchError
from fbench.bench.results import status as st
from fbench.bench.results.checks import Invalid
from fbench.bench.results.schema import SCHEMA, validate_result

SCHEMA_V1 = "fbench.result/1"
SCHEMA_V2 = "fbench.result/2"
SUPPORTED = (SCHEMA_V1, SCHEMA_V2, SCHEMA)


def check_version(data: Any, source: str) -> str:
    """The file's schema, if this fbench reads it; otherwise one line naming the version."""
    if not isinstance(data, dict):
        raise FbenchError(f"{source}: not an fbench result (top level is not an object)")
    if "schema" not in data:
        raise FbenchError(f"{source}: not an fbench result (no 'schema' field)")
    version = data["schema"]
    if version in SUPPORTED:
        return version
    newer = isinstance(version, str) and re.fullmatch(r"fbench\.result/([0-9]{1,6})", version)
    if newer and int(newer.group(1)) > int(SCHEMA.rsplit("/", 1)[1]):
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
    from fbench import bench

    return bench.__version__


# --- migration ------------------------------------------------------------------------------


def migrate_v1(data: Mapping[str, Any]) -> dict[str, Any]:
    """An `fbench.result/1` run as `fbench.result/2` (a new dict; `data` is not changed);
    `upgrade` then takes it on to /3 (`migrate_v2`).

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
    migrated["schema"] = SCHEMA_V2
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


def migrate_v2(data: Mapping[str, Any]) -> dict[str, Any]:
    """An `fbench.result/2` run as `fbench.result/3` (a new dict; `data` is not changed).

    Nothing measured is recomputed: /2 rows keep their medians, intervals and statuses (a
    /2 `host_moved` was the pooled 5–95% rule). They have no `round_medians`, which /3
    readers take as "cannot be paired" (bench/stats/paired.py `pairing_words`)."""
    migrated = copy.deepcopy(dict(data))
    migrated["schema"] = SCHEMA
    return migrated


def upgrade(data: Any, source: str) -> dict[str, Any]:
    """Decoded JSON of any supported version → a validated `fbench.result/3` dict."""
    version = check_version(data, source)
    if version == SCHEMA_V1:
        try:
            data = migrate_v1(data)
        except Invalid as error:
            raise FbenchError(f"{source}: invalid result file: {error}") from None
        version = SCHEMA_V2
    if version == SCHEMA_V2:
        data = migrate_v2(data)
    validate_result(data, source)
    return data
