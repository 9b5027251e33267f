"""The action table: every API action as data, merged from each area's ``ACTIONS`` list.

An :class:`Action` names the WHMCS action, its handler and whether it needs an
authenticated admin. Handlers take ``(ctx, params)`` and return the WHMCS result dict
without ``result`` (the dispatcher adds ``"result": "success"`` first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from billow.api.context import Context
from billow.api.params import Params

Handler = Callable[[Context, Params], Mapping[str, Any]]

@dataclass(frozen=True)
class Action:
    name: str
    handler: Handler
    #: Billow extension actions are not in WHMCS's reference; documented in docs/api.md.
    extension: bool = False


class UnknownAction(LookupError):
    pass


class ActionTable:
    def __init__(self, actions: Iterable[Action]) -> None:
        self._by_name: dict[str, Action] = {}
        for action in actions:
            key = action.name.lower()
            if key in self._by_name:
                raise ValueError(f"duplicate action {action.name!r}")
            self._by_name[key] = action

    def resolve(self, name: str) -> Action:
        try:
            return self._by_name[name.lower()]
        except KeyError:
            raise UnknownAction(name) from None

    def names(self) -> list[str]:
        return sorted(a.name for a in self._by_name.values())

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_name.values())
