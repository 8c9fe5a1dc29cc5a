"""One module per CLI verb, each with HELP, add_arguments(parser) and run(args) -> int."""

from __future__ import annotations

import argparse

DEFAULT_RESULTS_DIR = "results"


def add_results_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results-dir",
        metavar="DIR",
        default=DEFAULT_RESULTS_DIR,
        help="where result files are stored and looked up by run id (default: %(default)s/)",
    )


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


def int_list(text: str) -> list[int]:
    try:
        return [int(item) for item in comma_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated stage numbers like 1,2, got {text!r}"
        ) from None
