"""The fraud-check contract: a module scores an order and answers pass, review or fail.

Fraud modules are activated with ``ActivateModule`` (``moduleType=fraud``) and configured
by name/value settings; ``OrderFraudCheck`` runs the active one. Third-party checks
register in the ``billow.fraud`` entry point group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from billow.modules.servers.base import ConfigField


@dataclass(frozen=True)
class FraudSubject:
    """What a check sees of an order."""

    order_id: int
    client_id: int
    email: str
    country: str
    ip: str
    amount: str
    #: orders placed from the same IP address within the velocity window (this one included)
    orders_from_ip: int


@dataclass
class FraudResult:
    #: Pass | Fail | Review (WHMCS shows "Pass"/"Fail")
    status: str
    reasons: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def is_fraud(self) -> bool:
        return self.status == "Fail"


class FraudModule(ABC):
    name: ClassVar[str]
    display_name: ClassVar[str]
    settings: ClassVar[tuple[ConfigField, ...]] = ()

    def __init__(self, config: dict[str, str]) -> None:
        self.config = config

    @abstractmethod
    def check(self, subject: FraudSubject) -> FraudResult:
        """Score *subject* using this module's configuration."""
