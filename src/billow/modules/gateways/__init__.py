"""Payment gateways: discovery through the ``billow.gateways`` entry points, and activation.

A gateway module registers its :class:`~billow.modules.gateways.base.Gateway` subclass as
an entry point (``banktransfer = "billow.modules.gateways.builtin:BankTransfer"``). The
``gateway_settings`` table says which gateways are active, their display name, order and
settings; a gateway without a row is active when it needs no configuration
(``active_by_default``), which is how the manual gateways work out of the box.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import select

from billow.db.models import GatewaySetting
from billow.errors import ValidationError
from billow.modules.discovery import discover
from billow.modules.gateways.base import Gateway
from billow.modules.gateways.builtin import BankTransfer, MailIn
from billow.modules.gateways.stripe import Stripe
from billow.uow import UnitOfWork

#: Gateways shipped with Billow; the entry points list them too (this keeps an
#: uninstalled source checkout working).
BUILTIN: dict[str, type[Gateway]] = {
    BankTransfer.system_name: BankTransfer, MailIn.system_name: MailIn, Stripe.system_name: Stripe,
}


@lru_cache(maxsize=1)
def gateway_classes() -> dict[str, type[Gateway]]:
    """Every installed gateway class by system name (entry points, then built-ins)."""
    return discover("billow.gateways", Gateway, BUILTIN, key=lambda _, cls: cls.system_name)


def load_gateway(uow: UnitOfWork, system_name: str) -> Gateway | None:
    """An instance of *system_name* with its stored settings, or None if not installed."""
    cls = gateway_classes().get((system_name or "").strip().lower())
    if cls is None:
        return None
    row = uow.session.get(GatewaySetting, cls.system_name)
    return cls(row.settings if row is not None else None)


def active_gateways(uow: UnitOfWork) -> list[Gateway]:
    """Active gateways in display order (the list ``GetPaymentMethods`` returns)."""
    rows = {r.gateway: r for r in uow.session.scalars(select(GatewaySetting))}
    chosen: list[tuple[int, str, Gateway]] = []
    for name, cls in gateway_classes().items():
        row = rows.get(name)
        active = row.active if row is not None else cls.active_by_default
        if active:
            order = row.sortorder if row is not None else 0
            chosen.append((order, name, cls(row.settings if row is not None else None)))
    chosen.sort(key=lambda entry: (entry[0], entry[1]))
    return [gateway for _, _, gateway in chosen]


def display_name(uow: UnitOfWork, gateway: Gateway) -> str:
    row = uow.session.get(GatewaySetting, gateway.system_name)
    return (row.display_name if row is not None and row.display_name else "") or gateway.display_name


def configure_gateway(
    uow: UnitOfWork, system_name: str, *, active: bool = True, display: str = "",
    settings: dict[str, str] | None = None, sortorder: int = 0,
) -> GatewaySetting:
    """Activate (or deactivate) a gateway and store its settings."""
    if system_name not in gateway_classes():
        raise ValidationError(f"Invalid gateway: {system_name}")
    row = uow.session.get(GatewaySetting, system_name)
    if row is None:
        row = GatewaySetting(gateway=system_name)
        uow.session.add(row)
    row.active, row.display_name, row.sortorder = active, display, sortorder
    row.settings = dict(settings or {})
    return row
