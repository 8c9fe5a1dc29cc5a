"""scripts/aarch64_requirements.py: the locked aarch64 list the emulated Pi 4 installs."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "aarch64_requirements.py"
UV = os.environ.get("UV") or shutil.which("uv")


def _module():
    spec = importlib.util.spec_from_file_location("aarch64_requirements", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


aarch64 = _module()


def _pins(path):
    return {line.split(" ", 1)[0] for line in path.read_text().splitlines()}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    if UV is None:
        pytest.skip("no uv on PATH: the export runs `uv export --frozen`")
    out = tmp_path_factory.mktemp("locked")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--wheels", str(out / "w.txt"), "--sdists",
         str(out / "s.txt"), "--uv", UV],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out / "w.txt", out / "s.txt"


def test_export_pins_the_a72_torch_and_no_x86_package(exported):
    wheels, sdists = exported
    pins = _pins(wheels) | _pins(sdists)
    assert "torch==2.9.1" in pins and "torchvision==0.24.1" in pins
    names = {pin.split("==")[0] for pin in pins}
    assert not {name for name in names if name.startswith(("nvidia-", "triton"))}
    # Python 3.11's numpy and scipy, not the 3.12+ ones the lock also holds.
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    locked = {(p["name"], p.get("version")) for p in lock["package"]}
    assert all(tuple(pin.split("==")) in locked for pin in pins)
    assert len(names) == len(pins), "one version per package"


def test_every_pin_carries_the_locked_hashes_and_sdists_are_apart(exported):
    wheels, sdists = exported
    for line in wheels.read_text().splitlines() + sdists.read_text().splitlines():
        assert " --hash=sha256:" in line, line
    assert {pin.split("==")[0] for pin in _pins(sdists)} == {"fvcore", "iopath"}


@pytest.mark.parametrize(
    ("filename", "fits"),
    [
        ("torch-2.9.1-cp311-cp311-manylinux_2_28_aarch64.whl", True),
        ("psutil-7.2.2-cp36-abi3-manylinux2014_aarch64.manylinux_2_17_aarch64.whl", True),
        ("tabulate-0.10.0-py3-none-any.whl", True),
        ("torch-2.9.1-cp311-cp311-manylinux_2_28_x86_64.whl", False),
        ("numpy-2.4.6-cp311-cp311-musllinux_1_2_aarch64.whl", False),
        ("numpy-2.5.5-cp312-cp312-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl", False),
        ("x-1.0-cp311-cp311-manylinux_2_34_aarch64.whl", False),  # needs a newer glibc
        ("x-1.0-cp312-abi3-manylinux_2_17_aarch64.whl", False),  # abi3 from 3.12 on
    ],
)
def test_wheel_fits_the_target(filename, fits):
    assert aarch64.wheel_fits(filename, aarch64.Target()) is fits


def test_a_pin_missing_from_the_lock_is_named():
    with pytest.raises(LookupError, match=r"torch==9\.9 is not in uv\.lock"):
        aarch64.split_locked([("torch", "9.9")], {"package": []}, aarch64.Target())


def test_missing_uv_is_one_line_exit_2(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--wheels", str(tmp_path / "w"), "--sdists",
         str(tmp_path / "s"), "--uv", str(tmp_path / "no-uv")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_markers_are_evaluated_for_the_target_not_the_host():
    exported = "\n".join([
        "torch==2.9.1 ; platform_machine == 'aarch64'",
        "    # via fbench",
        "torch==2.15.0 ; platform_machine != 'aarch64'",
        "nvidia-cublas==13.1.0 ; platform_machine != 'aarch64' and sys_platform == 'linux'",
        "contourpy==1.3.3 ; python_full_version < '3.12'",
        "contourpy==1.4.0 ; python_full_version >= '3.12'",
        "colorama==0.4.6 ; sys_platform == 'win32'",
        "tabulate==0.10.0",
    ])  # fmt: skip
    pins = aarch64.pins_for_target(exported, aarch64.Target())
    assert pins == [("torch", "2.9.1"), ("contourpy", "1.3.3"), ("tabulate", "0.10.0")]
    x86 = aarch64.pins_for_target(exported, aarch64.Target(python_version="3.12", machine="x86_64"))
    assert ("torch", "2.15.0") in x86 and ("contourpy", "1.4.0") in x86


def test_the_export_needs_no_uv_cache(tmp_path):
    """A machine that never downloaded aarch64 metadata (an empty uv cache, as on a fresh
    clone) exports the same list: the markers need no index."""
    if UV is None:
        pytest.skip("no uv on PATH: the export runs `uv export --frozen`")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--wheels", str(tmp_path / "w.txt"), "--sdists",
         str(tmp_path / "s.txt"), "--uv", UV],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "UV_CACHE_DIR": str(tmp_path / "empty-cache"), "UV_OFFLINE": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "torch==2.9.1" in _pins(tmp_path / "w.txt")


def test_the_executorch_extras_fit_the_backend_and_the_locked_torch(exported):
    """scripts/aarch64-executorch.txt (the emulated executorch row): the backend's executorch
    version, whose torch the lock already pins on aarch64, every line hash-pinned, and no
    package the locked list already has (it would install a second version)."""
    from fbench.devices.executorch_backend import EXECUTORCH_VERSION, TORCH_VERSION

    extras = REPO / "scripts" / "aarch64-executorch.txt"
    lines = [line for line in extras.read_text().splitlines() if line and line[0] != "#"]
    assert all(" --hash=sha256:" in line for line in lines)
    pins = {line.split(" ", 1)[0] for line in lines}
    assert f"executorch=={EXECUTORCH_VERSION}" in pins
    wheels, sdists = exported
    locked = _pins(wheels) | _pins(sdists)
    assert f"torch=={TORCH_VERSION}" in locked
    locked_names = {pin.split("==")[0] for pin in locked}
    assert not {pin.split("==")[0] for pin in pins} & locked_names
