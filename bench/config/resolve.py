"""A parsed bench.toml plus command-line flags → one validated `RunConfig`: the names it
gives checked against the registries (operators, networks, devices, backends), then each part
of the experiment resolved in turn, the first problem raised as one line.

The order of the steps in `resolve` is the order in which problems are reported."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fbench.bench.config.model import (
    DTYPES,
    NETWORK_TIMING,
    QUICK_LAYERS,
    QUICK_TIMING,
    SUITES,
    Overrides,
    TimingConfig,
    check_timing,
)
from fbench.bench.config.operator_choice import choose_operators, operator_params
from fbench.bench.config.run_config import RunConfig
from fbench.bench.config.shapes import quick_shapes, run_shapes
from fbench.bench.config.stack import run_stack
from fbench.bench.config.toml import (
    compare_settings,
    known_keys,
    read_config_file,
    registry_names,
    run_settings,
    subtable,
    typed,
    typed_table,
)
from fbench.bench.errors import FbenchError, did_you_mean
from fbench.operators import PAPER_OPERATORS

if TYPE_CHECKING:
    from fbench.devices import DeviceSpec

TABLES = (
    "experiment",
    "stages",
    "operators",
    "timing",
    "networks",
    "devices",
    "compare",
    "run",
    "operator",
    "shape",
)
EXPERIMENT_DEFAULTS: Mapping[str, Any] = {
    "device": "cpu",
    "backend": "torch",
    "operators": list(PAPER_OPERATORS),
    "layers": 10,
    "dtype": "float32",
    "seed": 0,
    "suite": "operators",
}
# Flags that pick what the operator suite measures; --suite networks picks with --models.
OPERATOR_SUITE_FLAGS = {
    "--operators": "operators",
    "--stages": "stages",
    "--layers": "layers",
    "--operator": "operator_flags",
    "--shape": "shapes",
}


def load(path: Path | None, overrides: Overrides | None = None) -> RunConfig:
    """Resolve a config file (or the built-in defaults when `path` is None) plus flags."""
    raw, source = read_config_file(path)
    return resolve(raw, source, overrides)


def resolve(raw: Mapping[str, Any], source: str, overrides: Overrides | None = None) -> RunConfig:
    """Validate a parsed bench.toml (`raw`) and apply command-line overrides."""
    from fbench.devices import get_device

    flags = overrides or Overrides()
    known_keys(f"{source}:", raw, TABLES)
    compare_settings(raw, source)
    run_settings(raw, source)
    experiment = typed_table(
        f"{source}: [experiment]", subtable(raw, "experiment", source), EXPERIMENT_DEFAULTS
    )
    suite = _suite(experiment, flags, source)
    models, network_timing = _networks(raw, source, flags, suite)
    _check_suite_flags(flags, suite)
    choice = choose_operators(raw, source, flags, experiment["operators"])
    layers, layers_sweep = _depths(experiment, flags, source)
    dtype = flags.dtype or experiment["dtype"]
    if dtype not in DTYPES:
        raise FbenchError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    stages = run_shapes(raw, source, flags)
    params, custom_operators = operator_params(raw, source, choice, stages)
    timing = _timing(raw, source)
    if suite == "networks":
        timing = network_timing
    device = get_device(flags.device or experiment["device"])
    device_settings, timing = _device_tables(raw, source, device, timing)
    timing = _timing_flags(timing, flags)
    device_settings = _device_flags(device_settings, flags, device, dtype)
    backend, backend_options = _backend(experiment, flags, device.name)
    _check_dtype(dtype, device, backend)
    if flags.quick:  # networks keep their input size (Swin, for one, needs 224×224)
        stages = quick_shapes(stages)  # custom shapes are measured as given
        if flags.layers is None and not layers_sweep:
            layers = QUICK_LAYERS
        timing = _quick_timing(timing)
    timing = _processes(timing, flags)
    stack = _stack(backend, device.name, dtype, flags, timing)

    return RunConfig(
        device=device.name,
        backend=backend,
        operators=choice.names,
        stages=stages,
        layers=layers,
        dtype=dtype,
        seed=experiment["seed"],
        operator_params=params,
        timing=timing,
        device_settings=device_settings,
        backend_options=backend_options,
        quick=flags.quick,
        source=source,
        suite=suite,
        models=models if suite == "networks" else (),
        layers_sweep=layers_sweep,
        custom_operators=custom_operators,
        input_size=flags.input_size if suite == "networks" else None,
        stack=stack,
    )


def _stack(
    backend: str, device: str, dtype: str, flags: Overrides, timing: TimingConfig
) -> tuple[str, ...]:
    """The requirements the workers need (the backend's, --with's over them), checked."""
    from fbench.devices import get_backend

    stack = run_stack(get_backend(backend).requires(device, dtype), flags.stack)
    if stack and timing.method != "adaptive":
        raise FbenchError(
            f"{', '.join(stack)}: another environment is measured in worker processes, which "
            "the official method does not use; use --method adaptive"
        )
    return stack


def _suite(experiment: Mapping[str, Any], flags: Overrides, source: str) -> str:
    suite = flags.suite or experiment["suite"]
    if suite not in SUITES:
        where = "--suite:" if flags.suite else f"{source}: [experiment] suite"
        raise FbenchError(f"{where} must be one of {', '.join(SUITES)}, got {suite!r}")
    return suite


def _model_names(names: Any, where: str) -> tuple[str, ...]:
    from fbench.networks import NETWORKS
    from fbench.networks.registry import ZOOS

    # timm:NAME and torchvision:NAME are any model of those zoos (checked before timing).
    zoo = {name: None for name in names if isinstance(name, str) and name.startswith(ZOOS)}
    return registry_names(names, where, {**NETWORKS, **zoo}, "network")


def _networks(
    raw: Mapping[str, Any], source: str, flags: Overrides, suite: str
) -> tuple[tuple[str, ...], TimingConfig]:
    """[networks] models (or --models) and [networks.timing] (which starts from
    NETWORK_TIMING)."""
    from fbench.networks import NETWORKS

    table = subtable(raw, "networks", source)
    known_keys(f"{source}: [networks]", table, ("models", "timing"))
    models = _model_names(table.get("models", list(NETWORKS)), f"{source}: [networks] models:")
    timing_table = table.get("timing", {})
    if not isinstance(timing_table, dict):
        raise FbenchError(f"{source}: [networks.timing] must be a table")
    values = typed_table(f"{source}: [networks.timing]", timing_table, asdict(NETWORK_TIMING))
    timing = TimingConfig(**values)
    check_timing(f"{source}: [networks.timing]", timing)
    if flags.models is not None:
        if suite != "networks":
            raise FbenchError("--models picks networks: use it with --suite networks")
        models = _model_names(list(flags.models), "--models:")
    return models, timing


def _check_suite_flags(flags: Overrides, suite: str) -> None:
    """--input-size is for the network suite only, the operator suite's flags not for it."""
    if flags.input_size is not None:
        if suite != "networks":
            raise FbenchError("--input-size sets the networks' input: use it with --suite networks")
        if flags.input_size < 1:
            raise FbenchError(f"--input-size: must be a positive integer, got {flags.input_size}")
    if suite == "networks":
        given = [
            flag for flag, name in OPERATOR_SUITE_FLAGS.items() if getattr(flags, name) is not None
        ]
        if given:
            raise FbenchError(
                f"{', '.join(given)}: for the operator suite only; "
                "--suite networks picks networks with --models"
            )


