"""A custom operator's code, loaded and checked: its factory imported from a file, a module or
an entry point, its layers built and stacked, its output checked to keep the feature map's
shape, its analytic count and source recorded, and the preflight that tries one layer at
every shape before anything is timed. What a custom operator is, and the three ways to
declare one: operators/custom.py. Loading a factory imports the user's module (and torch).
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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fbench.operators.custom import CustomOperator, OperatorProblem

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
    from fbench.bench.errors import one_line

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
    if operator.factory not in _FACTORIES:
        # Never loaded in this process (a row failed in fbench's process for a worker that
        # ended): importing the user's module here would run their code in fbench itself.
        return None
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

        from fbench.devices.onnxruntime_backend import export_model

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
