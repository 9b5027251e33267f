"""Fraud-check modules: the built-in rule set and ``billow.fraud`` entry points."""

from __future__ import annotations

from billow.errors import NotFound
from billow.modules.discovery import discover
from billow.modules.fraud.base import FraudModule
from billow.modules.fraud.rules import RulesModule


def registry() -> dict[str, type[FraudModule]]:
    return discover("billow.fraud", FraudModule, {"rules": RulesModule})


def fraud_class(name: str) -> type[FraudModule]:
    try:
        return registry()[name]
    except KeyError:
        raise NotFound("Invalid module name provided.") from None