def _depths(
    experiment: Mapping[str, Any], flags: Overrides, source: str
) -> tuple[int, tuple[int, ...]]:
    """The stack depth and, with --layers-sweep, the depths measured together (the deepest
    is `layers`)."""
    layers = flags.layers if flags.layers is not None else experiment["layers"]
    if layers < 1:
        where = "--layers:" if flags.layers is not None else f"{source}: [experiment] layers"
        raise FbenchError(f"{where} must be a positive integer, got {layers}")
    if flags.layers_sweep is None:
        return layers, ()
    layers_sweep = tuple(sorted(set(flags.layers_sweep)))
    if len(layers_sweep) < 2 or layers_sweep[0] < 1:
        raise FbenchError(
            f"--layers-sweep: needs two or more positive depths, got "
            f"{', '.join(map(str, flags.layers_sweep))}"
        )
    if flags.layers is not None:
        raise FbenchError("--layers-sweep replaces --layers; give one of them")
    return layers_sweep[-1], layers_sweep


def _timing(raw: Mapping[str, Any], source: str) -> TimingConfig:
    """[timing] over TimingConfig's defaults."""
    values = typed_table(
        f"{source}: [timing]", subtable(raw, "timing", source), asdict(TimingConfig())
    )
    timing = TimingConfig(**values)
    check_timing(f"{source}: [timing]", timing)
    return timing


