"""`fbench devices`: what this machine can measure (device × backend), and why not when not."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from fbench.commands import add_table_output, add_wide, output_width, write_output

HELP = "list devices and backends, and why one cannot run here"
DESCRIPTION = """\
List every registered device and, for each, every backend that runs on it: whether this
machine can measure it, and if not, why (no CUDA GPU, onnxruntime without the CUDA
provider, no C compiler for torch.compile, not an ARM CPU...). Nothing is measured.
Below them, the operators installed packages ship through the `fbench.operators` entry-point
group (docs/custom-operators.md), which `fbench run --operators NAME` measures.
--format csv|json: one record per device × backend (device, backend, available, measures,
reason); the installed operators are in the text and md formats only."""

# The tidy export's columns (--format csv|json), one record per device × backend.
EXPORT_COLUMNS = ("device", "backend", "available", "measures", "reason")


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
    add_table_output(
        parser,
        format_help="text (terminal, default), md (Markdown), csv or json: tidy, one record "
        "per device × backend (columns: docs/reports.md)",
        summary=False,
    )
    add_wide(parser)


def availability() -> list[Availability]:
    """Every device × backend pair with the reason it cannot run here (None when it can)."""
    from fbench.devices import DEVICES, backends_for, get_backend

    pairs = []
    for name, device in DEVICES.items():
        device_reason = device.unavailable_reason()
        for backend in backends_for(name):
            reasons = [device_reason, get_backend(backend).unavailable_reason(name)]
            unique = list(dict.fromkeys(reason for reason in reasons if reason))
            pairs.append(Availability(name, backend, "; ".join(unique) or None))
    return pairs


def run(args: argparse.Namespace) -> int:
    from fbench.devices import DEVICES
    from fbench.reports.render import render
    from fbench.reports.table import Table
    from fbench.reports.tidy import MACHINE_FORMATS, Records, export_records

    pairs = [pair for pair in availability() if pair.available or not args.available]
    if args.format in MACHINE_FORMATS:
        records = Records.of(EXPORT_COLUMNS, (export_record(pair) for pair in pairs))
        write_output(export_records(records, args.format), args.output)
        return 0
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
    width = output_width(args) if args.format == "text" else None
    table = Table(headers, rows, short_headers=[*headers[:2], "Runs here", headers[3]])
    operators = installed_operators_text(width, args.format)
    write_output("\n".join([render(table, args.format, width), "", operators]), args.output)
    return 0


def export_record(pair: Availability) -> dict[str, object]:
    """One device × backend as a tidy record: `available` a boolean, `measures` what the
    device measures (its registry line), `reason` why not (null when it can run)."""
    from fbench.devices import DEVICES

    return {
        "device": pair.device,
        "backend": pair.backend,
        "available": pair.available,
        "measures": DEVICES[pair.device].headline,
        "reason": pair.reason,
    }


def installed_operators_text(width: int | None = None, fmt: str = "text") -> str:
    """The entry-point operators of installed packages (their modules are not imported)."""
    from fbench.operators.custom import (
        ENTRY_POINT_GROUP,
        entry_point_operators,
        entry_point_problems,
    )
    from fbench.reports.fit import wrap_lines
    from fbench.reports.render import render
    from fbench.reports.table import Table

    installed = entry_point_operators()
    lines = [f"Installed operators (entry-point group {ENTRY_POINT_GROUP}):"]
    indent = "- " if fmt == "md" else "  "
    if fmt == "md":
        lines = [f"Installed operators (entry-point group `{ENTRY_POINT_GROUP}`):", ""]
    if not installed:
        lines.append(f"{indent}none")
    else:
        rows = [
            [op.name, op.factory, f"{op.package or '?'} {op.version or ''}".strip()]
            for op in installed.values()
        ]
        table = Table(["Operator", "Factory", "Package"], rows, key_columns=1)
        lines.append(render(table, fmt, width))
    lines += [f"{indent}{problem}" for problem in entry_point_problems()]
    return "\n".join(lines if width is None else wrap_lines(lines, width))
