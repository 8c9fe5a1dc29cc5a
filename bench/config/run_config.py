"""`RunConfig`: the resolved experiment, what is stored in a result file's `config` block and
read back from it (bench/config/resolve.py builds it from bench.toml and flags).

It lives apart from bench/config/model.py because it holds operator shapes and custom
operator definitions, types of operators/.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from fbench.bench.config.model import TimingConfig
from fbench.operators import StageShape
from fbench.operators.custom import CustomOperator


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
    # What the workers import besides the project's lock, "name==version" sorted: --with and
    # the backend's own requirements (bench/config/stack.py); () runs in this environment.
    stack: tuple[str, ...] = ()

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
        data["stack"] = list(self.stack)
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
            stack=tuple(data.get("stack", ())),
        )