def _device_tables(
    raw: Mapping[str, Any], source: str, device: DeviceSpec, timing: TimingConfig
) -> tuple[dict[str, Any], TimingConfig]:
    """[devices.<name>] settings of the run's device, and its timing: the device's own timing
    defaults (e.g. longer rounds on a Pi) over `timing`, its [devices.<name>.timing] over
    those."""
    from fbench.devices import DEVICES

    device_tables = subtable(raw, "devices", source)
    for name in device_tables:
        if name not in DEVICES:
            raise FbenchError(
                f"{source}: [devices.{name}] unknown device{did_you_mean(name, DEVICES)}; "
                f"known: {', '.join(DEVICES)}"
            )
    where = f"{source}: [devices.{device.name}]"
    device_table = dict(device_tables.get(device.name, {}))
    device_timing_table = subtable(device_table, "timing", where)
    device_table.pop("timing", None)
    settings = typed_table(where, device_table, device.settings, device.setting_types)
    if device.timing or device_timing_table:
        where = f"{source}: [devices.{device.name}.timing]"
        merged = {**asdict(timing), **device.timing}
        timing = TimingConfig(**typed_table(where, device_timing_table, merged))
        check_timing(where, timing)
    return settings, timing


def _timing_flags(timing: TimingConfig, flags: Overrides) -> TimingConfig:
    if flags.method is not None:
        timing = replace(timing, method=flags.method)
        check_timing("--method:", timing)
    if flags.perf_counters:
        timing = replace(timing, perf_counters=True)
    return timing


def _device_flags(
    settings: dict[str, Any], flags: Overrides, device: DeviceSpec, dtype: str
) -> dict[str, Any]:
    """--batch, --pin-core and --malloc over the device's settings, checked by the device."""
    for key, value in (
        ("batch", flags.batch),
        ("pin_core", flags.pin_core),
        ("malloc", flags.malloc),
    ):
        if value is not None:
            if key not in settings:
                raise FbenchError(f"--{key.replace('_', '-')}: not a setting of {device.name}")
            settings[key] = value
    problem = device.check_settings(settings)
    if problem:
        raise FbenchError(f"[devices.{device.name}] {problem}")
    return settings


def _check_dtype(dtype: str, device: DeviceSpec, backend: str) -> None:
    """The backend's own dtypes where it has them (executorch's int8), else the device's."""
    from fbench.devices import get_backend

    own = get_backend(backend).dtypes
    allowed = own if own is not None else device.dtypes
    if dtype not in allowed:
        where = f"{device.name}/{backend}" if own is not None else device.name
        raise FbenchError(f"dtype {dtype} is not supported on {where}; use {', '.join(allowed)}")


def _backend(
    experiment: Mapping[str, Any], flags: Overrides, device_name: str
) -> tuple[str, dict[str, Any]]:
    """The backend that runs on the device, and its options with the flags' over them."""
    from fbench.devices import backends_for, get_backend

    name = flags.backend or experiment["backend"]
    backend = get_backend(name)
    if name not in backends_for(device_name):
        raise FbenchError(
            f"backend {name!r} does not run on {device_name}; "
            f"available: {', '.join(backends_for(device_name))}"
        )
    options = dict(backend.options)
    for key, value in flags.backend_options.items():
        flag = f"--{key.replace('_', '-')}"
        if key not in options:
            raise FbenchError(f"{flag}: not an option of backend {name}")
        options[key] = typed(f"{flag}:", "value", value, (type(options[key]),))
    problem = backend.check_options(options)
    if problem:
        raise FbenchError(f"backend {name}: {problem}")
    return name, options


def _quick_timing(timing: TimingConfig) -> TimingConfig:
    """--quick's loose timing, keeping the method, schedule and what is recorded."""
    return replace(
        QUICK_TIMING,
        method=timing.method,
        schedule=timing.schedule,
        perf_counters=timing.perf_counters,
        host_probe=timing.host_probe,
    )


def _processes(timing: TimingConfig, flags: Overrides) -> TimingConfig:
    if flags.processes is None:
        return timing
    if flags.processes > 1 and timing.method == "official":
        raise FbenchError(
            "--processes: the official method times every row in one process, as the "
            "FasterNet script does; drop --processes or use --method adaptive"
        )
    timing = replace(timing, processes=flags.processes)
    check_timing("--processes:", timing)
    return timing
