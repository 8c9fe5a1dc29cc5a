"""The networks of the paper's Figure 2 / Table 3, measured as whole models on one device.

Each is one `register(NetworkSpec(...))` below, in Table 3's order. Taken from timm or
torchvision where they hold the paper's architecture (same parameters and FLOPs within a
few per cent, checked by tests/test_networks.py); PVT v1 and CycleMLP, which neither has,
are implemented in this package from their papers.
"""

from __future__ import annotations

from fbench.networks.registry import (
    NETWORKS,
    NetworkSpec,
    get_network,
    project_builder,
    register,
    timm_builder,
    torchvision_builder,
)

__all__ = ["NETWORKS", "NetworkSpec", "get_network", "register"]


def _library(source: str, builder, key: str, network: str, family: str, name=None, **spec):
    name = name or key
    register(NetworkSpec(key, network, family, f"{source}:{name}", builder(name), **spec))


def _timm(*args, **spec) -> None:
    _library("timm", timm_builder, *args, **spec)


def _torchvision(*args, **spec) -> None:
    _library("torchvision", torchvision_builder, *args, **spec)


def _project(key: str, network: str, family: str, module: str, function: str, size: str):
    builder = project_builder(module, function)
    # The label result files record ("fbench:networks.pvt.pvt"), kept from before the
    # modules moved under the fbench package.
    source = f"fbench:{module.removeprefix('fbench.')}.{function}"
    register(NetworkSpec(key, network, family, source, builder, kwargs={"size": size}))


_torchvision("shufflenet_v2_x1_5", "ShuffleNetV2 x1.5", "ShuffleNetV2")
_torchvision("mobilenet_v2", "MobileNetV2", "MobileNetV2")
_timm("mobilevit_xxs", "MobileViT-XXS", "MobileViT", resolution=256)
_timm("edgenext_xx_small", "EdgeNeXt-XXS", "EdgeNeXt", resolution=256)
_timm("fasternet_t0", "FasterNet-T0", "FasterNet")
_timm("ghostnet_130", "GhostNet x1.3", "GhostNet")
_torchvision("shufflenet_v2_x2_0", "ShuffleNetV2 x2", "ShuffleNetV2")
_torchvision(
    "mobilenet_v2_x1_4", "MobileNetV2 x1.4", "MobileNetV2", "mobilenet_v2",
    kwargs={"width_mult": 1.4},
)  # fmt: skip
_timm("mobilevit_xs", "MobileViT-XS", "MobileViT", resolution=256)
_timm("edgenext_x_small", "EdgeNeXt-XS", "EdgeNeXt", resolution=256)
_project("pvt_tiny", "PVT-Tiny", "PVT", "fbench.networks.pvt", "pvt", "tiny")
_timm("fasternet_t1", "FasterNet-T1", "FasterNet")
_project("cyclemlp_b1", "CycleMLP-B1", "CycleMLP", "fbench.networks.cyclemlp", "cyclemlp", "b1")
_timm("poolformer_s12", "PoolFormer-S12", "PoolFormer")
_timm("mobilevit_s", "MobileViT-S", "MobileViT", resolution=256)
_timm("edgenext_small", "EdgeNeXt-S", "EdgeNeXt", resolution=256)
_torchvision("resnet50", "ResNet50", "ResNet")
_timm("fasternet_t2", "FasterNet-T2", "FasterNet")
_project("cyclemlp_b2", "CycleMLP-B2", "CycleMLP", "fbench.networks.cyclemlp", "cyclemlp", "b2")
_timm("poolformer_s24", "PoolFormer-S24", "PoolFormer")
_timm("poolformer_s36", "PoolFormer-S36", "PoolFormer")
_timm("convnext_tiny", "ConvNeXt-T", "ConvNeXt")
_timm("swin_tiny", "Swin-T", "Swin", "swin_tiny_patch4_window7_224")
_project("pvt_small", "PVT-Small", "PVT", "fbench.networks.pvt", "pvt", "small")
_project("pvt_medium", "PVT-Medium", "PVT", "fbench.networks.pvt", "pvt", "medium")
_timm("fasternet_s", "FasterNet-S", "FasterNet")
_timm("poolformer_m36", "PoolFormer-M36", "PoolFormer")
_timm("convnext_small", "ConvNeXt-S", "ConvNeXt")
_timm("swin_small", "Swin-S", "Swin", "swin_small_patch4_window7_224")
_project("pvt_large", "PVT-Large", "PVT", "fbench.networks.pvt", "pvt", "large")
_timm("fasternet_m", "FasterNet-M", "FasterNet")
_timm("poolformer_m48", "PoolFormer-M48", "PoolFormer")
_timm("convnext_base", "ConvNeXt-B", "ConvNeXt")
_timm("swin_base", "Swin-B", "Swin", "swin_base_patch4_window7_224")
_timm("fasternet_l", "FasterNet-L", "FasterNet")
