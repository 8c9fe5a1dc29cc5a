#!/usr/bin/env python3
"""The project's locked dependencies for one foreign platform (by default a Raspberry Pi 4's
aarch64 with Python 3.11), as hash-pinned requirement files for `pip download` on another host.

Why not `uv export` alone: uv.lock is universal, so the export lists both torch 2.9.1
(`platform_machine == 'aarch64'`) and the x86 torch with its nvidia-* packages, and pip
evaluates those markers for the host it runs on, not for its `--platform`. This script
evaluates each exported line's marker for the target instead (`packaging.markers`, offline:
no index and no uv cache is needed, so it works on a machine that has never downloaded
aarch64 metadata); uv.lock then gives the sha256 of each locked file, so
`pip download --require-hashes` fetches exactly those files.

Writes two files: --wheels (packages with a wheel for the target) and --sdists (packages
published as source only, e.g. fvcore, to be built into pure-Python wheels on the host); each
line `name==version --hash=sha256:...`. Standard library plus `packaging` (pip vendors it, so
any python3 with pip has it): it runs before the project is installed. Exit 2 with one line
on stderr when uv, uv.lock, packaging or a locked file is missing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Target:
    """Where the packages will be installed: a CPython version and a manylinux platform."""

    python_version: str = "3.11"
    machine: str = "aarch64"
    glibc: tuple[int, int] = (2, 28)

    @property
    def uv_platform(self) -> str:  # uv's name for it, e.g. aarch64-manylinux_2_28
        return f"{self.machine}-manylinux_{self.glibc[0]}_{self.glibc[1]}"

    @property
    def pip_platform(self) -> str:  # pip's, e.g. manylinux_2_28_aarch64
        return f"manylinux_{self.glibc[0]}_{self.glibc[1]}_{self.machine}"


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: tuple[str, ...]

    def line(self) -> str:
        return " ".join([f"{self.name}=={self.version}", *(f"--hash={h}" for h in self.hashes)])


def normalize(name: str) -> str:
    """PEP 503 name: uv.lock and uv's output may spell a name differently."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(text: str) -> list[tuple[str, str]]:
    """`name==version` lines (comments, blanks and options ignored) as (name, version)."""
    pins = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise ValueError(f"not an exact pin: {raw!r}")
        pins.append((normalize(name.strip()), version.split(";", 1)[0].strip()))
    return pins


def _manylinux_glibc(platform: str, machine: str) -> tuple[int, int] | None:
    """The glibc a manylinux platform tag needs, or None for another platform."""
    legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
    match = re.fullmatch(rf"manylinux_(\d+)_(\d+)_{machine}", platform)
    if match:
        return int(match[1]), int(match[2])
    prefix, _, arch = platform.partition("_")
    return legacy.get(prefix) if arch == machine else None


def wheel_fits(filename: str, target: Target) -> bool:
    """Whether pip installs this wheel on `target` (CPython, manylinux, no musl)."""
    parts = filename.removesuffix(".whl").split("-")
    if len(parts) < 5:
        return False
    python_tags, abi_tags, platform_tags = (tag.split(".") for tag in parts[-3:])
    major, minor = target.python_version.split(".")[:2]
    cpython = f"cp{major}{minor}"

    def python_fits(tag: str) -> bool:
        if tag in (f"py{major}", f"py{major}{minor}", cpython):
            return True
        # An abi3 wheel built for an older CPython 3 runs on this one.
        found = re.fullmatch(rf"cp{major}(\d+)", tag)
        return bool(found) and "abi3" in abi_tags and int(found[1]) <= int(minor)

    platform_fits = any(
        tag == "any"
        or ((glibc := _manylinux_glibc(tag, target.machine)) is not None and glibc <= target.glibc)
        for tag in platform_tags
    )
    abi_fits = any(tag in ("none", "abi3", cpython) for tag in abi_tags)
    return platform_fits and abi_fits and any(python_fits(tag) for tag in python_tags)


