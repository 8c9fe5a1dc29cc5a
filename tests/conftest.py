"""Shared helpers: run the real CLI in a subprocess, load fixture results."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
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


def cli(capsys, *args: str) -> subprocess.CompletedProcess:
    """`fbench ARGS` in this process (main(argv)): its exit code (argparse's usage errors
    included), stdout and stderr."""
    from fbench.cli import main

    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as stop:  # argparse's usage errors
        code = stop.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["fbench", *args], code, out, err)


@contextlib.contextmanager
def tiny_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """`folder` (made here) mounted as a tmpfs of `size` ("12k") while the block runs, so a
    test can fill a disk; mounting needs root, else the test is skipped."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("needs a tiny tmpfs (mount, as root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


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
