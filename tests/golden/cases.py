"""The commands whose output must stay byte-identical while the code is restructured (issue 17):
`show`, `report table1` in every format, `report claims`, `compare`, `roofline` and `depth`
(with their tidy csv/json exports and --summary) on the committed example results and test
fixtures, the text as a 100-column terminal shows it (COLUMNS=100: the default width), and
with `--wide` (one line a row) or another COLUMNS where a case says so. `record.py` writes
their output into this folder; tests/test_golden.py re-runs them and compares."""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
GOLDEN_DIR = Path(__file__).resolve().parent
FORMATS = ("text", "md", "csv", "latex", "html", "json")

_EX = "examples/results"
_FX = "tests/fixtures"
CPU_NETWORKS = f"{_EX}/20261206-234421-cpu-torch.json"
CUDA = f"{_EX}/20261123-075145-cuda-torch.json"
CPU_DEPTH = f"{_EX}/20261206-234839-cpu-torch.json"
CPU = f"{_EX}/20261206-234220-cpu-torch.json"
CPU_CALIBRATION = f"{_EX}/cpu-amd-epyc-float32.json"
CUDA_CALIBRATION = f"{_EX}/cuda-nvidia-h100-80gb-hbm3-float32.json"
FX_CPU, FX_CUDA, FX_ARM = (f"{_FX}/{d}_table1.json" for d in ("cpu", "cuda", "arm"))
FX_NETWORKS = f"{_FX}/cpu_networks.json"
FX_CALIBRATION = f"{_FX}/cpu_calibration.json"


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]
    columns: str = "100"  # the COLUMNS the command sees: the default width unless a case tests it

    @property
    def path(self) -> Path:
        return GOLDEN_DIR / f"{self.name}.txt"


def _cases() -> list[Case]:
    cases = [
        Case(f"show-{name}", ("show", path))
        for name, path in (
            ("cpu", CPU),
            ("cuda", CUDA),
            ("cpu-networks", CPU_NETWORKS),
            ("cpu-depth", CPU_DEPTH),
            ("fixture-cpu", FX_CPU),
            ("fixture-arm", FX_ARM),
            ("fixture-networks", FX_NETWORKS),
        )
    ]
    cases.append(Case("show-cpu-no-paper", ("show", "--no-paper", CPU)))
    for fmt in FORMATS:
        cases.append(Case(f"table1-{fmt}", ("report", "table1", "--format", fmt, CPU, CUDA)))
        cases.append(
            Case(
                f"table1-paper-{fmt}",
                ("report", "table1", "--paper", "--format", fmt, FX_CPU, FX_CUDA, FX_ARM),
            )
        )
    cases.append(Case("table1-roofline", ("report", "table1", "--roofline", CPU)))
    for fmt in ("text", "md", "json"):
        cases.append(Case(f"compare-same-{fmt}", ("compare", "--format", fmt, FX_CPU, FX_CPU)))
    cases.append(Case("compare-same-cuda", ("compare", FX_CUDA, FX_CUDA)))
    cases.append(Case("compare-examples", ("compare", CPU, CPU_DEPTH)))
    cases.append(Case("compare-devices", ("compare", FX_CPU, FX_CUDA)))
    for fmt in ("text", "csv"):
        cases.append(
            Case(
                f"roofline-{fmt}",
                (
                    "roofline",
                    "--format",
                    fmt,
                    "--calibration",
                    CPU_CALIBRATION,
                    "--calibration",
                    CUDA_CALIBRATION,
                    CPU,
                    CUDA,
                ),
            )
        )
        cases.append(
            Case(
                f"roofline-fixture-{fmt}",
                ("roofline", "--format", fmt, "--calibration", FX_CALIBRATION, FX_CPU),
            )
        )
        cases.append(Case(f"depth-{fmt}", ("depth", "--format", fmt, CPU_DEPTH)))
    cases.append(Case("depth-at-5", ("depth", "--at-layers", "5", CPU_DEPTH)))
    claims = ("report", "claims", FX_CUDA, FX_CPU, FX_NETWORKS, FX_ARM)
    claims += ("--calibration", FX_CALIBRATION)
    cases.append(Case("claims-text", claims))
    cases.append(Case("claims-examples", ("report", "claims", CPU, CPU_NETWORKS, CUDA)))
    # --wide: today's one-line-a-row layout, kept for every verb that fits a width.
    for name, argv in (
        ("show-cpu-wide", ("show", "--wide", CPU)),
        ("show-fixture-networks-wide", ("show", "--wide", FX_NETWORKS)),
        (
            "table1-paper-text-wide",
            ("report", "table1", "--paper", "--wide", FX_CPU, FX_CUDA, FX_ARM),
        ),
        ("compare-same-text-wide", ("compare", "--wide", FX_CPU, FX_CPU)),
        (
            "roofline-fixture-text-wide",
            ("roofline", "--wide", "--calibration", FX_CALIBRATION, FX_CPU),
        ),
        ("depth-text-wide", ("depth", "--wide", CPU_DEPTH)),
        ("claims-text-wide", (*claims, "--wide")),
    ):
        cases.append(Case(name, argv))
    # The width comes from COLUMNS when it is wider than 100; nonsense or narrower gives 100.
    for columns in ("160", "0", "abc", "20"):
        cases.append(Case(f"show-cpu-columns-{columns}", ("show", CPU), columns=columns))
    cases += _machine_export_cases()
    return cases


