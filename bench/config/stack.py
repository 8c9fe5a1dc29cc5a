"""The software stack a run's workers import, as requirements `NAME==VERSION`: what
`fbench run --with` gives and what a backend declares it needs (executorch: torch 2.9 with
executorch 1.0.1), checked and merged here; bench/measure/stack.py builds the environment.

Only exact versions: a run records what was measured, and "torch>=2.9" names no one build.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata

from fbench.bench.errors import FbenchError

# A PyPI project name (PEP 508) and a version of the characters PEP 440 allows; nothing
# that could be a path, a URL or an option to uv.
_REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
    r"\s*==\s*(?P<version>[0-9][A-Za-z0-9.+!_-]*)$"
)
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")


def canonical_name(name: str) -> str:
    """PEP 503's normal form: "Torch_Vision" → "torch-vision"."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirement(text: str, flag: str = "--with") -> tuple[str, str]:
    """("torch", "2.9.1") from "torch==2.9.1", or one line saying what is wrong."""
    text = text.strip()
    match = _REQUIREMENT.match(text)
    if match:
        return canonical_name(match["name"]), match["version"]
    if _NAME.match(text):
        raise FbenchError(
            f"{flag} {text}: give an exact version, {text}==VERSION (e.g. torch==2.9.1)"
        )
    raise FbenchError(f"{flag} {text!r}: expected PACKAGE==VERSION, e.g. torch==2.9.1")


def parse_requirements(texts: Iterable[str], flag: str = "--with") -> dict[str, str]:
    """{name: version}; a package named twice with two versions is an error."""
    found: dict[str, str] = {}
    for text in texts:
        name, version = parse_requirement(text, flag)
        if found.get(name, version) != version:
            raise FbenchError(f"{flag}: {name} given twice ({found[name]} and {version})")
        found[name] = version
    return found


def requirement_lines(requirements: Mapping[str, str]) -> tuple[str, ...]:
    """Sorted "name==version" strings: the form stored in a run's config."""
    return tuple(f"{name}=={version}" for name, version in sorted(requirements.items()))


def satisfied_here(requirements: Mapping[str, str]) -> bool:
    """Whether this process's environment already has exactly these versions."""
    for name, version in requirements.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            return False
        if installed.split("+")[0] != version.split("+")[0]:
            return False
    return True


def run_stack(declared: Sequence[str], given: Sequence[str]) -> tuple[str, ...]:
    """The requirements a run's workers need: the backend's `declared`, with the user's
    `given` (--with) over them; () when this environment already has all of them, so the
    run measures where it is."""
    requirements = parse_requirements(declared, "backend requirement")
    requirements.update(parse_requirements(given))
    if not requirements or satisfied_here(requirements):
        return ()
    return requirement_lines(requirements)
