"""Registries: one table each for tools, scorers and encoders, mapping public names to factories.

Names are the public interface (configs, CLI, HTTP). An entry carries what a user needs to know
before building the component: its category and backend, the weights file it expects (relative
to the weights directory), whether it is part of the embedded default that works offline, and,
for components no installed package can run, the reason. ``availability`` answers "can I build
this here, and if not, why" without building anything.

Factories are called as ``factory(weights_dir=..., device=...)`` and return the component.
Modules that define components register them at import; ``load_builtin_components`` imports
them all.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tool_actors.base import Encoder, Scorer, Tool, UnavailableError
from tool_actors.weights import missing_reason

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered component."""

    name: str
    factory: Callable[..., T]
    description: str = ""
    category: str | None = None  # tools: a Category; scorers: "NR" or "FR"
    backend: str = "classical"  # "classical" or "neural"
    weights: tuple[str, ...] = ()  # files expected in the weights directory
    embedded: bool = False  # works offline from what the packages ship
    unavailable: str | None = None  # set when no installed package can run it, with the reason
    check: Callable[[], str | None] | None = None  # extra run-time check (e.g. optional package)
    extra: dict[str, Any] = field(default_factory=dict)

    def availability(self, weights_dir: str | os.PathLike | None = None) -> tuple[bool, str]:
        """(available, reason or 'ok') without building the component."""
        if self.unavailable:
            return False, self.unavailable
        if self.check is not None:
            reason = self.check()
            if reason:
                return False, reason
        for filename in self.weights:
            reason = missing_reason(filename, weights_dir)
            if reason:
                return False, reason
        return True, "ok"


class Registry(Generic[T]):
    """An ordered name → entry table with helpful errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, entry: Entry[T]) -> Entry[T]:
        if entry.name in self._entries:
            raise ValueError(f"{self.kind} {entry.name!r} is registered twice")
        self._entries[entry.name] = entry
        return entry

    def __contains__(self, name: object) -> bool:
        load_builtin_components()
        return name in self._entries

    def names(self) -> list[str]:
        load_builtin_components()
        return list(self._entries)

    def entries(self) -> list[Entry[T]]:
        load_builtin_components()
        return list(self._entries.values())

    def get(self, name: str) -> Entry[T]:
        load_builtin_components()
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self._entries) or "(none)"
            raise KeyError(f"unknown {self.kind} {name!r}; known {self.kind}s: {known}") from None

    def build(self, name: str, weights_dir: str | os.PathLike | None = None, device: str = "cpu") -> T:
        """Build a component, or raise ``UnavailableError`` saying why it cannot be built here."""
        entry = self.get(name)
        ok, reason = entry.availability(weights_dir)
        if not ok:
            raise UnavailableError(f"{self.kind} {name!r} is unavailable: {reason}")
        return entry.factory(weights_dir=weights_dir, device=device)

    def embedded(self) -> list[str]:
        """Names of the entries that work offline with no weights directory, in registry order."""
        return [e.name for e in self.entries() if e.embedded]


TOOLS: Registry[Tool] = Registry("tool")
SCORERS: Registry[Scorer] = Registry("scorer")
ENCODERS: Registry[Encoder] = Registry("encoder")

# Modules that register components when imported, in this order.
BUILTIN_MODULES: tuple[str, ...] = (
    "tool_actors.classical",
    "tool_actors.neural.paper_tools",
    "tool_actors.neural.embedded",
    "tool_actors.scorers.niqe",
    "tool_actors.scorers.piqe",
    "tool_actors.scorers.brisque_svm",
    "tool_actors.scorers.pyiqa_nets",
    "tool_actors.scorers.deqa",
    "tool_actors.scorers.combined",
    "tool_actors.encoders.stats",
    "tool_actors.encoders.clip",
    "tool_actors.encoders.detect",
    "tool_actors.learned.judge",
    "tool_actors.learned.experts",
)

_loaded = False


def load_builtin_components() -> None:
    """Import every module that registers components (idempotent)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
