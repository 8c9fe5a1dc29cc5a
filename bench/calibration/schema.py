"""The calibration file's fields as tables of checks (fbench.bench.results.checks), applied by
`fbench.bench.calibration.store.parse_calibration` after migration: a bad file gets one line naming
the file and the field, and exit 2, before a roofline divides by one of its rates. The
format: docs/roofline.md; its version history: store.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fbench.bench.errors import FbenchError
from fbench.bench.results.checks import (
    Field,
    Invalid,
    boolean,
    mapping_of,
    number,
    obj,
    optional,
    record,
    text,
    validate_fields,
)
from fbench.bench.results.schema import (
    CEILING_RATE_FIELDS,
    LATENCY_FIELDS,
    PEAK_FIELDS,
    interval_holds_median,
)

# A ceiling as `fbench calibrate` stores it: its rate (the fields a result records of it)
# and how it was measured: the work of one call and the per-call latencies.
CEILING_FIELDS = {
    **CEILING_RATE_FIELDS,
    "name": Field(text),
    "work_per_call": Field(number(), required=True),
    "latency_ms": Field(record(LATENCY_FIELDS, interval_holds_median), required=True),
    "details": Field(obj),
}
CEILING = record(CEILING_FIELDS, interval_holds_median)

CALIBRATION_FIELDS = {
    "identity": Field(text, required=True),
    "device": Field(text, required=True),
    "dtype": Field(text, required=True),
    "created": Field(text, required=True),
    "environment": Field(obj, required=True),
    "settings": Field(obj),
    "quick": Field(boolean),
    "fbench_version": Field(text),
    "ceilings": Field(mapping_of(CEILING), required=True),
    "probes": Field(mapping_of(CEILING)),
    "peak": Field(optional(record(PEAK_FIELDS))),
    "migrated_from": Field(optional(text)),
}


def validate_calibration(data: Mapping[str, Any], source: str) -> None:
    """Raise FbenchError naming `source` and the first wrong field of a (migrated) file."""
    try:
        validate_fields(data, CALIBRATION_FIELDS, "")
    except Invalid as error:
        raise FbenchError(f"{source}: not a valid fbench calibration: {error}") from None
