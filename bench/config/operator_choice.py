"""Which operators a run measures and with which parameters: the built-ins of operators/,
operators defined in [[operator]] tables or --operator flags, and operators that installed
packages ship (entry points); [operators.NAME] tables set their parameters, checked at every
shape the run measures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fbench.bench.config.model import Overrides
from fbench.bench.config.toml import BUILT_IN, registry_names, subtable, typed_table
from fbench.bench.errors import FbenchError, did_you_mean
from fbench.operators import OPERATORS, StageShape, get_operator
from fbench.operators.custom import (
    CustomOperator,
    check_params,
    entry_point_operators,
    parse_flag,
    parse_tables,
)


@dataclass(frozen=True)
class OperatorChoice:
    """The operators a run measures, in order, and what defines every name it may use:
    None for a built-in, else a custom or entry-point definition."""

    names: tuple[str, ...]
    definitions: Mapping[str, CustomOperator | None]
    custom: Mapping[str, CustomOperator]  # from [[operator]] tables and --operator flags
    tables: Mapping[str, Any]  # the file's [operators.NAME] tables


def choose_operators(
    raw: Mapping[str, Any], source: str, flags: Overrides, listed_in_file: Sequence[str]
) -> OperatorChoice:
    """--operators or the file's list, then [[operator]] definitions (unless --operators
    picks), then --operator definitions."""
    custom = _custom_definitions(raw, source, flags)
    tables = subtable(raw, "operators", source)
    listed = list(flags.operators) if flags.operators is not None else listed_in_file
    known = _known_operators([*listed, *tables], custom)
    if flags.operators is not None:
        names = registry_names(listed, "--operators:", known, "operator")
    else:
        where = f"{source}: [experiment] operators:"
        names = registry_names(listed, where, known, "operator")
        # [[operator]] definitions are measured beside the listed operators.
        names += tuple(
            op.name for op in custom.values() if op.origin != "--operator" and op.name not in names
        )
    names += tuple(
        op.name for op in custom.values() if op.origin == "--operator" and op.name not in names
    )
    return OperatorChoice(names, known, custom, tables)


def _custom_definitions(
    raw: Mapping[str, Any], source: str, flags: Overrides
) -> dict[str, CustomOperator]:
    """[[operator]] tables and --operator flags by name; a name defined twice is refused."""
    base = Path(source).parent if source != BUILT_IN else None
    defined: dict[str, CustomOperator] = {}
    for operator in (
        *parse_tables(raw.get("operator"), source, base),
        *(parse_flag(text) for text in flags.operator_flags or ()),
    ):
        if operator.name in defined:
            raise FbenchError(
                f"{operator.origin}: operator {operator.name!r} is defined twice; "
                "give each its own name (--operator NAME=FILE.py:FACTORY)"
            )
        defined[operator.name] = operator
    return defined


def _known_operators(
    names: Any, custom: Mapping[str, CustomOperator]
) -> dict[str, CustomOperator | None]:
    """Built-ins, the run's custom definitions and, when a name needs them, entry points."""
    known: dict[str, CustomOperator | None] = {**dict.fromkeys(OPERATORS), **custom}
    wanted = names if isinstance(names, list | tuple) else []
    if any(isinstance(name, str) and name not in known for name in wanted):
        known.update({k: v for k, v in entry_point_operators().items() if k not in known})
    return known


def operator_params(
    raw: Mapping[str, Any], source: str, choice: OperatorChoice, stages: Sequence[StageShape]
) -> tuple[dict[str, dict[str, Any]], tuple[CustomOperator, ...]]:
    """Every measured operator's parameters, and the definitions of those that are not
    built-in (which travel with the config to the worker processes)."""
    built_in, definitions = _parameter_tables(source, choice)
    params: dict[str, dict[str, Any]] = {}
    for name in choice.names:
        if definitions.get(name) is not None:
            params[name] = dict(definitions[name].params)
            continue
        spec = get_operator(name)
        for stage in stages:
            problem = spec.check(stage.channels, built_in[name])
            if problem:
                raise FbenchError(
                    f"{source}: {name} at "
                    + (f"stage {stage.stage} ({stage.label})" if stage.stage else stage.label)
                    + f": {problem}"
                )
        params[name] = built_in[name]
    custom = tuple(definitions[name] for name in choice.names if definitions.get(name) is not None)
    return params, custom


def _parameter_tables(
    source: str, choice: OperatorChoice
) -> tuple[dict[str, dict[str, Any]], dict[str, CustomOperator | None]]:
    """[operators.NAME] over each built-in's defaults (for every table, measured or not);
    an entry-point operator's table replaces its params; a custom one may have none."""
    built_in: dict[str, dict[str, Any]] = {}
    definitions = dict(choice.definitions)
    for name in dict.fromkeys([*choice.tables, *choice.names]):
        table = choice.tables.get(name, {})
        definition = definitions.get(name)
        if definition is None and name not in OPERATORS:
            raise FbenchError(
                f"{source}: [operators.{name}] unknown operator{did_you_mean(name, OPERATORS)}; "
                f"known: {', '.join(OPERATORS)}"
            )
        if not isinstance(table, dict):
            raise FbenchError(f"{source}: [operators.{name}] must be a table")
        if definition is None:
            built_in[name] = typed_table(
                f"{source}: [operators.{name}]", table, get_operator(name).defaults
            )
        elif table and name in choice.custom:
            raise FbenchError(
                f"{source}: [operators.{name}] {name} is a custom operator; give its "
                "params in its [[operator]] table or as --operator ...:KEY=VALUE"
            )
        elif table:  # an entry-point operator's parameters
            params = check_params(f"{source}: [operators.{name}]", table)
            definitions[name] = replace(definition, params=params)
    return built_in, definitions
