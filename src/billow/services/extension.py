"""Extension points: the places where one area lets others contribute behaviour.

An area that must run other areas' code without importing them (billing runs the hosting
paid step; invoice generation asks every area what is due; closing a client asks every
area to cancel what it holds) declares an :class:`ExtensionPoint` and iterates it. Which
functions fill each point is decided in one place, :mod:`billow.bootstrap`, as ordinary
imports, so a reader (and ``lint-imports``) sees every edge.

Every entry point (the ASGI app, the CLI, the automation runner, the worker, the test
suite) calls :func:`billow.bootstrap.wire` first. Using a point before that is a bug, and
raises at once rather than silently running no step: a paid invoice that provisioned
nothing would be far worse than a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_wired = False


class NotWired(RuntimeError):
    """An extension point was used before :func:`billow.bootstrap.wire` ran."""


class ExtensionPoint(Generic[F]):
    """An ordered list of contributed functions, filled by the composition root."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._functions: list[F] = []

    def register(self, fn: F) -> F:
        """Add *fn* (once; registering it again keeps the first position)."""
        if fn not in self._functions:
            self._functions.append(fn)
        return fn

    def clear(self) -> None:
        self._functions.clear()

    def __iter__(self) -> Iterator[F]:
        if not _wired:
            raise NotWired(f"extension point {self.name} used before billow.bootstrap.wire()")
        return iter(tuple(self._functions))

    def __len__(self) -> int:
        return len(self._functions)

    def __repr__(self) -> str:
        names = ", ".join(f"{f.__module__}.{f.__qualname__}" for f in self._functions)
        return f"ExtensionPoint({self.name}: {names})"


def mark_wired(done: bool = True) -> None:
    """Called by :func:`billow.bootstrap.wire` once every point is filled."""
    global _wired
    _wired = done


def is_wired() -> bool:
    return _wired
