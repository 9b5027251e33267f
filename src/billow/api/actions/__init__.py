"""Action handlers, one module per area; each exports ``ACTIONS`` for the action table.

:data:`ACTION_MODULES` lists them in table order (the order of ``docs/api.md``); adding an
area's actions means importing its module here and adding it to the tuple.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType

from billow.api.actions import (
    automation,
    billing,
    catalog,
    clients,
    emails,
    modules,
    orders,
    pay_methods,
    services,
    support,
    system,
    users,
    webhooks,
)
from billow.api.registry import Action, ActionTable

ACTION_MODULES: tuple[ModuleType, ...] = (
    system,
    clients,
    users,
    billing,
    pay_methods,
    webhooks,
    emails,
    catalog,
    orders,
    services,
    modules,
    automation,
    support,
)


def build_table(modules: Iterable[ModuleType] = ACTION_MODULES) -> ActionTable:
    """The API's action table from the modules' ``ACTIONS`` (a duplicate name is an error)."""
    actions: list[Action] = []
    for module in modules:
        actions.extend(module.ACTIONS)
    return ActionTable(actions)
