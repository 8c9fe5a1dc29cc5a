"""Shared helpers: run the real CLI in a subprocess, load fixture results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


def fbench(
    *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """`fbench ARGS` in a fresh process, as a user would run it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "fbench.cli", *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def start_fbench(*args: str) -> subprocess.Popen:
    """`fbench ARGS` started in the background, stderr piped, so a test can signal it."""
    return subprocess.Popen(
        [sys.executable, "-m", "fbench.cli", *args],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # A shell starts background jobs with SIGINT ignored, and Python keeps it ignored:
        # give the child the default disposition a user's terminal would, so Ctrl-C lands.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


def start_run(tmp_path: Path, config_text: str) -> tuple[subprocess.Popen, Path]:
    """`fbench run` of `config_text` started in the background; its results folder."""
    config = tmp_path / "run.toml"
    config.write_text(config_text)
    results_dir = tmp_path / "results"
    run = start_fbench(
        "run", "--config", str(config), "--results-dir", str(results_dir), "--no-table"
    )
    return run, results_dir


def assert_one_line_error(
    result: subprocess.CompletedProcess, *fragments: str, code: int = 2
) -> None:
    """Exit `code` (2: bad input), one line on stderr naming the problem, no traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture(autouse=True)
def _terminal_of_100_columns(monkeypatch):
    """Text output fits the terminal's width when it is wider than 100 (COLUMNS first): the
    tests see the default 100 whatever terminal runs them."""
    monkeypatch.setenv("COLUMNS", "100")


@pytest.fixture
def fixture_path() -> Path:
    return FIXTURES / "cpu_table1.json"
