"""One module per CLI verb, each with HELP, add_arguments(parser) and run(args) -> int, and
the argument types they share. A verb's parts that are not flags live beside it as
`<verb>_<part>.py` (run_checks, run_recording, run_resume)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

DEFAULT_RESULTS_DIR = "results"


def cannot_write_output(path: object, error: OSError) -> Exception:
    """One line naming the file an output (--output, a plot) could not be written to, exit
    4 (the input was good): a full disk, a read-only folder, a parent that is a file."""
    from fbench.bench.errors import IncompleteError

    return IncompleteError(f"{error.filename or path}: cannot write ({error.strerror or error})")


def add_result_files(parser: argparse.ArgumentParser, help: str = "result file or run id") -> None:
    """The stored runs a report reads: one or more result files or run ids."""
    parser.add_argument("results", metavar="RESULT", nargs="+", help=help)


# The formats of every verb that prints a table: text and md for reading, csv and json
# tidy (reports/tidy.py: one record per measured thing, summaries apart with --summary).
TABLE_FORMATS = ("text", "md", "csv", "json")
FORMAT_HELP = (
    "text (terminal, default), md (Markdown), csv or json: tidy, one record per measured "
    "row, numbers at full precision (columns: docs/reports.md)"
)


def add_table_output(
    parser: argparse.ArgumentParser,
    formats: tuple[str, ...] = TABLE_FORMATS,
    format_help: str = FORMAT_HELP,
    summary_help: str = "with --format csv|json: the summary records (averages, ratios) "
    "instead of the rows",
    summary: bool = True,
) -> None:
    """--format, -o/--output FILE and --summary: the flags of every verb that prints a table
    (`summary=False` for a verb with nothing to summarise, e.g. devices)."""
    parser.add_argument("--format", choices=formats, default="text", help=format_help)
    parser.add_argument(
        "--output", "-o", metavar="FILE", help="write the table to FILE instead of stdout"
    )
    if summary:
        parser.add_argument("--summary", action="store_true", help=summary_help)


def summary_format(args: argparse.Namespace) -> None:
    """--summary is an export of csv and json only: say so in one line rather than ignore it."""
    from fbench.bench.errors import FbenchError

    if getattr(args, "summary", False) and args.format not in ("csv", "json"):
        raise FbenchError(f"--summary needs --format csv or json (got --format {args.format})")


def write_output(text: str, output: str | None) -> None:
    """The verb's output to --output FILE (saying so on stdout), else to stdout."""
    from pathlib import Path

    if output:
        path = Path(output)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + "\n", encoding="utf-8")
        except OSError as error:  # the input was good: exit 4, naming the file
            raise cannot_write_output(path, error) from None
        print(f"wrote {path}")
    else:
        print(text)


def add_wide(parser: argparse.ArgumentParser) -> None:
    """--wide: one line a row whatever its width, as a file or a very wide window wants."""
    parser.add_argument(
        "--wide",
        action="store_true",
        help="text: one line a row, full column heads, notes unwrapped (default: fit 100 "
        "columns, or the terminal's width when wider; COLUMNS is honoured)",
    )


def output_width(args: argparse.Namespace) -> int | None:
    """The width the text output fits (reports/fit.py), None under --wide."""
    from fbench.reports.fit import text_width

    if getattr(args, "wide", False):
        return None
    try:
        terminal: int | None = os.get_terminal_size(sys.stdout.fileno()).columns
    except (AttributeError, OSError, ValueError):  # not a terminal, or no stdout at all
        terminal = None
    return text_width(os.environ.get("COLUMNS"), terminal)


def add_results_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results-dir",
        metavar="DIR",
        type=nonempty,
        default=DEFAULT_RESULTS_DIR,
        help="where result files are stored and looked up by run id (default: %(default)s/)",
    )


def nonempty(text: str) -> str:
    """A name or path that must be given: '' would silently mean the default."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a value, got an empty string")
    return text


def comma_list(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list, got nothing")
    return items


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def pin_core(text: str) -> int | str:
    if text in ("auto", "none"):
        return text
    try:
        core = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a core number, auto or none, got {text!r}"
        ) from None
    if core < 0:
        raise argparse.ArgumentTypeError(f"expected a core number ≥ 0, got {text!r}")
    return core


def int_list_of(what: str, example: str) -> Callable[[str], list[int]]:
    """An argparse type for a comma-separated list of integers, e.g. ("depths", "1,5,10")."""

    def parse(text: str) -> list[int]:
        try:
            return [int(item) for item in comma_list(text)]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {what} like {example}, got {text!r}"
            ) from None

    return parse


int_list = int_list_of("stage numbers", "1,2")


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    """Flags that set a backend's options (recorded in every row's backend_options)."""
    group = parser.add_argument_group("backend options")
    group.add_argument(
        "--channels-last",
        action="store_true",
        default=None,
        help="torch, torch-compile: weights and input in NHWC memory format",
    )
    group.add_argument(
        "--exporter",
        choices=("dynamo", "torchscript"),
        help="onnxruntime: torch.onnx exporter (default: dynamo; torchscript is the legacy "
        "one, whose slicing-PConv graph is ~7x larger)",
    )
    group.add_argument(
        "--opset", metavar="N", type=positive_int, help="onnxruntime: ONNX opset (default: 18)"
    )


def backend_options(args: argparse.Namespace) -> dict[str, object]:
    """The backend-option flags that were given (the config checks the backend takes them)."""
    given = {
        "channels_last": args.channels_last,
        "exporter": args.exporter,
        "opset": args.opset,
    }
    return {key: value for key, value in given.items() if value is not None}
