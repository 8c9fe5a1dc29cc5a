"""`fbench devices`: what this machine can measure (device × backend), and why not when not."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from fbench.commands import add_wide, output_width

HELP = "list devices and backends, and why one cannot run here"
DESCRIPTION = """\
List every registered device and, for each, every backend that runs on it: whether this
machine can measure it, and if not, why (no CUDA GPU, onnxruntime without the CUDA
provider, no C compiler for torch.compile, not an ARM CPU...). Nothing is measured.
Below them, the operators installed packages ship through the `fbench.operators` entry-point
group (docs/custom-operators.md), which `fbench run --operators NAME` measures."""


@dataclass(frozen=True)
class Availability:
    device: str
    backend: str
    reason: str | None  # None: available

    @property
    def available(self) -> bool:
        return self.reason is None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--available", action="store_true", help="list only what this machine can run"
    )
    add_wide(parser)


def availability() -> list[Availability]:
    """Every device × backend pair with the reason it cannot run here (None when it can)."""
    from devices import DEVICES, backends_for, get_backend

    pairs = []
    for name, device in DEVICES.items():
        device_reason = device.unavailable_reason()
        for backend in backends_for(name):
            reasons = [device_reason, get_backend(backend).unavailable_reason(name)]
            unique = list(dict.fromkeys(reason for reason in reasons if reason))
            pairs.append(Availability(name, backend, "; ".join(unique) or None))
    return pairs


def run(args: argparse.Namespace) -> int:
    from devices import DEVICES
    from reports.render import render
    from reports.table import Table

    pairs = [pair for pair in availability() if pair.available or not args.available]
    rows = [
        [
            pair.device,
            pair.backend,
            "yes" if pair.available else "no",
            DEVICES[pair.device].headline if pair.available else pair.reason,
        ]
        for pair in pairs
    ]
    headers = ["Device", "Backend", "Available", "Measures / why not"]
    width = output_width(args)
    table = Table(headers, rows, short_headers=[*headers[:2], "Runs here", headers[3]])
    print(render(table, "text", width))
    print()
    print(installed_operators_text(width))
    return 0


def installed_operators_text(width: int | None = None) -> str:
    """The entry-point operators of installed packages (their modules are not imported)."""
    from operators.custom import ENTRY_POINT_GROUP, entry_point_operators, entry_point_problems
    from reports.fit import wrap_lines
    from reports.render import render
    from reports.table import Table

    installed = entry_point_operators()
    lines = [f"Installed operators (entry-point group {ENTRY_POINT_GROUP}):"]
    if not installed:
        lines.append("  none")
    else:
        rows = [
            [op.name, op.factory, f"{op.package or '?'} {op.version or ''}".strip()]
            for op in installed.values()
        ]
        table = Table(["Operator", "Factory", "Package"], rows, key_columns=1)
        lines.append(render(table, "text", width))
    lines += [f"  {problem}" for problem in entry_point_problems()]
    return "\n".join(lines if width is None else wrap_lines(lines, width))
