"""Environments as an axis: the virtual environment a run's workers import when its config
names a stack (`fbench run --with torch==2.9.1`, or a backend's own requirements).

How: uv re-locks a copy of the project's pyproject.toml and uv.lock with the stack's pins in
place of the project's own (uv keeps every other locked version it can), then syncs that lock
into a venv of this Python. The parent stays in the project's environment; only the workers
(`python -m fbench.bench.measure.worker`) run in the new one, importing fbench's own packages from
this checkout. Environments are cached by what determines them (lock, pyproject, stack,
platform, Python) under ~/.cache/fbench/envs (`FBENCH_ENV_CACHE`), so a second run only reads
one small file: the versions the environment imports, probed once when it was built.
(Over ~350 lines because building, caching, probing and launching into an environment are
one concern with one cache format; docs/backends.md, "Other versions side by side".)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fbench import bench
from fbench.bench.config.stack import canonical_name, parse_requirements
from fbench.bench.errors import FbenchError

# The packages fbench is made of (pyproject's wheel packages): what a worker imports from
# this checkout rather than from the environment.
FBENCH_PACKAGES = ("fbench", "bench", "operators", "networks", "devices", "reports")
# Built with a package, the project's requirement on these is loosened so uv picks the
# version made for it (torchvision's binaries are built for one torch minor version).
COMPANIONS = {"torch": ("torchvision",)}
# What a worker reports having imported (bench/measure/worker.py): the versions that join a
# run's comparability keys.
REPORTED = ("torch", "torchvision", "executorch", "onnxruntime", "numpy")
READY_FILE = "fbench-env.json"
# Part of every environment's key: a change to how environments are built makes new ones.
BUILD_FORMAT = "1"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class StackEnvironment:
    """A built environment: where its Python is and what it imports."""

    path: Path
    requirements: tuple[str, ...]
    versions: dict[str, str | None]
    built_s: float | None  # None: taken from the cache

    @property
    def python(self) -> Path:
        return self.path / "venv" / "bin" / "python"

    def worker_environment(self) -> dict[str, str]:
        """Variables a worker in this environment starts with: fbench's packages from this
        checkout on PYTHONPATH, the venv's bin first on PATH (executorch runs `flatc`)."""
        return {
            "PYTHONPATH": str(source_link_dir(self.path)),
            "PATH": f"{self.python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "VIRTUAL_ENV": str(self.python.parent.parent),
        }

    def environment_fields(self, project: dict[str, Any]) -> dict[str, Any]:
        """What a run's environment block says when its workers ran here: the versions they
        import in place of the project environment's (`project`: the parent's block), so
        they are the run's comparability keys, and `stack` with what was built and what the
        project's environment has."""
        return {
            **{name: version for name, version in self.versions.items() if version},
            "stack": {
                "requirements": list(self.requirements),
                "versions": self.versions,
                "project_versions": {name: project.get(name) for name in self.versions},
                "path": str(self.path),
                "built_s": self.built_s,
            },
        }


def project_root() -> Path:
    return Path(bench.__file__).resolve().parent.parent


def cache_root() -> Path:
    given = os.environ.get("FBENCH_ENV_CACHE")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fbench" / "envs"


def _project_files() -> tuple[Path, Path]:
    root = project_root()
    pyproject, lock = root / "pyproject.toml", root / "uv.lock"
    if not (pyproject.is_file() and lock.is_file()):
        raise FbenchError(
            f"another environment is built from the project's uv.lock; {root} has none "
            "(run fbench from its checkout)"
        )
    return pyproject, lock


def locked_packages() -> set[str]:
    """The names of every package in the project's uv.lock."""
    _, lock = _project_files()
    data = tomllib.loads(lock.read_text(encoding="utf-8"))
    return {canonical_name(package["name"]) for package in data.get("package", [])}


