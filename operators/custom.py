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

Nothing here imports torch at import time; loading a factory imports the user's module.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import inspect
import io
import re
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import FbenchError

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
            params[key.strip()] = parse_value(value.strip())
        parts = parts[:-1]
    factory = _factory_reference(where, ":".join(parts), None)
    name = (name or factory.rpartition(":")[2]).strip()
    check_name(where, name)
    return CustomOperator(name=name, factory=factory, params=params, origin=FLAG)


def check_name(where: str, name: str) -> None:
    from operators.registry import OPERATORS

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
        factory = _factory_reference(where, table["factory"], base)
        operators.append(
            CustomOperator(table["name"], factory, params, origin=f"{source}: [[operator]]")
        )
    return tuple(operators)


def entry_point_operators() -> dict[str, CustomOperator]:
    """Operators installed packages declare in the `fbench.operators` entry-point group.

    One that shadows a built-in operator is left out (`entry_point_problems` says so).
    """
    from operators.registry import OPERATORS

    found = {}
    for point in _entry_points():
        if point.name in OPERATORS or point.name in found:
            continue
        found[point.name] = _from_entry_point(point)
    return found


def entry_point_problems() -> list[str]:
    from operators.registry import OPERATORS

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


# --- loading and building ----------------------------------------------------------------------


_FACTORIES: dict[str, Callable[..., Any]] = {}


def _module_name(path: Path) -> str:
    """A module name for a file, unique per path, so two my_ops.py never collide."""
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return f"fbench_custom_{path.stem}_{digest}"


def load_factory(operator: CustomOperator) -> Callable[..., Any]:
    """The factory function; OperatorProblem if its file or module or function is missing."""
    if operator.factory in _FACTORIES:
        return _FACTORIES[operator.factory]
    target, function = operator.target, operator.function
    try:
        if operator.is_file:
            path = Path(target)
            if not path.is_file():
                raise OperatorProblem(f"no such file {target}")
            name = _module_name(path)
            module = sys.modules.get(name)
            if module is None:
                spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module  # dataclasses and pickling look modules up here
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    del sys.modules[name]
                    raise
        else:
            # As `python -m` would: a module in the current directory is found, also when
            # fbench runs as a console script (whose sys.path lacks the directory).
            if str(Path.cwd()) not in sys.path and "" not in sys.path:
                sys.path.append(str(Path.cwd()))
            module = importlib.import_module(target)
    except OperatorProblem:
        raise
    except ModuleNotFoundError as error:
        raise OperatorProblem(f"module not found: {error.name or target}") from None
    except Exception as error:
        raise OperatorProblem(f"importing {target} raised {_one_line(error)}") from None
    factory = getattr(module, function, None)
    if factory is None:
        raise OperatorProblem(f"{target} has no factory {function!r}")
    if not callable(factory):
        raise OperatorProblem(f"{target}:{function} is not callable")
    _FACTORIES[operator.factory] = factory
    return factory


def _one_line(error: BaseException) -> str:
    from bench.errors import one_line

    return one_line(error)


def build_layer(operator: CustomOperator, channels: int) -> Any:
    """One layer: `factory(channels, **params)`, which must be an nn.Module."""
    from torch import nn

    factory = load_factory(operator)
    try:
        layer = factory(channels, **operator.params)
    except Exception as error:
        raise OperatorProblem(f"factory raised {_one_line(error)}") from None
    if not isinstance(layer, nn.Module):
        raise OperatorProblem(f"factory returned {type(layer).__name__}, not a torch nn.Module")
    return layer


def build_stack(operator: CustomOperator, channels: int, layers: int) -> Any:
    from torch import nn

    return nn.Sequential(*(build_layer(operator, channels) for _ in range(layers))).eval()


def check_output(operator: CustomOperator, stack: Any, example: Any) -> Any:
    """Run `stack` once on `example`; the output must be one tensor of the input's shape."""
    import torch

    try:
        with torch.no_grad():
            output = stack(example)
    except Exception as error:
        raise OperatorProblem(f"forward raised {_one_line(error)}") from None
    if not isinstance(output, torch.Tensor):
        raise OperatorProblem(f"forward returned {type(output).__name__}, not a tensor")
    if tuple(output.shape) != tuple(example.shape):
        given = "×".join(map(str, example.shape[1:]))
        got = "×".join(map(str, output.shape[1:]))
        raise OperatorProblem(f"changes the feature map's shape: {given} → {got}")
    return output


