"""Reports: tables and plots built from stored result files only; they never run a benchmark."""

from __future__ import annotations

import importlib

# Modules that add plot kinds (`reports.plots.register_plot`) or Table 1 column sets
# (`reports.table1.register_columns`) when imported, e.g. "reports.roofline". `fbench plot`
# and `fbench report` import them before building their flags. They must stay light: no
# torch or matplotlib at module top, or `fbench --help` slows down.
EXTENSIONS: tuple[str, ...] = ("reports.roofline_extension",)


def load_extensions() -> None:
    for name in EXTENSIONS:
        importlib.import_module(name)