def split_locked(
    pins: Iterable[tuple[str, str]], lock: dict, target: Target
) -> tuple[list[Pin], list[Pin]]:
    """(wheels, sdists): each pin with the hashes of its locked files that fit `target`."""
    packages = {
        (normalize(package["name"]), package.get("version")): package
        for package in lock.get("package", [])
    }
    wheels, sdists = [], []
    for name, version in pins:
        package = packages.get((name, version))
        if package is None:
            raise LookupError(f"{name}=={version} is not in uv.lock")
        fitting = [
            wheel["hash"]
            for wheel in package.get("wheels", [])
            if wheel_fits(wheel["url"].rsplit("/", 1)[-1], target)
        ]
        if fitting:
            wheels.append(Pin(name, version, tuple(fitting)))
        elif "sdist" in package:
            sdists.append(Pin(name, version, (package["sdist"]["hash"],)))
        else:
            raise LookupError(
                f"{name}=={version}: uv.lock has no wheel for {target.pip_platform} / "
                f"Python {target.python_version} and no sdist"
            )
    return wheels, sdists


def _marker_type():
    """packaging's Marker: the installed package, else the copy pip vendors."""
    try:
        from packaging.markers import Marker
    except ImportError:
        try:
            from pip._vendor.packaging.markers import Marker
        except ImportError as error:
            raise LookupError(
                "needs the 'packaging' module (pip ships a copy) to evaluate uv.lock's "
                "markers: install pip or packaging for this python3"
            ) from error
    return Marker


def marker_environment(target: Target) -> dict[str, str]:
    """PEP 508's marker variables for a CPython on Linux at `target` (what pip would see there)."""
    full_version = target.python_version
    if full_version.count(".") == 1:
        full_version += ".0"  # markers compare full versions; the minor is what matters here
    return {
        "implementation_name": "cpython",
        "implementation_version": full_version,
        "os_name": "posix",
        "platform_machine": target.machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": full_version,
        "python_version": ".".join(target.python_version.split(".")[:2]),
        "sys_platform": "linux",
    }


def pins_for_target(exported: str, target: Target) -> list[tuple[str, str]]:
    """The `name==version ; marker` lines of a requirements export whose marker holds on
    `target`, as (name, version); comments, blanks and options are ignored."""
    marker_type = _marker_type()
    environment = marker_environment(target)
    kept = []
    for raw in exported.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement, _, marker = line.partition(";")
        if marker.strip() and not marker_type(marker.strip()).evaluate(environment):
            continue
        kept.append(requirement.strip())
    return parse_pins("\n".join(kept))


def target_pins(uv: str, target: Target, repo: Path = REPO) -> list[tuple[str, str]]:
    """The locked (name, version) pairs that `target` installs (no dev group, no project).
    `uv export --frozen` reads uv.lock alone; the markers are evaluated here, offline."""
    exported = subprocess.run(
        [uv, "export", "--frozen", "--no-hashes", "--no-dev", "--no-emit-project",
         "--format", "requirements.txt", "--quiet"],
        cwd=repo, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return pins_for_target(exported, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheels", type=Path, required=True, help="output: wheel pins")
    parser.add_argument("--sdists", type=Path, required=True, help="output: sdist-only pins")
    parser.add_argument("--python-version", default=Target.python_version)
    parser.add_argument("--machine", default=Target.machine)
    parser.add_argument("--uv", default=os.environ.get("UV") or shutil.which("uv"))
    args = parser.parse_args(argv)
    target = Target(python_version=args.python_version, machine=args.machine)
    lock_path = REPO / "uv.lock"
    prog = Path(sys.argv[0]).name
    if not (args.uv and shutil.which(args.uv)):
        print(f"{prog}: uv not found ({args.uv or 'not on PATH'}); set --uv or UV", file=sys.stderr)
        return 2
    try:
        lock = tomllib.loads(lock_path.read_text())
        wheels, sdists = split_locked(target_pins(args.uv, target), lock, target)
    except subprocess.CalledProcessError as error:
        detail = (error.stderr or "").strip().splitlines()
        reason = detail[-1] if detail else error
        print(f"{prog}: uv {error.cmd[1]} failed: {reason}", file=sys.stderr)
        return 2
    except (LookupError, OSError, ValueError, tomllib.TOMLDecodeError) as error:
        print(f"{prog}: {lock_path}: {error}", file=sys.stderr)
        return 2
    args.wheels.write_text("".join(pin.line() + "\n" for pin in wheels))
    args.sdists.write_text("".join(pin.line() + "\n" for pin in sdists))
    return 0


if __name__ == "__main__":
    sys.exit(main())
