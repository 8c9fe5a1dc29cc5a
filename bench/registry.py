"""One registry type for every axis a definition is found by name on: operators, devices,
backends, networks, plot kinds. A name is registered once; an unknown name is a user error
that lists the known ones. At the bottom of the layers (it knows only fbench.bench.errors), so that
the registries of every layer can use it."""

from __future__ import annotations

from typing import TypeVar

from fbench.bench.errors import FbenchError, did_you_mean

T = TypeVar("T")


class Registry(dict[str, T]):
    """Definitions by name, in registration order (the order tables and help text list).

    A plain dict to its readers; `add` refuses a name twice (a programming error), `find`
    turns an unknown name into the one-line error a user can act on.
    """

    def __init__(self, kind: str, twice: str = "registered twice") -> None:
        super().__init__()
        self.kind = kind  # what one entry is called in messages, e.g. "operator"
        self._twice = twice  # how the duplicate message ends, e.g. "is already registered"

    def add(self, name: str, definition: T) -> T:
        if name in self:
            raise ValueError(f"{self.kind} {name!r} {self._twice}")
        self[name] = definition
        return definition

    def find(self, name: str) -> T:
        try:
            return self[name]
        except KeyError:
            known = ", ".join(self)
            hint = did_you_mean(name, self)
            raise FbenchError(f"unknown {self.kind} {name!r}{hint}; known: {known}") from None
