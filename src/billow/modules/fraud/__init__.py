"""Fraud-check modules: the built-in rule set and ``billow.fraud`` entry points."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from billow.errors import NotFound
from billow.modules.fraud.base import FraudModule
from billow.modules.fraud.rules import RulesModule

log = logging.getLogger("billow.modules")


def registry() -> dict[str, type[FraudModule]]:
    found: dict[str, type[FraudModule]] = {"rules": RulesModule}
    for ep in entry_points(group="billow.fraud"):
        try:
            found[ep.name] = ep.load()
        except Exception:  # noqa: BLE001 - one broken plugin must not hide the others
            log.exception("fraud module entry point %s failed to load", ep.name)
    return found


def fraud_class(name: str) -> type[FraudModule]:
    try:
        return registry()[name]
    except KeyError:
        raise NotFound("Invalid module name provided.") from None