def analytic_flops(operator: CustomOperator) -> Callable[..., int] | None:
    """The definition's own count, `factory.flops(channels, height, width, **params)`."""
    count = getattr(load_factory(operator), "flops", None)
    return count if callable(count) else None


def source_record(operator: CustomOperator) -> dict[str, Any]:
    """Where the operator came from, so a stored row says what was measured."""
    record: dict[str, Any] = {
        "name": operator.name,
        "factory": operator.factory,
        "params": dict(operator.params),
        "origin": operator.origin,
    }
    path = _source_path(operator)
    if path is not None:
        record["path"] = str(path)
        record["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    package, version = operator.package, operator.version
    if package is None and not operator.is_file:
        package, version = _distribution_of(operator.target)
    if package is not None:
        record["package"], record["version"] = package, version
    return record


def _source_path(operator: CustomOperator) -> Path | None:
    if operator.is_file:
        return Path(operator.target)
    try:
        factory = load_factory(operator)
        source = inspect.getsourcefile(factory) or inspect.getfile(factory)
    except (OperatorProblem, TypeError, OSError):
        return None
    return Path(source) if source and Path(source).is_file() else None


def _distribution_of(module: str) -> tuple[str | None, str | None]:
    from importlib.metadata import packages_distributions, version

    names = packages_distributions().get(module.split(".")[0])
    if not names:
        return None, None
    return names[0], version(names[0])


# --- the check before anything is timed --------------------------------------------------------


def preflight(
    operators: Sequence[CustomOperator],
    channels_and_sizes: Sequence[tuple[int, int, int]],
    device: str,
    backend: str,
    backend_options: Mapping[str, Any],
) -> list[tuple[str, str]]:
    """(name, reason) for every operator that cannot run: one layer built at each shape,
    batch 1, run once (on the device when it is a GPU), exported when the backend is ONNX."""
    problems = []
    for operator in operators:
        try:
            for channels, height, width in dict.fromkeys(channels_and_sizes):
                _try_one_layer(operator, channels, height, width, device, backend, backend_options)
        except OperatorProblem as problem:
            problems.append((operator.name, str(problem)))
    return problems


def _try_one_layer(
    operator: CustomOperator,
    channels: int,
    height: int,
    width: int,
    device: str,
    backend: str,
    backend_options: Mapping[str, Any],
) -> None:
    import torch

    layer = build_layer(operator, channels).eval()
    example = torch.randn(1, channels, height, width)
    shape = f"{channels}×{height}×{width}"
    try:
        check_output(operator, layer, example)
    except OperatorProblem as problem:
        raise OperatorProblem(f"at {shape}: {problem}") from None
    if device == "cuda" and torch.cuda.is_available():
        try:
            check_output(operator, layer.to("cuda"), example.to("cuda"))
        except OperatorProblem as problem:
            raise OperatorProblem(f"on cuda at {shape}: {problem}") from None
        layer = layer.to("cpu")
    if backend == "onnxruntime":
        import tempfile

        from devices.onnxruntime_backend import export_model

        # The exporter prints its diagnosis (graphs, colours) to the terminal; the reason is
        # the exception's first line, which is all the user sees.
        with (
            tempfile.TemporaryDirectory() as directory,
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            try:
                export_model(
                    layer,
                    example,
                    backend_options.get("exporter", "dynamo"),
                    backend_options.get("opset", 18),
                    Path(directory),
                )
            except Exception as error:
                reason = re.sub(r"\x1b\[[0-9;]*m", "", _one_line(error))
                raise OperatorProblem(f"not exportable to ONNX at {shape}: {reason}") from None


def preflight_config(config: Any) -> list[str]:
    """One line per custom operator of `config` that cannot run, at the run's own shapes."""
    sizes = [(stage.channels, stage.height, stage.width) for stage in config.stages]
    problems = preflight(
        config.custom_operators, sizes, config.device, config.backend, config.backend_options
    )
    return [f"operator {name}: {reason}" for name, reason in problems]
