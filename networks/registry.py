"""The network registry (Figure 2 / Table 3): one small definition per network, found by name.

A definition says where the network comes from (timm, torchvision or this project), how to
build it with random weights, and what the paper calls it. Nothing here downloads weights:
every builder passes `pretrained=False` (timm) or `weights=None` (torchvision).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from fbench.bench.registry import Registry

if TYPE_CHECKING:  # torch, timm and torchvision are imported lazily, only when building
    from torch import nn


@dataclass(frozen=True)
class NetworkSpec:
    key: str  # the row's `operator`, e.g. "fasternet_t0"
    network: str  # the paper's Table 3 name, exactly as reports/data/paper_table3.csv has it
    family: str  # e.g. "FasterNet" (one plot marker per family)
    source: str  # "timm:fasternet_t0", "torchvision:resnet50", "fbench:networks.pvt"
    build_model: Callable[..., nn.Module]
    resolution: int = 224  # input height = width; the paper uses 256 for MobileViT, EdgeNeXt
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def build(self) -> nn.Module:
        """A fresh network in eval mode with random weights (the caller seeds torch)."""
        return self.build_model(**self.kwargs).eval()


NETWORKS: Registry[NetworkSpec] = Registry("network", twice="is registered twice")


def register(spec: NetworkSpec) -> NetworkSpec:
    return NETWORKS.add(spec.key, spec)


def get_network(key: str, input_size: int | None = None) -> NetworkSpec:
    """A registered network, or any zoo model as `timm:NAME` / `torchvision:NAME`;
    `input_size` (--input-size) replaces its input height and width."""
    spec = NETWORKS[key] if key in NETWORKS else zoo_network(key)
    return replace(spec, resolution=input_size) if input_size else spec


# Any model of these zoos can be measured by name, e.g. --models timm:resnet18.
ZOOS = ("timm:", "torchvision:")


def zoo_network(key: str) -> NetworkSpec:
    """`timm:NAME` or `torchvision:NAME` as a network: random weights, the zoo as its family."""
    zoo, _, name = key.partition(":")
    builders = {"timm": timm_builder, "torchvision": torchvision_builder}
    if zoo not in builders or not name:
        raise KeyError(key)
    return NetworkSpec(key, name, zoo, key, builders[zoo](name))


def zoo_problem(key: str) -> str | None:
    """Why a zoo model cannot be built here (unknown name, zoo not installed), or None."""
    zoo, _, name = key.partition(":")
    try:
        if zoo == "timm":
            import timm

            if not timm.is_model(name):
                return f"timm has no model {name!r} (timm {timm.__version__})"
        else:
            import torchvision

            try:
                torchvision.models.get_model_builder(name)
            except ValueError:
                return f"torchvision has no model {name!r} (torchvision {torchvision.__version__})"
    except ImportError:
        return f"{zoo} is not installed"
    return None


def zoo_problems(config: Any) -> list[str]:
    """One line per zoo model of a network run that does not exist (checked before timing)."""
    if config.suite != "networks":
        return []
    found = ((key, zoo_problem(key)) for key in config.models if key.startswith(ZOOS))
    return [f"--models {key}: {problem}" for key, problem in found if problem]


def zoo_source(key: str) -> dict[str, Any] | None:
    """Where a zoo model came from: the package and its version (None for the others)."""
    if not key.startswith(ZOOS):
        return None
    from importlib.metadata import PackageNotFoundError, version

    zoo, _, name = key.partition(":")
    try:
        package_version = version(zoo)
    except PackageNotFoundError:
        package_version = None
    return {"name": key, "model": name, "package": zoo, "version": package_version}


def timm_builder(name: str) -> Callable[..., nn.Module]:
    def build(**kwargs: Any) -> nn.Module:
        import timm

        # pretrained=False: random weights, and timm never touches the Hugging Face hub.
        return timm.create_model(name, pretrained=False, **kwargs)

    return build


def torchvision_builder(name: str) -> Callable[..., nn.Module]:
    def build(**kwargs: Any) -> nn.Module:
        import torchvision

        return getattr(torchvision.models, name)(weights=None, **kwargs)

    return build


def project_builder(module: str, function: str) -> Callable[..., nn.Module]:
    def build(**kwargs: Any) -> nn.Module:
        import importlib

        return getattr(importlib.import_module(module), function)(**kwargs)

    return build
