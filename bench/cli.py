"""The `fbench` command: parse flags, dispatch to one module per verb, map errors to exit codes.

Each verb lives in `bench/commands/<verb>.py` with `HELP`, `add_arguments(parser)` and
`run(args) -> int`. Nothing imported here (or at the top of a command module) may import
torch, onnxruntime or matplotlib: `fbench --help` must answer at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import bench
from bench.errors import EXIT_INTERRUPTED, EXIT_USAGE, FbenchError

COMMANDS = (
    "run",
    "show",
    "report",
    "plot",
    "compare",
    "baseline",
    "devices",
    "check",
    "calibrate",
    "roofline",
    "depth",
)

EPILOG = """\
exit codes: 0 success; 1 regression found (compare) or outputs differ (check); 2 bad
input (flags, config, result files); 3 results not comparable or not trustworthy (compare:
other device or config, disturbed rows); 130 interrupted (finished rows are kept).

Start with:  fbench run --device cpu      then:  fbench show <run-id>"""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the problem, and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="fbench",
        description="Measure whether an operator is really fast on your device: the FLOPs, "
        "latency and FLOPS of the FasterNet paper's Table 1 (Conv, GConv, DWConv, PConv), "
        "stored as result files you can compare, plot and share.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fbench {bench.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"bench.commands.{name}")
        command = commands.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.handler(args)
    except FbenchError as error:
        print(f"fbench {args.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"fbench {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `fbench show x | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
