"""The `fbench` command: parse flags, dispatch to one module per verb, map errors to exit codes.

Each verb lives in `fbench/commands/<verb>.py` with `HELP`, `add_arguments(parser)` and
`run(args) -> int`. Nothing imported here (or at the top of a command module) may import
torch, onnxruntime or matplotlib: `fbench --help` must answer at once.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import io
import os
import re
import sys
from collections.abc import Sequence

from fbench import bench
from fbench.bench.errors import (
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    FbenchError,
    did_you_mean,
)
from fbench.commands.run_recording import signals_interrupt

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
other device or config, disturbed rows); 4 could not finish though the input was good (run:
a worker process died and left rows short, rows failed, the disk filled; any command: its
output could not be written); what was measured is kept, `fbench run --resume` finishes a run;
130 interrupted by Ctrl-C or SIGTERM (finished rows are kept).

Start with:  fbench run --device cpu      then:  fbench show <run-id>"""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the problem, with the closest name
    when a verb, flag or choice is mistyped, pointing at the help of the verb that failed
    (`fbench run --help`), and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        message = _with_suggestion(self, message)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        """Arguments no verb knows are the error of the verb given, not of `fbench`: argparse
        would report them against the top-level parser and its help."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            _chosen_parser(self, parsed).error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed


def _chosen_parser(parser: argparse.ArgumentParser, args: argparse.Namespace):
    """The innermost verb parser the arguments chose (`fbench report claims` → claims')."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            child = action.choices.get(getattr(args, action.dest, None) or "")
            if child is not None:
                return _chosen_parser(child, args)
    return parser


_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")


def _with_suggestion(parser: argparse.ArgumentParser, message: str) -> str:
    """The message with " (did you mean 'show'?)" after a mistyped verb, choice
    (--format jsn) or flag, when a known one is close (difflib)."""
    choice = _INVALID_CHOICE.search(message)
    if choice:
        hint = did_you_mean(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)))
        end = choice.start(2) - len(" (choose from ")
        return message[:end] + hint + message[end:]
    if message.startswith("unrecognized arguments: "):
        flags = list(parser._option_string_actions)
        for word in message.removeprefix("unrecognized arguments: ").split():
            if word.startswith("-"):
                hint = did_you_mean(word.split("=", 1)[0], flags, most=1)
                if hint:
                    return message + hint
    return message


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
        module = importlib.import_module(f"fbench.commands.{name}")
        command = commands.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def _tolerant_streams() -> None:
    """A terminal or pipe that cannot encode a character (an ASCII-only locale and the
    '×' of a shape) gets an escape instead of a UnicodeEncodeError after the work is done."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="backslashreplace")
    if sys.stdout is None:
        sys.stdout = _ClosedStream()


class _ClosedStream(io.TextIOBase):
    """Stands for a stdout that was closed when fbench started (`>&-`), where Python would
    drop every print silently: writing to it is the one-line output error instead."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


def _say(text: str) -> None:
    """One line on stderr, if stderr can still take it."""
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr)
        sys.stderr.flush()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush of a broken stdout does
    not print a second error (or exit 120) after ours."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    # SIGTERM (timeout, CI cancellation) ends every verb as Ctrl-C does: exit 130, one line.
    with signals_interrupt():
        try:
            code = _main(argv)
            # Flushed while the handlers still hold: a reader that stops reading would
            # otherwise leave fbench blocked in the interpreter's exit flush, where SIGTERM
            # kills it with no word and exit -15 instead of 130.
            sys.stdout.flush()
            return code
        except KeyboardInterrupt:  # while the flags were parsed: name the verb if given
            words = list(sys.argv[1:] if argv is None else argv)
            verb = next((f"fbench {word}" for word in words if word in COMMANDS), "fbench")
            _say(f"{verb}: interrupted")
            return EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    _tolerant_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        code = args.handler(args)
        sys.stdout.flush()  # an output error shows here, while we can still say so
        return code
    except FbenchError as error:
        _say(f"fbench {args.command}: error: {error}")
        return error.exit_code
    except KeyboardInterrupt:
        _say(f"fbench {args.command}: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `fbench show x | head`: the reader left; not an error of ours
        _silence_stdout()
        with contextlib.suppress(OSError):
            sys.stderr.close()
        return 0
    except RecursionError:  # a file nested thousands deep (JSON, TOML)
        _say(f"fbench {args.command}: error: an input file is nested too deeply to read")
        return EXIT_USAGE
    except OSError as error:
        # What the command wrote to stdout (or stderr) could not be written: a full
        # device, a closed or broken stream. Files the commands write say so themselves.
        if not _is_output_error(error):
            raise
        _silence_stdout()
        _say(f"fbench {args.command}: error: cannot write the output ({error.strerror})")
        return EXIT_INCOMPLETE


def _is_output_error(error: OSError) -> bool:
    """An error of writing stdout/stderr, not of a file: no filename, and a stream's errno."""
    return error.filename is None and error.errno in (
        errno.EIO,
        errno.ENOSPC,
        errno.EPIPE,
        errno.EBADF,
        errno.EDQUOT,
    )


def entry() -> None:
    """The `fbench` command and `python -m fbench.cli`: main(), then exit with its code."""
    code = main()
    if code == EXIT_INTERRUPTED:
        # CPython 3.11 marks a KeyboardInterrupt that passed through exec() of a string as
        # unhandled even when main() caught it (dataclasses build __init__ that way, so a
        # lazy import that the signal lands in does it), and then ends the process with
        # SIGINT at exit: -2 instead of 130. Everything is written by now; leave at once.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
