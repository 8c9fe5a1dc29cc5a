"""bench.toml and CLI flags → one validated, frozen `RunConfig`.

Every check on user input happens here and fails with one line that names the file or flag,
the key, what is wrong and what would be right. The built-in defaults below are the same
experiment as the repository's commented bench.toml (a test keeps the two equal), so fbench
also runs from a directory without one.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.errors import FbenchError
from operators import OPERATORS, PAPER_OPERATORS, StageShape, get_operator
from operators.custom import CustomOperator, entry_point_operators, parse_flag, parse_tables

DEFAULT_CONFIG_FILE = "bench.toml"
DTYPES = ("float32", "float16", "bfloat16")
# The paper's four FasterNet stage shapes (Table 1): channels × height × width.
PAPER_STAGES = ((96, 56, 56), (192, 28, 28), (384, 14, 14), (768, 7, 7))


@dataclass(frozen=True)
class TimingConfig:
    """How rows are timed. See bench/measure/runner.py for the procedure, docs/methodology.md
    for why."""

    method: str = "adaptive"  # "adaptive" (median, interval, interleaved) or "official"
    ci_target: float = 0.01  # stop a row once its median's 95% CI is within ±1%
    min_samples: int = 20
    min_rounds: int = 8  # rounds every row is sampled in, so drift hits all rows alike
    round_s: float = 0.05  # sampling time one row gets per round
    max_row_s: float = 6.0  # sampling-time cap per row; over it, short of the target: "imprecise"
    warmup_min_s: float = 0.2
    warmup_max_s: float = 2.0
    warmup_tolerance: float = 0.02  # two consecutive warm-up windows' medians within 2%
    schedule: str = "interleaved"  # or "sequential": one row after another
    official_calls: int = 200  # --method official: the FasterNet script's 200 timed calls
    perf_counters: bool = False  # --perf-counters: cycles, instructions, LLC misses per row
    host_probe: bool = True  # time a fixed GEMM in every round (bench/measure/host_probe.py)
    # A row whose rounds saw the host probe's 5–95% range move by more than this is
    # `disturbed` (host_moved): on the project's 2-core VMs a run's range is usually a few
    # percent (docs/methodology.md, step 9), so 10% is a host that changed speed mid-row.
    host_moved_above: float = 0.10
    # Worker processes the adaptive method times every row in, one after another, each
    # with 1/processes of the budget (bench/measure/processes.py): a row's speed varies from one
    # fresh process to the next, and pooling processes averages that out.
    processes: int = 6


QUICK_TIMING = TimingConfig(
    ci_target=0.05,
    min_samples=6,
    min_rounds=2,
    round_s=0.01,
    max_row_s=0.2,
    warmup_min_s=0.0,
    warmup_max_s=0.1,
    official_calls=20,
    processes=1,
)
# The network suite (Figure 2 / Table 3): whole networks take 5–350 ms a call on one thread,
# so fewer samples and rounds, a ±2% target, and a per-row cap that keeps all 35 networks
# within ~15 minutes on a 2-core machine (docs/networks.md).
NETWORK_TIMING = TimingConfig(
    ci_target=0.02,
    min_samples=10,
    min_rounds=4,
    round_s=0.25,
    max_row_s=12.0,
    warmup_min_s=0.5,
    warmup_max_s=3.0,
    processes=1,  # each process would build and warm 35 networks (~4.5 GB) again
)
SUITES = ("operators", "networks")
QUICK_LAYERS = 2
QUICK_SPATIAL_DIVISOR = 4


@dataclass(frozen=True)
class RunConfig:
    """The resolved experiment: what is stored in a result file's `config` block."""

    device: str
    backend: str
    operators: tuple[str, ...]
    stages: tuple[StageShape, ...]
    layers: int
    dtype: str
    seed: int
    operator_params: Mapping[str, Mapping[str, Any]]
    timing: TimingConfig
    device_settings: Mapping[str, Any]
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    quick: bool = False
    source: str | None = None
    suite: str = "operators"  # "operators" (Table 1) | "networks" (Figure 2 / Table 3)
    models: tuple[str, ...] = ()  # the networks measured when suite == "networks"
    # Depths measured together in one interleaved run (the depth check, `fbench depth`);
    # empty: every operator at `layers` only.
    layers_sweep: tuple[int, ...] = ()
    # Operators from --operator, [[operator]] or an entry point that this run measures: their
    # definitions travel with the config so worker processes rebuild the same operator.
    custom_operators: tuple[CustomOperator, ...] = ()
    input_size: int | None = None  # --input-size: the networks' input height = width

    def custom_operator(self, name: str) -> CustomOperator | None:
        return next((op for op in self.custom_operators if op.name == name), None)

    @property
    def depths(self) -> tuple[int, ...]:
        return self.layers_sweep or (self.layers,)

    @property
    def batch(self) -> int:
        return int(self.device_settings["batch"])

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["operators"] = list(self.operators)
        data["stages"] = [asdict(stage) for stage in self.stages]
        data["operator_params"] = {k: dict(v) for k, v in self.operator_params.items()}
        data["device_settings"] = dict(self.device_settings)
        data["backend_options"] = dict(self.backend_options)
        data["models"] = list(self.models)
        data["layers_sweep"] = list(self.layers_sweep)
        data["custom_operators"] = [op.to_dict() for op in self.custom_operators]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        return cls(
            device=data["device"],
            backend=data["backend"],
            operators=tuple(data["operators"]),
            stages=tuple(StageShape(**stage) for stage in data["stages"]),
            layers=data["layers"],
            dtype=data["dtype"],
            seed=data["seed"],
            operator_params={k: dict(v) for k, v in data["operator_params"].items()},
            # Runs stored before `processes` existed were timed in one process.
            timing=TimingConfig(**{"processes": 1, **data["timing"]}),
            device_settings=dict(data["device_settings"]),
            backend_options=dict(data.get("backend_options", {})),
            quick=data.get("quick", False),
            source=data.get("source"),
            suite=data.get("suite", "operators"),
            models=tuple(data.get("models", ())),
            layers_sweep=tuple(data.get("layers_sweep", ())),
            custom_operators=tuple(
                CustomOperator.from_dict(op) for op in data.get("custom_operators", ())
            ),
            input_size=data.get("input_size"),
        )