def check_given(given: Sequence[str]) -> None:
    """--with names only packages of the project's lock (one line, exit 2, otherwise)."""
    known = locked_packages()
    for name, version in parse_requirements(given).items():
        if name not in known:
            raise FbenchError(
                f"--with {name}=={version}: {name} is not one of the project's dependencies "
                "(uv.lock); --with changes the version of one, e.g. torch==2.9.1"
            )


def environment_key(requirements: Sequence[str]) -> str:
    pyproject, lock = _project_files()
    digest = hashlib.sha256()
    for part in (
        BUILD_FORMAT.encode(),
        lock.read_bytes(),
        pyproject.read_bytes(),
        "\n".join(requirements).encode(),
        platform.machine().encode(),
        sys.platform.encode(),
        platform.python_version().encode(),
    ):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:16]


def ensure_environment(requirements: Sequence[str], progress: Progress) -> StackEnvironment:
    """The environment for `requirements`, built (with progress lines) unless cached.

    A version that does not exist or cannot install here is one line (FbenchError) naming
    the requirements and uv's reason; nothing half-built is left in the cache.
    """
    requirements = tuple(requirements)
    root = cache_root()
    path = root / f"{environment_key(requirements)}"
    cached = _read_ready(path)
    if cached is not None:
        return cached
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{path.name}.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # another run building the same one: wait
        cached = _read_ready(path)
        if cached is not None:
            return cached
        return _build(requirements, path, progress)


def _read_ready(path: Path) -> StackEnvironment | None:
    try:
        data = json.loads((path / READY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    environment = StackEnvironment(path, tuple(data["requirements"]), data["versions"], None)
    return environment if environment.python.exists() else None


def _uv() -> str:
    uv = os.environ.get("UV") or shutil.which("uv")
    if not uv:
        raise FbenchError(
            "building another environment needs uv (https://docs.astral.sh/uv/); "
            "install it, or run without --with"
        )
    return uv


def _build(requirements: tuple[str, ...], path: Path, progress: Progress) -> StackEnvironment:
    import time

    label = ", ".join(requirements)
    uv = _uv()
    start = time.monotonic()
    # Built in place (a venv cannot move); the ready file, written last, marks it done.
    shutil.rmtree(path, ignore_errors=True)  # a build that was killed half-way
    project = path / "project"
    project.mkdir(parents=True)
    try:
        pyproject, lock = _project_files()
        (project / "pyproject.toml").write_text(
            pinned_pyproject(pyproject.read_text(encoding="utf-8"), requirements),
            encoding="utf-8",
        )
        shutil.copy2(lock, project / "uv.lock")
        progress(f"environment {label}: resolving from the project's uv.lock")
        _uv_step([uv, "lock", "--project", str(project)], label, "resolve", progress)
        progress(f"environment {label}: installing into {path} (first time only)")
        env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(path / "venv")}
        env.pop("VIRTUAL_ENV", None)
        _uv_step(
            [
                uv, "sync", "--frozen", "--no-dev", "--no-install-project",
                "--project", str(project), "--python", sys.executable,
            ],
            label, "install", progress, env,
        )  # fmt: skip
        versions = _probe(path / "venv" / "bin" / "python", label, path)
        temporary = path / f"{READY_FILE}.tmp"
        temporary.write_text(
            json.dumps({"requirements": list(requirements), "versions": versions}, indent=1),
            encoding="utf-8",
        )
        os.replace(temporary, path / READY_FILE)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    built_s = round(time.monotonic() - start, 1)
    progress(f"environment {label}: ready in {built_s:.0f} s ({_versions_line(versions)})")
    return StackEnvironment(path, requirements, versions, built_s)


def pinned_pyproject(text: str, requirements: Sequence[str]) -> str:
    """The project's pyproject.toml as a virtual project whose requirements on the stack's
    packages are the stack's exact pins (markers and all other requirements kept), their
    companions loosened, and the stack's other packages (executorch) added."""
    from packaging.requirements import Requirement

    project = tomllib.loads(text)["project"]
    pins = parse_requirements(requirements, "requirement")
    loosen = {c for name in pins for c in COMPANIONS.get(name, ())} - set(pins)
    dependencies, seen = [], set()
    for line in project.get("dependencies", []):
        name = canonical_name(Requirement(line).name)
        if name in pins:
            continue
        if name in loosen:
            if name not in seen:
                dependencies.append(name)
            seen.add(name)
            continue
        dependencies.append(line)
    dependencies += [f"{name}=={version}" for name, version in sorted(pins.items())]
    lines = [
        "[project]",
        f"name = {json.dumps(project['name'])}",
        'version = "0"',
        f"requires-python = {json.dumps(project.get('requires-python', '>=3.11'))}",
        "dependencies = [",
        *[f"    {json.dumps(line)}," for line in dependencies],
        "]",
        "",
        "[tool.uv]",
        "package = false",
        # Resolved for this platform only: a version that installs here is all a run needs.
        f"environments = [{json.dumps(_this_platform())}]",
        "",
    ]
    return "\n".join(lines)


def _this_platform() -> str:
    return f"sys_platform == '{sys.platform}' and platform_machine == '{platform.machine()}'"


def _uv_step(
    command: list[str],
    label: str,
    step: str,
    progress: Progress,
    env: dict[str, str] | None = None,
) -> None:
    """Run one uv command, passing its download lines on as progress; one line if it fails."""
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    lines = []
    for line in process.stderr:
        line = line.rstrip()
        lines.append(line)
        if re.match(r"\s*(Downloading|Downloaded|Prepared|Installed)\b", line):
            progress(f"environment {label}: {line.strip()}")
    if process.wait() != 0:
        raise FbenchError(f"{label}: uv cannot {step} this environment: {uv_reason(lines)}")


def uv_reason(lines: Sequence[str]) -> str:
    """The line of uv's error output that says why (e.g. "Because there is no version of
    torch==9.9 ..."), else its last line."""
    text = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip(" ×╰─▶│") for line in lines]
    text = [re.sub(r"^(cause|error):\s*", "", line.strip()) for line in text if line.strip()]
    for line in text:
        if line.startswith("Because"):
            return line
    for line in text:
        if not line.startswith("Using "):
            return line
    return "no message"


