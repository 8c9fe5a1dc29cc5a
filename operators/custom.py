"""Operators fbench has never seen: a user's factory, found by file path, module or entry point.

A factory takes the channel count and keyword parameters and returns one `nn.Module` layer
that keeps the feature map's shape; fbench stacks it `layers` deep like a built-in operator.
It may carry an analytic count as an attribute, `factory.flops(channels, height, width,
**params)` → multiply-adds of one layer for one sample; the counted FLOPs must then equal it.

Three ways in, one definition type (`CustomOperator`), which serialises into the run's
config so that worker processes (bench/measure/worker.py) rebuild exactly the same operator:
- `--operator [NAME=]TARGET:FACTORY[:KEY=VALUE,...]` on the command line;
- an `[[operator]]` table in bench.toml (name, factory, params);
- the `fbench.operators` entry-point group of an installed package (name = module:factory).

Nothing here imports torch or the user's code; operators/custom_build.py loads and checks it.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fbench.bench.errors import FbenchError

ENTRY_POINT_GROUP = "fbench.operators"
FLAG = "--operator"


@dataclass(frozen=True)
class CustomOperator:
    """A user operator: its name, where its factory lives, and the parameters passed to it."""

    name: str
    factory: str  # "/absolute/path/my_ops.py:make_block" or "my_pkg.blocks:make_block"
    params: Mapping[str, Any] = field(default_factory=dict)
    origin: str = FLAG  # "--operator", "<config file>: [[operator]]", "entry point"
    package: str | None = None  # the distribution that ships an entry-point operator
    version: str | None = None

    @property
    def target(self) -> str:
        return self.factory.rpartition(":")[0]

    @property
    def function(self) -> str:
        return self.factory.rpartition(":")[2]

    @property
    def is_file(self) -> bool:
        return self.target.endswith(".py")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "factory": self.factory,
            "params": dict(self.params),
            "origin": self.origin,
            "package": self.package,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CustomOperator:
        return cls(
            name=data["name"],
            factory=data["factory"],
            params=dict(data.get("params", {})),
            origin=data.get("origin", FLAG),
            package=data.get("package"),
            version=data.get("version"),
        )


class OperatorProblem(Exception):
    """A custom operator that cannot be built or run; the message names the reason."""


# --- parsing the three ways in ----------------------------------------------------------------


def check_params(where: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` if a result file can store every value exactly (JSON: strings, booleans,
    whole numbers, finite numbers, lists and tables of them), else one line naming the key:
    a TOML date or time is not JSON, and NaN or an infinity would be stored as null while the
    factory received the number."""

    def check(key: str, value: Any) -> None:
        if isinstance(value, dict):
            for inner, item in value.items():
                check(f"{key}.{inner}", item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                check(f"{key}[{index}]", item)
        elif isinstance(value, float) and not math.isfinite(value):
            raise FbenchError(
                f"{where} parameter {key} = {value!r}: not a finite number, which a result "
                "file cannot store; give a finite number"
            )
        elif not isinstance(value, str | bool | int | float):
            raise FbenchError(
                f"{where} parameter {key} = {value!s}: a TOML {type(value).__name__}, which a "
                f'result file cannot store; quote it to pass a string ("{value!s}")'
            )

    for key, value in params.items():
        check(key, value)
    return dict(params)


def parse_value(text: str) -> Any:
    """A parameter value as TOML reads it (0.5, 3, true, "x"); a bare word stays a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _factory_reference(where: str, reference: str, base: Path | None) -> str:
    """TARGET:FUNCTION with a file TARGET made absolute (relative to `base`, else the cwd)."""
    target, colon, function = reference.rpartition(":")
    if not colon or not target or not function.isidentifier():
        raise FbenchError(
            f"{where} factory must be FILE.py:FUNCTION or MODULE:FUNCTION, got {reference!r}"
        )
    if target.endswith(".py"):
        path = Path(target).expanduser()
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        target = str(path.resolve())
    elif not all(part.isidentifier() for part in target.split(".")):
        raise FbenchError(f"{where} {target!r} is neither a .py file nor a module name")
    return f"{target}:{function}"


def parse_flag(text: str) -> CustomOperator:
    """`--operator [NAME=]TARGET:FACTORY[:KEY=VALUE,...]`.

    The name defaults to the factory's name; parameters are TOML values (ratio=0.5, k=3).
    """
    where = f"{FLAG} {text}:"
    name = None
    head = text.split(":", 1)[0]
    if "=" in head:
        name, _, text = text.partition("=")
    parts = text.split(":")
    params: dict[str, Any] = {}
    if len(parts) >= 3 and "=" in parts[-1]:
        for item in filter(None, (p.strip() for p in parts[-1].split(","))):
            key, equals, value = item.partition("=")
            if not equals or not key.strip().isidentifier():
                raise FbenchError(f"{where} parameters must be KEY=VALUE, got {item!r}")
            if key.strip() in params:  # the last would silently win
                raise FbenchError(f"{where} parameter {key.strip()} is given twice")
            params[key.strip()] = parse_value(value.strip())
        check_params(where, params)
        parts = parts[:-1]
    factory = _factory_reference(where, ":".join(parts), None)
    name = (name or factory.rpartition(":")[2]).strip()
    check_name(where, name)
    return CustomOperator(name=name, factory=factory, params=params, origin=FLAG)


def check_name(where: str, name: str) -> None:
    from fbench.operators.registry import OPERATORS

    if not name or not all(part.isidentifier() for part in name.split("-")):
        raise FbenchError(f"{where} operator name {name!r} must be letters, digits, _ or -")
    if name in OPERATORS:
        raise FbenchError(
            f"{where} operator name {name!r} shadows the built-in operator; choose another name"
        )


def parse_tables(raw: Any, source: str, base: Path | None) -> tuple[CustomOperator, ...]:
    """bench.toml's `[[operator]]` tables: name, factory (path relative to the file), params."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise FbenchError(f"{source}: [[operator]] must be one or more tables")
    operators = []
    for index, table in enumerate(raw, 1):
        where = f"{source}: [[operator]] #{index}"
        for key in table:
            if key not in ("name", "factory", "params"):
                raise FbenchError(f"{where} unknown key {key!r}; known: name, factory, params")
        for key in ("name", "factory"):
            if not isinstance(table.get(key), str):
                raise FbenchError(f"{where} needs {key} = a string")
        params = table.get("params", {})
        if not isinstance(params, dict):
            raise FbenchError(f"{where} params must be a table")
        where = f"{source}: [[operator]] {table['name']!r}:"
        check_name(where, table["name"])
        check_params(where, params)
        factory = _factory_reference(where, table["factory"], base)
        operators.append(
            CustomOperator(table["name"], factory, params, origin=f"{source}: [[operator]]")
        )
    return tuple(operators)


def entry_point_operators() -> dict[str, CustomOperator]:
    """Operators installed packages declare in the `fbench.operators` entry-point group.

    One that shadows a built-in operator is left out (`entry_point_problems` says so).
    """
    from fbench.operators.registry import OPERATORS

    found = {}
    for point in _entry_points():
        if point.name in OPERATORS or point.name in found:
            continue
        found[point.name] = _from_entry_point(point)
    return found


def entry_point_problems() -> list[str]:
    from fbench.operators.registry import OPERATORS

    return [
        f"entry point {point.name} = {point.value}: shadows the built-in operator; ignored"
        for point in _entry_points()
        if point.name in OPERATORS
    ]


def _entry_points() -> list[Any]:
    from importlib.metadata import entry_points

    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda point: point.name)


def _from_entry_point(point: Any) -> CustomOperator:
    dist = getattr(point, "dist", None)
    return CustomOperator(
        name=point.name,
        factory=point.value.replace(" ", ""),
        origin="entry point",
        package=dist.name if dist is not None else None,
        version=dist.version if dist is not None else None,
    )