def _machine_export_cases() -> list[Case]:
    """The formats and summaries every table verb gained with the tidy exports (issue 25):
    md where a verb had none, csv/json where it had none, and each verb's --summary."""
    roofline = ("roofline", "--calibration", FX_CALIBRATION, FX_CPU)
    table1_paper = ("report", "table1", "--paper", FX_CPU, FX_CUDA, FX_ARM)
    return [
        Case("table1-paper-summary-csv", (*table1_paper, "--format", "csv", "--summary")),
        Case(
            "table1-summary-json", ("report", "table1", CPU, CUDA, "--format", "json", "--summary")
        ),
        Case("show-fixture-arm-csv", ("show", "--format", "csv", FX_ARM)),
        Case("show-fixture-networks-json", ("show", "--format", "json", FX_NETWORKS)),
        Case("show-fixture-cpu-summary-csv", ("show", "--format", "csv", "--summary", FX_CPU)),
        Case("show-fixture-cpu-md", ("show", "--format", "md", FX_CPU)),
        Case("compare-same-csv", ("compare", "--format", "csv", FX_CPU, FX_CPU)),
        Case(
            "compare-same-summary-json",
            ("compare", "--format", "json", "--summary", FX_CPU, FX_CPU),
        ),
        Case("roofline-fixture-md", (*roofline, "--format", "md")),
        Case("roofline-fixture-json", (*roofline, "--format", "json")),
        Case("roofline-fixture-summary-csv", (*roofline, "--format", "csv", "--summary")),
        Case("depth-md", ("depth", "--format", "md", CPU_DEPTH)),
        Case("depth-json", ("depth", "--format", "json", CPU_DEPTH)),
        Case("depth-summary-csv", ("depth", "--format", "csv", "--summary", CPU_DEPTH)),
    ]


CASES = _cases()


def normalise(text: str) -> str:
    """The checkout's path is the only thing in the output that depends on where it runs."""
    return text.replace(str(ROOT), "<root>")


def run_case(case: Case) -> str:
    """Run the command in-process from the repository root; its exit code, stdout and
    stderr in one text."""
    from fbench.cli import main

    out, err = io.StringIO(), io.StringIO()
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = case.columns
    try:
        with (
            contextlib.chdir(ROOT),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            code = main(list(case.argv))
    finally:
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    env = "" if case.columns == "100" else f"COLUMNS={case.columns} "
    return normalise(
        f"$ {env}fbench {' '.join(case.argv)}\nexit {code}\n--- stdout\n{out.getvalue()}"
        f"--- stderr\n{err.getvalue()}"
    )
