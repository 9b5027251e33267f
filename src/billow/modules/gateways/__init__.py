"""Payment gateways: discovery through the ``billow.gateways`` entry points, and activation.

A gateway module registers its :class:`~billow.modules.gateways.base.Gateway` subclass as
an entry point (``banktransfer = "billow.modules.gateways.builtin:BankTransfer"``). The
``gateway_settings`` table says which gateways are active, their display name, order and
settings; a gateway without a row is active when it needs no configuration
(``active_by_default``), which is how the manual gateways work out of the box.

Settings are stored encrypted with the installation key (each value as ``enc:<token>``,
:func:`seal`); :func:`load_gateway` and :func:`active_gateways` hand the module its
settings decrypted (:func:`unseal`; values written before encryption read as they are).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import select

from billow.db.models import GatewaySetting
from billow.errors import ValidationError
from billow.modules.discovery import discover
from billow.modules.gateways.base import Gateway
from billow.modules.gateways.builtin import BankTransfer, MailIn
from billow.modules.gateways.stripe import Stripe
from billow.modules.gateways.testcard import TestCard
from billow.security import decrypt, encrypt
from billow.uow import UnitOfWork

#: Gateways shipped with Billow; the entry points list them too (this keeps an
#: uninstalled source checkout working).
BUILTIN: dict[str, type[Gateway]] = {
    BankTransfer.system_name: BankTransfer, MailIn.system_name: MailIn, TestCard.system_name: TestCard,
    Stripe.system_name: Stripe,
}

_SEALED = "enc:"


def seal(settings: Mapping[str, str] | None) -> dict[str, str]:
    """*settings* as stored: every non-empty value encrypted."""
    return {str(k): (_SEALED + encrypt(str(v)) if str(v) else "") for k, v in (settings or {}).items()}


def unseal(stored: Mapping[str, Any] | None) -> dict[str, str]:
    """Stored settings decrypted (a plain value, from before encryption, is read as is)."""
    out: dict[str, str] = {}
    for key, value in (stored or {}).items():
        text = "" if value is None else str(value)
        out[str(key)] = decrypt(text[len(_SEALED):]) if text.startswith(_SEALED) else text
    return out


def _instance(cls: type[Gateway], row: GatewaySetting | None) -> Gateway:
    gateway = cls(unseal(row.settings) if row is not None else None)
    gateway.test_mode = bool(row.test_mode) if row is not None else False
    return gateway


@lru_cache(maxsize=1)
def gateway_classes() -> dict[str, type[Gateway]]:
    """Every installed gateway class by system name (entry points, then built-ins)."""
    return discover("billow.gateways", Gateway, BUILTIN, key=lambda _, cls: cls.system_name)


def load_gateway(uow: UnitOfWork, system_name: str) -> Gateway | None:
    """An instance of *system_name* with its stored settings, or None if not installed."""
    cls = gateway_classes().get((system_name or "").strip().lower())
    if cls is None:
        return None
    return _instance(cls, uow.session.get(GatewaySetting, cls.system_name))


def active_gateways(uow: UnitOfWork) -> list[Gateway]:
    """Active gateways in display order (the list ``GetPaymentMethods`` returns)."""
    rows = {r.gateway: r for r in uow.session.scalars(select(GatewaySetting))}
    chosen: list[tuple[int, str, Gateway]] = []
    for name, cls in gateway_classes().items():
        row = rows.get(name)
        active = row.active if row is not None else cls.active_by_default
        if active:
            order = row.sortorder if row is not None else 0
            chosen.append((order, name, _instance(cls, row)))
    chosen.sort(key=lambda entry: (entry[0], entry[1]))
    return [gateway for _, _, gateway in chosen]


def display_name(uow: UnitOfWork, gateway: Gateway) -> str:
    row = uow.session.get(GatewaySetting, gateway.system_name)
    return (row.display_name if row is not None and row.display_name else "") or gateway.display_name


def configure_gateway(
    uow: UnitOfWork, system_name: str, *, active: bool = True, display: str = "",
    settings: dict[str, str] | None = None, sortorder: int = 0, test_mode: bool = False,
) -> GatewaySetting:
    """Activate (or deactivate) a gateway and store its settings (encrypted)."""
    if system_name not in gateway_classes():
        raise ValidationError(f"Invalid gateway: {system_name}", code="gateway_not_installed")
    row = uow.session.get(GatewaySetting, system_name)
    if row is None:
        row = GatewaySetting(gateway=system_name)
        uow.session.add(row)
    row.active, row.display_name, row.sortorder = active, display, sortorder
    row.settings = seal(settings)
    row.test_mode = test_mode
    return row
