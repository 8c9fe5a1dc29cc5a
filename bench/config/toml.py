"""Reading a bench.toml and checking its tables, keys and value types, each failure one line
that names the file, the key and what would be right; also the [compare] table, which needs
nothing else (bench/config/resolve.py checks the rest against the registries)."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fbench.bench.config.model import COMPARE_DEFAULTS, GATES, parse_duration
from fbench.bench.errors import FbenchError, did_you_mean, read_user_file

DEFAULT_CONFIG_FILE = "bench.toml"
BUILT_IN = "built-in defaults"  # the source named in messages when there is no file


def read_toml(path: Path) -> dict[str, Any]:
    # A byte-order mark (Windows editors write one) is not TOML: read past it, as result files.
    text = read_user_file(path, "config", "config file not found").removeprefix("\ufeff")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise FbenchError(f"{path}: invalid TOML: {error}") from None


def read_config_file(path: Path | None) -> tuple[dict[str, Any], str]:
    """The parsed file (empty for the built-in defaults) and the source its messages name."""
    if path is None:
        return {}, BUILT_IN
    return read_toml(path), str(path)


def default_config_path() -> Path | None:
    """./bench.toml when there is one, else None (the built-in defaults, which equal it)."""
    candidate = Path(DEFAULT_CONFIG_FILE)
    return candidate if candidate.is_file() else None


def _type_name(types: tuple[type, ...]) -> str:
    names = {
        bool: "true/false",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
    }
    return " or ".join(names.get(t, t.__name__) for t in types)


def typed(where: str, key: str, value: Any, types: tuple[type, ...]) -> Any:
    """Check `value` against `types`; ints pass where floats are expected, bools never do."""
    if isinstance(value, bool) and bool not in types:
        raise FbenchError(f"{where} {key} must be {_type_name(types)}, got {value!r}")
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, types):
        raise FbenchError(f"{where} {key} must be {_type_name(types)}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):  # stored as null otherwise
        raise FbenchError(f"{where} {key} must be a finite number, got {value!r}")
    return value


def subtable(raw: Mapping[str, Any], key: str, source: str) -> dict[str, Any]:
    """The table `raw[key]` ({} when absent)."""
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise FbenchError(f"{source}: [{key}] must be a table")
    return value


def known_keys(where: str, table: Mapping[str, Any], known: Sequence[str]) -> None:
    for key in table:
        if key not in known:
            hint = did_you_mean(key, known)
            raise FbenchError(f"{where} unknown key {key!r}{hint}; known: {', '.join(known)}")


def typed_table(
    where: str,
    table: Mapping[str, Any],
    defaults: Mapping[str, Any],
    types: Mapping[str, tuple[type, ...]] | None = None,
) -> dict[str, Any]:
    """defaults updated with `table`, every key known and of the default's type."""
    known_keys(where, table, list(defaults))
    resolved = dict(defaults)
    for key, value in table.items():
        expected = (types or {}).get(key) or (type(defaults[key]),)
        resolved[key] = typed(where, key, value, expected)
    return resolved


def compare_settings(raw: Mapping[str, Any], source: str) -> dict[str, Any]:
    """[compare] threshold (smallest change reported), alpha (the tests' level) and the
    host-speed correction (reports/compare/host.py): on/off and how far it may stray from the
    probe."""
    where = f"{source}: [compare]"
    settings = typed_table(where, subtable(raw, "compare", source), COMPARE_DEFAULTS)
    for key in ("threshold", "alpha", "host_tolerance"):
        value = settings[key]
        if not 0 < value < 1:
            raise FbenchError(f"{where} {key} must be in (0, 1) (0.05 = 5%), got {value}")
    if settings["gate"] not in GATES:
        raise FbenchError(
            f"{where} gate must be one of {', '.join(GATES)}, got {settings['gate']!r}"
        )
    return settings


def load_compare_settings(path: Path | None) -> dict[str, Any]:
    return compare_settings(*read_config_file(path))


def run_settings(raw: Mapping[str, Any], source: str) -> dict[str, Any]:
    """[run]: how a run is carried out, not what it measures. time_budget: a duration
    (`90`, "90s", "20m") the whole run must fit in, in seconds here; absent: no budget."""
    where = f"{source}: [run]"
    table = subtable(raw, "run", source)
    known_keys(where, table, ["time_budget"])
    budget = table.get("time_budget")
    if budget is not None:
        budget = parse_duration(
            typed(where, "time_budget", budget, (str, int, float)), f"{where} time_budget"
        )
    return {"time_budget": budget}


def load_run_settings(path: Path | None) -> dict[str, Any]:
    return run_settings(*read_config_file(path))


def registry_names(names: Any, where: str, known: Mapping[str, Any], kind: str) -> tuple[str, ...]:
    """A non-empty list of distinct names from a registry (operators, networks)."""
    if not isinstance(names, list | tuple) or not names:
        raise FbenchError(f"{where} must be a non-empty list of {kind} names")
    for name in names:
        if not isinstance(name, str) or name not in known:
            raise FbenchError(
                f"{where} unknown {kind} {name!r}{did_you_mean(name, known)}; "
                f"known: {', '.join(known)}"
            )
    duplicates = sorted({name for name in names if list(names).count(name) > 1})
    if duplicates:
        raise FbenchError(f"{where} lists {', '.join(duplicates)} more than once")
    return tuple(names)
