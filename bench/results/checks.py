"""The validator's building blocks: a field is `Field(check, required)`, a check is
`check(value, where)` that raises `Invalid` naming where the value is wrong, or returns.

bench/results/schema.py lays the result file's fields out as tables of these checks; the
format itself is described in docs/result-format.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class Invalid(Exception):
    """A field that is wrong: where (`rows[3].samples_ms[0]`) and what is wrong with it."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where, self.problem = where, problem


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


PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")


def plain_name(value: Any, where: str) -> None:
    """A name that is safe in a file name and a one-line message: letters, digits and
    . _ + - (not first), at most 200; no separator, no NUL, no newline, never `..`."""
    text(value, where)
    if not PLAIN_NAME.fullmatch(value):
        raise Invalid(where, f"{value!r} is not a plain name (letters, digits, . _ + -)")


def boolean(value: Any, where: str) -> None:
    if not isinstance(value, bool):
        raise Invalid(where, f"{value!r} is not true or false")


def obj(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise Invalid(where, f"is a {_type_name(value)}, not an object")


def integer(minimum: int | None = 0, maximum: int | None = None) -> Check:
    def check(value: Any, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(where, f"{value!r} is not a whole number")
        if minimum is not None and value < minimum:
            raise Invalid(where, f"{value} is below {minimum}")
        if maximum is not None and value > maximum:
            raise Invalid(where, f"{value} is above {maximum}, the most `fbench run` accepts")

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


def mapping_of(inner: Check) -> Check:
    """An object whose every value passes `inner` (keys are names: ceilings by name)."""

    def check(value: Any, where: str) -> None:
        obj(value, where)
        for key, item in value.items():
            inner(item, f"{where}.{key}")

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
