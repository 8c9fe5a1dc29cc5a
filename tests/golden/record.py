"""Re-record the golden outputs (tests/golden/*.txt). Only when a change of output is meant:
`uv run python tests/golden/record.py`, then review the diff."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cases import CASES, GOLDEN_DIR, run_case


def main() -> int:
    os.environ.pop("GITHUB_STEP_SUMMARY", None)  # compare would also append there
    for stale in GOLDEN_DIR.glob("*.txt"):
        stale.unlink()
    for case in CASES:
        case.path.write_text(run_case(case), encoding="utf-8", newline="")  # csv keeps \r\n
    print(f"recorded {len(CASES)} golden outputs in {GOLDEN_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
