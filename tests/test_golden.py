"""The outputs of show, report table1 (every format), compare, roofline and depth on the
committed examples and fixtures are byte-identical to tests/golden/*.txt, so that moving
code around (issue 17) cannot change what a user sees. A change of output that is meant:
re-record with `uv run python tests/golden/record.py` and review the diff."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from cases import CASES, GOLDEN_DIR, run_case


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_output_is_the_recorded_one(case, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    expected = case.path.read_bytes().decode("utf-8")  # byte-identical: csv keeps \r\n
    assert run_case(case) == expected, f"re-record only if meant: {case.path}"


def test_every_golden_file_has_a_case():
    assert {path.name for path in GOLDEN_DIR.glob("*.txt")} == {case.path.name for case in CASES}
