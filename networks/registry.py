"""The network registry (Figure 2 / Table 3): one small definition per network, found by name.

A definition says where the network comes from (timm, torchvision or this project), how to
build it with random weights, and what the paper calls it. Nothing here downloads weights:
every builder passes `pretrained=False` (timm) or `weights=None` (torchvision).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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


NETWORKS: dict[str, NetworkSpec] = {}


def register(spec: NetworkSpec) -> NetworkSpec:
    if spec.key in NETWORKS:
        raise ValueError(f"network {spec.key!r} is registered twice")
    NETWORKS[spec.key] = spec
    return spec


def get_network(key: str) -> NetworkSpec:
    return NETWORKS[key]


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
