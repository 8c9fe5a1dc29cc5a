"""One import name (docs/CONTRIBUTING.md, "One import name"): the wheel built from this
repository installs `fbench` and nothing else at the top of site-packages, its code runs from the
wheel alone, and no module imports the folders by their old top-level names."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

ROOT = REPO.resolve()

FOLDERS = ("bench", "operators", "devices", "reports", "networks")
# What fails when uv cannot reach the package index for the build backend (hatchling).
NETWORK_ERRORS = re.compile(
    r"Failed to fetch|error sending request|dns error|Could not connect|network|offline",
    re.IGNORECASE,
)


def _build(uv: str, out: Path, *flags: str) -> Path:
    built = subprocess.run(
        [uv, "build", *flags, "--out-dir", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if built.returncode != 0 and NETWORK_ERRORS.search(built.stderr):
        pytest.skip(f"needs the network or a warm uv cache for hatchling: {built.stderr[-300:]}")
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("fbench-*.whl")
    return path


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The wheel `uv build --wheel` makes from the repository, and the one `uv build` makes
    from the sdist (a few seconds each; hatchling comes from uv's cache, or from the index
    when the cache is cold, and the tests skip when neither is reachable)."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH: cannot build the wheel")
    direct = _build(uv, tmp_path_factory.mktemp("wheel"), "--wheel")
    via_sdist = _build(uv, tmp_path_factory.mktemp("sdist"))
    return direct, via_sdist


@pytest.fixture(scope="module")
def wheel(wheels: tuple[Path, Path]) -> Path:
    return wheels[0]


def test_the_wheel_installs_one_top_level_name(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    (dist_info,) = [name for name in top if name.endswith(".dist-info")]
    assert top == {"fbench", dist_info}
    # The folders are inside it, with their data; the research and the tests are not.
    for folder in FOLDERS:
        assert f"fbench/{folder}/__init__.py" in names, folder
    assert "fbench/bench/measure/worker.py" in names
    assert any(name.startswith("fbench/reports/data/") for name in names)
    assert not [name for name in names if "/benchmarks/" in name or "/tests/" in name]
    assert not [name for name in names if "__pycache__" in name]


def test_the_sdist_builds_the_same_wheel(wheels):
    # The sdist holds the folders, not the links (hatchling's walk would keep only one of a
    # folder and its link); the wheel's force-include maps them from there as from a checkout.
    direct, via_sdist = (sorted(zipfile.ZipFile(path).namelist()) for path in wheels)
    assert via_sdist == direct


def test_the_wheel_runs_without_the_repository(wheel, tmp_path):
    # The wheel's files alone, with the repository taken off sys.path (the editable install
    # puts it there): a module still importing `bench` or `reports` by itself fails here.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys\n"
        f"sys.path = [p for p in sys.path if p not in ('', {str(ROOT)!r})]\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "from fbench.cli import main\n"
        "code = main(['show', sys.argv[1]])\n"
        f"loose = sorted(set(sys.modules) & set({FOLDERS!r}))\n"
        "import fbench\n"
        "print('fbench from', fbench.__file__, 'loose', loose)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "tests" / "fixtures" / "cpu_table1.json")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "PConv" in result.stdout
    assert f"fbench from {site / 'fbench' / '__init__.py'} loose []" in result.stdout


def test_no_module_imports_a_folder_by_its_old_top_level_name():
    # In a checkout the repository is on sys.path, so `import bench` would still work there,
    # as a second copy of every module, and fail only once installed from the wheel.
    old = re.compile(rf"^\s*(from|import) ({'|'.join(FOLDERS)})(\.|\s)", re.MULTILINE)
    sources = [
        path
        for path in ROOT.rglob("*.py")
        if not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
    ]
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
        for path in sources
        for match in old.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_a_checkout_imports_each_folder_under_fbench():
    import fbench.bench
    import fbench.reports

    assert Path(fbench.bench.__file__).resolve() == ROOT / "bench" / "__init__.py"
    assert Path(fbench.reports.__file__).resolve() == ROOT / "reports" / "__init__.py"
    for folder in FOLDERS:
        link = ROOT / "fbench" / folder
        assert link.is_symlink() and link.resolve() == ROOT / folder, folder