@dataclass(frozen=True)
class Overrides:
    """Values given on the command line; None means "take bench.toml's"."""

    device: str | None = None
    backend: str | None = None
    operators: Sequence[str] | None = None
    stages: Sequence[int] | None = None
    layers: int | None = None
    batch: int | None = None
    method: str | None = None
    pin_core: int | str | None = None
    malloc: str | None = None
    dtype: str | None = None
    quick: bool = False
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    suite: str | None = None
    models: Sequence[str] | None = None
    layers_sweep: Sequence[int] | None = None
    perf_counters: bool = False
    processes: int | None = None
    operator_flags: Sequence[str] | None = None  # --operator [NAME=]TARGET:FACTORY[:K=V,...]
    shapes: Sequence[str] | None = None  # --shape CxHxW
    input_size: int | None = None


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FbenchError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise FbenchError(f"{path}: cannot read config file ({error})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise FbenchError(f"{path}: invalid TOML: {error}") from None


def load(path: Path | None, overrides: Overrides | None = None) -> RunConfig:
    """Resolve a config file (or the built-in defaults when `path` is None) plus flags."""
    raw = read_toml(path) if path is not None else {}
    return resolve(raw, str(path) if path is not None else "built-in defaults", overrides)


def default_config_path() -> Path | None:
    """./bench.toml when there is one, else None (the built-in defaults, which equal it)."""
    candidate = Path(DEFAULT_CONFIG_FILE)
    return candidate if candidate.is_file() else None


# --- validation ------------------------------------------------------------------------------


def _type_name(types: tuple[type, ...]) -> str:
    names = {
        bool: "true/false",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
    }
    return " or ".join(names.get(t, t.__name__) for t in types)


def _typed(where: str, key: str, value: Any, types: tuple[type, ...]) -> Any:
    """Check `value` against `types`; ints pass where floats are expected, bools never do."""
    if isinstance(value, bool) and bool not in types:
        raise FbenchError(f"{where} {key} must be {_type_name(types)}, got {value!r}")
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, types):
        raise FbenchError(f"{where} {key} must be {_type_name(types)}, got {value!r}")
    return value


