"""The import contract in pyproject.toml ([tool.importlinter]) holds: the layers of the data flow
(CLI → reports → pipeline → operators/networks → devices → results → errors), nothing imports the
CLI, the product imports nothing from benchmarks/, reports import no measurement code, and no
package has an import cycle. The imports it ignores are listed there as debt (issue 17)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_lint_imports_keeps_every_contract():
    pytest.importorskip("importlinter", reason="import-linter (dev group) is not installed")
    script = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(script), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