PROBE = """
import json, importlib.metadata as m
import torch  # an environment whose torch cannot be imported is not cached
versions = {}
for name in %r:
    try:
        versions.setdefault(name, m.version(name))
    except m.PackageNotFoundError:
        versions.setdefault(name, None)
print(json.dumps(versions))
"""


def _probe(python: Path, label: str, work: Path) -> dict[str, str | None]:
    """Import torch in the new environment and read the versions it has: a build that
    cannot even import torch is refused before it is cached."""
    result = subprocess.run(
        [str(python), "-c", PROBE % (REPORTED,)],
        capture_output=True,
        text=True,
        cwd=work,
        timeout=600,
    )
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise FbenchError(
            f"{label}: the environment was built but cannot import torch: "
            f"{lines[-1] if lines else 'no message'}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _versions_line(versions: dict[str, str | None]) -> str:
    return ", ".join(f"{name} {version}" for name, version in versions.items() if version)


def source_link_dir(path: Path) -> Path:
    """A directory holding links to this checkout's fbench packages only, for PYTHONPATH:
    putting the checkout's parent directory there could bring the project venv's torch."""
    root = project_root()
    links = path / "src" / hashlib.sha256(str(root).encode()).hexdigest()[:12]
    if not links.is_dir():
        links.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(dir=links.parent))
        for name in FBENCH_PACKAGES:
            (temporary / name).symlink_to(root / name, target_is_directory=True)
        with contextlib.suppress(OSError):  # another run made it first
            os.replace(temporary, links)
        shutil.rmtree(temporary, ignore_errors=True)
    return links


def worker_versions() -> dict[str, str | None]:
    """The versions of what this worker imports (as fbench.bench.environment records them: the
    packages' metadata), and where its environment is."""
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in REPORTED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["python_prefix"] = sys.prefix
    return versions