def _table(raw: Mapping[str, Any], key: str, source: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise FbenchError(f"{source}: [{key}] must be a table")
    return value


def _known_keys(where: str, table: Mapping[str, Any], known: Sequence[str]) -> None:
    for key in table:
        if key not in known:
            raise FbenchError(f"{where} unknown key {key!r}; known: {', '.join(known)}")


def _typed_table(
    where: str,
    table: Mapping[str, Any],
    defaults: Mapping[str, Any],
    types: Mapping[str, tuple[type, ...]] | None = None,
) -> dict[str, Any]:
    """defaults updated with `table`, every key known and of the default's type."""
    _known_keys(where, table, list(defaults))
    resolved = dict(defaults)
    for key, value in table.items():
        expected = (types or {}).get(key) or (type(defaults[key]),)
        resolved[key] = _typed(where, key, value, expected)
    return resolved


def _check_timing(where: str, timing: TimingConfig) -> None:
    problems = []
    if timing.method not in ("adaptive", "official"):
        problems.append(f'method must be "adaptive" or "official", got {timing.method!r}')
    if timing.schedule not in ("interleaved", "sequential"):
        problems.append(f'schedule must be "interleaved" or "sequential", got {timing.schedule!r}')
    if not 0 < timing.ci_target < 1:
        problems.append(f"ci_target must be in (0, 1) (0.01 = ±1%), got {timing.ci_target}")
    if timing.min_samples < 6:
        problems.append(
            f"min_samples must be at least 6 (fewer give no 95% interval), got {timing.min_samples}"
        )
    for name in ("min_rounds", "official_calls", "processes"):
        if getattr(timing, name) < 1:
            problems.append(f"{name} must be at least 1, got {getattr(timing, name)}")
    for name in ("round_s", "max_row_s", "warmup_tolerance", "host_moved_above"):
        value = getattr(timing, name)
        if not (value > 0 and math.isfinite(value)):
            problems.append(f"{name} must be a positive number, got {value}")
    for name in ("warmup_min_s", "warmup_max_s"):
        value = getattr(timing, name)
        if not (value >= 0 and math.isfinite(value)):
            problems.append(f"{name} must be a number ≥ 0, got {value}")
    if timing.warmup_max_s < timing.warmup_min_s:
        problems.append(
            f"warmup_max_s ({timing.warmup_max_s}) is below warmup_min_s ({timing.warmup_min_s})"
        )
    if problems:
        raise FbenchError(f"{where} {problems[0]}")


def _stages(raw: Any, source: str) -> tuple[StageShape, ...]:
    if raw is None:
        return tuple(StageShape(i, c, h, w) for i, (c, h, w) in enumerate(PAPER_STAGES, 1))
    if not isinstance(raw, list) or not raw or not all(isinstance(s, dict) for s in raw):
        raise FbenchError(
            f"{source}: [[stages]] must be one or more tables with channels, height, width"
        )
    return tuple(
        StageShape(index, **_feature_map(f"{source}: [[stages]] #{index}", table))
        for index, table in enumerate(raw, 1)
    )


def _feature_map(where: str, table: Mapping[str, Any]) -> dict[str, int]:
    """channels, height and width of a [[stages]] or [[shape]] table, each a positive int."""
    _known_keys(where, table, ("channels", "height", "width"))
    values = {}
    for key in ("channels", "height", "width"):
        if key not in table:
            raise FbenchError(f"{where} is missing {key}")
        value = _typed(where, key, table[key], (int,))
        if value < 1:
            raise FbenchError(f"{where} {key} must be a positive integer, got {value}")
        values[key] = value
    return values


def _registry_names(names: Any, where: str, known: Mapping[str, Any], kind: str) -> tuple[str, ...]:
    """A non-empty list of distinct names from a registry (operators, networks)."""
    if not isinstance(names, list | tuple) or not names:
        raise FbenchError(f"{where} must be a non-empty list of {kind} names")
    for name in names:
        if not isinstance(name, str) or name not in known:
            raise FbenchError(f"{where} unknown {kind} {name!r}; known: {', '.join(known)}")
    duplicates = sorted({name for name in names if list(names).count(name) > 1})
    if duplicates:
        raise FbenchError(f"{where} lists {', '.join(duplicates)} more than once")
    return tuple(names)


def _operator_names(names: Any, where: str) -> tuple[str, ...]:
    return _registry_names(names, where, OPERATORS, "operator")


def _model_names(names: Any, where: str) -> tuple[str, ...]:
    from networks import NETWORKS
    from networks.registry import ZOOS

    # timm:NAME and torchvision:NAME are any model of those zoos (checked before timing).
    zoo = {name: None for name in names if isinstance(name, str) and name.startswith(ZOOS)}
    return _registry_names(names, where, {**NETWORKS, **zoo}, "network")


def parse_shape(text: str, where: str) -> StageShape:
    """`64x56x56` (or 64×56×56): channels × height × width, recorded as stage 0."""
    parts = text.replace("×", "x").lower().split("x")
    try:
        values = [int(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != 3 or min(values) < 1:
        raise FbenchError(f"{where} expected CHANNELSxHEIGHTxWIDTH like 64x56x56, got {text!r}")
    return StageShape(0, *values)


def _custom_shapes(raw: Any, source: str) -> tuple[StageShape, ...]:
    """[[shape]] tables (channels, height, width): feature maps besides the stages."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        raise FbenchError(f"{source}: [[shape]] must be one or more tables")
    return tuple(
        StageShape(0, **_feature_map(f"{source}: [[shape]] #{index}", table))
        for index, table in enumerate(raw, 1)
    )


def _unique_shapes(shapes: Sequence[StageShape]) -> tuple[StageShape, ...]:
    """One of each feature map (a custom shape equal to a stage is that stage)."""
    by_size: dict[tuple[int, int, int], StageShape] = {}
    for shape in shapes:
        by_size.setdefault((shape.channels, shape.height, shape.width), shape)
    return tuple(by_size.values())


def _custom_definitions(
    raw: Mapping[str, Any], source: str, flags: Overrides
) -> dict[str, CustomOperator]:
    """[[operator]] tables and --operator flags by name; a name defined twice is refused."""
    base = Path(source).parent if source != "built-in defaults" else None
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


def _networks(raw: Mapping[str, Any], source: str) -> tuple[tuple[str, ...], TimingConfig]:
    """[networks] models and [networks.timing] (which starts from NETWORK_TIMING)."""
    from networks import NETWORKS

    table = _table(raw, "networks", source)
    _known_keys(f"{source}: [networks]", table, ("models", "timing"))
    models = _model_names(table.get("models", list(NETWORKS)), f"{source}: [networks] models:")
    timing_table = table.get("timing", {})
    if not isinstance(timing_table, dict):
        raise FbenchError(f"{source}: [networks.timing] must be a table")
    values = _typed_table(f"{source}: [networks.timing]", timing_table, asdict(NETWORK_TIMING))
    timing = TimingConfig(**values)
    _check_timing(f"{source}: [networks.timing]", timing)
    return models, timing


def _select_stages(
    stages: tuple[StageShape, ...], wanted: Sequence[int], source: str
) -> tuple[StageShape, ...]:
    by_number = {stage.stage: stage for stage in stages}
    for number in wanted:
        if number not in by_number:
            raise FbenchError(
                f"--stages: no stage {number}; {source} defines stages "
                f"{', '.join(map(str, by_number))}"
            )
    return tuple(by_number[number] for number in dict.fromkeys(wanted))


def _quick_shapes(stages: tuple[StageShape, ...]) -> tuple[StageShape, ...]:
    return tuple(
        replace(
            stage,
            height=max(1, math.ceil(stage.height / QUICK_SPATIAL_DIVISOR)),
            width=max(1, math.ceil(stage.width / QUICK_SPATIAL_DIVISOR)),
        )
        if stage.stage  # a custom shape (stage 0) is measured as given
        else stage
        for stage in stages
    )


def resolve(raw: Mapping[str, Any], source: str, overrides: Overrides | None = None) -> RunConfig:
    """Validate a parsed bench.toml (`raw`) and apply command-line overrides."""
    from devices import DEVICES, backends_for, get_backend, get_device

    flags = overrides or Overrides()
    _known_keys(
        f"{source}:",
        raw,
        (
            "experiment",
            "stages",
            "operators",
            "timing",
            "networks",
            "devices",
            "compare",
            "operator",
            "shape",
        ),
    )
    compare_settings(raw, source)

    experiment = _typed_table(
        f"{source}: [experiment]",
        _table(raw, "experiment", source),
        {
            "device": "cpu",
            "backend": "torch",
            "operators": list(PAPER_OPERATORS),
            "layers": 10,
            "dtype": "float32",
            "seed": 0,
            "suite": "operators",
        },
    )
    suite = flags.suite or experiment["suite"]
    if suite not in SUITES:
        where = "--suite:" if flags.suite else f"{source}: [experiment] suite"
        raise FbenchError(f"{where} must be one of {', '.join(SUITES)}, got {suite!r}")
    models, network_timing = _networks(raw, source)
    if flags.models is not None:
        if suite != "networks":
            raise FbenchError("--models picks networks: use it with --suite networks")
        models = _model_names(list(flags.models), "--models:")
    if flags.input_size is not None:
        if suite != "networks":
            raise FbenchError("--input-size sets the networks' input: use it with --suite networks")
        if flags.input_size < 1:
            raise FbenchError(f"--input-size: must be a positive integer, got {flags.input_size}")
    if suite == "networks":
        given = [
            flag
            for flag, value in (
                ("--operators", flags.operators),
                ("--stages", flags.stages),
                ("--layers", flags.layers),
                ("--operator", flags.operator_flags),
                ("--shape", flags.shapes),
            )
            if value is not None
        ]
        if given:
            raise FbenchError(
                f"{', '.join(given)}: for the operator suite only; "
                "--suite networks picks networks with --models"
            )
    custom = _custom_definitions(raw, source, flags)
    operator_tables = _table(raw, "operators", source)
    listed = list(flags.operators) if flags.operators is not None else experiment["operators"]
    known = _known_operators([*listed, *operator_tables], custom)
    if flags.operators is not None:
        operators = _registry_names(listed, "--operators:", known, "operator")
    else:
        where = f"{source}: [experiment] operators:"
        operators = _registry_names(listed, where, known, "operator")
        # [[operator]] definitions are measured beside the listed operators.
        operators += tuple(
            op.name
            for op in custom.values()
            if op.origin != "--operator" and op.name not in operators
        )
    operators += tuple(
        op.name for op in custom.values() if op.origin == "--operator" and op.name not in operators
    )

    layers = flags.layers if flags.layers is not None else experiment["layers"]
    if layers < 1:
        where = "--layers:" if flags.layers is not None else f"{source}: [experiment] layers"
        raise FbenchError(f"{where} must be a positive integer, got {layers}")
    layers_sweep: tuple[int, ...] = ()
    if flags.layers_sweep is not None:
        layers_sweep = tuple(sorted(set(flags.layers_sweep)))
        if len(layers_sweep) < 2 or layers_sweep[0] < 1:
            raise FbenchError(
                f"--layers-sweep: needs two or more positive depths, got "
                f"{', '.join(map(str, flags.layers_sweep))}"
            )
        if flags.layers is not None:
            raise FbenchError("--layers-sweep replaces --layers; give one of them")
        layers = layers_sweep[-1]
    dtype = flags.dtype or experiment["dtype"]
    if dtype not in DTYPES:
        raise FbenchError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")

    stages = _stages(raw.get("stages"), source)
    custom_shapes = _custom_shapes(raw.get("shape"), source)
    if flags.stages is not None or flags.shapes is not None:
        # The command line picks the shapes: stages by number, plus --shape feature maps.
        stages = _select_stages(stages, flags.stages, source) if flags.stages is not None else ()
        custom_shapes = tuple(parse_shape(text, "--shape:") for text in flags.shapes or ())
    stages = _unique_shapes((*stages, *custom_shapes))

    all_params: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys([*operator_tables, *operators]):
        if name in known and known[name] is not None:
            table = operator_tables.get(name, {})
            if not isinstance(table, dict):
                raise FbenchError(f"{source}: [operators.{name}] must be a table")
            if table and name in custom:
                raise FbenchError(
                    f"{source}: [operators.{name}] {name} is a custom operator; give its "
                    "params in its [[operator]] table or as --operator ...:KEY=VALUE"
                )
            if table:  # an entry-point operator's parameters
                known[name] = replace(known[name], params=dict(table))
            continue
        if name not in OPERATORS:
            raise FbenchError(
                f"{source}: [operators.{name}] unknown operator; known: {', '.join(OPERATORS)}"
            )
        table = operator_tables.get(name, {})
        if not isinstance(table, dict):
            raise FbenchError(f"{source}: [operators.{name}] must be a table")
        all_params[name] = _typed_table(
            f"{source}: [operators.{name}]", table, get_operator(name).defaults
        )
    operator_params: dict[str, dict[str, Any]] = {}
    custom_operators = tuple(known[name] for name in operators if known.get(name) is not None)
    for name in operators:
        if known.get(name) is not None:
            operator_params[name] = dict(known[name].params)
            continue
        spec, params = get_operator(name), all_params[name]
        for stage in stages:
            problem = spec.check(stage.channels, params)
            if problem:
                raise FbenchError(
                    f"{source}: {name} at "
                    + (f"stage {stage.stage} ({stage.label})" if stage.stage else stage.label)
                    + f": {problem}"
                )
        operator_params[name] = params

    timing_table = _table(raw, "timing", source)
    timing_defaults = asdict(TimingConfig())
    timing = TimingConfig(**_typed_table(f"{source}: [timing]", timing_table, timing_defaults))
    _check_timing(f"{source}: [timing]", timing)
    if suite == "networks":
        timing = network_timing

    device_name = flags.device or experiment["device"]
    device = get_device(device_name)
    device_tables = _table(raw, "devices", source)
    for name in device_tables:
        if name not in DEVICES:
            raise FbenchError(
                f"{source}: [devices.{name}] unknown device; known: {', '.join(DEVICES)}"
            )
    device_table = dict(device_tables.get(device.name, {}))
    device_timing_table = _table(device_table, "timing", f"{source}: [devices.{device.name}]")
    device_table.pop("timing", None)
    device_settings = _typed_table(
        f"{source}: [devices.{device.name}]", device_table, device.settings, device.setting_types
    )
    # A device's own timing defaults (e.g. longer rounds on a Pi) apply over [timing], and
    # its [devices.<name>.timing] table over those.
    if device.timing or device_timing_table:
        where = f"{source}: [devices.{device.name}.timing]"
        merged = {**asdict(timing), **device.timing}
        timing = TimingConfig(**_typed_table(where, device_timing_table, merged))
        _check_timing(where, timing)
    if flags.method is not None:
        timing = replace(timing, method=flags.method)
        _check_timing("--method:", timing)
    if flags.perf_counters:
        timing = replace(timing, perf_counters=True)
    for key, value in (
        ("batch", flags.batch),
        ("pin_core", flags.pin_core),
        ("malloc", flags.malloc),
    ):
        if value is not None:
            if key not in device_settings:
                raise FbenchError(f"--{key.replace('_', '-')}: not a setting of {device.name}")
            device_settings[key] = value
    problem = device.check_settings(device_settings)
    if problem:
        raise FbenchError(f"[devices.{device.name}] {problem}")
    if dtype not in device.dtypes:
        raise FbenchError(
            f"dtype {dtype} is not supported on {device.name}; use {', '.join(device.dtypes)}"
        )

    backend_name = flags.backend or experiment["backend"]
    backend = get_backend(backend_name)
    if backend_name not in backends_for(device.name):
        raise FbenchError(
            f"backend {backend_name!r} does not run on {device.name}; "
            f"available: {', '.join(backends_for(device.name))}"
        )
    backend_options = dict(backend.options)
    for key, value in flags.backend_options.items():
        flag = f"--{key.replace('_', '-')}"
        if key not in backend_options:
            raise FbenchError(f"{flag}: not an option of backend {backend_name}")
        expected = (type(backend_options[key]),)
        backend_options[key] = _typed(f"{flag}:", "value", value, expected)
    problem = backend.check_options(backend_options)
    if problem:
        raise FbenchError(f"backend {backend_name}: {problem}")

    if flags.quick:  # networks keep their input size (Swin, for one, needs 224×224)
        stages = _quick_shapes(stages)  # custom shapes are measured as given
        if flags.layers is None and not layers_sweep:
            layers = QUICK_LAYERS
        timing = replace(
            QUICK_TIMING,
            method=timing.method,
            schedule=timing.schedule,
            perf_counters=timing.perf_counters,
            host_probe=timing.host_probe,
        )
    if flags.processes is not None:
        if flags.processes > 1 and timing.method == "official":
            raise FbenchError(
                "--processes: the official method times every row in one process, as the "
                "FasterNet script does; drop --processes or use --method adaptive"
            )
        timing = replace(timing, processes=flags.processes)
        _check_timing("--processes:", timing)

    return RunConfig(
        device=device.name,
        backend=backend_name,
        operators=operators,
        stages=stages,
        layers=layers,
        dtype=dtype,
        seed=experiment["seed"],
        operator_params=operator_params,
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
    )


# --- [compare]: the regression gate's defaults (fbench compare) ------------------------------

COMPARE_DEFAULTS: dict[str, Any] = {
    "threshold": 0.05,
    "alpha": 0.05,
    "host_correction": False,
    "host_tolerance": 0.025,
}


def compare_settings(raw: Mapping[str, Any], source: str) -> dict[str, Any]:
    """[compare] threshold (smallest change reported), alpha (Mann–Whitney level) and the
    host-speed correction (reports/compare.py): on/off and how far it may stray from the probe."""
    where = f"{source}: [compare]"
    settings = _typed_table(where, _table(raw, "compare", source), COMPARE_DEFAULTS)
    for key in ("threshold", "alpha", "host_tolerance"):
        value = settings[key]
        if not 0 < value < 1:
            raise FbenchError(f"{where} {key} must be in (0, 1) (0.05 = 5%), got {value}")
    return settings


def load_compare_settings(path: Path | None) -> dict[str, Any]:
    raw = read_toml(path) if path is not None else {}
    return compare_settings(raw, str(path) if path is not None else "built-in defaults")
